// What a new user meets, page by page, as the applicant (all four kinds), the
// reviewer, the RA, the training institution, a key holder and the admin:
// the materials each kind is asked for (one table behind the printed form,
// the payment page and the RA's checklist), the evaluator's form with one
// 姓名 and named phone numbers, the transfer remark, the back office's
// wording, the layout at 1280 px, the help page and the esp-token guide.
// Every page visited is photographed at 1280 and 1024 px and checked by
// axe-core (WCAG 2.1 A/AA) through screenshot() in lib/browser.mjs.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  openBrowser, screenshot, startEsp, field, seeText, noProblems, passwordLogin, checkA11y, SCREENSHOTS,
} from './lib/browser.mjs';
import { approvedApplicant, submitApplication, holderWithKeys, registerAs } from '../integration/lib/esp.mjs';

let esp, dir;
before(async () => {
  esp = await startEsp();
  dir = mkdtempSync(join(tmpdir(), 'esp-e2e-newuser-'));
});
after(async () => {
  await esp?.cleanup();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

const WIDE = { width: 1280, height: 900 };
const NARROW = { width: 1024, height: 800 };

// Fails when the page is wider than the window (a horizontal scrollbar).
async function noHorizontalScroll(page, what) {
  const { sw, cw } = await page.evaluate(() => ({
    sw: document.documentElement.scrollWidth, cw: document.documentElement.clientWidth,
  }));
  assert.ok(sw <= cw, `${what}: no horizontal scrollbar (page ${sw} px wide in a ${cw} px window)`);
}

// Looks at the page at 1280 and at 1024 px: a screenshot of each (and with
// it the axe check), no horizontal scrollbar at either width.
async function look(page, name) {
  await page.setViewportSize(WIDE);
  await noHorizontalScroll(page, `${name} at 1280 px`);
  await screenshot(page, `${name}-1280`);
  await page.setViewportSize(NARROW);
  await noHorizontalScroll(page, `${name} at 1024 px`);
  await screenshot(page, `${name}-1024`);
  await page.setViewportSize(WIDE);
}

// The text of the <dd> that follows the <dt> saying `term`.
async function fact(page, term) {
  const dd = page.locator('dt', { hasText: new RegExp(`^\\s*${term}\\s*$`) }).first()
    .locator('xpath=following-sibling::dd[1]');
  return (await dd.innerText()).trim();
}

// A browser already logged in as the applicant of Client `c` (its session cookie).
async function browserAs(c) {
  const b = await openBrowser();
  b.context.setDefaultTimeout(20000);
  await b.context.addCookies([{ name: 'esp_session', value: c.cookies.get('esp_session'), url: esp.url }]);
  return b;
}

async function staffBrowser(username) {
  const b = await openBrowser();
  b.context.setDefaultTimeout(20000);
  await passwordLogin(b.page, esp.url, username, esp.account(username).password);
  await b.page.waitForLoadState('load');
  return b;
}

// The PDF form of an application, fetched with the browser's session, its
// text (pdftotext) and its first page drawn as PNG (pdftoppm) to look at.
async function pdfOf(page, number, name) {
  const res = await page.request.get(`${esp.url}/applications/${number}/form.pdf`);
  assert.equal(res.status(), 200);
  mkdirSync(SCREENSHOTS, { recursive: true });
  const file = join(SCREENSHOTS, `${name}.pdf`);
  writeFileSync(file, await res.body());
  execFileSync('pdftoppm', ['-r', '70', '-png', '-f', '1', '-l', '1', file, join(SCREENSHOTS, name)]);
  return execFileSync('pdftotext', ['-enc', 'UTF-8', file, '-'], { encoding: 'utf8' }).replace(/\s+/g, '');
}

const APPLICANT_MATERIALS = {
  authority: ['《单位数字证书申请表》一份（加盖部门章）'],
  enterprise: ['《单位数字证书申请表》一份（加盖公章）', '《组织机构代码证（副本）》复印件（加盖公章）'],
  evaluator: ['《个人数字证书申请表》一份（本人签字）', '个人有效身份证件复印件一份'],
};

test('items 5, 8: an authority is asked for the form with its 部门章 only, and to put the 申请编号 in the remark', async (t) => {
  const { c } = await approvedApplicant(esp, 'authority');
  const number = await submitApplication(c, 'authority', 1);
  const b = await browserAs(c);
  try {
    const page = b.page;
    await page.goto(`${esp.url}/applications/${number}/print`);
    const notes = (await page.locator('.notes').first().innerText()).replace(/\s+/g, '');
    assert.match(notes, /请用黑色签字笔签名并加盖部门章后提交所在省的数字证书注册机构，无需其他材料。/);
    assert.doesNotMatch(notes, /公章|复印件|身份证/, 'no 公章, copies or ID for an authority');
    assert.equal((await page.locator('.copy-label').first().innerText()).trim(), '第一联　注册机构留存');
    await look(page, 'newuser-authority-print');
    const pdf = await pdfOf(page, number, 'newuser-authority-form');
    assert.ok(pdf.includes('加盖部门章后提交所在省的数字证书注册机构，无需其他材料。'), 'the PDF says the same');
    assert.ok(!pdf.includes('身份证复印件') && !pdf.includes('营业执照'), 'the PDF asks for no copies');

    await page.goto(`${esp.url}/applications/${number}/payment`);
    assert.deepEqual(await page.locator('#materials li').allInnerTexts(), APPLICANT_MATERIALS.authority);
    assert.match(await page.locator('#transfer-remark').innerText(), new RegExp(`附言.*${number}`));
    assert.equal(await fact(page, '转账附言'), number);
    await look(page, 'newuser-authority-payment');
    noProblems(t, b);
  } finally {
    await b.close();
  }
});

test('item 5: an enterprise is asked for the stamped code certificate copy and no ID copy, the same on form, PDF and payment page', async (t) => {
  const { c } = await approvedApplicant(esp, 'enterprise');
  const number = await submitApplication(c, 'enterprise', 1);
  const b = await browserAs(c);
  try {
    const page = b.page;
    await page.goto(`${esp.url}/applications/${number}/print`);
    const notes = (await page.locator('.notes').first().innerText()).replace(/\s+/g, '');
    assert.match(notes, /请用黑色签字笔签名并加盖公章，连同《组织机构代码证（副本）》复印件（加盖公章）一并提交所在省的数字证书注册机构。/);
    assert.doesNotMatch(notes, /身份证复印件|营业执照/);
    await look(page, 'newuser-enterprise-print');
    const pdf = await pdfOf(page, number, 'newuser-enterprise-form');
    assert.ok(pdf.includes('连同《组织机构代码证（副本）》复印件（加盖公章）一并提交'), 'the PDF lists the copy');
    assert.ok(!pdf.includes('身份证复印件'), 'the PDF asks for no ID copy');
    await page.goto(`${esp.url}/applications/${number}/payment`);
    assert.deepEqual(await page.locator('#materials li').allInnerTexts(), APPLICANT_MATERIALS.enterprise);
    assert.equal(await fact(page, '转账附言'), number);
    noProblems(t, b);
  } finally {
    await b.close();
  }
});

test('items 6, 7, 15: the evaluator fills one 姓名-free form with 手机号码 typed as +86 with spaces; the form goes to the training institution', async (t) => {
  const { c, fields } = await approvedApplicant(esp, 'evaluator');
  const b = await browserAs(c);
  try {
    const page = b.page;
    await page.goto(`${esp.url}/apply`);
    await seeText(page, '填写证书U盘申请信息');
    // The name is shown once, as registered, and is not a field.
    assert.equal(await fact(page, '姓名'), fields.name);
    assert.equal(await page.getByLabel(/^\s*姓名/).count(), 0, 'no editable 姓名');
    assert.equal(await page.getByText('姓名', { exact: true }).count(), 1, '姓名 once on the page');
    // The phones say which is which.
    assert.equal(await field(page, '手机号码').inputValue(), fields.mobile);
    assert.equal(await field(page, '固定电话').inputValue(), fields.phone);
    assert.equal(await page.getByLabel(/联系电话/).count(), 0, 'no ambiguous 联系电话');
    await field(page, '手机号码').fill('+86 139 0000 1111');
    await look(page, 'newuser-evaluator-form');
    await page.getByRole('button', { name: '【下一步】核对申请信息' }).click();

    await seeText(page, '请再次确认所填信息是否正确');
    assert.equal(await fact(page, '姓名'), fields.name);
    assert.equal(await fact(page, '手机号码'), '13900001111', 'stored as its 11 digits');
    assert.equal(await page.locator('dt', { hasText: /^\s*姓名\s*$/ }).count(), 1, '姓名 once on the confirmation');
    await look(page, 'newuser-evaluator-confirm');
    await page.getByRole('button', { name: '【确定】提交申请' }).click();

    await page.getByRole('button', { name: '【打印】' }).waitFor({ state: 'visible' });
    const number = (await page.locator('.number').first().innerText()).match(/ESP-\d{4}-\d{6}/)[0];
    const labels = await page.locator('.copy-label').allInnerTexts();
    assert.deepEqual(labels.map((l) => l.trim()), ['第一联　培训机构留存', '第二联　申请人留存']);
    const sheet = page.getByRole('region', { name: /申请表/ }).first();
    const row = sheet.getByRole('row').filter({ has: page.getByRole('rowheader', { name: '手机号码', exact: true }) });
    assert.match(await row.innerText(), /13900001111/);
    assert.match(await sheet.innerText(), new RegExp(fields.name));
    assert.ok(!(await page.content()).includes('注册机构留存'));
    const notes = (await page.locator('.notes').first().innerText()).replace(/\s+/g, '');
    assert.match(notes, /第一联交所在省的培训机构/);
    assert.match(notes, /连同个人有效身份证件复印件一份一并提交所在省的培训机构/);
    await look(page, 'newuser-evaluator-print');
    const pdf = await pdfOf(page, number, 'newuser-evaluator-form');
    assert.ok(pdf.includes('培训机构留存') && !pdf.includes('注册机构留存'), 'PDF: first copy to the training institution');
    assert.ok(pdf.includes('手机号码') && pdf.includes('13900001111') && !pdf.includes('联系电话'), 'PDF: the mobile, named so');
    assert.ok(pdf.includes(fields.name), 'PDF: the registered name');

    await page.goto(`${esp.url}/applications/${number}/payment`);
    assert.deepEqual(await page.locator('#materials li').allInnerTexts(), APPLICANT_MATERIALS.evaluator);
    assert.equal(await page.locator('#transfer-remark').count(), 0, 'an evaluator pays nothing: no remark');
    await look(page, 'newuser-evaluator-payment');
    noProblems(t, b);
  } finally {
    await b.close();
  }
});

test('item 6: the evaluator\'s registration names its phones 固定电话 and 手机号码, never 联系电话', async (t) => {
  const b = await openBrowser();
  b.context.setDefaultTimeout(20000);
  try {
    const page = b.page;
    await page.goto(`${esp.url}/register/evaluator`);
    assert.equal(await field(page, '固定电话').count(), 1);
    assert.equal(await field(page, '手机号码').count(), 1);
    assert.equal(await page.getByLabel(/联系电话/).count(), 0);
    await look(page, 'newuser-evaluator-register');
    noProblems(t, b);
  } finally {
    await b.close();
  }
});

test('item 15: a 9-character 组织机构代码 with a wrong check digit gets the check-digit message', async (t) => {
  const b = await openBrowser();
  b.context.setDefaultTimeout(20000);
  try {
    const page = b.page;
    b.expectStatus('/register/enterprise', 422);
    await page.goto(`${esp.url}/register/enterprise`);
    await field(page, '统一社会信用代码（或组织机构代码）').fill('D2143569-5');
    await page.getByRole('button', { name: /提交/ }).first().click();
    await page.waitForLoadState('load');
    const err = page.locator('#err-code');
    assert.equal((await err.innerText()).trim(), '组织机构代码校验位错误，请核对最后一位后重新输入');
    await look(page, 'newuser-orgcode-check-digit');
    noProblems(t, b);
  } finally {
    await b.close();
  }
});

test('items 11, 12: the reviewer sees 查看并审核 only for pending rows, without the name in the link text', async (t) => {
  const { fields } = await approvedApplicant(esp, 'agency');
  const reg = await registerAs(esp, 'enterprise', '福建省交通运输厅');
  assert.equal(reg.res.status, 200);
  const b = await staffBrowser('fj_reviewer');
  try {
    const page = b.page;
    await page.goto(`${esp.url}/review`);
    const link = page.getByRole('link', { name: `查看并审核 ${reg.fields.name}`, exact: true });
    assert.equal(await link.count(), 1, 'the accessible name says what and whom');
    const visible = await link.evaluate((a) => [...a.childNodes].filter((n) => !(n.classList && n.classList.contains('sr-only'))).map((n) => n.textContent).join('').trim());
    assert.equal(visible, '查看并审核', 'the visible text is the action only');
    await look(page, 'newuser-review-pending');
    await link.click();
    await page.getByRole('heading', { level: 1 }).first().waitFor();
    assert.ok((await page.locator('main').innerText()).includes(reg.fields.name));
    await look(page, 'newuser-review-detail');
    await page.goto(`${esp.url}/review?state=approved`);
    const seen = page.getByRole('link', { name: `查看 ${fields.name}`, exact: true });
    assert.equal(await seen.count(), 1, 'an approved row says 查看');
    assert.equal(await page.getByRole('link', { name: `查看并审核 ${fields.name}` }).count(), 0);
    await look(page, 'newuser-review-approved');
    await page.goto(`${esp.url}/mgmt/user`);
    await look(page, 'newuser-reviewer-user');
    noProblems(t, b);
  } finally {
    await b.close();
  }
});

test('items 5, 8, 12: the RA looks for the number in the remark, checks the table\'s materials, reads Chinese history; no -1 days, no 。。', async (t) => {
  const ent = await approvedApplicant(esp, 'enterprise');
  const entNumber = await submitApplication(ent.c, 'enterprise', 1);
  const auth = await approvedApplicant(esp, 'authority');
  const authNumber = await submitApplication(auth.c, 'authority', 1);
  const b = await staffBrowser('fj_ra');
  try {
    const page = b.page;
    await page.goto(`${esp.url}/ra`);
    assert.match(await page.locator('#promise').innerText(), /单位用户费用支付成功并收到申请材料后 20 日内寄出证书U盘；考评员提交申请材料后 20 日内交所在省的培训机构/);
    await look(page, 'newuser-ra-home');
    await page.goto(`${esp.url}/mgmt/user`);
    await look(page, 'newuser-ra-user');
    await page.goto(`${esp.url}/ra/tokens`);
    await look(page, 'newuser-ra-tokens');

    await page.goto(`${esp.url}/ra/queue`);
    const row = page.getByRole('row').filter({ hasText: entNumber });
    const cells = await row.getByRole('cell').allInnerTexts();
    assert.ok(cells.includes('未开始计时'), `a new application has no day count yet: ${cells}`);
    const allCells = await page.locator('table.list td').allInnerTexts();
    assert.ok(!allCells.some((x) => x.trim() === '-1'), 'never -1 days');
    await look(page, 'newuser-ra-queue');

    await page.goto(`${esp.url}/ra/applications/${entNumber}`);
    assert.match(await page.locator('#remark-to-find').innerText(), new RegExp(`附言中查找 ${entNumber}`));
    await field(page, '银行流水号').fill('B20260001');
    await page.getByRole('button', { name: '确认登记付款' }).click();
    await page.getByRole('heading', { name: '材料已收到' }).waitFor();
    const checklist = await page.locator('form[action$="/materials"] label').allInnerTexts();
    assert.deepEqual(checklist, APPLICANT_MATERIALS.enterprise, 'the checklist is the table\'s');
    const history = await page.locator('#history tbody td:nth-child(3)').allInnerTexts();
    assert.deepEqual(history, ['提交申请', '登记付款'], 'history steps in Chinese');
    assert.match(await fact(page, '经办人手机'), /^1\d{10}$/);
    await look(page, 'newuser-ra-application');

    await page.goto(`${esp.url}/ra/applications/${authNumber}`);
    await page.getByRole('heading', { name: '登记付款' }).waitFor();
    await field(page, '退回原因').fill('申请表未加盖部门章。');
    await page.getByRole('button', { name: '退回申请' }).click();
    await seeText(page, '已退回');
    const hist = await page.locator('#history tbody td:nth-child(3)').allInnerTexts();
    assert.deepEqual(hist, ['提交申请', '退回申请']);
    assert.ok(!hist.some((h) => /^[a-z]+$/.test(h)), 'no internal codes');
    await look(page, 'newuser-ra-returned');
    noProblems(t, b);
  } finally {
    await b.close();
  }
  // The applicant reads the reason in one sentence, without 。。.
  const ab = await browserAs(auth.c);
  try {
    await ab.page.goto(`${esp.url}/applications/${authNumber}`);
    const alert = await ab.page.getByRole('alert').innerText();
    assert.match(alert, /原因：申请表未加盖部门章。请按要求更正/);
    assert.ok(!alert.includes('。。'));
    await look(ab.page, 'newuser-applicant-returned');
    noProblems(t, ab);
  } finally {
    await ab.close();
  }

  // The RA's materials checklist of an authority is its one item.
  const auth2 = await approvedApplicant(esp, 'authority');
  const n2 = await submitApplication(auth2.c, 'authority', 1);
  const b2 = await staffBrowser('fj_ra');
  try {
    await b2.page.goto(`${esp.url}/ra/applications/${n2}`);
    const due = (await b2.page.locator('#amount-due').innerText()).match(/\d+/)[0];
    assert.equal(await field(b2.page, '付款金额（元）').inputValue(), due);
    await field(b2.page, '银行流水号').fill('B20260002');
    await b2.page.getByRole('button', { name: '确认登记付款' }).click();
    await b2.page.getByRole('heading', { name: '材料已收到' }).waitFor();
    assert.deepEqual(await b2.page.locator('form[action$="/materials"] label').allInnerTexts(), APPLICANT_MATERIALS.authority);
    noProblems(t, b2);
  } finally {
    await b2.close();
  }
});

test('item 7: the training institution\'s home page promises pickup, not posting after payment', async (t) => {
  const ev = await approvedApplicant(esp, 'evaluator');
  const number = await submitApplication(ev.c, 'evaluator');
  const b = await staffBrowser('fj_trainer');
  try {
    const page = b.page;
    await page.goto(`${esp.url}/ra`);
    const promise = await page.locator('#promise').innerText();
    assert.match(promise, /考评员向本培训机构提交申请材料后 20 日内，可到本培训机构领取证书U盘/);
    assert.doesNotMatch(promise, /费用支付|寄出/);
    await look(page, 'newuser-trainer-home');
    await page.goto(`${esp.url}/ra/queue`);
    await look(page, 'newuser-trainer-queue');
    await page.goto(`${esp.url}/ra/applications/${number}`);
    assert.deepEqual(await page.locator('form[action$="/materials"] label').allInnerTexts(), APPLICANT_MATERIALS.evaluator);
    await look(page, 'newuser-trainer-application');
    await page.goto(`${esp.url}/mgmt/user`);
    await look(page, 'newuser-trainer-user');
    noProblems(t, b);
  } finally {
    await b.close();
  }
});

test('item 12: the admin home lists every admin page, 证书U盘驱动管理 included; every admin page fits 1280 px', async (t) => {
  const b = await staffBrowser('admin');
  try {
    const page = b.page;
    await page.goto(`${esp.url}/admin`);
    const links = await page.locator('main .menu a').evaluateAll((as) => as.map((a) => new URL(a.href).pathname));
    for (const p of ['/admin/directory', '/admin/fees', '/admin/staff', '/admin/drivers', '/admin/certs', '/ra/queue', '/ra/tokens']) {
      assert.ok(links.includes(p), `the admin home links ${p}`);
    }
    await page.getByRole('link', { name: /证书U盘驱动管理/ }).click();
    await page.getByRole('heading', { name: '证书U盘驱动管理', level: 1 }).waitFor();
    await look(page, 'newuser-admin-home-drivers');
    for (const p of links) {
      await page.goto(`${esp.url}${p}`);
      await look(page, `newuser-admin${p.replace(/\//g, '-')}`);
    }
    await page.goto(`${esp.url}/admin/directory`);
    await page.getByRole('link', { name: '编辑福建省' }).click();
    await page.waitForURL(/\/admin\/directory\/35$/);
    await look(page, 'newuser-admin-directory-edit');
    await page.goto(`${esp.url}/admin/staff`);
    await page.getByRole('link', { name: /^重置密码\s*：fj_ra$/ }).click();
    await page.waitForURL(/reset-password$/);
    await look(page, 'newuser-admin-staff-reset');
    await page.goto(`${esp.url}/admin`);
    await look(page, 'newuser-admin-home');
    await page.goto(`${esp.url}/mgmt/user`);
    await look(page, 'newuser-admin-user');
    noProblems(t, b);
  } finally {
    await b.close();
  }
});

test('items 11, 12: a holder with a long unit name: 当前用户信息 fits 1280 px, the top navigation stays on one line, 证书U盘申请进度 keeps the 快捷导航', async (t) => {
  const longName = '福建省闽江口海峡两岸现代综合交通运输物流集团股份有限公司福州马尾港区国际集装箱码头分公司';
  const holder = await holderWithKeys(esp, 'enterprise', 2, dir, { overrides: { name: longName } });
  // A key session, as the certificate login gives: the signed-challenge login with the key.
  const cert = holder.certs[0];
  const ch = await (await fetch(`${esp.url}/api/v1/login/challenge`)).json();
  writeFileSync(join(dir, 'ch.bin'), Buffer.from(ch.challenge, 'base64'));
  execFileSync('openssl', ['dgst', '-sha256', '-sign', cert.key, '-out', join(dir, 'sig.bin'), join(dir, 'ch.bin')]);
  const res = await fetch(`${esp.url}/api/v1/login/certificate`, {
    method: 'POST', headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ id: ch.id, challenge: ch.challenge, signature: readFileSync(join(dir, 'sig.bin')).toString('base64'), certificate: cert.pem }),
  });
  assert.equal(res.status, 200);
  const session = (await res.json()).session;
  const b = await openBrowser();
  b.context.setDefaultTimeout(20000);
  try {
    await b.context.addCookies([{ name: 'esp_session', value: session, url: esp.url }]);
    const page = b.page;
    await page.goto(`${esp.url}/mgmt/user`);
    await seeText(page, '当前用户信息');
    assert.match(await page.locator('#keys').innerText(), new RegExp(cert.token));
    // Each entry of the top navigation is one line high.
    for (const item of await page.locator('.top-nav a, .top-nav .link-button').all()) {
      const box = await item.boundingBox();
      assert.ok(box.height < 32, `${await item.innerText()} is on one line (${box.height} px)`);
    }
    const who = page.locator('.top-nav .who');
    assert.equal(await who.getAttribute('title'), `${longName}（${await who.evaluate((e) => e.title.match(/（(.*)）$/)[1])}）`);
    await look(page, 'newuser-holder-user');

    await page.getByRole('navigation', { name: '快捷导航' }).getByRole('link', { name: '证书U盘申请进度' }).click();
    await page.waitForURL(/\/status$/);
    assert.equal(await page.getByRole('navigation', { name: '快捷导航' }).count(), 1, 'still in the management layout');
    assert.equal(await page.locator('.quick-nav a[aria-current="page"]').innerText(), '证书U盘申请进度');
    await look(page, 'newuser-holder-status');
    noProblems(t, b);
  } finally {
    await b.close();
  }
});

test('items 13, 14: the help page covers every section of the manual; the esp-token guide is for users', async (t) => {
  const b = await openBrowser();
  b.context.setDefaultTimeout(20000);
  try {
    const page = b.page;
    await page.goto(`${esp.url}/help`);
    const headings = (await page.locator('main h2').allInnerTexts()).map((h) => h.trim());
    for (const h of ['一、简介', '二、证书U盘申请步骤', '三、各类用户的申请材料', '四、证书U盘再次申请', '五、证书U盘驱动安装', '六、证书密码修改']) {
      assert.ok(headings.includes(h), `help has ${h}`);
    }
    const rows = page.locator('#materials-table tbody tr');
    assert.equal(await rows.count(), 4, 'one row per applicant kind');
    assert.match(await rows.filter({ hasText: '主管机关' }).innerText(), /部门章/);
    assert.doesNotMatch(await rows.filter({ hasText: '主管机关' }).innerText(), /复印件/);
    await look(page, 'newuser-help');

    await page.getByRole('link', { name: '证书管理工具使用说明' }).click();
    await page.getByRole('heading', { name: '证书管理工具使用说明', level: 1 }).waitFor();
    const guide = await page.locator('main').innerText();
    for (const h of ['一、安装证书应用环境', '二、查看证书U盘和证书', '三、修改证书密码', '五、提示信息的含义']) {
      assert.ok(guide.includes(h), `the guide has ${h}`);
    }
    assert.ok(guide.includes('esp-token passwd') && guide.includes('esp-token list'));
    assert.match(guide, /无法列出 PKCS#11 插槽/);
    for (const dev of ['meson', 'ninja', 'node --test', 'SOFTHSM2_CONF', 'CKA_ID', '```']) {
      assert.ok(!guide.includes(dev), `no developer note (${dev}) in the users' guide`);
    }
    await look(page, 'newuser-token-guide');
    await page.goto(`${esp.url}/drivers`);
    await page.getByRole('link', { name: /使用说明/ }).click();
    await page.getByRole('heading', { name: '证书管理工具使用说明', level: 1 }).waitFor();
    await checkA11y(page, 'token guide from the drivers page');
    noProblems(t, b);
  } finally {
    await b.close();
  }
});
