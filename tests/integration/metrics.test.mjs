// /metrics, /healthz and /readyz: the figures pass Debian's `promtool check
// metrics` and count what was asked (requests per route and status, latency,
// store waits, OCSP cache hits); only metrics_allow reads them (here through
// a trusted proxy that forwards the client's address); /healthz answers
// without the store, and /readyz says 503 once the store (a PostgreSQL
// server of this test's own) is gone, while /healthz stays 200.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { chmodSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { startEsp, espctl, freePort, staffClient, ESPD, ROOT, ENGINE } from './lib/esp.mjs';

let esp, dir;
before(async () => {
  // The tests' own client stands behind a "proxy" at 127.0.0.1: the
  // address it forwards is the one metrics_allow judges.
  esp = await startEsp({ args: ['--trusted_proxies=127.0.0.1', '--metrics_allow=127.0.0.1,::1,192.0.2.0/24'] });
  dir = mkdtempSync(join(tmpdir(), 'esp-metrics-'));
});
after(async () => {
  if (!esp) return;
  await esp.stop();
  assert.doesNotMatch(esp.log, /Sanitizer|runtime error/);
  await esp.cleanup();
  rmSync(dir, { recursive: true, force: true });
});

async function metrics(headers = {}) {
  const res = await fetch(`${esp.url}/metrics`, { headers });
  return { status: res.status, type: res.headers.get('content-type'), text: await res.text() };
}

function value(text, series) {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

test(`[${ENGINE}] /metrics passes promtool and counts requests per route and status`, async () => {
  const before = (await metrics()).text;
  const helpBefore = value(before, 'esp_http_requests_total{route="/help",method="GET",code="200"}') || 0;
  for (let i = 0; i < 5; i++) assert.equal((await fetch(`${esp.url}/help`)).status, 200);
  assert.equal((await fetch(`${esp.url}/no/such/page`)).status, 404);
  const m = await metrics();
  assert.equal(m.status, 200);
  assert.match(m.type, /^text\/plain; version=0\.0\.4/);
  const check = spawnSync('promtool', ['check', 'metrics'], { input: m.text, encoding: 'utf8' });
  assert.equal(check.status, 0, check.stdout + check.stderr);
  assert.equal(value(m.text, 'esp_http_requests_total{route="/help",method="GET",code="200"}'), helpBefore + 5);
  assert.ok(value(m.text, 'esp_http_requests_total{route="unmatched",method="any",code="404"}') >= 1);
  // The latency histogram of /help: every request in +Inf, count equal.
  const inf = value(m.text, 'esp_http_request_duration_seconds_bucket{route="/help",method="GET",le="+Inf"}');
  assert.equal(inf, value(m.text, 'esp_http_request_duration_seconds_count{route="/help",method="GET"}'));
  assert.ok(inf >= 5);
  // /help takes the store: each of its requests waited for a connection.
  assert.ok(value(m.text, 'esp_store_wait_seconds_count') >= 5);
  for (const name of ['esp_store_errors_total', 'esp_store_busy_total', 'esp_store_transaction_retries_total',
    'esp_certificates_issued_total', 'esp_store_wait_timeouts_total']) {
    assert.equal(typeof value(m.text, name), 'number', name);
  }
  assert.match(m.text, /^esp_store_connections\{state="idle"\} \d+$/m);
});

test(`[${ENGINE}] the OCSP cache's hits are counted`, async () => {
  const req = join(dir, 'r.req');
  execFileSync('openssl', ['ocsp', '-issuer', join(esp.dir, 'ca', 'ca.crt'), '-serial', '0x01', '-no_nonce', '-reqout', req], { stdio: 'ignore' });
  const hits0 = value((await metrics()).text, 'esp_cache_hits_total{cache="ocsp"}');
  const misses0 = value((await metrics()).text, 'esp_cache_misses_total{cache="ocsp"}');
  const b64 = encodeURIComponent(readFileSync(req).toString('base64'));
  for (let i = 0; i < 3; i++) assert.equal((await fetch(`${esp.url}/ocsp/${b64}`)).status, 200);
  const m = (await metrics()).text;
  // An unknown serial is never cached: three signed answers, no hit.
  assert.equal(value(m, 'esp_cache_misses_total{cache="ocsp"}'), misses0 + 3);
  assert.equal(value(m, 'esp_cache_hits_total{cache="ocsp"}'), hits0);
});

test(`[${ENGINE}] the session cache's hits are counted`, async () => {
  const admin = await staffClient(esp, 'admin');
  await admin.get('/home');
  const h0 = value((await metrics()).text, 'esp_cache_hits_total{cache="sessions"}');
  for (let i = 0; i < 4; i++) assert.equal((await admin.get('/home')).status, 200);
  const m = (await metrics()).text;
  assert.equal(value(m, 'esp_cache_hits_total{cache="sessions"}'), h0 + 4);
  assert.equal(typeof value(m, 'esp_cache_misses_total{cache="review_queue"}'), 'number');
});

test(`[${ENGINE}] only metrics_allow reads /metrics`, async () => {
  assert.equal((await metrics({ 'X-Forwarded-For': '203.0.113.7' })).status, 403);
  assert.equal((await metrics({ 'X-Forwarded-For': '10.1.2.3' })).status, 403);
  const allowed = await metrics({ 'X-Forwarded-For': '192.0.2.44' });
  assert.equal(allowed.status, 200);
  assert.match(allowed.text, /esp_http_requests_total/);
  assert.equal((await metrics({ 'X-Forwarded-For': '::1' })).status, 200);
  assert.equal((await metrics({ 'X-Forwarded-For': 'fd00::1' })).status, 403);
  assert.equal((await metrics({ 'X-Forwarded-For': '192.0.3.1' })).status, 403, 'outside the /24');
  const refused = await metrics({ 'X-Forwarded-For': '203.0.113.7' });
  assert.doesNotMatch(refused.text, /esp_/);
});

test(`[${ENGINE}] /healthz is liveness; /readyz fails with 503 when the store is unreachable`, async () => {
  assert.equal((await fetch(`${esp.url}/healthz`)).status, 200);
  const ready = await fetch(`${esp.url}/readyz`);
  assert.equal(ready.status, 200);
  assert.equal((await ready.json()).status, 'ok');

  // An espd on a PostgreSQL server of its own, which is then stopped.
  // The server runs as an unprivileged user: it must reach its directory.
  chmodSync(dir, 0o755);
  const cluster = join(dir, 'pg');
  const pg = (...a) => execFileSync('bash', [join(ROOT, 'scripts/pg-test-cluster.sh'), ...a], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }).trim();
  const uri = pg('start', cluster);
  const other = { dir: join(dir, 'data'), database: uri };
  let proc;
  try {
    espctl(other, 'init');
    const port = await freePort();
    proc = spawn(ESPD, [`--data_dir=${other.dir}`, `--database=${uri}`, `--http_listen=127.0.0.1:${port}`,
      '--https_listen=', '--login_listen=', '--store_wait_ms=500'], { stdio: ['ignore', 'ignore', 'pipe'] });
    let log = '';
    proc.stderr.on('data', (d) => { log += d; });
    const url = `http://127.0.0.1:${port}`;
    for (let i = 0; i < 400; i++) {
      try { if ((await fetch(`${url}/readyz`)).ok) break; } catch { /* not yet */ }
      await new Promise((r) => setTimeout(r, 50));
    }
    assert.equal((await fetch(`${url}/readyz`)).status, 200, log);
    pg('stop', cluster);
    const down = await fetch(`${url}/readyz`);
    assert.equal(down.status, 503);
    assert.equal((await down.json()).status, 'unavailable');
    assert.equal((await fetch(`${url}/healthz`)).status, 200, 'alive without its store');
    const m = await (await fetch(`${url}/metrics`)).text();
    // A server gone is "try again" (the standby may take over), else an error.
    assert.ok(value(m, 'esp_store_errors_total') + value(m, 'esp_store_busy_total') >= 1, 'the failed statements are counted');
    assert.doesNotMatch(log, /Sanitizer|runtime error/);
  } finally {
    if (proc) { proc.kill('SIGTERM'); await new Promise((r) => proc.on('exit', r)); }
    spawnSync('bash', [join(ROOT, 'scripts/pg-test-cluster.sh'), 'stop', cluster], { stdio: 'ignore' });
  }
});
