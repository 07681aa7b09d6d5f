// The audit log against someone who can write the store but not read the
// key or the CA key: espd anchors the log's head at start, `espctl audit
// anchor` on demand; deleting the newest rows straight in the database
// (sqlite3 / psql) is reported as TRUNCATION with a non-zero exit.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, statSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { startEsp, rawSql, espctlStatus, ENGINE } from './lib/esp.mjs';

let esp;
before(async () => { esp = await startEsp(); });
after(async () => { await esp?.cleanup(); });

const anchorsFile = () => join(esp.dir, 'audit-anchors');
const anchorLines = () => (existsSync(anchorsFile())
  ? readFileSync(anchorsFile(), 'utf8').split('\n').filter((l) => l) : []);

test(`[${ENGINE}] the audit key is made 0600 outside the store and never logged`, async () => {
  const keyFile = join(esp.dir, 'audit.key');
  assert.equal(statSync(keyFile).mode & 0o777, 0o600);
  const key = readFileSync(keyFile, 'utf8').match(/^key = ([0-9a-f]{64})$/m)[1];
  assert.match(readFileSync(keyFile, 'utf8'), /^keyed_from = 1$/m);
  assert.ok(!esp.log.includes(key), 'the key is not in espd\'s log');
  assert.equal(rawSql(esp, 'SELECT COUNT(*) FROM audit_log WHERE mac_version <> 1').trim(), '0');
});

test(`[${ENGINE}] espd anchors the audit log's head when it starts`, async () => {
  // The line goes to the file first, then to espd's log.
  for (let i = 0; i < 400 && !(anchorLines().length && /audit anchor written/.test(esp.log)); i++) {
    await new Promise((r) => setTimeout(r, 50));
  }
  const lines = anchorLines();
  assert.equal(lines.length, 1, 'one anchor from espd');
  assert.match(lines[0], /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ seq=\d+ mac=[0-9a-f]{64} sig=[A-Za-z0-9+/=]+$/);
  assert.match(esp.log, /audit anchor written/);
});

test(`[${ENGINE}] espctl audit anchor, then deleting the newest rows is TRUNCATION`, async () => {
  // Something to record: an account disabled and enabled again.
  assert.equal(espctlStatus(esp, 'user', 'disable', 'bj_trainer').code, 0);
  assert.equal(espctlStatus(esp, 'user', 'enable', 'bj_trainer').code, 0);

  let v = espctlStatus(esp, 'audit', 'anchor');
  assert.equal(v.code, 0, v.out);
  const head = Number(rawSql(esp, 'SELECT MAX(seq) FROM audit_log').trim());
  assert.match(v.out, new RegExp(`seq=${head} `));
  const lines = anchorLines();
  assert.match(lines[lines.length - 1], new RegExp(` seq=${head} `));

  v = espctlStatus(esp, 'audit', 'verify');
  assert.equal(v.code, 0, v.out);
  assert.match(v.out, /完整/);
  assert.match(v.out, new RegExp(`last anchored seq ${head}`));

  rawSql(esp, `DELETE FROM audit_log WHERE seq >= ${head - 1}`);
  v = espctlStatus(esp, 'audit', 'verify');
  assert.notEqual(v.code, 0, v.out);
  assert.match(v.out, /TRUNCATION/);
  assert.match(v.out, /截断/);
  assert.match(v.out, new RegExp(`seq=${head}，但日志只到 seq=${head - 2}`));

  // No new anchor is written over it: espctl refuses and says why.
  v = espctlStatus(esp, 'audit', 'anchor');
  assert.notEqual(v.code, 0);
  assert.match(v.out, /TRUNCATION/);
  assert.equal(anchorLines().length, lines.length);
});

test(`[${ENGINE}] espctl audit --help says what verify and anchor do`, () => {
  const v = espctlStatus(esp, 'audit', '--help');
  assert.equal(v.code, 0);
  assert.match(v.out, /TRUNCATION/);
  assert.match(v.out, /audit\.key/);
  assert.equal(espctlStatus(esp, 'audit', 'nonsense').code, 1);
});
