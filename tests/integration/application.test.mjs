// The certificate key application wizard (登录认证U盘申请) for the four kinds.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { connect } from 'node:net';
import {
  startEsp, Client, approvedApplicant, linkHref, fieldValue, fieldError, counts, decode,
  SAMPLE_PDF, SAMPLE_PNG, SAMPLE_EXE, ENGINE,
} from './lib/esp.mjs';

let esp;
before(async () => { esp = await startEsp(); });
after(async () => { await esp?.cleanup(); });

function hidden(html, name) {
  const m = html.match(new RegExp(`<input type="hidden" name="${name}" value="([^"]*)">`));
  return m ? decode(m[1]) : null;
}

// Reads the form as a browser would submit it: every input's current value.
function formFields(html) {
  const out = {};
  for (const m of html.matchAll(/<input id="f-([a-z_]+)" name="[a-z_]+" type="[a-z]+" value="([^"]*)"/g)) out[m[1]] = decode(m[2]);
  for (const n of ['idem', 'scan_id']) out[n] = hidden(html, n);
  return out;
}

async function startWizard(c, kind) {
  const st = await c.get('/status');
  const href = linkHref(st.text, '【登录认证U盘申请】');
  assert.equal(href, '/apply');
  let page = await c.get(href);
  if (kind === 'agency' || kind === 'enterprise') {
    assert.match(page.text, /准备证书U盘申请材料/);
    assert.match(page.text, /<li class="current" aria-current="step">准备证书U盘申请材料<\/li>/);
    page = await c.postMultipart('/apply/scan', {}, { scan: { data: SAMPLE_PDF, filename: 'licence.pdf', type: 'application/pdf' } });
  }
  assert.equal(page.status, 200);
  assert.match(page.text, /<li class="current" aria-current="step">填写证书U盘申请信息<\/li>/);
  return page;
}

test(`[${ENGINE}] enterprise: scan, form, 下一步, 取消 keeps values, 确定 once, print, PDF, payment`, async () => {
  const { c, fields } = await approvedApplicant(esp, 'enterprise');
  const form = await startWizard(c, 'enterprise');
  const values = formFields(form.text);
  assert.equal(values.contact_name, fields.contact_name, 'prefilled from the registration');
  assert.equal(values.invoice_title, fields.name);
  assert.equal(values.taxpayer_id, fields.code);
  values.sets = '3';
  values.address = '福建省福州市台江区新地址88号';

  const confirm = await c.post('/apply/form', { ...values, action: 'next' });
  assert.equal(confirm.status, 200);
  assert.match(confirm.text, /id="confirm-amount">1980 元/);
  assert.match(confirm.text, /新地址88号/);

  const back = await c.post('/apply/form', { ...values, action: 'cancel' });
  assert.equal(fieldValue(back.text, 'sets'), '3', '取消 keeps the values');
  assert.equal(fieldValue(back.text, 'address'), values.address);
  assert.equal(hidden(back.text, 'idem'), values.idem, 'same form, same key');

  await c.post('/apply/form', { ...values, action: 'next' });
  const before = counts(esp).applications;
  // A double click sends the confirmation page's form twice; a reload once more.
  const csrf = c.csrf();
  const [a, b] = await Promise.all([
    c.post('/apply/form', { ...values, csrf, action: 'confirm' }),
    c.post('/apply/form', { ...values, csrf, action: 'confirm' }),
  ]);
  const again = await c.post('/apply/form', { ...values, csrf, action: 'confirm' });
  assert.equal(counts(esp).applications, before + 1, 'a double submission makes one application');
  const number = a.text.match(/ESP-\d{4}-\d{6}/)[0];
  assert.ok(b.text.includes(number), `second click: ${b.status} ${b.text.slice(0, 300)}`);
  assert.ok(again.text.includes(number), `reload: ${again.status}`);
  assert.match(a.text, /<li class="current" aria-current="step">打印证书U盘申请表<\/li>/);
  assert.ok(a.text.includes(fields.name));
  assert.match(a.text, /id="print-button"/);

  const pdf = await c.get(`/applications/${number}/form.pdf`);
  assert.equal(pdf.status, 200);
  assert.equal(pdf.headers.get('content-type'), 'application/pdf');
  const raw = Buffer.from(await (await fetch(`${esp.url}/applications/${number}/form.pdf`, { headers: { cookie: [...c.cookies].map(([k, v]) => `${k}=${v}`).join('; ') } })).arrayBuffer());
  const file = join(esp.dir, `${number}.pdf`);
  writeFileSync(file, raw);
  const text = execFileSync('pdftotext', [file, '-'], { encoding: 'utf8' });
  assert.ok(text.includes('单位数字证书申请表'));
  assert.ok(text.includes(fields.name));
  assert.ok(text.includes(number));
  const fonts = execFileSync('pdffonts', [file], { encoding: 'utf8' });
  assert.match(fonts, /NotoSansCJK.*yes\s+yes/);

  const next = linkHref(a.text, '【下一步】查看支付及邮寄信息');
  const pay = await c.get(next);
  assert.match(pay.text, /id="amount-due">1980 元/);
  assert.match(pay.text, /660元\/3年\/套（包括介质费80元\/个）/);
  assert.match(pay.text, /福建演示数字认证有限公司/);
  assert.match(pay.text, /<li>《单位数字证书申请表》一份（加盖公章）<\/li>/);
  assert.match(pay.text, /<li>《组织机构代码证（副本）》复印件（加盖公章）<\/li>/);
  assert.match(pay.text, /20日内接收数字证书U盘/);

  const st = await c.get('/status');
  assert.ok(linkHref(st.text, `补打申请表 ${number}`), 'reprint from the status page');
  assert.equal(linkHref(st.text, '【登录认证U盘申请】'), null, 'no second initial application');
  const detail = await c.get(`/applications/${number}`);
  assert.match(detail.text, /id="app-state">已提交/);
  const scan = await c.get(`/applications/${number}/scan`);
  assert.equal(scan.headers.get('content-type'), 'application/pdf');
});

test(`[${ENGINE}] the form refuses bad values with messages at the fields`, async () => {
  const { c } = await approvedApplicant(esp, 'enterprise');
  const form = await startWizard(c, 'enterprise');
  const values = { ...formFields(form.text), sets: '100', mobile: '1380013800', taxpayer_id: '', email: 'a@', postcode: 'abcdef' };
  const r = await c.post('/apply/form', { ...values, action: 'next' });
  assert.equal(r.status, 422);
  assert.match(fieldError(r.text, 'sets'), /1-99/);
  assert.match(fieldError(r.text, 'mobile'), /手机号码/);
  assert.match(fieldError(r.text, 'taxpayer_id'), /企业用户必须填写纳税人识别号/);
  assert.match(fieldError(r.text, 'email'), /电子邮箱/);
  assert.match(fieldError(r.text, 'postcode'), /6位数字/);
  const bad = await c.post('/apply/form', { ...values, sets: '2', mobile: '13800138000', email: 'a@b.cn', postcode: '350001', taxpayer_id: '91350100M000100Y44', action: 'next' });
  assert.match(fieldError(bad.text, 'taxpayer_id'), /校验错误/);
  const confirmNoNext = await c.post('/apply/form', { ...values, action: 'confirm' });
  assert.equal(confirmNoNext.status, 422, 'confirm re-validates on the server');
});

test(`[${ENGINE}] bad uploads are refused and leave nothing behind`, async () => {
  const { c } = await approvedApplicant(esp, 'agency');
  await c.get('/apply');
  const n0 = counts(esp).uploads;
  const exe = await c.postMultipart('/apply/scan', {}, { scan: { data: SAMPLE_EXE, filename: 'scan.pdf', type: 'application/pdf' } });
  assert.equal(exe.status, 422);
  assert.match(exe.text, /只能是PDF、JPEG或PNG/);
  const empty = await c.postMultipart('/apply/scan', {}, { scan: { data: Buffer.alloc(0), filename: 'empty.pdf', type: 'application/pdf' } });
  assert.equal(empty.status, 422);
  const big = await c.postMultipart('/apply/scan', {}, { scan: { data: Buffer.concat([SAMPLE_PDF, Buffer.alloc(10 * 1024 * 1024 + 1)]), filename: 'big.pdf', type: 'application/pdf' } });
  assert.equal(big.status, 413);
  // Cut off mid-transfer: the connection closes before the body ends.
  await new Promise((resolve) => {
    const s = connect(esp.httpPort, '127.0.0.1', () => {
      const boundary = 'XyZ';
      s.write(`POST /apply/scan HTTP/1.1\r\nHost: x\r\nCookie: ${[...c.cookies].map(([k, v]) => `${k}=${v}`).join('; ')}\r\n` +
        `Content-Type: multipart/form-data; boundary=${boundary}\r\nContent-Length: 100000\r\n\r\n` +
        `--${boundary}\r\nContent-Disposition: form-data; name="csrf"\r\n\r\n${c.csrf()}\r\n` +
        `--${boundary}\r\nContent-Disposition: form-data; name="scan"; filename="a.pdf"\r\nContent-Type: application/pdf\r\n\r\n%PDF-1.4\n`);
      setTimeout(() => { s.destroy(); resolve(); }, 200);
    });
    s.on('error', resolve);
  });
  assert.equal(counts(esp).uploads, n0, 'nothing stored');
  const png = await c.postMultipart('/apply/scan', {}, { scan: { data: SAMPLE_PNG, filename: 'scan.exe', type: 'application/octet-stream' } });
  assert.equal(png.status, 200, 'a PNG is accepted whatever its name');
  assert.equal(counts(esp).uploads, n0 + 1);
});

test(`[${ENGINE}] evaluator: no scan, no invoice, nothing to pay, training institution`, async () => {
  const { c, fields } = await approvedApplicant(esp, 'evaluator');
  const form = await startWizard(c, 'evaluator');
  assert.doesNotMatch(form.text, /发票抬头/);
  assert.doesNotMatch(form.text, /证书U盘数量/);
  const values = formFields(form.text);
  await c.post('/apply/form', { ...values, action: 'next' });
  const done = await c.post('/apply/form', { ...values, action: 'confirm' });
  const number = done.text.match(/ESP-\d{4}-\d{6}/)[0];
  assert.ok(done.text.includes('个人数字证书申请表'));
  assert.ok(done.text.includes(fields.name));
  const pay = await c.get(linkHref(done.text, '【下一步】查看材料提交信息'));
  assert.match(pay.text, /考评员无需支付证书U盘费用/);
  assert.match(pay.text, /<li>《个人数字证书申请表》一份（本人签字）<\/li>/);
  assert.match(pay.text, /<li>个人有效身份证件复印件一份<\/li>/);
  assert.match(pay.text, /福建省交通运输培训中心/);
  assert.doesNotMatch(pay.text, /应付金额/);
  assert.match(pay.text, /<li class="current" aria-current="step">提交申请材料<\/li>/);
  const detail = await c.get(`/applications/${number}`);
  assert.match(detail.text, /待领取/);
  assert.doesNotMatch(detail.text, /已付款/);
});

test(`[${ENGINE}] authority: 部门章, its own step numbering; unconfigured RA is said plainly`, async () => {
  const { c } = await approvedApplicant(esp, 'authority');
  const form = await startWizard(c, 'authority');
  assert.doesNotMatch(form.text, /准备证书U盘申请材料/);
  const values = formFields(form.text);
  await c.post('/apply/form', { ...values, action: 'next' });
  const done = await c.post('/apply/form', { ...values, action: 'confirm' });
  assert.match(done.text, /部门章/);
  const pay = await c.get(linkHref(done.text, '【下一步】查看支付及邮寄信息'));
  assert.match(pay.text, /<li>《单位数字证书申请表》一份（加盖部门章）<\/li>/);
  assert.doesNotMatch(pay.text, /组织机构代码证/);

  // A province whose RA the admin has not configured yet (天津, 12).
  const tj = await approvedApplicant(esp, 'enterprise', { authority: '天津市交通运输委员会', reviewer: 'mot_reviewer', overrides: { province_code: '12' } });
  await startWizard(tj.c, 'enterprise');
});

test(`[${ENGINE}] nobody else reaches an application; unapproved applicants cannot apply`, async () => {
  const { c } = await approvedApplicant(esp, 'enterprise');
  const form = await startWizard(c, 'enterprise');
  const values = formFields(form.text);
  await c.post('/apply/form', { ...values, action: 'next' });
  const done = await c.post('/apply/form', { ...values, action: 'confirm' });
  const number = done.text.match(/ESP-\d{4}-\d{6}/)[0];

  const other = await approvedApplicant(esp, 'enterprise');
  for (const p of ['', '/print', '/form.pdf', '/payment', '/scan']) {
    assert.equal((await other.c.get(`/applications/${number}${p}`)).status, 403, `other applicant ${p}`);
  }
  assert.equal((await other.c.post(`/applications/${number}/withdraw`, {})).status, 403);
  const bjRev = new Client(esp.url);
  await bjRev.login('bj_reviewer', esp.account('bj_reviewer').password);
  assert.equal((await bjRev.get(`/applications/${number}`)).status, 403, 'reviewer of another province');
  const fjRev = new Client(esp.url);
  await fjRev.login('fj_reviewer', esp.account('fj_reviewer').password);
  assert.equal((await fjRev.get(`/applications/${number}/scan`)).status, 200, 'its reviewer sees the scan');

  const pending = new Client(esp.url);
  const { registrationFields, authorityIdByName } = await import('./lib/esp.mjs');
  const id = await authorityIdByName(pending, 'enterprise', '福建省交通运输厅');
  await pending.post('/register/enterprise', registrationFields('enterprise', { authorityId: id }));
  for (const p of ['/apply', '/apply/form']) assert.equal((await pending.get(p)).status, 403, `pending ${p}`);
  assert.equal((await pending.post('/apply/form', { action: 'confirm', idem: 'x'.repeat(20) })).status, 403);
  assert.equal((await pending.get(`/applications/${number}`)).status, 403);
});

test(`[${ENGINE}] a fee change applies to new applications only; withdraw before payment`, async () => {
  const { c } = await approvedApplicant(esp, 'enterprise');
  const form = await startWizard(c, 'enterprise');
  const values = { ...formFields(form.text), sets: '2' };
  await c.post('/apply/form', { ...values, action: 'next' });
  const first = await c.post('/apply/form', { ...values, action: 'confirm' });
  const number = first.text.match(/ESP-\d{4}-\d{6}/)[0];

  const admin = new Client(esp.url);
  await admin.login('admin', esp.account('admin').password);
  const today = new Date(Date.now() + 8 * 3600e3).toISOString().slice(0, 10);
  await admin.get('/admin/fees');
  const saved = await admin.post('/admin/fees', { price_yuan: 700, medium_yuan: 90, years: 3, valid_from: today });
  assert.match(saved.text, /700元\/3年\/套（包括介质费90元\/个）/);
  const badFee = await admin.post('/admin/fees', { price_yuan: 50, medium_yuan: 90, years: 3, valid_from: today });
  assert.equal(badFee.status, 422);

  const old = await c.get(`/applications/${number}/payment`);
  assert.match(old.text, /id="amount-due">1320 元/, 'submitted application keeps its amount');

  const other = await approvedApplicant(esp, 'enterprise');
  const f2 = await startWizard(other.c, 'enterprise');
  const v2 = { ...formFields(f2.text), sets: '2' };
  const conf = await other.c.post('/apply/form', { ...v2, action: 'next' });
  assert.match(conf.text, /id="confirm-amount">1400 元/);

  const detail = await c.get(`/applications/${number}`);
  const w = await c.post(`/applications/${number}/withdraw`, {});
  assert.equal(w.status, 200);
  assert.match((await c.get(`/applications/${number}`)).text, /已撤销/);
  assert.ok(detail.text.includes('撤销此申请'));
  // Back to the fee the other tests expect.
  await admin.get('/admin/fees');
  await admin.post('/admin/fees', { price_yuan: 660, medium_yuan: 80, years: 3, valid_from: today });
});

test(`[${ENGINE}] admin edits the RA directory; applicants cannot`, async () => {
  const admin = new Client(esp.url);
  await admin.login('admin', esp.account('admin').password);
  const list = await admin.get('/admin/directory');
  const href = linkHref(list.text, '编辑天津市');
  assert.equal(href, '/admin/directory/12');
  await admin.get(href);
  const bad = await admin.post(href, { ra_name: '天津注册机构', payee: '天津收款', bank: '银行', account_no: '1', address: '天津市', postcode: '3000', recipient: '王五', phone: '022-1234567' });
  assert.equal(bad.status, 422);
  const ok = await admin.post(href, { ra_name: '天津注册机构', payee: '天津收款单位', bank: '银行', account_no: '1', address: '天津市河西区', postcode: '300000', recipient: '王五', phone: '022-1234567' });
  assert.equal(ok.status, 200);
  const help = await new Client(esp.url).get('/help');
  assert.match(help.text, /天津收款单位/);
  const { c } = await approvedApplicant(esp, 'evaluator');
  assert.equal((await c.get('/admin/directory')).status, 403);
  assert.equal((await c.post('/admin/fees', { price_yuan: 1 })).status, 403);
  const out = counts(esp);
  assert.ok(out.applications >= 1);
});
