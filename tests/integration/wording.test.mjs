// What the server accepts and says, on both engines: mobile numbers typed with
// spaces or +86 are stored as 11 digits (registration and application); a
// 组织机构代码 with a wrong check character gets the check-digit message; the
// RA's history names steps in Chinese, a new application has no day count
// (never -1), a return reason is kept without its final 。; the materials
// asked for come from one table (payment page and RA checklist agree).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  startEsp, registerAs, approvedApplicant, submitApplication, staffClient, fieldError, linkHref, ENGINE,
} from './lib/esp.mjs';

let esp;
before(async () => { esp = await startEsp(); });
after(async () => { await esp?.cleanup(); });

test(`[${ENGINE}] a registration's mobile typed as "+86 139 0000 2222" is accepted and stored as 13900002222`, async () => {
  const { res, fields } = await registerAs(esp, 'evaluator', '福建省交通运输厅', { mobile: '+86 139 0000 2222' });
  assert.equal(res.status, 200);
  const fj = await staffClient(esp, 'fj_reviewer');
  const detail = await fj.get(linkHref((await fj.get('/review')).text, `查看并审核 ${fields.name}`));
  assert.match(detail.text, /13900002222/);
  assert.ok(!detail.text.includes('+86 139'), 'the typed form is not what is stored');
});

test(`[${ENGINE}] an application's mobile typed with spaces is stored as its 11 digits`, async () => {
  const { c } = await approvedApplicant(esp, 'enterprise', { overrides: { mobile: '138 0013 8000' } });
  const page = await c.get('/apply');
  assert.equal(page.status, 200);
  const number = await submitApplication(c, 'enterprise', 1);
  const ra = await staffClient(esp, 'fj_ra');
  const app = await ra.get(`/ra/applications/${number}`);
  assert.match(app.text, /<dt>经办人手机<\/dt><dd>13800138000<\/dd>/);
});

test(`[${ENGINE}] a 9-character 组织机构代码 with a wrong check character gets the check-digit message`, async () => {
  const wrong = await registerAs(esp, 'enterprise', '福建省交通运输厅', { code: 'D2143569-5' });
  assert.equal(wrong.res.status, 422);
  assert.equal(fieldError(wrong.res.text, 'code'), '组织机构代码校验位错误，请核对最后一位后重新输入');
  const nonsense = await registerAs(esp, 'enterprise', '福建省交通运输厅', { code: 'D2143569' });
  assert.equal(nonsense.res.status, 422);
  assert.equal(fieldError(nonsense.res.text, 'code'), '请输入正确的18位统一社会信用代码或9位组织机构代码');
  const right = await registerAs(esp, 'enterprise', '福建省交通运输厅', { code: 'D2143569-X' });
  assert.equal(right.res.status, 200);
});

test(`[${ENGINE}] the RA: Chinese history, no -1 days, a return reason without 。。, the table's materials`, async () => {
  const { c } = await approvedApplicant(esp, 'authority');
  const number = await submitApplication(c, 'authority', 1);
  const pay = await c.get(`/applications/${number}/payment`);
  assert.match(pay.text, /<ol id="materials"><li>《单位数字证书申请表》一份（加盖部门章）<\/li><\/ol>/);
  assert.match(pay.text, new RegExp(`<dt>转账附言</dt><dd class="mono">${number}</dd>`));
  const ra = await staffClient(esp, 'fj_ra');
  const queue = await ra.get('/ra/queue');
  const row = queue.text.split('<tr').find((r) => r.includes(number));
  assert.match(row, /<td>未开始计时<\/td>/);
  assert.ok(!/<td>-1<\/td>/.test(queue.text), 'no -1 days');
  let page = await ra.get(`/ra/applications/${number}`);
  assert.match(page.text, new RegExp(`附言中查找 <strong class="mono">${number}</strong>`));
  const ret = await ra.post(`/ra/applications/${number}/return`, { reason: '申请表未加盖部门章。' });
  assert.equal(ret.status, 200);
  page = await ra.get(`/ra/applications/${number}`);
  const actions = [...page.text.split('id="history"')[1].matchAll(/<tr><td>[^<]*<\/td><td>[^<]*<\/td><td>([^<]*)<\/td>/g)].map((m) => m[1]);
  assert.deepEqual(actions, ['提交申请', '退回申请']);
  const mine = await c.get(`/applications/${number}`);
  assert.match(mine.text, /原因：申请表未加盖部门章。请按要求/);
  assert.ok(!mine.text.includes('。。'));
});
