// 撤销此申请: a confirmation step that says what withdrawing means, then an
// application that shows as withdrawn everywhere (status, its page, the
// payment page without amount, account or request to pay, the print view
// and the PDF marked 已撤销) and that can never be paid, take materials, be
// issued nor be printed as a live application.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import {
  startEsp, Client, ENGINE, approvedApplicant, submitApplication, staffClient, makeCsr, rawSql,
} from './lib/esp.mjs';

let esp, dir;
before(async () => {
  esp = await startEsp();
  dir = mkdtempSync(join(tmpdir(), 'esp-withdraw-'));
});
after(async () => {
  if (!esp) return;
  await esp.stop();
  assert.doesNotMatch(esp.log, /Sanitizer|runtime error/);
  await esp.cleanup();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

function pdfText(buf) {
  const f = join(dir, `form-${Date.now()}.pdf`);
  writeFileSync(f, buf);
  return execFileSync("pdftotext", [f, "-"], { encoding: 'utf8' });
}

test(`[${ENGINE}] withdrawing asks first, then the application is withdrawn everywhere`, async () => {
  const { c } = await approvedApplicant(esp, 'enterprise');
  const number = await submitApplication(c, 'enterprise', 2);

  // The live application: its page offers 撤销此申请 as a link to a confirmation.
  const live = await c.get(`/applications/${number}`);
  assert.match(live.text, new RegExp(`<a class="button danger" href="/applications/${number}/withdraw">撤销此申请</a>`));
  assert.doesNotMatch(live.text, /action="\/applications\/[^"]+\/withdraw"/, 'no one-click withdrawal');
  const livePrint = await c.get(`/applications/${number}/print`);
  assert.match(livePrint.text, /证书U盘申请注册成功/);

  // The confirmation says what it means and changes nothing.
  const confirm = await c.get(`/applications/${number}/withdraw`);
  assert.equal(confirm.status, 200);
  assert.match(confirm.text, /注册机构不再办理此申请/);
  assert.match(confirm.text, /请不要再为此申请付款/);
  assert.match(confirm.text, /撤销后不能恢复/);
  assert.match(confirm.text, new RegExp(`确认撤销申请 ${number}`));
  assert.match(confirm.text, /不撤销，返回申请/);
  assert.equal(rawSql(esp, `SELECT state FROM applications WHERE number = '${number}'`).trim(), 'submitted');

  const done = await c.post(`/applications/${number}/withdraw`, {}, { redirect: false });
  assert.equal(done.status, 303);
  assert.equal(done.location, `/applications/${number}?withdrawn=1`);
  assert.equal(rawSql(esp, `SELECT state FROM applications WHERE number = '${number}'`).trim(), 'withdrawn');
  const page = await c.get(done.location);
  assert.match(page.text, /申请已撤销。无需付款，也无需邮寄申请材料。/);
  assert.match(page.text, /id="app-state">已撤销</);
  assert.doesNotMatch(page.text, /撤销此申请<\/a>/, 'nothing left to withdraw');
  assert.doesNotMatch(page.text, /查看支付及邮寄信息/);
  // A second confirmation is told it is done.
  const again = await c.get(`/applications/${number}/withdraw`);
  assert.equal(again.status, 409);
  assert.match(again.text, /该申请已经撤销/);

  // Status: where it is and that nothing is to be paid.
  const status = await c.get('/status');
  assert.match(status.text, /此申请已撤销，不再办理。/);
  assert.match(status.text, /无需付款，也无需邮寄申请材料/);
  assert.doesNotMatch(status.text, new RegExp(`/applications/${number}/payment`));

  // Payment page: no amount, no bank account, no request to pay.
  const pay = await c.get(`/applications/${number}/payment`);
  assert.equal(pay.status, 200);
  assert.match(pay.text, /此申请已撤销，不再办理：请不要为它付款/);
  assert.doesNotMatch(pay.text, /id="amount-due"/);
  assert.doesNotMatch(pay.text, /id="ra-account"|收款账号|开户银行/);
  assert.doesNotMatch(pay.text, /请将证书U盘费用支付给/);

  // Print view and PDF say 已撤销, never 申请注册成功.
  const print = await c.get(`/applications/${number}/print`);
  assert.match(print.text, /单位数字证书申请表（已撤销）/);
  assert.match(print.text, /此申请已撤销，本申请表作废/);
  assert.match(print.text, /class="sheet withdrawn"/);
  assert.doesNotMatch(print.text, /申请注册成功/);
  assert.doesNotMatch(print.text, /id="print-button"/);
  assert.doesNotMatch(print.text, /【下一步】/);
  const pdf = await fetch(`${esp.url}/applications/${number}/form.pdf`, {
    headers: { cookie: [...c.cookies].map(([k, v]) => `${k}=${v}`).join('; ') },
  });
  assert.equal(pdf.status, 200);
  assert.equal(pdf.headers.get('content-type'), 'application/pdf');
  const text = pdfText(Buffer.from(await pdf.arrayBuffer()));
  assert.match(text, /单位数字证书申请表（已撤销）/, 'the heading of each copy');
  assert.equal((text.match(/单位数字证书申请表（已撤销）/g) || []).length, 2, 'both copies');
  assert.doesNotMatch(text, /单位数字证书申请表\s*\n/, 'no copy with the live heading');
});

test(`[${ENGINE}] a withdrawn application cannot be paid, take materials or be issued`, async () => {
  const { c } = await approvedApplicant(esp, 'enterprise');
  const number = await submitApplication(c, 'enterprise', 1);
  await c.get(`/applications/${number}/withdraw`);
  assert.equal((await c.post(`/applications/${number}/withdraw`, {}, { redirect: false })).status, 303);

  const ra = await staffClient(esp, 'fj_ra');
  const view = await ra.get(`/ra/applications/${number}`);
  assert.match(view.text, /已撤销/);
  const today = new Date(Date.now() + 8 * 3600e3).toISOString().slice(0, 10);
  const due = rawSql(esp, `SELECT amount_yuan FROM applications WHERE number = '${number}'`).trim();
  const paid = await ra.post(`/ra/applications/${number}/payment`, { amount: due, paid_on: today, payer: 'x', bank_ref: 'R1' });
  assert.equal(paid.status, 409, 'no payment on a withdrawn application');
  await ra.get(`/ra/applications/${number}`);
  const mats = await ra.post(`/ra/applications/${number}/materials`, { item: ['0', '1'] });
  assert.equal(mats.status, 409, 'no materials either');
  assert.equal(rawSql(esp, `SELECT state FROM applications WHERE number = '${number}'`).trim(), 'withdrawn');
  assert.equal(rawSql(esp, `SELECT COUNT(*) FROM applications WHERE number = '${number}' AND (paid_at IS NOT NULL OR materials_at IS NOT NULL)`).trim(), '0');

  await ra.get('/ra/tokens');
  const t = await ra.post('/ra/tokens', { name: 'ws-withdrawn' });
  const token = t.text.match(/id="new-token">([^<]+)</)[1];
  const csr = makeCsr(dir, `${number}-w`);
  const issued = await fetch(`${esp.url}/api/v1/applications/${number}/certificates`, {
    method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: JSON.stringify({ csr: csr.pem, token_serial: `TK-${number}-w` }),
  });
  assert.equal(issued.status, 409, `no certificate for a withdrawn application: ${await issued.text()}`);
  assert.equal(rawSql(esp, `SELECT COUNT(*) FROM certificates ce JOIN applications a ON a.id = ce.application_id WHERE a.number = '${number}'`).trim(), '0');
});
