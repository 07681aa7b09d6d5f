// 丢失补办 and 损坏补办: a holder whose key was lost (挂失) or broken applies
// for a replacement linked to the old certificate, from a password session
// (the lost key cannot log in); the RA takes it through payment, materials,
// issuance onto a new token, shipping and receipt as for a new key. The old
// certificate stays revoked (lost, or handed in and revoked by the RA), or is
// revoked as cessationOfOperation when the replacement of a still-valid
// broken key is issued. Refusals say why in Chinese; another registrant is
// refused; the same click twice gives the same application; the printed form
// ticks the kind.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import {
  startEsp, Client, ENGINE, holderWithKeys, approvedApplicant, makeCsr, rawSql, keySession,
} from './lib/esp.mjs';

let esp, dir;
before(async () => {
  esp = await startEsp({ login: true });
  dir = mkdtempSync(join(tmpdir(), 'esp-replace-'));
});
after(async () => {
  if (!esp) return;
  await esp.stop();
  assert.doesNotMatch(esp.log, /Sanitizer|runtime error/);
  await esp.cleanup();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

const sql = (q) => rawSql(esp, q).trim();
const certRow = (serial) => sql(`SELECT status || '/' || COALESCE(revoke_reason, -1) FROM certificates WHERE serial = '${serial}'`);
const today = () => new Date(Date.now() + 8 * 3600e3).toISOString().slice(0, 10);
const ticked = (html, name) => new RegExp(`<span class="box on" aria-hidden="true"></span><span class="sr-only">（已选）</span>${name}<`).test(html);

// The holder's button for one kind; the POST's redirect names the application.
async function apply(c, serial, kind) {
  await c.get('/replace');
  return c.post(`/replace/${serial}/${kind}`, {}, { redirect: false });
}

// The RA takes the replacement from payment to receipt; the key goes onto a new token.
async function throughTheRa(h, number) {
  const { ra } = h;
  let page = await ra.get(`/ra/applications/${number}`);
  const due = page.text.match(/id="amount-due">(\d+) 元/)[1];
  await ra.post(`/ra/applications/${number}/payment`, { amount: due, paid_on: today(), payer: 'x', bank_ref: `R-${number}` });
  await ra.get(`/ra/applications/${number}`);
  await ra.post(`/ra/applications/${number}/materials`, { item: ['0', '1'] });
  const csr = makeCsr(dir, `new-${number}`);
  const token = `TK-NEW-${number}`;
  const r = await fetch(`${esp.url}/api/v1/applications/${number}/certificates`, {
    method: 'POST', headers: { authorization: `Bearer ${h.token}`, 'content-type': 'application/json' },
    body: JSON.stringify({ csr: csr.pem, token_serial: token }),
  });
  assert.equal(r.status, 201, await r.clone().text());
  const issued = await r.json();
  await ra.get(`/ra/applications/${number}`);
  await ra.post(`/ra/applications/${number}/ship`, { courier: '顺丰速运', tracking_no: `SF${Date.now()}` });
  await ra.get(`/ra/applications/${number}`);
  page = await ra.post(`/ra/applications/${number}/received`, {});
  assert.equal(sql(`SELECT state FROM applications WHERE number = '${number}'`), 'received');
  return { ...issued, due: Number(due), token };
}

test(`[${ENGINE}] 丢失补办: refused before 挂失, then applied once by password, issued, shipped and received on a new token`, async () => {
  const h = await holderWithKeys(esp, 'enterprise', 1, dir);
  const old = h.certs[0];

  // Not lost yet: only 损坏补办 is offered, and 丢失补办 says to report it lost first.
  let page = await h.c.get('/replace');
  assert.equal(page.status, 200);
  assert.ok(page.text.includes(`申请损坏补办 ${old.token}`));
  assert.ok(!page.text.includes(`申请丢失补办 ${old.token}`));
  const early = await apply(h.c, old.serial, 'lost');
  assert.equal(early.status, 409);
  assert.match(early.text, /该证书尚未挂失，不能申请丢失补办：请先在【当前用户信息】中挂失该证书U盘/);

  // 挂失 with the key itself; the key no longer logs in, the password does.
  const k = keySession(esp, h, 0);
  await k.get(`/mgmt/certs/${old.serial}/lost`);
  const lostPage = await k.post(`/mgmt/certs/${old.serial}/lost`, {});
  assert.equal(lostPage.status, 200);
  assert.match(lostPage.text, /id="replace-how">需要补办这个证书U盘的，请用用户名和密码登录证书U盘申请网站，在【查看初审状态】页面点击【丢失补办、损坏补办】申请丢失补办。/);
  assert.equal(certRow(old.serial), 'revoked/1');

  const status = await h.c.get('/status');
  assert.match(status.text, /<a href="\/replace">丢失补办、损坏补办/);
  page = await h.c.get('/replace');
  assert.ok(page.text.includes(`申请丢失补办 ${old.token}`));
  assert.ok(!page.text.includes(`申请损坏补办 ${old.token}`), 'a lost key is replaced as lost');
  const wrongKind = await apply(h.c, old.serial, 'damaged');
  assert.equal(wrongKind.status, 409);
  assert.match(wrongKind.text, /该证书已挂失（密钥泄露），请申请丢失补办/);

  // Another registrant: refused by the policy, nothing made.
  const other = await approvedApplicant(esp, 'enterprise');
  const foreign = await apply(other.c, old.serial, 'lost');
  assert.equal(foreign.status, 403);
  assert.match(foreign.text, /该证书不属于当前登录的用户/);
  assert.equal(sql(`SELECT COUNT(*) FROM applications WHERE replaces_serial = '${old.serial}'`), '0');
  const unknown = await apply(h.c, 'FFFF0000', 'lost');
  assert.equal(unknown.status, 404);

  // Applied; the same click again (either kind) gives the same application.
  const first = await apply(h.c, old.serial, 'lost');
  assert.equal(first.status, 303);
  const number = first.location.match(/^\/applications\/(ESP-\d{4}-\d{6})$/)[1];
  assert.equal((await apply(h.c, old.serial, 'lost')).location, first.location);
  assert.equal((await apply(h.c, old.serial, 'damaged')).location, first.location);
  assert.equal(sql(`SELECT COUNT(*) FROM applications WHERE replaces_serial = '${old.serial}'`), '1');
  assert.equal(sql(`SELECT type || '/' || sets FROM applications WHERE number = '${number}'`), 'replace_lost/1');

  const app = await h.c.get(`/applications/${number}`);
  assert.match(app.text, /<dt>业务类型<\/dt><dd>丢失补办<\/dd>/);
  assert.match(app.text, new RegExp(`id="replaces-serial">${old.serial}<`));
  const print = await h.c.get(`/applications/${number}/print`);
  assert.equal(print.status, 200);
  assert.ok(ticked(print.text, '丢失补办'), 'the form ticks 丢失补办');
  assert.ok(!ticked(print.text, '初次办理') && !ticked(print.text, '损坏补办'), 'and nothing else');
  const pdf = await h.c.get(`/applications/${number}/form.pdf`);
  assert.equal(pdf.status, 200);
  assert.match(pdf.headers.get('content-type'), /^application\/pdf/);
  page = await h.c.get('/replace');
  assert.ok(page.text.includes(`丢失补办申请 ${number}（已提交）`));

  // The RA's queue names the kind and the old certificate.
  const queue = await h.ra.get(`/ra/queue?q=${number}`);
  assert.match(queue.text, new RegExp(`<td>${number}</td><td>丢失补办<br><span class="mono">原证书 ${old.serial}</span></td>`));
  // So does its spreadsheet export, in the same words.
  const csv = await h.ra.get(`/ra/queue.csv?q=${number}`);
  const lines = csv.text.replace(/^\uFEFF/, '').trim().split('\r\n');
  assert.equal(lines[0], '申请编号,业务类型,原证书序列号,状态,申请人类型,名称,代码,省份,数量,金额(元),提交日期,已用天数,超期');
  assert.equal(lines.length, 2, csv.text);
  assert.match(lines[1], new RegExp(`^"${number}","丢失补办","${old.serial}",`));

  // A set's price (medium and certificate), as a first key costs.
  const price = Number(sql('SELECT price_yuan FROM fee_schedule ORDER BY valid_from DESC, id DESC LIMIT 1'));
  const done = await throughTheRa(h, number);
  assert.equal(done.due, price);
  assert.equal(certRow(done.serial), 'valid/-1', 'the new certificate is valid');
  assert.equal(certRow(old.serial), 'revoked/1', 'the old one stays revoked as lost');
  assert.equal(sql(`SELECT token_serial FROM certificates WHERE serial = '${done.serial}'`), done.token);
  assert.equal(sql(`SELECT COUNT(*) FROM application_events e JOIN applications a ON a.id = e.application_id WHERE a.number = '${number}' AND e.action = 'received'`), '1');
  // The holder is told by mail as for a new key: issued, then shipped.
  assert.equal(sql(`SELECT COUNT(*) FROM outbox WHERE audience = 'holder' AND kind IN ('app_issued', 'app_shipped') AND params LIKE '%${number}%'`), '2');
  // Replaced once: the page shows the application, no new button.
  page = await h.c.get('/replace');
  assert.ok(page.text.includes(`丢失补办申请 ${number}（已签收）`));
  assert.ok(!page.text.includes(`申请丢失补办 ${old.token}`));
});

test(`[${ENGINE}] 损坏补办 after the RA revoked the handed-in token as cessationOfOperation`, async () => {
  const h = await holderWithKeys(esp, 'enterprise', 1, dir);
  const old = h.certs[0];
  await h.ra.get(`/ra/certs/${old.serial}/revoke`);
  const rv = await h.ra.post(`/ra/certs/${old.serial}/revoke`, { reason: 'cessationOfOperation', confirm: 'yes' });
  assert.equal(rv.status, 200);
  assert.equal(certRow(old.serial), 'revoked/5');

  const page = await h.c.get('/replace');
  assert.ok(page.text.includes(`申请损坏补办 ${old.token}`));
  assert.ok(!page.text.includes(`申请丢失补办 ${old.token}`));
  const lost = await apply(h.c, old.serial, 'lost');
  assert.equal(lost.status, 409);
  assert.match(lost.text, /该证书因证书U盘损坏已由数字证书注册机构吊销（停止使用），请申请损坏补办/);

  const res = await apply(h.c, old.serial, 'damaged');
  assert.equal(res.status, 303);
  const number = res.location.split('/')[2];
  const print = await h.c.get(`/applications/${number}/print`);
  assert.ok(ticked(print.text, '损坏补办'));
  assert.ok(!ticked(print.text, '丢失补办'));
  const ra = await h.ra.get(`/ra/applications/${number}`);
  assert.match(ra.text, /<dt>业务类型<\/dt><dd>损坏补办<\/dd>/);
  assert.match(ra.text, new RegExp(`id="replaces-serial">${old.serial}<`));

  const done = await throughTheRa(h, number);
  assert.equal(certRow(done.serial), 'valid/-1');
  assert.equal(certRow(old.serial), 'revoked/5');
});

test(`[${ENGINE}] 损坏补办 of a still-valid certificate: it stays valid until the replacement is issued, then is revoked as cessationOfOperation`, async () => {
  const h = await holderWithKeys(esp, 'enterprise', 1, dir);
  const old = h.certs[0];
  // Two clicks at once: one application.
  await h.c.get('/replace');
  const both = await Promise.all([0, 1, 2].map(() => h.c.post(`/replace/${old.serial}/damaged`, {}, { redirect: false })));
  const res = both[0];
  assert.equal(res.status, 303);
  assert.deepEqual(both.map((x) => x.location), [res.location, res.location, res.location]);
  assert.equal(sql(`SELECT COUNT(*) FROM applications WHERE replaces_serial = '${old.serial}'`), '1');
  const number = res.location.split('/')[2];
  assert.equal(certRow(old.serial), 'valid/-1', 'applying revokes nothing');
  const crlBefore = Number(sql('SELECT number FROM crl WHERE id = 1'));

  const done = await throughTheRa(h, number);
  assert.equal(certRow(done.serial), 'valid/-1');
  assert.equal(certRow(old.serial), 'revoked/5', 'revoked when the replacement was issued');
  assert.ok(Number(sql('SELECT number FROM crl WHERE id = 1')) > crlBefore, 'the CRL was re-signed with it');
  assert.match(sql(`SELECT note FROM application_events WHERE action = 'revoke' AND note LIKE '%${old.serial}%'`), /停止使用/);
  assert.equal(sql(`SELECT COUNT(*) FROM outbox WHERE kind = 'cert_revoked' AND audience = 'holder' AND params LIKE '%${old.serial}%'`), '1');
  // The old key no longer logs in.
  const r = spawnSync('curl', ['-s', '-i', '--cacert', h.chain, '--cert', old.cert, '--key', old.key, `${esp.loginUrl}/`], { encoding: 'utf8' });
  assert.doesNotMatch(r.stdout, /esp_session=[^;\s]+/);
});

test(`[${ENGINE}] an evaluator's replacement costs nothing and goes through the training institution`, async () => {
  const h = await holderWithKeys(esp, 'evaluator', 1, dir);
  const old = h.certs[0];
  const res = await apply(h.c, old.serial, 'damaged');
  assert.equal(res.status, 303);
  const number = res.location.split('/')[2];
  assert.equal(sql(`SELECT amount_yuan FROM applications WHERE number = '${number}'`), '0');
  const tr = new Client(esp.url);
  await tr.login('fj_trainer', esp.account('fj_trainer').password);
  await tr.get(`/ra/applications/${number}`);
  await tr.post(`/ra/applications/${number}/materials`, { item: ['0', '1'] });
  assert.equal(sql(`SELECT state FROM applications WHERE number = '${number}'`), 'ready_to_issue');
  // Issued onto a new token, handed to the training institution, picked up.
  const r = await fetch(`${esp.url}/api/v1/applications/${number}/certificates`, {
    method: 'POST', headers: { authorization: `Bearer ${h.token}`, 'content-type': 'application/json' },
    body: JSON.stringify({ csr: makeCsr(dir, `ev-${number}`).pem, token_serial: `TK-EV-${number}` }),
  });
  assert.equal(r.status, 201);
  const issued = await r.json();
  assert.equal(certRow(old.serial), 'revoked/5', 'the broken key ends with its replacement');
  await h.ra.get(`/ra/applications/${number}`);
  const pick = await h.ra.post(`/ra/applications/${number}/ship`, {});
  assert.match(pick.text, /id="app-state">待领取/);
  await tr.get(`/ra/applications/${number}`);
  const got = await tr.post(`/ra/applications/${number}/received`, {});
  assert.match(got.text, /id="app-state">已签收/);
  assert.equal(certRow(issued.serial), 'valid/-1');
});

test(`[${ENGINE}] the admin sets the replacement fee, versioned: a replacement applied for afterwards pays it`, async () => {
  const admin = new Client(esp.url);
  await admin.login('admin', esp.account('admin').password);
  let page = await admin.get('/admin/fees');
  assert.match(page.text, /<label for="f-replacement_yuan">补办费（元\/套）<\/label>/);
  const bad = await admin.post('/admin/fees', { price_yuan: 660, medium_yuan: 80, years: 3, valid_from: today(), renewal_yuan: 300, replacement_yuan: '0' });
  assert.equal(bad.status, 422);
  assert.match(bad.text, /补办费应为正整数（元），或空着（与每套价格相同）/);
  const before = await holderWithKeys(esp, 'enterprise', 1, dir);
  const saved = await admin.post('/admin/fees', { price_yuan: 660, medium_yuan: 80, years: 3, valid_from: today(), renewal_yuan: 300, replacement_yuan: 520 });
  assert.match(saved.text, /丢失补办、损坏补办520元\/套（含介质）/);
  const res = await apply(before.c, before.certs[0].serial, 'damaged');
  const number = res.location.split('/')[2];
  page = await before.ra.get(`/ra/applications/${number}`);
  assert.match(page.text, /id="amount-due">520 元/);
  assert.match((await before.c.get('/replace')).text, /补办按520元\/个收费/);
  // A row without one: the replacement costs that row's price of a set again.
  await admin.get('/admin/fees');
  await admin.post('/admin/fees', { price_yuan: 690, medium_yuan: 80, years: 3, valid_from: today(), renewal_yuan: 300, replacement_yuan: '' });
  const h = await holderWithKeys(esp, 'enterprise', 1, dir);
  const r2 = await apply(h.c, h.certs[0].serial, 'damaged');
  assert.equal(sql(`SELECT amount_yuan FROM applications WHERE number = '${r2.location.split('/')[2]}'`), '690');
});
