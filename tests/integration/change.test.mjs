// 信息变更 (change of registration details) against the real espd, with a
// SoftHSM2 token: the holder submits a name and code change with a new
// scan; only the reviewers of its authority path see and decide it, old
// beside new; approved, the registration has the new name and the token's
// certificate is renewed online (`esp-token renew`) with the new subject,
// the old one revoked as affiliationChanged on the CRL.  An address-only
// change leaves the certificates alone; a change is returned with a reason;
// bad input is refused in Chinese, field by field.
//
//   node --test tests/integration/change.test.mjs
//   ESP_ENGINE=postgresql ESP_PG_CLUSTER=... node --test tests/integration/change.test.mjs
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { Client, rawSql, decode, uscc, unique, inputFor, fieldError, approvedApplicant, ENGINE, SAMPLE_PDF, SAMPLE_EXE } from './lib/esp.mjs';
import { tokenTestbed } from './token/lib.mjs';

const T = tokenTestbed();

function sql(q) {
  return rawSql(T.esp, q).trim();
}

async function holder(fields) {
  const c = new Client(T.esp.url);
  const r = await c.login(fields.username, fields.password);
  assert.equal(r.status, 200);
  return c;
}

// The change form's current values, as the page pre-fills them.
function formValues(html) {
  const values = {};
  for (const m of html.matchAll(/<input id="f-([a-z_]+)" name="[a-z_]+" type="[a-z]+" value="([^"]*)"/g)) values[m[1]] = decode(m[2]);
  return values;
}

async function openForm(c) {
  const status = await c.get('/status');
  assert.match(status.text, /href="\/change"/, '查看初审状态 links to 信息变更');
  const form = await c.get('/change');
  assert.equal(form.status, 200);
  return form;
}

function postChange(c, values, scan) {
  return c.postMultipart('/change', values, scan ? { scan } : {});
}

const PDF = { data: SAMPLE_PDF, filename: '营业执照.pdf', type: 'application/pdf' };

function changeIdOf(regName) {
  return sql(`SELECT ch.id FROM registration_changes ch JOIN registrations r ON r.id = ch.registration_id WHERE r.name = '${regName}' ORDER BY ch.id DESC LIMIT 1`);
}

test(`[${ENGINE}] name and code change: reviewed side by side by the right authority only, approved, the certificate renewed on the token with the new subject and the old one revoked affiliationChanged`, async () => {
  const { t, fields } = await T.enrolledToken('Chg1');
  const oldSerial = sql(`SELECT serial FROM certificates WHERE token_serial = '${t.serial}' AND status = 'valid'`);
  assert.ok(oldSerial);
  const c = await holder(fields);
  const form = await openForm(c);
  // Every input has its <label for>, in the manual's wording, pre-filled.
  assert.equal(inputFor(form.text, '单位名称*'), 'f-name');
  assert.equal(inputFor(form.text, '统一社会信用代码（或组织机构代码）*'), 'f-code');
  assert.equal(inputFor(form.text, '通信地址*'), 'f-address');
  assert.equal(inputFor(form.text, '营业执照（或组织机构代码证）扫描件'), 'f-scan');
  const values = formValues(form.text);
  assert.equal(values.name, fields.name);
  assert.equal(values.code, fields.code);
  assert.equal(values.address, fields.address);

  const newName = `${fields.name}（更名）`;
  const newCode = uscc(unique());
  // A name change without the new scan is refused, saying why.
  const noScan = await postChange(c, { ...values, name: newName, code: newCode });
  assert.equal(noScan.status, 422);
  assert.match(noScan.text, /变更单位名称或代码时，必须上传变更后的营业执照/);
  const sent = await postChange(c, { ...values, name: newName, code: newCode }, PDF);
  assert.equal(sent.status, 200);
  assert.match(sent.text, /信息变更已提交，请等待主管机关审核/);
  assert.match(sent.text, /id="change-pending"/);
  // The registration keeps working with its old values until approved.
  assert.equal(sql(`SELECT name FROM registrations WHERE code = '${fields.code}'`), fields.name);
  const id = changeIdOf(fields.name);
  assert.ok(id);
  // One open change per registration.
  const again = await postChange(c, { ...values, address: '福建省福州市另一地址9号' });
  assert.equal(again.status, 409);
  assert.match(again.text, /已有一项信息变更正在等待主管机关审核/);
  assert.match(again.text, /id="change-pending"/, 'the pending change is shown instead of the form');
  assert.doesNotMatch(again.text, /name="address"/);
  assert.equal(sql(`SELECT COUNT(*) FROM registration_changes WHERE registration_id = (SELECT registration_id FROM registration_changes WHERE id = ${id})`), '1');

  // Only the reviewers of the registration's authority path see or decide it.
  for (const who of ['bj_reviewer', 'fz_reviewer', 'fj_ra', 'fj_trainer', 'admin']) {
    const s = await T.staff(who);
    const list = await s.get('/review/changes');
    assert.ok(!list.text.includes(`/review/changes/${id}"`), `${who} does not list the change`);
    const page = await s.get(`/review/changes/${id}`);
    assert.ok(page.status === 403 || page.status === 404 || page.status === 302 || !page.text.includes(newName), `${who} does not see it: ${page.status}`);
    assert.doesNotMatch(page.text, new RegExp(newName.replace(/[()（）]/g, '.')));
    const scan = await s.get(`/review/changes/${id}/scan`);
    assert.notEqual(scan.status, 200, `${who} cannot read the scan`);
  }
  // Nor the holder itself.
  assert.equal((await c.get(`/review/changes/${id}`)).status, 403);
  const bj = await T.staff('bj_reviewer');
  await bj.get('/review/changes');
  const forged = await bj.post(`/review/changes/${id}`, { decision: 'approve' });
  assert.equal(forged.status, 403);
  assert.equal(sql(`SELECT state FROM registration_changes WHERE id = ${id}`), 'pending');

  const r = await T.staff('fj_reviewer');
  const queue = await r.get('/review');
  assert.match(queue.text, /href="\/review\/changes"/);
  const list = await r.get('/review/changes');
  assert.ok(list.text.includes(`href="/review/changes/${id}"`));
  const page = await r.get(`/review/changes/${id}`);
  assert.equal(page.status, 200);
  // Old and new side by side, the changed rows marked in words.
  const row = (field) => page.text.match(new RegExp(`<tr class="[a-z]*" data-field="${field}">([\\s\\S]*?)</tr>`))[1];
  assert.ok(decode(row('name')).includes(fields.name) && decode(row('name')).includes(newName));
  assert.match(row('name'), /已变更/);
  assert.match(row('code'), new RegExp(newCode));
  assert.match(row('code'), /已变更/);
  assert.match(row('address'), /未变更/);
  assert.match(page.text, /id="change-reissue"/);
  const scan = await r.get(`/review/changes/${id}/scan`);
  assert.equal(scan.status, 200);
  assert.equal(scan.headers.get('content-type'), 'application/pdf');
  assert.equal(scan.headers.get('content-security-policy'), "sandbox; default-src 'none'; img-src 'self'; frame-ancestors 'none'", 'a scan is shown, never run, under its own policy only');
  assert.equal(scan.headers.get('cache-control'), 'no-store');
  const decided = await r.post(`/review/changes/${id}`, { decision: 'approve' });
  assert.equal(decided.status, 200);
  assert.match(decided.text, /id="change-state">已通过/);

  // The registration has the new values; the mail is in the outbox.
  assert.equal(sql(`SELECT name || '|' || code FROM registrations WHERE id = (SELECT registration_id FROM registration_changes WHERE id = ${id})`), `${newName}|${newCode}`);
  assert.equal(sql(`SELECT COUNT(*) FROM outbox WHERE kind = 'change_approved' AND recipient = '${fields.email}'`), '1');
  assert.match(sql(`SELECT params FROM outbox WHERE kind = 'change_approved' AND recipient = '${fields.email}'`), /esp-token renew/);
  assert.ok(Number(sql(`SELECT COUNT(*) FROM audit_log WHERE action = 'registration.change.approve'`)) >= 1);
  // The certificate is marked for re-issue: a free renewal, ready, no posting.
  assert.equal(sql(`SELECT type || '|' || state || '|' || amount_yuan FROM applications WHERE change_id = ${id}`), 'renewal|ready_to_issue|0');
  // The holder is told the re-issue is free, not that a payment was confirmed.
  const reissue = await c.get(`/applications/${sql(`SELECT number FROM applications WHERE change_id = ${id}`)}`);
  assert.equal(reissue.status, 200);
  assert.match(reissue.text, /信息变更已通过，可以免费更新为新的证书信息：插入该证书U盘/);
  assert.doesNotMatch(reissue.text, /已确认付款|已付款/);
  // Until renewed, the old certificate is still the token's valid one.
  assert.equal(sql(`SELECT status FROM certificates WHERE serial = '${oldSerial}'`), 'valid');

  // The holder renews on the same token, outside the 60-day window.
  const renewed = t.tool('renew', '--server', T.esp.url, '--pin-file', t.pinFile);
  assert.equal(renewed.code, 0, renewed.all);
  assert.equal(sql(`SELECT COUNT(*) FROM certificates WHERE token_serial = '${t.serial}' AND status = 'valid'`), '1');
  const newSerial = sql(`SELECT serial FROM certificates WHERE token_serial = '${t.serial}' AND status = 'valid'`);
  assert.notEqual(newSerial, oldSerial);
  assert.equal(sql(`SELECT status || ':' || revoke_reason FROM certificates WHERE serial = '${oldSerial}'`), 'revoked:3');
  assert.equal(sql(`SELECT state FROM applications WHERE change_id = ${id}`), 'renewed');
  // The holder is told of the renewal with the old certificate's reason (not 已被替代).
  assert.match(sql(`SELECT params FROM outbox WHERE kind = 'renewed' AND params LIKE '%${oldSerial}%'`), /"reason":"隶属关系变更"/);
  // The certificate on the token carries the new subject.
  const certFile = join(t.dir, 'renewed.pem');
  const ex = t.tool('export-cert', '--out', certFile);
  assert.equal(ex.code, 0, ex.all);
  const subject = execFileSync('openssl', ['x509', '-in', certFile, '-noout', '-subject', '-nameopt', 'utf8,sep_comma_plus'], { encoding: 'utf8' });
  assert.ok(subject.includes(newName), subject);
  assert.ok(subject.includes(newCode), subject);
  assert.ok(!subject.includes(`CN=${fields.name},`), subject);
  // The CRL lists the old serial as affiliationChanged.
  const crl = join(t.dir, 'crl.der');
  execFileSync('curl', ['-sfo', crl, `${T.esp.url}/ca/crl`]);
  const text = execFileSync('openssl', ['crl', '-inform', 'DER', '-in', crl, '-noout', '-text'], { encoding: 'utf8' });
  const at = text.toUpperCase().indexOf(oldSerial.toUpperCase().replace(/^0+/, ''));
  assert.ok(at > 0, 'old serial on the CRL');
  assert.match(text.slice(at, at + 300), /Affiliation Changed/);
  // A second renew has nothing to do.
  const twice = t.tool('renew', '--server', T.esp.url, '--pin-file', t.pinFile);
  assert.notEqual(twice.code, 0);
  assert.equal(sql(`SELECT COUNT(*) FROM certificates WHERE token_serial = '${t.serial}' AND status = 'valid'`), '1');
});

test(`[${ENGINE}] an address-only change leaves the certificates untouched`, async () => {
  const { t, fields } = await T.enrolledToken('Chg2');
  const serial = sql(`SELECT serial FROM certificates WHERE token_serial = '${t.serial}' AND status = 'valid'`);
  // 当前用户信息, with the key, links to 信息变更 too.
  const l = t.tool('login', '--server', T.esp.url, '--pin-file', t.pinFile);
  assert.equal(l.code, 0, l.all);
  const k = new Client(T.esp.url);
  k.cookies.set('esp_session', l.out.trim());
  const user = await k.get('/mgmt/user');
  assert.equal(user.status, 200);
  assert.match(user.text, /<a href="\/change" id="change-link">【信息变更/);
  const c = await holder(fields);
  const values = formValues((await openForm(c)).text);
  // No scan needed for an address or contact change.
  const sent = await postChange(c, { ...values, address: '福建省厦门市思明区新地址8号', mobile: '13900139000' });
  assert.equal(sent.status, 200);
  const id = changeIdOf(fields.name);
  const r = await T.staff('fj_reviewer');
  const page = await r.get(`/review/changes/${id}`);
  assert.doesNotMatch(page.text, /id="change-reissue"/);
  const d = await r.post(`/review/changes/${id}`, { decision: 'approve' });
  assert.match(d.text, /id="change-state">已通过/);
  assert.equal(sql(`SELECT address || '|' || mobile FROM registrations WHERE name = '${fields.name}'`), '福建省厦门市思明区新地址8号|13900139000');
  assert.equal(sql(`SELECT COUNT(*) FROM applications WHERE change_id = ${id}`), '0');
  assert.equal(sql(`SELECT status FROM certificates WHERE serial = '${serial}'`), 'valid');
  assert.equal(sql(`SELECT COUNT(*) FROM certificates WHERE token_serial = '${t.serial}'`), '1');
  const after = await c.get('/change');
  assert.match(after.text, /id="change-approved"/);
  // The notice on 查看初审状态 says the same as the mail.
  const status = await c.get('/status');
  assert.match(status.text, /信息变更已通过审核/);
});

test(`[${ENGINE}] a change returned with a reason: the registration unchanged, the holder told why, and may submit again`, async () => {
  const { fields } = await T.enrolledToken('Chg3');
  const c = await holder(fields);
  const values = formValues((await openForm(c)).text);
  await postChange(c, { ...values, email: `new${unique()}@example.cn` });
  const id = changeIdOf(fields.name);
  const r = await T.staff('fj_reviewer');
  await r.get(`/review/changes/${id}`);
  const noReason = await r.post(`/review/changes/${id}`, { decision: 'return' });
  assert.equal(noReason.status, 422);
  assert.match(noReason.text, /请填写退回原因/);
  const none = await r.post(`/review/changes/${id}`, {});
  assert.equal(none.status, 422);
  assert.match(none.text, /请选择审核结果/);
  const back = await r.post(`/review/changes/${id}`, { decision: 'return', reason: '新邮箱无法联系，请核实' });
  assert.equal(back.status, 200);
  assert.match(back.text, /id="change-state">已退回/);
  assert.equal(sql(`SELECT email FROM registrations WHERE name = '${fields.name}'`), fields.email);
  assert.equal(sql(`SELECT COUNT(*) FROM outbox WHERE kind = 'change_returned' AND recipient = '${fields.email}'`), '1');
  assert.match(sql(`SELECT params FROM outbox WHERE kind = 'change_returned' AND recipient = '${fields.email}'`), /新邮箱无法联系/);
  // Decided once only.
  const twice = await r.post(`/review/changes/${id}`, { decision: 'approve' });
  assert.equal(twice.status, 409);
  assert.match(twice.text, /已经审核过/);
  const form = await c.get('/change');
  assert.match(form.text, /id="change-returned"[^>]*>[^<]*新邮箱无法联系，请核实/);
  const again = await postChange(c, { ...formValues(form.text), phone: '0591-88888888' });
  assert.match(again.text, /id="change-pending"/);
});

test(`[${ENGINE}] bad input is refused in Chinese, field by field`, async () => {
  const { fields } = await T.enrolledToken('Chg4');
  const c = await holder(fields);
  const values = formValues((await openForm(c)).text);
  const same = await postChange(c, values);
  assert.equal(same.status, 422);
  assert.match(same.text, /没有修改任何信息/);
  const bad = await postChange(c, { ...values, code: '91350100MA00000000', email: 'not-an-email', postcode: '12' });
  assert.equal(bad.status, 422);
  assert.match(fieldError(bad.text, 'code'), /统一社会信用代码校验错误/);
  assert.match(fieldError(bad.text, 'email'), /电子邮箱格式不正确/);
  assert.match(fieldError(bad.text, 'postcode'), /邮政编码应为6位数字/);
  const empty = await postChange(c, { ...values, name: '' });
  assert.match(fieldError(empty.text, 'name'), /单位名称为必填项/);
  const exe = await postChange(c, { ...values, name: `${fields.name}新` }, { data: SAMPLE_EXE, filename: 'a.pdf', type: 'application/pdf' });
  assert.equal(exe.status, 422);
  assert.match(exe.text, /扫描件只能是PDF、JPEG或PNG格式/);
  // Another unit's code is taken.
  const other = sql(`SELECT code FROM registrations WHERE state = 'approved' AND code <> '${fields.code}' AND kind = 'enterprise' LIMIT 1`);
  const taken = await postChange(c, { ...values, code: other }, PDF);
  assert.match(fieldError(taken.text, 'code'), /该单位代码已经报名/);
  assert.equal(sql(`SELECT COUNT(*) FROM registration_changes ch JOIN registrations r ON r.id = ch.registration_id WHERE r.name = '${fields.name}'`), '0');
  // A pending registration has nothing to change.
  const p = new Client(T.esp.url);
  const { registrationFields, authorityIdByName } = await import('./lib/esp.mjs');
  const f2 = registrationFields('enterprise', { authorityId: await authorityIdByName(p, 'enterprise', '福建省交通运输厅') });
  await p.post('/register/enterprise', f2);
  await p.login(f2.username, f2.password);
  const refused = await p.get('/change');
  assert.equal(refused.status, 403);
  assert.match(refused.text, /只有初审已通过的注册才能办理信息变更/);
});

test(`[${ENGINE}] an evaluator changes its work unit: its own labels, no scan, the subject marked for re-issue`, async () => {
  const { fields } = await approvedApplicant(T.esp, 'evaluator');
  const c = await holder(fields);
  const form = await openForm(c);
  assert.equal(inputFor(form.text, '姓名*'), 'f-name');
  assert.equal(inputFor(form.text, '身份证号码*'), 'f-code');
  assert.equal(inputFor(form.text, '工作单位*'), 'f-work_unit');
  assert.equal(inputFor(form.text, '单位名称*'), null);
  assert.doesNotMatch(form.text, /id="f-scan"/, 'an evaluator sends no 营业执照');
  const sent = await postChange(c, { ...formValues(form.text), work_unit: '另一考评机构' });
  assert.equal(sent.status, 200);
  assert.match(sent.text, /id="change-pending"/);
  const id = changeIdOf(fields.name);
  const r = await T.staff('fj_reviewer');
  const page = await r.get(`/review/changes/${id}`);
  assert.match(page.text, /id="change-reissue"/);
  assert.match(page.text, /<tr class="changed" data-field="work_unit">(?:(?!<\/tr>)[\s\S])*已变更/);
  assert.match(page.text, /<tr class="" data-field="name">(?:(?!<\/tr>)[\s\S])*未变更/);
  const d = await r.post(`/review/changes/${id}`, { decision: 'approve' });
  assert.match(d.text, /id="change-state">已通过/);
  assert.equal(sql(`SELECT work_unit FROM registrations WHERE name = '${fields.name}'`), '另一考评机构');
  // No certificate yet: nothing to renew.
  assert.equal(sql(`SELECT COUNT(*) FROM applications WHERE change_id = ${id}`), '0');
});
