// 密码解锁 remotely, against the real espd with SoftHSM2 tokens: enrolment
// with --so-pin-file puts a random SO PIN in ESP's custody (the initial one
// no longer works); the holder (password login: a locked key does not log
// in) applies on /unlock, the RA approves, the application page shows the
// one-time authorisation, `esp-token unlock --remote` sets the holder's new
// PIN and a fresh SO PIN; the released SO PIN no longer works, the
// authorisation is spent, and an interrupted run resumes. Refusals: a wrong
// authorisation, another token, before approval, a token without custody.
//
//   node --test tests/integration/token/token_unlock.test.mjs
//   ESP_ENGINE=postgresql ESP_PG_CLUSTER=... node --test tests/integration/token/token_unlock.test.mjs
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, writeFileSync } from 'node:fs';
import { join, dirname } from 'node:path';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { Client, approvedApplicant, submitApplication, rawSql, ENGINE } from '../lib/esp.mjs';
import { tokenTestbed, SO_PIN, PIN, ESP_TOKEN } from './lib.mjs';
import { startSmtp } from '../lib/mail.mjs';

// A real SMTP server (aiosmtpd) records the 密码解锁已批准 mail.
const SMTP = await startSmtp();
after(() => SMTP.cleanup());
const T = tokenTestbed({ args: [`--smtp_url=${SMTP.url}`, '--smtp_from=esp@example.cn', '--mail_poll_ms=100',
  '--smtp_retry_seconds=1', '--smtp_retry_max_seconds=2'] });
const NEW_PIN = '24681357';

function sql(q) {
  return rawSql(T.esp, q).trim();
}

// A holder's token enrolled by the RA (with --so-pin-file unless told), and the holder's client.
async function enrolled(label, { custody = true } = {}) {
  const { c, fields } = await approvedApplicant(T.esp, 'enterprise');
  const number = await submitApplication(c, 'enterprise', 1);
  const r = await T.raClient();
  await r.get(`/ra/applications/${number}`);
  await r.post(`/ra/applications/${number}/payment`, {
    amount: 660, paid_on: new Date(Date.now() + 8 * 3600e3).toISOString().slice(0, 10), payer: 'x', bank_ref: `B-${number}`,
  });
  await r.get(`/ra/applications/${number}`);
  await r.post(`/ra/applications/${number}/materials`, { item: ['0', '1'] });
  const t = T.newToken(label);
  const soFile = join(t.dir, 'so-pin');
  writeFileSync(soFile, `${SO_PIN}\n`, { mode: 0o600 });
  const e = T.enroll(t, T.esp.url, number, T.apiTokenFile, ...(custody ? ['--so-pin-file', soFile] : []));
  assert.equal(e.code, 0, e.all);
  return { t, c, fields, number, soFile, enrollOut: e.out };
}

// Whether `pin` is the SO PIN (pkcs11-tool: setting it to itself needs the
// right one, in the read-write session an SO login needs), and the user PIN.
function soWorks(t, pin) {
  return t.p11('--login', '--login-type', 'so', '--so-pin', pin, '--change-pin', '--new-pin', pin).code === 0;
}
function userWorks(t, pin) {
  return t.p11('--login', '--pin', pin, '--list-objects').code === 0;
}

async function applyUnlock(c, t) {
  const page = await c.get('/unlock');
  assert.equal(page.status, 200);
  assert.ok(page.text.includes(`action="/unlock/${t.serial}"`), 'a 申请解锁 button for the token');
  const r = await c.post(`/unlock/${t.serial}`, {});
  assert.equal(r.status, 200);
  assert.match(r.text, /业务类型<\/dt><dd>密码解锁/);
  assert.match(r.text, /等待数字证书注册机构批准/);
  return r.text.match(/ESP-\d{4}-\d{6}/)[0];
}

async function approve(number) {
  const ra = await T.raClient();
  const page = await ra.get(`/ra/applications/${number}`);
  assert.match(page.text, /业务类型<\/dt><dd>密码解锁/);
  assert.doesNotMatch(page.text, /登记付款/, 'an unlock costs nothing');
  const r = await ra.post(`/ra/applications/${number}/approve`, {});
  assert.match(r.text, /id="app-state">已批准解锁/);
}

async function codeOf(c, number, dir) {
  const page = await c.get(`/applications/${number}`);
  const m = page.text.match(/id="unlock-code">([A-Za-z0-9]+)</);
  assert.ok(m, 'the approved application shows the one-time authorisation to its holder');
  const file = join(dir, 'code.txt');
  writeFileSync(file, `${m[1]}\n`, { mode: 0o600 });
  return { code: m[1], file };
}

function unlockRemote(t, number, codeFile, server = T.esp.url) {
  const pinFile = join(t.dir, 'new-pin');
  writeFileSync(pinFile, `${NEW_PIN}\n`, { mode: 0o600 });
  return t.tool('unlock', '--remote', '--server', server, '--application', number, '--code-file', codeFile,
    '--new-pin-file', pinFile);
}

const release = (number, body) => fetch(`${T.esp.url}/api/v1/unlocks/${number}/release`, {
  method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body),
});

test(`[${ENGINE}] remote unlock: custody at enrolment, apply, approve, esp-token unlock --remote once`, async () => {
  const { t, c, fields, number: appNumber, enrollOut } = await enrolled('Unlock1');
  const email = fields.email;
  assert.match(enrollOut, /由系统加密保管/);
  assert.equal(soWorks(t, SO_PIN), false, 'the SO PIN the token came with no longer works');
  // Sealed in the store: the SO PIN's text is nowhere in it.
  const sealed = sql(`SELECT hex(sealed) FROM token_so_pins WHERE token_serial = '${t.serial}'`.replace('hex(sealed)', ENGINE === 'postgresql' ? "encode(sealed, 'hex')" : 'hex(sealed)'));
  assert.ok(sealed.length > 40);
  assert.equal(sql(`SELECT COUNT(*) FROM token_so_pins WHERE token_serial = '${t.serial}' AND next_sealed IS NULL`), '1');

  // The holder forgot the PIN: password login, 密码解锁.
  const number = await applyUnlock(c, t);
  assert.notEqual(number, appNumber);
  const form = await c.get(`/applications/${number}/print`);
  assert.match(form.text, /（已选）<\/span>密码解锁</, 'the printed form ticks 密码解锁');
  // Before approval: no authorisation, and the API refuses.
  const early = await release(number, { code: 'x'.repeat(24), token_serial: t.serial });
  assert.equal(early.status, 409);
  await approve(number);
  // The holder is told by mail, once, in the approval's transaction.
  assert.equal(sql(`SELECT COUNT(*) FROM outbox WHERE kind = 'unlock_approved' AND params LIKE '%${t.serial}%'`), '1');
  const mails = await SMTP.waitFor((m) => m.filter((x) => x.to.includes(email) && x.subject.includes('密码解锁已批准')).length >= 1);
  const mine = mails.filter((x) => x.to.includes(email) && x.subject.includes('密码解锁已批准'));
  assert.equal(mine.length, 1);
  assert.match(mine[0].body, new RegExp(`证书U盘（${t.serial}）的密码解锁申请已经注册机构批准`));
  assert.match(mine[0].body, /esp-token unlock --remote/);
  const { code, file } = await codeOf(c, number, t.dir);
  // A wrong authorisation or another token's serial: refused.
  const wrong = await release(number, { code: 'A'.repeat(24), token_serial: t.serial });
  assert.equal(wrong.status, 403);
  assert.equal((await wrong.json()).error, 'bad_code');
  const other = await release(number, { code, token_serial: 'someothertoken' });
  assert.equal(other.status, 403);
  // The pair the tool will get (the same until confirmed): the released SO PIN and the next.
  const pair = await (await release(number, { code, token_serial: t.serial })).json();
  assert.ok(soWorks(t, pair.so_pin), 'the custody SO PIN is the token\'s');
  assert.equal(pair.so_pin.length, 16);

  const u = unlockRemote(t, number, file);
  assert.equal(u.code, 0, u.all);
  assert.match(u.out, /密码解锁完成/);
  assert.ok(!u.all.includes(pair.so_pin) && !u.all.includes(pair.next_so_pin), 'no SO PIN printed');
  assert.ok(userWorks(t, NEW_PIN), 'the new user PIN works');
  assert.equal(userWorks(t, PIN), false);
  assert.equal(soWorks(t, pair.so_pin), false, 'the released SO PIN is never valid again');
  assert.ok(soWorks(t, pair.next_so_pin), 'the fresh SO PIN is the token\'s');
  assert.equal(sql(`SELECT state FROM applications WHERE number = '${number}'`), 'unlocked');
  // The authorisation is spent: no second release, no second run.
  const again = await release(number, { code, token_serial: t.serial });
  assert.equal(again.status, 409);
  const twice = unlockRemote(t, number, file);
  assert.equal(twice.code, 6, twice.all);
  const page = await c.get(`/applications/${number}`);
  assert.doesNotMatch(page.text, /id="unlock-code"/);
  // Audited: every release (the test's look and the tool's), and each custody.
  assert.equal(sql(`SELECT COUNT(*) FROM audit_log WHERE action = 'token.so_pin.release' AND object = 'token:${t.serial}'`), '2');
  assert.equal(sql(`SELECT COUNT(*) FROM audit_log WHERE action = 'token.so_pin.set' AND object = 'token:${t.serial}'`), '2');
  // Release and confirmation told nothing more: the approval's mail arrived once.
  await new Promise((r) => setTimeout(r, 1000));
  assert.equal(SMTP.messages().filter((x) => x.to.includes(email) && x.subject.includes('密码解锁已批准')).length, 1);
});

test(`[${ENGINE}] an interrupted remote unlock resumes with the same authorisation`, async () => {
  const { t, c } = await enrolled('Unlock2');
  const number = await applyUnlock(c, t);
  await approve(number);
  const { code, file } = await codeOf(c, number, t.dir);
  // The tool changed the PINs but its confirmation never reached espd:
  // simulated by rotating the PINs with the released pair by hand.
  const pair = await (await release(number, { code, token_serial: t.serial })).json();
  const r = t.p11('--login', '--login-type', 'so', '--so-pin', pair.so_pin, '--change-pin', '--new-pin', pair.next_so_pin);
  assert.equal(r.code, 0, r.all);
  assert.equal(sql(`SELECT state FROM applications WHERE number = '${number}'`), 'unlock_approved');
  const u = unlockRemote(t, number, file);
  assert.equal(u.code, 0, u.all);
  assert.ok(userWorks(t, NEW_PIN));
  assert.ok(soWorks(t, pair.next_so_pin));
  assert.equal(sql(`SELECT state FROM applications WHERE number = '${number}'`), 'unlocked');
});

test(`[${ENGINE}] refusals: another holder's token, a token without custody`, async () => {
  const a = await enrolled('Unlock3');
  const b = await enrolled('Unlock4', { custody: false });
  assert.ok(soWorks(b.t, SO_PIN), 'enrolled without --so-pin-file: the SO PIN is unchanged');
  // b's page offers no remote unlock for its token, and applying is refused.
  const page = await b.c.get('/unlock');
  assert.match(page.text, /不能远程解锁/);
  const none = await b.c.post(`/unlock/${b.t.serial}`, {});
  assert.equal(none.status, 409);
  // b cannot apply for a's token.
  const other = await b.c.post(`/unlock/${a.t.serial}`, {});
  assert.equal(other.status, 403);
  assert.equal(sql(`SELECT COUNT(*) FROM applications WHERE type = 'unlock' AND unlock_token = '${a.t.serial}'`), '0');
});

// 【密码解锁】 in the desktop window 证书管理工具, under Xvfb (tests/desktop/online_gui.sh
// types the application number, the authorisation and the new PIN twice): the
// same remote unlock as esp-token unlock --remote.
const HERE = dirname(fileURLToPath(import.meta.url));
const GUI = process.env.ESP_TOKEN_GUI || join(dirname(ESP_TOKEN), '../gui/esp-token-gui');
const onPath = (tool) => spawnSync('sh', ['-c', `command -v ${tool}`]).status === 0;
const haveDesktop = existsSync(GUI) && ['Xvfb', 'openbox', 'xdotool', 'import', 'dbus-run-session'].every(onPath);

test(`[${ENGINE}] 【密码解锁】 in the desktop window unlocks remotely once; the released SO PIN no longer works`, { skip: !haveDesktop && 'no esp-token-gui or no Xvfb tools' }, async () => {
  const { t, c, fields } = await enrolled('UnlockGui');
  const number = await applyUnlock(c, t);
  await approve(number);
  const { code } = await codeOf(c, number, t.dir);
  const pair = await (await release(number, { code, token_serial: t.serial })).json();
  assert.ok(soWorks(t, pair.so_pin));
  const shots = process.env.ESP_SCREENSHOTS || join(dirname(ESP_TOKEN), '../../screenshots/desktop');
  const run = spawnSync('bash', [join(HERE, '../../desktop/online_gui.sh'), GUI, T.esp.url, t.label, shots, 'unlock', number, code, NEW_PIN],
    { encoding: 'utf8', timeout: 180000, env: { ...process.env, ...t.env } });
  assert.equal(run.status, 0, `${run.stdout}\n${run.stderr}`);
  assert.match(run.stdout, /已设置新的用户PIN码，并更换了管理员PIN码/, 'the progress reached the window');
  assert.ok(!run.stdout.includes(pair.so_pin) && !run.stdout.includes(pair.next_so_pin), 'no SO PIN in the window\'s log');
  assert.ok(userWorks(t, NEW_PIN), 'the new user PIN works');
  assert.equal(userWorks(t, PIN), false);
  assert.equal(soWorks(t, pair.so_pin), false, 'the released SO PIN is never valid again');
  assert.ok(soWorks(t, pair.next_so_pin));
  assert.equal(sql(`SELECT state FROM applications WHERE number = '${number}'`), 'unlocked');
  // Once: the spent authorisation is refused.
  const again = await release(number, { code, token_serial: t.serial });
  assert.equal(again.status, 409);
  await SMTP.waitFor((m) => m.some((x) => x.to.includes(fields.email) && x.subject.includes('密码解锁已批准')));
  assert.equal(SMTP.messages().filter((x) => x.to.includes(fields.email) && x.subject.includes('密码解锁已批准')).length, 1);
});
