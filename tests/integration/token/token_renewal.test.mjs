// 更新 (renewal) on the same key, against the real espd with SoftHSM2 tokens:
// a holder enrolled three years ago (the clock moved with ESP_TIME_OFFSET,
// as login.test.mjs does) applies on 当前用户信息 with the key, the RA
// records the payment, `esp-token renew` leaves exactly one valid
// certificate on the same token, for a new key; an interrupted renewal
// (the confirmation lost, or the issued certificate's answer lost) resumes;
// and the refusals: outside the window, not paid, a wrong old-key
// signature, another holder's certificate, an expired key at login.
//
//   node --test tests/integration/token/token_renewal.test.mjs
//   ESP_ENGINE=postgresql ESP_PG_CLUSTER=... node --test tests/integration/token/token_renewal.test.mjs
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync, execFileSync } from 'node:child_process';
import { createServer } from 'node:http';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Client, approvedApplicant, submitApplication, holderWithKeys, rawSql, makeCsr, ENGINE } from '../lib/esp.mjs';
import { tokenTestbed, ESP_TOKEN, MODULE, PIN } from './lib.mjs';
import { startSmtp } from '../lib/mail.mjs';

// A real SMTP server (aiosmtpd) records the 证书已更新 mails.
const SMTP = await startSmtp();
after(() => SMTP.cleanup());
const T = tokenTestbed({ args: [`--smtp_url=${SMTP.url}`, '--smtp_from=esp@example.cn', '--mail_poll_ms=100',
  '--smtp_retry_seconds=1', '--smtp_retry_max_seconds=2'] });
const renewedMails = (email) => SMTP.messages().filter((m) => m.to.includes(email) && m.subject.includes('证书已更新'));
const DAY = 86400;
// Certificates run 1095 days; the window opens 60 days before the end and
// closes 30 days after it (renewal_window_days, renewal_grace_days).
const IN_WINDOW = 1040 * DAY;
const IN_GRACE = 1100 * DAY;

let offset = 0;
async function moveClock(seconds) {
  offset = seconds;
  await T.esp.stop();
  T.esp.env = seconds ? { ESP_TIME_OFFSET: String(seconds) } : {};
  await T.esp.start();
  T.ra = null; // its session ended with the jump: log in again
}

// A holder's token enrolled through the RA, with the holder's password client.
async function enrolled(label) {
  const { c, fields } = await approvedApplicant(T.esp, 'enterprise');
  const number = await submitApplication(c, 'enterprise', 1);
  const r = await T.raClient();
  await r.get(`/ra/applications/${number}`);
  await r.post(`/ra/applications/${number}/payment`, {
    amount: 660, paid_on: new Date(Date.now() + 8 * 3600e3).toISOString().slice(0, 10),
    payer: fields.name, bank_ref: `BANK-${number}`,
  });
  await r.get(`/ra/applications/${number}`);
  await r.post(`/ra/applications/${number}/materials`, { item: ['0', '1'] });
  const t = T.newToken(label);
  const e = T.enroll(t, T.esp.url, number, T.apiTokenFile);
  assert.equal(e.code, 0, e.all);
  const serial = certSerial(t);
  return { t, c, fields, number, serial };
}

// The serial of the token's (one) user certificate, as ESP stores it
// (exported to current.pem).
function certSerial(t) {
  const f = join(t.dir, 'current.pem');
  const ex = t.tool('export-cert', '--out', f);
  assert.equal(ex.code, 0, ex.all);
  const out = execFileSync('openssl', ['x509', '-in', f, '-noout', '-serial'], { encoding: 'utf8' });
  const hex = out.trim().split('=')[1].toLowerCase().replace(/^0+/, '');
  return sql(`SELECT serial FROM certificates WHERE token_serial = '${t.serial}'`).split('\n')
    .find((s) => s.replace(/^0+/, '') === hex);
}

function sql(q) {
  return rawSql(T.esp, q).trim();
}

// A key session of the token (esp-token login) as a browser would hold it.
async function keySession(t, ...extra) {
  const l = t.tool('login', '--server', T.esp.url, '--pin-file', t.pinFile, ...extra);
  assert.equal(l.code, 0, l.all);
  const c = new Client(T.esp.url);
  c.cookies.set('esp_session', l.out.trim());
  return c;
}

// The holder applies for renewal on 当前用户信息; returns the application number.
async function applyWithKey(t, serial) {
  const c = await keySession(t);
  const page = await c.get('/mgmt/user');
  assert.equal(page.status, 200);
  assert.match(page.text, /<h2>证书更新<\/h2>/);
  assert.ok(page.text.includes(`action="/renewal/${serial}"`),
    `a 申请更新 button for ${serial}: ${page.text.slice(page.text.indexOf('id="renewals"'), page.text.indexOf('id="renewals"') + 1500)}`);
  const r = await c.post(`/renewal/${serial}`, {}, { redirect: false });
  assert.equal(r.status, 303, `${r.status} ${r.location} ${r.text.slice(0, 400)}`);
  const app = await c.get(r.location, { redirect: false });
  assert.equal(app.status, 200, `${app.status} ${app.location}`);
  const m = app.text.match(/ESP-\d{4}-\d{6}/);
  assert.ok(m, 'redirected to the renewal application');
  assert.match(app.text, /业务类型<\/dt><dd>更新/);
  return m[0];
}

async function payRenewal(number, amount = 300) {
  const r = await T.raClient();
  const page = await r.get(`/ra/applications/${number}`);
  assert.match(page.text, /业务类型<\/dt><dd>更新/);
  assert.match(page.text, new RegExp(`id="amount-due">${amount} 元`));
  const paid = await r.post(`/ra/applications/${number}/payment`, {
    amount, paid_on: new Date(Date.now() + 8 * 3600e3).toISOString().slice(0, 10), payer: 'x', bank_ref: `R-${number}`,
  });
  assert.match(paid.text, /id="app-state">待制证/, 'a paid renewal needs no materials');
  // The RA issues no renewal: that is the holder's tool's step.
  assert.doesNotMatch(paid.text, /esp-token enroll --server/);
}

function renew(t, server = T.esp.url) {
  return t.tool('renew', '--server', server, '--pin-file', t.pinFile);
}

// The same, without blocking the event loop (for the proxy below).
function renewAsync(t, server) {
  return new Promise((resolve) => {
    const p = spawn(ESP_TOKEN, ['--module', MODULE, '--token', t.label, 'renew', '--server', server, '--pin-file', t.pinFile],
      { env: { ...process.env, HOME: join(T.tmp, 'home'), LC_ALL: 'C.UTF-8', ...t.env } });
    let out = '', err = '';
    p.stdout.on('data', (d) => { out += d; });
    p.stderr.on('data', (d) => { err += d; });
    p.on('exit', (code) => resolve({ code, out, err, all: `${out}\n${err}` }));
  });
}

// A proxy in front of espd that passes everything but `path`: 'block' never
// forwards it (the tool killed before it asked), 'lose' forwards it and
// drops the answer (the tool killed after espd acted, before it heard).
async function lossyProxy(path, mode) {
  const target = new URL(T.esp.url);
  const server = createServer((req, res) => {
    const chunks = [];
    req.on('data', (d) => chunks.push(d));
    req.on('end', async () => {
      if (req.url === path && mode === 'block') {
        req.socket.destroy();
        return;
      }
      const r = await fetch(new URL(req.url, T.esp.url), {
        method: req.method, headers: { 'content-type': req.headers['content-type'] || 'application/json' },
        body: req.method === 'POST' ? Buffer.concat(chunks) : undefined,
      });
      const body = Buffer.from(await r.arrayBuffer());
      if (req.url === path) {
        req.socket.destroy();
        return;
      }
      res.writeHead(r.status, { 'content-type': r.headers.get('content-type') || 'application/json' });
      res.end(body);
    });
  });
  await new Promise((resolve) => server.listen(0, target.hostname, resolve));
  return { url: `http://127.0.0.1:${server.address().port}`, close: () => new Promise((r) => server.close(r)) };
}

function assertRenewed(t, oldSerial, number) {
  // Exactly one valid certificate on the token's serial, for the token's new key.
  assert.equal(sql(`SELECT COUNT(*) FROM certificates WHERE token_serial = '${t.serial}' AND status = 'valid'`), '1');
  const newSerial = sql(`SELECT serial FROM certificates WHERE token_serial = '${t.serial}' AND status = 'valid'`);
  assert.notEqual(newSerial, oldSerial);
  assert.equal(sql(`SELECT status || ':' || revoke_reason FROM certificates WHERE serial = '${oldSerial}'`), 'revoked:4');
  assert.equal(sql(`SELECT state FROM applications WHERE number = '${number}'`), 'renewed');
  const objs = T.objects(t);
  const userCerts = objs.filter((o) => o.type === 'Certificate' && o.label.startsWith('esp-'));
  const keys = objs.filter((o) => o.type === 'Private Key');
  assert.equal(userCerts.length, 1, 'one certificate of the holder on the token');
  assert.equal(keys.length, 1, 'the old key pair is gone');
  assert.equal(userCerts[0].label.replace(/^esp-renew-0+/, 'esp-renew-'), `esp-renew-${oldSerial.replace(/^0+/, '')}`);
  assert.equal(userCerts[0].id, keys[0].id);
  assert.equal(certSerial(t), newSerial);
  assert.equal(T.spkiOfCert(join(t.dir, 'current.pem')), T.spkiOfTokenKey(t, userCerts[0].label));
  // It chains to ESP's CA at ESP's time (the clock moved).
  const v = T.run('openssl', ['verify', '-x509_strict', '-purpose', 'sslclient', '-attime',
    String(Math.floor(Date.now() / 1000) + offset), '-CAfile', T.chainFiles.root, '-untrusted', T.chainFiles.issuing,
    join(t.dir, 'current.pem')], {});
  assert.equal(v.code, 0, v.all);
  // The CRL lists the old serial as superseded.
  const crl = join(t.dir, 'crl.der');
  execFileSync('curl', ['-sfo', crl, `${T.esp.url}/ca/crl`]);
  const text = execFileSync('openssl', ['crl', '-inform', 'DER', '-in', crl, '-noout', '-text'], { encoding: 'utf8' });
  assert.ok(text.toUpperCase().includes(oldSerial.toUpperCase().replace(/^0+/, '')), 'old serial on the CRL');
  assert.match(text, /Superseded/);
  return newSerial;
}

test(`[${ENGINE}] renewal on the same token: apply with the key, pay, esp-token renew, one valid certificate with the new key`, async () => {
  const { t, serial, fields } = await enrolled('Renew1');
  // Now: far from expiry, no button and a refusal.
  const early = await (await keySession(t)).get('/mgmt/user');
  assert.ok(!early.text.includes(`action="/renewal/${serial}"`));
  assert.match(early.text, /尚未进入更新期/);
  const k = await keySession(t);
  await k.get('/mgmt/user');
  const refused = await k.post(`/renewal/${serial}`, {});
  assert.equal(refused.status, 409);
  assert.match(refused.text, /尚未进入更新期/);
  const noApp = renew(t);
  assert.equal(noApp.code, 6, noApp.all);
  assert.match(noApp.err, /证书尚未进入更新期/);
  assert.equal(T.objects(t).filter((o) => o.type === 'Private Key').length, 1, 'the refused new key is removed');

  await moveClock(IN_WINDOW);
  try {
    const number = await applyWithKey(t, serial);
    // Applying again (a second click) gives the same application.
    const k2 = await keySession(t);
    await k2.get('/mgmt/user');
    const second = await k2.post(`/renewal/${serial}`, {}, { redirect: false });
    assert.equal(second.status, 303);
    assert.equal(second.location, `/applications/${number}`);
    assert.equal(sql(`SELECT COUNT(*) FROM applications WHERE renews_serial = '${serial}'`), '1');
    // Not paid yet: refused, nothing changes on the token or in the store.
    const unpaid = renew(t);
    assert.equal(unpaid.code, 6, unpaid.all);
    assert.match(unpaid.err, /尚未确认付款/);
    assert.equal(T.objects(t).filter((o) => o.type === 'Private Key').length, 1);
    await payRenewal(number);
    // The RA queue lists it as a kind of application.
    const q = await (await T.raClient()).get('/ra/queue');
    assert.match(q.text, new RegExp(`<td>${number}</td><td>更新</td>`));
    // The printed form ticks 更新.
    const form = await k2.get(`/applications/${number}/print`);
    assert.match(form.text, /（已选）<\/span>更新</);
    assert.match(form.text, /（未选）<\/span>初次办理</);

    const r = renew(t);
    assert.equal(r.code, 0, r.all);
    assert.match(r.out, /已将新证书写入证书U盘/);
    assert.match(r.out, /证书更新完成/);
    const newSerial = assertRenewed(t, serial, number);
    // The holder is told by mail, once: the new serial and the superseded one.
    await SMTP.waitFor(() => renewedMails(fields.email).length >= 1);
    const [mail] = renewedMails(fields.email);
    assert.match(mail.body, new RegExp(`新证书（序列号 ${newSerial}）已写入同一证书U盘`));
    assert.match(mail.body, new RegExp(`原证书（序列号 ${serial}）已吊销（吊销原因：已被替代）`));
    assert.match(mail.body, new RegExp(number));
    // The new key logs in; the old certificate no longer would.
    const s = await keySession(t);
    const user = await s.get('/mgmt/user');
    assert.ok(user.text.includes(newSerial));
    // Running renew again starts nothing new: there is no renewal open for the new certificate.
    const again = renew(t);
    assert.equal(again.code, 6, again.all);
    assert.equal(sql(`SELECT COUNT(*) FROM certificates WHERE token_serial = '${t.serial}' AND status = 'valid'`), '1');
    await new Promise((r) => setTimeout(r, 1000));
    assert.equal(renewedMails(fields.email).length, 1, 'the renewal mail arrives once');
  } finally {
    await moveClock(0);
  }
});

// 【证书更新】 in the desktop window 证书管理工具, under Xvfb (tests/desktop/online_gui.sh
// types the PIN and waits for 证书更新完成): the same renewal as esp-token renew.
const HERE = dirname(fileURLToPath(import.meta.url));
const GUI = process.env.ESP_TOKEN_GUI || join(dirname(ESP_TOKEN), '../gui/esp-token-gui');
const onPath = (tool) => spawnSync('sh', ['-c', `command -v ${tool}`]).status === 0;
const haveDesktop = existsSync(GUI) && ['Xvfb', 'openbox', 'xdotool', 'import', 'dbus-run-session'].every(onPath);

test(`[${ENGINE}] 【证书更新】 in the desktop window renews the key's certificate on the same token`, { skip: !haveDesktop && 'no esp-token-gui or no Xvfb tools' }, async () => {
  const { t, serial, fields } = await enrolled('RenewGui');
  await moveClock(IN_WINDOW);
  try {
    const number = await applyWithKey(t, serial);
    await payRenewal(number);
    const shots = process.env.ESP_SCREENSHOTS || join(dirname(ESP_TOKEN), '../../screenshots/desktop');
    const run = spawnSync('bash', [join(HERE, '../../desktop/online_gui.sh'), GUI, T.esp.url, t.label, shots, 'renew', PIN],
      { encoding: 'utf8', timeout: 180000, env: { ...process.env, ...t.env } });
    const r = { code: run.status, out: run.stdout, all: `${run.stdout}\n${run.stderr}` };
    assert.equal(r.code, 0, r.all);
    const newSerial = assertRenewed(t, serial, number);
    assert.match(r.out, new RegExp(`已将新证书写入证书U盘`), 'the progress reached the window');
    // The new certificate logs in, and the holder was told once.
    const user = await (await keySession(t)).get('/mgmt/user');
    assert.ok(user.text.includes(newSerial));
    await SMTP.waitFor(() => renewedMails(fields.email).length >= 1);
    assert.equal(renewedMails(fields.email).length, 1);
  } finally {
    await moveClock(0);
  }
});

// An evaluator (考评员) renews free, through the training institution: no
// payment step for the RA, the trainer confirms, then esp-token renew.
test(`[${ENGINE}] an evaluator's renewal costs nothing and goes through the training institution`, async () => {
  const { c } = await approvedApplicant(T.esp, 'evaluator');
  const first = await submitApplication(c, 'evaluator');
  let trainer = await T.staff('fj_trainer');
  await trainer.get(`/ra/applications/${first}`);
  const mats = await trainer.post(`/ra/applications/${first}/materials`, { item: ['0', '1'] });
  assert.match(mats.text, /id="app-state">待制证/);
  await T.raClient();
  const t = T.newToken('RenewEval');
  const e = T.enroll(t, T.esp.url, first, T.apiTokenFile);
  assert.equal(e.code, 0, e.all);
  const serial = certSerial(t);
  await moveClock(IN_WINDOW);
  try {
    const number = await applyWithKey(t, serial);
    assert.equal(sql(`SELECT amount_yuan FROM applications WHERE number = '${number}'`), '0');
    // The RA has no payment to record; without the trainer's confirmation the tool is refused.
    const ra = await T.raClient();
    await ra.get(`/ra/applications/${number}`);
    const pay = await ra.post(`/ra/applications/${number}/payment`, { amount: '0', paid_on: '2029-01-01', payer: 'x', bank_ref: 'y' });
    assert.ok(pay.status >= 400 && pay.status < 500, `the RA records no payment for an evaluator (${pay.status})`);
    const early = renew(t);
    assert.equal(early.code, 6, early.all);
    trainer = await T.staff('fj_trainer');
    const page = await trainer.get(`/ra/applications/${number}`);
    assert.equal(page.status, 200);
    const ok = await trainer.post(`/ra/applications/${number}/materials`, { item: ['0', '1'] });
    assert.match(ok.text, /id="app-state">待制证/);
    const r = renew(t);
    assert.equal(r.code, 0, r.all);
    assertRenewed(t, serial, number);
  } finally {
    await moveClock(0);
  }
});

test(`[${ENGINE}] an interrupted renewal resumes: confirmation lost, then the issued certificate's answer lost`, async () => {
  const a = await enrolled('Renew2');
  const b = await enrolled('Renew3');
  const c = await enrolled('Renew7');
  await moveClock(IN_WINDOW);
  try {
    // (1) The certificate is issued and written, the confirmation never answered.
    const na = await applyWithKey(a.t, a.serial);
    await payRenewal(na);
    const p1 = await lossyProxy('/api/v1/renewals/confirm', 'block');
    const r1 = await renewAsync(a.t, p1.url);
    await p1.close();
    assert.equal(r1.code, 5, r1.all);
    assert.match(r1.out, /已将新证书写入证书U盘/);
    // The token still has its valid old certificate (and the new one, pending).
    assert.equal(sql(`SELECT status FROM certificates WHERE serial = '${a.serial}'`), 'valid');
    assert.equal(sql(`SELECT COUNT(*) FROM certificates WHERE token_serial = '${a.t.serial}' AND status = 'pending'`), '1');
    // The old key still logs in (chosen by its label while both are on the token).
    const oldKey = await keySession(a.t, '--label', `esp-${a.number}`);
    const mid = await oldKey.get('/mgmt/user');
    assert.equal(mid.status, 200);
    assert.match(mid.text, /更新中（待确认）/, 'the pending certificate is not shown as valid');
    const r1b = renew(a.t);
    assert.equal(r1b.code, 0, r1b.all);
    assert.match(r1b.out, /继续更新 \(resume\)/);
    assert.match(r1b.out, /新证书已在证书U盘上/);
    assertRenewed(a.t, a.serial, na);

    // (2) The certificate is issued, its answer lost before the tool wrote it.
    const nb = await applyWithKey(b.t, b.serial);
    await payRenewal(nb);
    const p2 = await lossyProxy('/api/v1/renewals', 'lose');
    const r2 = await renewAsync(b.t, p2.url);
    await p2.close();
    assert.equal(r2.code, 5, r2.all);
    const pending = sql(`SELECT serial FROM certificates WHERE token_serial = '${b.t.serial}' AND status = 'pending'`);
    assert.ok(pending, 'issued and stored as pending');
    const r2b = renew(b.t);
    assert.equal(r2b.code, 0, r2b.all);
    assert.match(r2b.out, /继续更新 \(resume\)/);
    // The same certificate: idempotent by the renewal and the new key.
    assert.equal(assertRenewed(b.t, b.serial, nb), pending);
    assert.equal(sql(`SELECT COUNT(*) FROM certificates WHERE application_id = (SELECT id FROM applications WHERE number = '${nb}')`), '1');

    // (3) The confirmation done by espd, its answer lost: the rerun only tidies the token.
    const nc = await applyWithKey(c.t, c.serial);
    await payRenewal(nc);
    const p3 = await lossyProxy('/api/v1/renewals/confirm', 'lose');
    const r3 = await renewAsync(c.t, p3.url);
    await p3.close();
    assert.equal(r3.code, 5, r3.all);
    assert.equal(sql(`SELECT status FROM certificates WHERE serial = '${c.serial}'`), 'revoked');
    const r3b = renew(c.t);
    assert.equal(r3b.code, 0, r3b.all);
    assertRenewed(c.t, c.serial, nc);
  } finally {
    await moveClock(0);
  }
});

test(`[${ENGINE}] refusals: a wrong old-key signature, another holder's certificate, another key for an issued renewal`, async () => {
  const a = await enrolled('Renew4');
  const b = await enrolled('Renew5');
  await moveClock(IN_WINDOW);
  try {
    const number = await applyWithKey(a.t, a.serial);
    await payRenewal(number);
    const oldPem = readFileSync(join(a.t.dir, 'current.pem'), 'utf8');
    // A CSR signed by an outsider's key, "signed" by that key instead of the old one.
    const csr = makeCsr(a.t.dir, 'outsider');
    const msg = join(a.t.dir, 'csr.txt');
    writeFileSync(msg, csr.pem);
    const sig = execFileSync('openssl', ['dgst', '-sha256', '-sign', csr.key, msg]).toString('base64');
    const post = (path, body) => fetch(`${T.esp.url}${path}`, {
      method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body),
    });
    const bad = await post('/api/v1/renewals', { certificate: oldPem, csr: csr.pem, signature: sig, token_serial: a.t.serial });
    assert.equal(bad.status, 403);
    assert.equal((await bad.json()).error, 'bad_signature');
    assert.equal(sql(`SELECT COUNT(*) FROM certificates WHERE application_id = (SELECT id FROM applications WHERE number = '${number}')`), '0');
    // Another holder applies for a's certificate: refused.
    const k = await keySession(b.t);
    await k.get('/mgmt/user');
    const other = await k.post(`/renewal/${a.serial}`, {});
    assert.equal(other.status, 403);
    assert.match(other.text, /不属于当前登录的用户/);
    // b's key cannot stand in for a's old key either.
    const bPem = readFileSync(join(b.t.dir, 'current.pem'), 'utf8');
    const wrong = await post('/api/v1/renewals', { certificate: bPem, csr: csr.pem, signature: sig, token_serial: b.t.serial });
    assert.equal(wrong.status, 403);
    // The real renewal, then a different new key for the same renewal: refused.
    const r = renew(a.t);
    assert.equal(r.code, 0, r.all);
  } finally {
    await moveClock(0);
  }
});

test(`[${ENGINE}] an expired key is refused at login with the renewal path; in the grace period a password login renews it`, async () => {
  const { t, fields, serial } = await enrolled('Renew6');
  await moveClock(IN_GRACE);
  try {
    const l = t.tool('login', '--server', T.esp.url, '--pin-file', t.pinFile);
    assert.notEqual(l.code, 0);
    const out = l.all;
    // The token's clock is the real one: espd (its clock moved) refuses, with the path.
    assert.match(out, /已过有效期/);
    assert.match(out, /esp-token renew/, 'the refusal explains the renewal path');
    // esp-token refuses an expired certificate itself; the server explains the path.
    const pem = readFileSync(join(t.dir, 'current.pem'), 'utf8');
    const ch = await (await fetch(`${T.esp.url}/api/v1/login/challenge`)).json();
    const res = await fetch(`${T.esp.url}/api/v1/login/certificate`, {
      method: 'POST', headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ id: ch.id, challenge: ch.challenge, signature: 'AAAA', certificate: pem }),
    });
    assert.equal(res.status, 403);
    const j = await res.json();
    assert.equal(j.error, 'expired');
    assert.match(j.message, /证书更新/);
    assert.match(j.message, /esp-token renew/);
    assert.ok(out.length > 0);
    // The password portal's 证书更新 page lists it as renewable in the grace period.
    const c = new Client(T.esp.url);
    await c.login(fields.username, fields.password);
    const page = await c.get('/renewal');
    assert.equal(page.status, 200);
    assert.match(page.text, /已过期/);
    const r = await c.post(`/renewal/${serial}`, {});
    assert.equal(r.status, 200);
    const number = r.text.match(/ESP-\d{4}-\d{6}/)[0];
    await payRenewal(number);
    const rn = renew(t);
    assert.equal(rn.code, 0, rn.all);
    assertRenewed(t, serial, number);
  } finally {
    await moveClock(0);
  }
});

test(`[${ENGINE}] the admin sets the renewal fee, versioned: a renewal applied for afterwards pays it`, async () => {
  const admin = new Client(T.esp.url);
  await admin.login('admin', T.esp.account('admin').password);
  const today = new Date(Date.now() + 8 * 3600e3).toISOString().slice(0, 10);
  await admin.get('/admin/fees');
  const bad = await admin.post('/admin/fees', { price_yuan: 660, medium_yuan: 80, years: 3, valid_from: today, renewal_yuan: '-5' });
  assert.equal(bad.status, 422);
  assert.match(bad.text, /证书更新费应为不小于0的整数/);
  const saved = await admin.post('/admin/fees', { price_yuan: 660, medium_yuan: 80, years: 3, valid_from: today, renewal_yuan: 280 });
  assert.match(saved.text, /证书更新280元\/套（不含介质）/);
  const h = await holderWithKeys(T.esp, 'enterprise', 1, T.tmp);
  await moveClock(IN_WINDOW);
  try {
    const c = new Client(T.esp.url);
    await c.login(h.fields.username, h.fields.password);
    const page = await c.get('/renewal');
    assert.match(page.text, /证书更新费280元/);
    const r = await c.post(`/renewal/${h.certs[0].serial}`, {});
    assert.match(r.text, /应付金额<\/dt><dd>280 元/);
  } finally {
    await moveClock(0);
    const a2 = new Client(T.esp.url);
    await a2.login('admin', T.esp.account('admin').password);
    await a2.get('/admin/fees');
    await a2.post('/admin/fees', { price_yuan: 660, medium_yuan: 80, years: 3, valid_from: today, renewal_yuan: 300 });
  }
});
