// `espctl deployment set-public-url`: moving a deployment to a new address
// without SQL. The store records the public_url every espd must share
// (core/cluster.c); the command changes it with an audit entry, and espd
// then starts with the new address and refuses the old one.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { startEsp, rawSql, espctlStatus, ESPD, ENGINE } from './lib/esp.mjs';

let esp;
before(async () => { esp = await startEsp(); });
after(async () => { await esp?.cleanup(); });

test(`[${ENGINE}] deployment --help, bad usage and a bad URL`, async () => {
  const help = espctlStatus(esp, 'deployment', '--help');
  assert.equal(help.code, 0);
  assert.match(help.out, /set-public-url URL/);
  assert.match(help.out, /Exit status/);
  assert.equal(espctlStatus(esp, 'deployment').code, 1);
  assert.equal(espctlStatus(esp, 'deployment', 'set-public-url').code, 1);
  for (const bad of ['ftp://esp.example', 'https://esp.example/', 'https://esp.example/esp', 'esp.example', 'https://', 'https://a b']) {
    const r = espctlStatus(esp, 'deployment', 'set-public-url', bad);
    assert.equal(r.code, 1, bad);
    assert.match(r.out, /public_url .* 不可用/, bad);
  }
  // Nothing was written by the refused ones.
  assert.equal(rawSql(esp, "SELECT count(*) FROM audit_log WHERE action = 'deployment.set'").trim(), '0');
});

test(`[${ENGINE}] set-public-url records the new address with an audit entry; espd starts with it and refuses the old one`, async () => {
  const old = esp.url;
  const show = espctlStatus(esp, 'deployment', 'show');
  assert.equal(show.code, 0);
  assert.match(show.out, new RegExp(`^public_url\\t${old.replace(/[.]/g, '\\.')}$`, 'm'));
  await esp.stop();
  const next = 'https://esp.example.cn:8443';
  const r = espctlStatus(esp, 'deployment', 'set-public-url', next);
  assert.equal(r.code, 0, r.out);
  assert.match(r.out, /public_url https:\/\/esp\.example\.cn:8443 recorded \(was http:\/\/127\.0\.0\.1:\d+\)/);
  assert.equal(rawSql(esp, "SELECT value FROM deployment WHERE name = 'public_url'").trim(), next);
  const entry = rawSql(esp, "SELECT actor, object, before_state, after_state FROM audit_log WHERE action = 'deployment.set'").trim();
  assert.equal(entry, `espctl|public_url|${old}|${next}`);
  // The chain still verifies with the new entry.
  const verify = espctlStatus(esp, 'audit', 'verify');
  assert.equal(verify.code, 0, verify.out);
  // The same address again: nothing to do, nothing written.
  const again = espctlStatus(esp, 'deployment', 'set-public-url', next);
  assert.equal(again.code, 3, again.out);
  assert.match(again.out, /already/);
  assert.equal(rawSql(esp, "SELECT count(*) FROM audit_log WHERE action = 'deployment.set'").trim(), '1');

  // An espd still configured with the old address is refused at start.
  const refused = spawnSync(ESPD, [`--data_dir=${esp.dir}`, `--database=${esp.database}`, '--http_listen=127.0.0.1:0',
    '--https_listen=', '--login_listen=', `--public_url=${old}`], { encoding: 'utf8', timeout: 60000 });
  assert.equal(refused.status, 2, refused.stderr);
  assert.match(refused.stderr, /public_url differs/);
  assert.match(refused.stderr, /espctl deployment set-public-url/);
  // With the new one it starts (the harness's own address stays the listener).
  esp.extra = [`--public_url=${next}`];
  await esp.start();
  const res = await fetch(`${esp.url}/healthz`);
  assert.equal(res.status, 200);
});

test(`[${ENGINE}] a listener address already taken: espd says which, exits 2 and frees what it had opened`, async () => {
  // The running espd holds its own HTTP port; a second one asked for the
  // same port must refuse to start. Under the sanitizer build a leak on
  // this path fails the process (LeakSanitizer's exit code, not 2).
  const port = new URL(esp.url).port;
  const refused = spawnSync(ESPD, [`--data_dir=${esp.dir}`, `--database=${esp.database}`,
    `--http_listen=127.0.0.1:${port}`, '--https_listen=', '--login_listen=', '--public_url=https://esp.example.cn:8443'],
  { encoding: 'utf8', timeout: 60000 });
  assert.equal(refused.status, 2, refused.stderr);
  assert.match(refused.stderr, new RegExp(`error cannot listen on 127\\.0\\.0\\.1:${port}`));
  // libmicrohttpd's own reason comes through espd's log, time-stamped.
  assert.match(refused.stderr, /^\d{4}-\d\d-\d\dT[\d:]+Z error libmicrohttpd: .*Address already in use$/m);
  assert.doesNotMatch(refused.stderr, /LeakSanitizer/);
  const res = await fetch(`${esp.url}/healthz`);
  assert.equal(res.status, 200);
});
