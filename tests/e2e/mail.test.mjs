// The pages of the e-mail notifications in Chromium, at 1280 and 1024 px:
// the admin's 邮件通知 (backlog, a dead letter, retry), the RA's 吊销证书 with
// its reasons, and the applicant's notices on 查看初审状态.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openBrowser, screenshot, startEsp, field, seeText, noProblems, passwordLogin } from './lib/browser.mjs';
import { approvedApplicant, holderWithKeys, submitApplication } from '../integration/lib/esp.mjs';
import { startSmtp } from '../integration/lib/mail.mjs';

let esp, smtp, dir, holder, bounced;
before(async () => {
  smtp = await startSmtp({ reject: 'bounce-' });
  esp = await startEsp({ args: [`--smtp_url=${smtp.url}`, '--mail_poll_ms=100', '--smtp_retry_seconds=1'] });
  dir = mkdtempSync(join(tmpdir(), 'esp-e2e-mail-'));
  holder = await holderWithKeys(esp, 'enterprise', 1, dir);
  bounced = await approvedApplicant(esp, 'enterprise', { overrides: { email: `bounce-${Date.now()}@example.cn` } });
  await submitApplication(bounced.c, 'enterprise');
  await smtp.waitFor(2);
});
after(async () => {
  await esp?.cleanup();
  await smtp?.cleanup();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

const WIDTHS = [1280, 1024];

test('the admin sees the dead letter on 邮件通知 and sends it again', async (t) => {
  const b = await openBrowser();
  try {
    const { page } = b;
    await passwordLogin(page, esp.url, 'admin', esp.account('admin').password);
    await page.goto(`${esp.url}/admin`);
    await page.getByRole('link', { name: /邮件通知/ }).click();
    await seeText(page, '死信');
    await page.locator('#count-dead', { hasText: '1' }).waitFor();
    for (const w of WIDTHS) {
      await page.setViewportSize({ width: w, height: 900 });
      await screenshot(page, `mail-admin-${w}`);
    }
    await smtp.stop();
    await smtp.start({ reject: '' });
    await page.getByRole('button', { name: /^重新发送邮件 \d+$/ }).click();
    await seeText(page, '已重新排入发送队列。');
    await smtp.waitFor((m) => m.some((x) => x.to.includes(bounced.fields.email)));
    await page.reload();
    await page.locator('#count-dead', { hasText: '0' }).waitFor();
    noProblems(t, b);
  } finally {
    await b.close();
  }
});

test('the RA revokes a certificate with a reason; the holder sees the notice', async (t) => {
  const b = await openBrowser();
  try {
    const { page } = b;
    await passwordLogin(page, esp.url, 'fj_ra', esp.account('fj_ra').password);
    await page.goto(`${esp.url}/ra/applications/${holder.number}`);
    const serial = holder.certs[0].serial;
    await page.getByRole('link', { name: `吊销证书 ${serial}` }).click();
    await field(page, '吊销原因').selectOption({ label: '停止使用' });
    for (const w of WIDTHS) {
      await page.setViewportSize({ width: w, height: 900 });
      await screenshot(page, `mail-ra-revoke-${w}`);
    }
    await field(page, '确认吊销该证书').check();
    await page.getByRole('button', { name: `吊销证书 ${serial}` }).click();
    await page.waitForURL(`**/ra/applications/${holder.number}`);
    assert.equal(await page.getByRole('link', { name: `吊销证书 ${serial}` }).count(), 0);
    await smtp.waitFor((m) => m.some((x) => x.to.includes(holder.fields.email) && /已吊销/.test(x.subject)));
    noProblems(t, b);
  } finally {
    await b.close();
  }
  // The applicant's status page lists the same events.
  const c = await openBrowser();
  try {
    const { page } = c;
    const cookie = holder.c.cookies.get('esp_session');
    await c.context.addCookies([{ name: 'esp_session', value: cookie, url: esp.url }]);
    await page.goto(`${esp.url}/status`);
    await seeText(page, '通知');
    await page.locator('#notices', { hasText: '已吊销' }).waitFor();
    for (const w of WIDTHS) {
      await page.setViewportSize({ width: w, height: 900 });
      await screenshot(page, `mail-status-notices-${w}`);
    }
    noProblems(t, c);
  } finally {
    await c.close();
  }
});
