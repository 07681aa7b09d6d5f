// An enterprise approved in 初审 goes through the whole 登录认证U盘申请 wizard
// in Chromium: scan upload, form, confirmation (取消 keeps the values, a
// double click on 【确定】 makes one application), the print view (screen,
// print media, PDF of the print CSS) and the payment and mailing page.
// Assertions go by what a person sees: labels, link and button texts.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  openBrowser, screenshot, startEsp, field, seeText, noProblems, passwordLogin, SCREENSHOTS,
} from './lib/browser.mjs';
import { approvedApplicant, counts } from '../integration/lib/esp.mjs';

let esp, dir;
before(async () => {
  esp = await startEsp();
  dir = mkdtempSync(join(tmpdir(), 'esp-e2e-apply-'));
});
after(async () => {
  await esp?.cleanup();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

// A small but complete one-page PDF (A4, one line of text), as a scanner would
// give: catalog, page tree, page, content stream, font, and a correct xref.
function scanPdf() {
  const text = 'BT /F1 16 Tf 72 760 Td (Organization code certificate - copy) Tj ET';
  const objects = [
    '<< /Type /Catalog /Pages 2 0 R >>',
    '<< /Type /Pages /Kids [3 0 R] /Count 1 >>',
    '<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents 4 0 R /Resources << /Font << /F1 5 0 R >> >> >>',
    `<< /Length ${text.length} >>\nstream\n${text}\nendstream`,
    '<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>',
  ];
  let out = '%PDF-1.4\n';
  const offsets = objects.map((body, i) => {
    const at = out.length;
    out += `${i + 1} 0 obj\n${body}\nendobj\n`;
    return at;
  });
  const xref = out.length;
  out += `xref\n0 ${objects.length + 1}\n0000000000 65535 f \n`;
  for (const o of offsets) out += `${String(o).padStart(10, '0')} 00000 n \n`;
  out += `trailer\n<< /Size ${objects.length + 1} /Root 1 0 R >>\nstartxref\n${xref}\n%%EOF\n`;
  return Buffer.from(out, 'latin1');
}

// The text of the <dd> that follows the <dt> saying `term`.
async function fact(page, term) {
  const dd = page.locator('dt', { hasText: new RegExp(`^\\s*${term}\\s*$`) }).first()
    .locator('xpath=following-sibling::dd[1]');
  return (await dd.innerText()).trim();
}

function isConfirm(request) {
  return new URL(request.url()).pathname === '/apply/form'
    && new URLSearchParams(request.postData() || '').get('action') === 'confirm';
}

async function currentStep(page) {
  return (await page.locator('ol.steps [aria-current="step"]').innerText()).trim();
}

test('an approved enterprise applies for 2 keys through every wizard step', async (t) => {
  const { fields } = await approvedApplicant(esp, 'enterprise');
  const scanFile = join(dir, '组织机构代码证.pdf');
  writeFileSync(scanFile, scanPdf());
  assert.match(execFileSync('pdfinfo', [scanFile], { encoding: 'utf8' }), /Pages:\s+1\b/, 'the scan is a real PDF');
  const applicationsBefore = counts(esp).applications;

  const b = await openBrowser();
  // A loaded machine (other builds and tests) can take seconds per page.
  b.context.setDefaultTimeout(20000);
  try {
    const page = b.page;
    const confirmPosts = [];
    page.on('request', (r) => {
      if (r.method() === 'POST' && isConfirm(r)) confirmPosts.push(r.url());
    });
    if (process.env.E2E_DEBUG) {
      page.on('request', (r) => console.log('REQ', Date.now() % 100000, r.method(), r.url()));
      page.on('response', (r) => console.log('RES', Date.now() % 100000, r.status(), r.url()));
      page.on('requestfailed', (r) => console.log('FAIL', r.url(), r.failure()?.errorText));
    }
    await passwordLogin(page, esp.url, fields.username, fields.password);
    await seeText(page, '查看初审状态');
    await seeText(page, '已通过');
    await page.getByRole('link', { name: '【登录认证U盘申请】', exact: true }).click();

    // 1. The scan of 《组织机构代码证（副本）》.
    await seeText(page, '准备证书U盘申请材料');
    assert.equal(await currentStep(page), '准备证书U盘申请材料');
    await page.getByLabel('《组织机构代码证（副本）》扫描件').setInputFiles(scanFile);
    await screenshot(page, 'apply-1-scan');
    await page.getByRole('button', { name: '上传扫描件并填写申请信息' }).click();

    // 2. The form, prefilled from the registration.
    await seeText(page, '填写证书U盘申请信息');
    assert.equal(await currentStep(page), '填写证书U盘申请信息');
    assert.equal(await field(page, '经办人姓名').inputValue(), fields.contact_name);
    assert.equal(await field(page, '发票抬头').inputValue(), fields.name);
    const sets = field(page, '证书U盘数量');
    await sets.fill('2');
    await screenshot(page, 'apply-2-form');
    await page.getByRole('button', { name: '【下一步】核对申请信息' }).click();

    // 3. The confirmation with the amount; 取消 goes back with the values kept.
    await seeText(page, '请再次确认所填信息是否正确');
    assert.match(await fact(page, '应付金额'), /^1320 元/);
    assert.equal(await fact(page, '证书U盘数量'), '2');
    await screenshot(page, 'apply-3-confirm');
    await page.getByRole('button', { name: '【取消】返回修改' }).click();

    await seeText(page, '填写证书U盘申请信息');
    assert.equal(await field(page, '证书U盘数量').inputValue(), '2', '取消 keeps the number');
    assert.equal(await field(page, '经办人姓名').inputValue(), fields.contact_name);
    await screenshot(page, 'apply-4-after-cancel');
    await page.getByRole('button', { name: '【下一步】核对申请信息' }).click();

    // 4. 【确定】, double-clicked: one application, and the print view.
    await seeText(page, '请再次确认所填信息是否正确');
    assert.match(await fact(page, '应付金额'), /^1320 元/);
    await page.getByRole('button', { name: '【确定】提交申请' }).dblclick();

    await page.getByRole('button', { name: '【打印】' }).waitFor({ state: 'visible' });
    assert.equal(await currentStep(page), '打印证书U盘申请表');
    // Chromium folds two submissions of one form within the same moment into
    // one request; the next test sends the second while the first is on its way.
    t.diagnostic(`the double click sent ${confirmPosts.length} confirmation request(s)`);
    const number = (await page.locator('.number').first().innerText()).match(/ESP-\d{4}-\d{6}/)?.[0];
    assert.ok(number, 'the form shows its 申请编号');
    const sheet = page.getByRole('region', { name: /申请表/ }).first();
    const nameRow = sheet.getByRole('row').filter({ has: page.getByRole('rowheader', { name: '单位名称', exact: true }) });
    assert.equal((await nameRow.getByRole('cell').innerText()).trim(), fields.name);
    const keysRow = sheet.getByRole('row').filter({ hasText: '证书U盘数量' });
    assert.match(await keysRow.innerText(), /1320 元/);
    assert.match(await keysRow.innerText(), /\b2 个/);
    assert.equal(await page.getByRole('region', { name: /申请表/ }).count(), 2, '两联');
    await screenshot(page, 'apply-5-print');

    // The print CSS: as printed on screen, and as an A4 PDF.
    await page.emulateMedia({ media: 'print' });
    assert.equal(await page.getByRole('button', { name: '【打印】' }).isVisible(), false, 'the toolbar is not printed');
    await screenshot(page, 'apply-5-print-media');
    mkdirSync(SCREENSHOTS, { recursive: true });
    const pdfFile = join(SCREENSHOTS, 'apply-5-print.pdf');
    await page.pdf({ path: pdfFile, preferCSSPageSize: true, printBackground: true });
    const info = execFileSync('pdfinfo', [pdfFile], { encoding: 'utf8' });
    const pages = Number(info.match(/Pages:\s+(\d+)/)[1]);
    t.diagnostic(`print view PDF: ${pages} pages, ${info.match(/Page size:\s+(.*)/)[1]}`);
    assert.ok(pages >= 2, `two A4 pages (got ${pages})`);
    assert.match(info, /Page size:.*\(A4\)/, 'A4 from @page');
    const printed = execFileSync('pdftotext', [pdfFile, '-'], { encoding: 'utf8' });
    assert.ok(printed.includes(fields.name), 'the PDF has the unit name');
    assert.ok(!printed.includes('【打印】'), 'no toolbar in print');
    await page.emulateMedia({ media: 'screen' });

    // 5. Payment and mailing.
    await page.getByRole('link', { name: '【下一步】查看支付及邮寄信息' }).click();
    await seeText(page, '支付证书U盘费用');
    assert.equal(await fact(page, '应付金额'), '1320 元');
    assert.equal(await fact(page, '注册机构'), '福建省数字证书注册机构（演示）');
    assert.equal(await fact(page, '收款单位'), '福建演示数字认证有限公司');
    await seeText(page, number);
    await screenshot(page, 'apply-6-payment');

    // The status page lists exactly one application.
    await page.goto(`${esp.url}/status`);
    const cards = page.getByRole('heading', { name: /^证书U盘申请 ESP-/ });
    assert.equal(await cards.count(), 1, 'one 证书U盘申请 after a double click');
    assert.match(await cards.first().innerText(), new RegExp(number));
    assert.equal(counts(esp).applications, applicationsBefore + 1, 'one application stored');
    await screenshot(page, 'apply-7-status');

    noProblems(t, b);
  } finally {
    await b.close();
  }
});

test('a second click on 【确定】 while the first is still on its way makes no second application', async (t) => {
  const { fields } = await approvedApplicant(esp, 'enterprise');
  const scanFile = join(dir, 'scan-2.pdf');
  writeFileSync(scanFile, scanPdf());
  const applicationsBefore = counts(esp).applications;
  const b = await openBrowser();
  b.context.setDefaultTimeout(20000);
  try {
    const page = b.page;
    await passwordLogin(page, esp.url, fields.username, fields.password);
    await page.getByRole('link', { name: '【登录认证U盘申请】', exact: true }).click();
    await page.getByLabel('《组织机构代码证（副本）》扫描件').setInputFiles(scanFile);
    await page.getByRole('button', { name: '上传扫描件并填写申请信息' }).click();
    await field(page, '证书U盘数量').fill('3');
    await page.getByRole('button', { name: '【下一步】核对申请信息' }).click();
    await seeText(page, '请再次确认所填信息是否正确');
    assert.match(await fact(page, '应付金额'), /^1980 元/);

    // A slow network: the first submission reaches espd, but its answer is
    // held back until the applicant, seeing nothing happen, has clicked again.
    let firstArrived;
    const arrived = new Promise((resolve) => { firstArrived = resolve; });
    let release;
    const released = new Promise((resolve) => { release = resolve; });
    const statuses = [];
    const confirmed = () => (esp.log.match(/POST \/apply\/form 303 /g) || []).length;
    const confirmedBefore = confirmed();
    await page.route('**/apply/form', async (route) => {
      if (!isConfirm(route.request())) return route.continue();
      if (statuses.length === 0) {
        const response = await route.fetch({ maxRedirects: 0 });
        statuses.push(response.status());
        firstArrived();
        await released;
        await route.fulfill({ response }).catch(() => { /* the browser gave this one up */ });
      } else {
        statuses.push('continued');
        await route.continue();
      }
    });
    const confirm = page.getByRole('button', { name: '【确定】提交申请' });
    await confirm.scrollIntoViewIfNeeded();
    const box = await confirm.boundingBox();
    await confirm.click({ noWaitAfter: true });
    await arrived;
    // The same spot, by the mouse: a locator would wait for the pending page.
    await page.mouse.click(box.x + box.width / 2, box.y + box.height / 2);
    await page.getByRole('button', { name: '【打印】' }).waitFor({ state: 'visible' });
    release();
    t.diagnostic(`confirmation requests: ${JSON.stringify(statuses)}`);
    assert.equal(statuses.length, 2, 'both submissions reached espd');
    assert.equal(statuses[0], 303, 'the first one made the application');
    assert.equal(confirmed() - confirmedBefore, 2, 'espd answered both with its redirect to the form');
    assert.equal(await currentStep(page), '打印证书U盘申请表');
    await page.unroute('**/apply/form');

    await page.goto(`${esp.url}/status`);
    assert.equal(await page.getByRole('heading', { name: /^证书U盘申请 ESP-/ }).count(), 1, 'one 证书U盘申请');
    assert.equal(counts(esp).applications, applicationsBefore + 1, 'one application stored');
    noProblems(t, b);
  } finally {
    await b.close();
  }
});
