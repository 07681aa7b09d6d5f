// 信息变更 in Chromium: a holder opens 【信息变更】 from 查看初审状态, finds the
// form pre-filled with the current values, changes the name with a new
// scan and submits; the 主管机关's reviewer opens the change and sees the
// old and new values side by side, the changed rows marked in words, and
// approves.  Screenshots of the form and the reviewer's page at 1280 and
// 1024 px, each checked by axe (WCAG 2.1 A/AA).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openBrowser, screenshot, startEsp, seeText, noProblems, passwordLogin, field } from './lib/browser.mjs';
import { holderWithKeys, SAMPLE_PDF } from '../integration/lib/esp.mjs';

let esp, dir;
before(async () => {
  esp = await startEsp();
  dir = mkdtempSync(join(tmpdir(), 'esp-e2e-change-'));
});
after(async () => {
  await esp?.cleanup();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

async function both(page, name) {
  await page.setViewportSize({ width: 1280, height: 900 });
  await screenshot(page, `${name}-1280`);
  await page.setViewportSize({ width: 1024, height: 900 });
  await screenshot(page, `${name}-1024`);
  await page.setViewportSize({ width: 1280, height: 900 });
}

test('a unit changes its name; its 主管机关 reviews old beside new and approves', async (t) => {
  const holder = await holderWithKeys(esp, 'enterprise', 1, dir);
  const newName = `${holder.fields.name}（更名）`;
  const scan = join(dir, '营业执照.pdf');
  writeFileSync(scan, SAMPLE_PDF);

  const b = await openBrowser();
  b.context.setDefaultTimeout(20000);
  try {
    const page = b.page;
    await passwordLogin(page, esp.url, holder.fields.username, holder.fields.password);
    await page.goto(`${esp.url}/status`);
    await page.getByRole('link', { name: /^【信息变更/ }).click();
    await seeText(page, '信息变更');
    assert.equal(await field(page, '单位名称').inputValue(), holder.fields.name);
    assert.equal(await field(page, '通信地址').inputValue(), holder.fields.address);
    await both(page, 'change-1-form');

    await field(page, '单位名称').fill(newName);
    await page.getByLabel('营业执照（或组织机构代码证）扫描件').setInputFiles(scan);
    await page.getByRole('button', { name: '提交信息变更' }).click();
    await page.locator('#change-pending').waitFor();
    await both(page, 'change-2-submitted');

    // The reviewer of the registration's 主管机关.
    await page.getByRole('button', { name: '退出' }).click().catch(() => {});
    await b.context.clearCookies();
    await passwordLogin(page, esp.url, 'fj_reviewer', esp.account('fj_reviewer').password);
    await page.goto(`${esp.url}/review`);
    await page.getByRole('link', { name: /^信息变更审核/ }).click();
    await page.getByRole('link', { name: `查看并审核 ${holder.fields.name}` }).click();
    const nameRow = page.locator('#change-diff tr[data-field="name"]');
    assert.equal((await nameRow.locator('td.old').innerText()).trim(), holder.fields.name);
    assert.equal((await nameRow.locator('td.new').innerText()).trim(), newName);
    assert.equal((await nameRow.locator('td.mark').innerText()).trim(), '已变更');
    assert.equal((await page.locator('#change-diff tr[data-field="address"] td.mark').innerText()).trim(), '未变更');
    await both(page, 'change-3-review');

    await page.getByLabel('通过').check();
    await page.getByRole('button', { name: '提交审核结果' }).click();
    await page.locator('#change-state', { hasText: '已通过' }).waitFor();
    await both(page, 'change-4-approved');
    noProblems(t, b);
  } finally {
    await b.close();
  }
});
