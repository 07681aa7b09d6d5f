// 密码解锁 in Chromium: a holder whose token's SO PIN is in ESP's custody
// (set through the RA workstation's API, as `esp-token enroll --so-pin-file`
// does) logs in with the password, opens 密码解锁, applies for the token,
// and after the RA's approval sees the one-time authorisation and the
// command on the application page. Screenshots at 1280 and 1024 px.
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
  dir = mkdtempSync(join(tmpdir(), 'esp-e2e-unlock-'));
});
after(async () => {
  await esp?.cleanup();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

async function shoot(page, name) {
  await page.setViewportSize({ width: 1280, height: 900 });
  await screenshot(page, `${name}-1280`);
  await page.setViewportSize({ width: 1024, height: 900 });
  await screenshot(page, `${name}-1024`);
  await page.setViewportSize({ width: 1280, height: 900 });
}

test('a holder applies for 密码解锁 and sees the authorisation once the RA approved', async (t) => {
  const holder = await holderWithKeys(esp, 'enterprise', 1, dir);
  const token = holder.certs[0].token;
  const api = (path) => fetch(`${esp.url}${path}`, {
    method: 'POST', headers: { authorization: `Bearer ${holder.token}`, 'content-type': 'application/json' }, body: '{}',
  });
  assert.equal((await api(`/api/v1/tokens/${token}/so-pin`)).status, 200);
  assert.equal((await api(`/api/v1/tokens/${token}/so-pin/confirm`)).status, 200);

  const b = await openBrowser();
  b.context.setDefaultTimeout(20000);
  try {
    const page = b.page;
    await passwordLogin(page, esp.url, holder.fields.username, holder.fields.password);
    await page.getByRole('link', { name: '密码解锁（证书U盘PIN码被锁定或遗忘）' }).click();
    await seeText(page, '密码解锁');
    const button = page.getByRole('button', { name: `申请解锁证书U盘 ${token}` });
    await button.waitFor();
    await shoot(page, 'unlock-1-page');
    await button.click();
    await page.waitForURL(/\/applications\/ESP-\d{4}-\d{6}$/);
    const number = page.url().match(/ESP-\d{4}-\d{6}/)[0];
    await page.locator('#unlock-next', { hasText: '等待数字证书注册机构批准' }).waitFor();
    await shoot(page, 'unlock-2-applied');

    await holder.ra.get(`/ra/applications/${number}`);
    const approved = await holder.ra.post(`/ra/applications/${number}/approve`, {});
    assert.match(approved.text, /id="app-state">已批准解锁/);
    await page.reload();
    const code = (await page.locator('#unlock-code').innerText()).trim();
    assert.match(code, /^[A-Za-z0-9]{24}$/);
    await page.locator('#unlock-next', { hasText: `esp-token unlock --remote --server ${esp.url} --application ${number}` }).waitFor();
    await page.locator('#unlock-next', { hasText: `在证书管理工具中点击【密码解锁】，填写申请编号 ${number}` }).waitFor();
    await shoot(page, 'unlock-3-approved');
    noProblems(t, b);
  } finally {
    await b.close();
  }
});
