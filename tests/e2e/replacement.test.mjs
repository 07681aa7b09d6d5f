// 丢失补办 in Chromium: a holder whose only key was reported lost logs in
// with the password (the key no longer can), opens 丢失补办、损坏补办 from
// 查看初审状态, sees the lost key with its 申请丢失补办 button, applies, and
// lands on the application (业务类型 丢失补办, the old certificate named).
// Screenshots at 1280 and 1024 px, axe-core at 0 violations through
// screenshot() in lib/browser.mjs.
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
  dir = mkdtempSync(join(tmpdir(), 'esp-e2e-replace-'));
});
after(async () => {
  await esp?.cleanup();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

test('a holder applies for 丢失补办 of a key reported lost', async (t) => {
  const holder = await holderWithKeys(esp, 'enterprise', 2, dir);
  const [lost, kept] = holder.certs;
  // 挂失 of the first key, as the RA records it for a holder who phoned in.
  await holder.ra.get(`/ra/certs/${lost.serial}/revoke`);
  await holder.ra.post(`/ra/certs/${lost.serial}/revoke`, { reason: 'keyCompromise', confirm: 'yes' });

  const b = await openBrowser();
  b.context.setDefaultTimeout(20000);
  try {
    const page = b.page;
    await passwordLogin(page, esp.url, holder.fields.username, holder.fields.password);
    await page.getByRole('link', { name: /^丢失补办、损坏补办/ }).click();
    await seeText(page, '丢失补办与损坏补办');
    const row = page.locator('#replacements tbody tr', { hasText: lost.serial });
    await row.waitFor();
    const button = row.getByRole('button', { name: `申请丢失补办 ${lost.token}` });
    assert.equal(await button.count(), 1, 'the lost key has a 申请丢失补办 button');
    assert.equal(await row.getByRole('button', { name: /^申请损坏补办/ }).count(), 0);
    const other = page.locator('#replacements tbody tr', { hasText: kept.serial });
    assert.equal(await other.getByRole('button', { name: `申请损坏补办 ${kept.token}` }).count(), 1,
      'a valid key may be replaced as broken');
    await screenshot(page, 'replacement-1-page-1280');
    await page.setViewportSize({ width: 1024, height: 900 });
    await screenshot(page, 'replacement-1-page-1024');
    await page.setViewportSize({ width: 1280, height: 900 });

    await button.click();
    await page.waitForURL(/\/applications\/ESP-\d{4}-\d{6}$/);
    const dd = page.locator('dt', { hasText: /^\s*业务类型\s*$/ }).locator('xpath=following-sibling::dd[1]');
    assert.equal((await dd.innerText()).trim(), '丢失补办');
    assert.equal((await page.locator('#replaces-serial').innerText()).trim(), lost.serial);
    await screenshot(page, 'replacement-2-application-1280');
    await page.setViewportSize({ width: 1024, height: 900 });
    await screenshot(page, 'replacement-2-application-1024');
    noProblems(t, b);
  } finally {
    await b.close();
  }
});
