// Browser harness for the end-to-end tests: the Debian Chromium driven by
// playwright-core (never a downloaded browser), one fresh profile and HOME
// per browser, screenshots under $ESP_BUILD/e2e-screenshots, and a watch on
// console errors (CSP violations are reported there too) and page errors.
import { chromium } from 'playwright-core';
import assert from 'node:assert/strict';
import { mkdtempSync, mkdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BUILD, startEsp } from '../../integration/lib/esp.mjs';
import { checkA11y } from './axe.mjs';

export { startEsp, BUILD, checkA11y };

export const CHROMIUM = process.env.ESP_CHROMIUM || '/usr/bin/chromium';
export const SCREENSHOTS = join(BUILD, 'e2e-screenshots');

const ARGS = [
  '--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking',
  '--disable-component-update', '--disable-sync', '--no-first-run', '--disable-quic',
];

// espd serves no /favicon.ico; Chromium asks for it by itself and logs the 404
// as a console error. That one is kept apart (in `ignored`) rather than failing
// every test; every other console error counts. A test that expects a page to
// come with an error status (422 for a form with mistakes) says so with
// expectStatus(path, status): Chromium logs that load as an error too.
const IGNORED = [{ path: '/favicon.ico', status: 404 }];

// Opens a browser with its own empty profile. Returns { context, page, problems, ignored, close }.
// `problems` collects console errors (CSP violations among them) and uncaught
// page errors of every page of the context.
// Options: prepareHome(home) runs before the launch with the browser's fresh
// HOME (where Chromium looks for its NSS database, $HOME/.pki/nssdb).
export async function openBrowser({ prepareHome } = {}) {
  const dir = mkdtempSync(join(tmpdir(), 'esp-e2e-'));
  const profile = join(dir, 'profile');
  const home = join(dir, 'home');
  mkdirSync(profile);
  mkdirSync(home);
  let context;
  try {
    if (prepareHome) await prepareHome(home);
    context = await chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM,
      headless: true,
      args: ARGS,
      env: { ...process.env, HOME: home },
      locale: 'zh-CN',
      viewport: { width: 1280, height: 900 },
      timeout: 20000,
    });
  } catch (e) {
    rmSync(dir, { recursive: true, force: true });
    throw e;
  }
  context.setDefaultTimeout(5000);
  const problems = [];
  const ignored = [];
  const expected = [...IGNORED];
  const watch = (page) => {
    page.on('console', (msg) => {
      if (msg.type() !== 'error') return;
      const at = msg.location().url || page.url();
      let path = '';
      try { path = new URL(at).pathname; } catch { /* not a URL */ }
      const line = `console error at ${at}: ${msg.text()}`;
      const known = expected.some((e) => e.path === path
        && msg.text().startsWith(`Failed to load resource: the server responded with a status of ${e.status} `));
      (known ? ignored : problems).push(line);
    });
    page.on('pageerror', (err) => problems.push(`page error on ${page.url()}: ${err.message}`));
  };
  context.pages().forEach(watch);
  context.on('page', watch);
  const page = context.pages()[0] || await context.newPage();
  return {
    context,
    page,
    home,
    problems,
    ignored,
    expectStatus(path, status) { expected.push({ path, status }); },
    async close() {
      await context.close().catch(() => {});
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

// Saves a full-page screenshot as $ESP_BUILD/e2e-screenshots/NAME.png and returns its path.
// Every page photographed is also checked by axe-core (WCAG 2.1 A/AA): a
// violation fails the test (checkA11y in lib/axe.mjs).
// A full-page screenshot resizes the viewport for a moment; Chromium then
// scrolls a focused text field back into view at the next mouse press, so a
// click that follows lands elsewhere (mousedown on the button, mouseup on
// another element: no click). The focus is therefore taken away during the
// screenshot and given back without scrolling.
export async function screenshot(page, name) {
  mkdirSync(SCREENSHOTS, { recursive: true });
  const path = join(SCREENSHOTS, `${name}.png`);
  const blurred = await page.evaluate(() => {
    const e = document.activeElement;
    if (!e || e === document.body || typeof e.blur !== 'function') return false;
    window.__e2eFocus = e;
    e.blur();
    return true;
  });
  await page.screenshot({ path, fullPage: true });
  await checkA11y(page, name);
  if (blurred) {
    await page.evaluate(() => {
      const e = window.__e2eFocus;
      delete window.__e2eFocus;
      if (e && e.isConnected) e.focus({ preventScroll: true });
    });
  }
  return path;
}

// A form control by its label as written on the page; required fields carry a
// trailing * in the label, which is not part of the name.
export function field(page, label) {
  const re = new RegExp(`^\\s*${label.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}\\s*\\*?\\s*$`);
  return page.getByLabel(re);
}

// Waits until the exact text is visible somewhere on the page.
export async function seeText(page, text) {
  await page.getByText(text, { exact: true }).first().waitFor({ state: 'visible' });
}

// Fails the test on console errors or page errors; reports the expected ones.
export function noProblems(t, b) {
  for (const line of new Set(b.ignored.map((l) => l.replace(/:\d+\//, ':PORT/')))) {
    t.diagnostic(`expected, not counted: ${line}`);
  }
  assert.deepEqual(b.problems, [], 'no console errors or CSP violations');
}

// Logs in with username and password through the /login page.
export async function passwordLogin(page, base, username, password) {
  await page.goto(`${base}/login`);
  await field(page, '用户名').fill(username);
  await field(page, '密码').fill(password);
  await page.getByRole('button', { name: '登录', exact: true }).click();
}
