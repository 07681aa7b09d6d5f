// 更新 in Chromium: a holder whose certificate has entered its renewal window
// (the clock moved with ESP_TIME_OFFSET, as the integration tests do) opens
// 证书更新 after a password login, sees the key with its 申请更新 button,
// applies, and lands on the renewal application (业务类型 更新, the renewal
// fee). Screenshots at 1280 and 1024 px.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openBrowser, screenshot, startEsp, seeText, noProblems, passwordLogin } from './lib/browser.mjs';
import { holderWithKeys } from '../integration/lib/esp.mjs';

let esp, dir;
before(async () => {
  esp = await startEsp();
  dir = mkdtempSync(join(tmpdir(), 'esp-e2e-renewal-'));
});
after(async () => {
  await esp?.cleanup();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

test('a holder applies for 更新 of a key 55 days before it expires', async (t) => {
  const holder = await holderWithKeys(esp, 'enterprise', 1, dir);
  const serial = holder.certs[0].serial;
  // 1040 days after issuance: 55 days left of 1095.
  await esp.stop();
  esp.env = { ESP_TIME_OFFSET: String(1040 * 86400) };
  await esp.start();

  const b = await openBrowser();
  b.context.setDefaultTimeout(20000);
  try {
    const page = b.page;
    await passwordLogin(page, esp.url, holder.fields.username, holder.fields.password);
    await page.getByRole('link', { name: '证书更新（证书到期前后在原证书U盘上更新）' }).click();
    await seeText(page, '证书更新');
    const row = page.locator('#renewals tbody tr', { hasText: serial });
    await row.waitFor();
    const button = row.getByRole('button', { name: /^申请更新证书U盘 / });
    assert.equal(await button.count(), 1, 'the key in its window has a 申请更新 button');
    await screenshot(page, 'renewal-1-page-1280');
    await page.setViewportSize({ width: 1024, height: 900 });
    await screenshot(page, 'renewal-1-page-1024');
    await page.setViewportSize({ width: 1280, height: 900 });

    await button.click();
    await page.waitForURL(/\/applications\/ESP-\d{4}-\d{6}$/);
    const dd = page.locator('dt', { hasText: /^\s*业务类型\s*$/ }).locator('xpath=following-sibling::dd[1]');
    assert.equal((await dd.innerText()).trim(), '更新');
    await screenshot(page, 'renewal-2-application-1280');
    await page.setViewportSize({ width: 1024, height: 900 });
    await screenshot(page, 'renewal-2-application-1024');

    // Back on the page the key shows its renewal application instead of the button.
    await page.goto(`${esp.url}/renewal`);
    await page.locator('#renewals td', { hasText: '已申请更新' }).first().waitFor();
    assert.equal(await page.locator('#renewals button').count(), 0);
    noProblems(t, b);
  } finally {
    await b.close();
  }
});
