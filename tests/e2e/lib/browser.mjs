// Browser harness for the end-to-end tests: the Debian Chromium driven by
// playwright-core (never a downloaded browser), one fresh profile and HOME
// per browser, screenshots under $ESP_BUILD/e2e-screenshots, and a watch on
// console errors (CSP violations are reported there too) and page errors.
import { chromium } from 'playwright-core';
import { mkdtempSync, mkdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BUILD, startEsp } from '../../integration/lib/esp.mjs';

export { startEsp, BUILD };

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
export async function openBrowser() {
  const dir = mkdtempSync(join(tmpdir(), 'esp-e2e-'));
  const profile = join(dir, 'profile');
  const home = join(dir, 'home');
  mkdirSync(profile);
  mkdirSync(home);
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    args: ARGS,
    env: { ...process.env, HOME: home },
    locale: 'zh-CN',
    viewport: { width: 1280, height: 900 },
    timeout: 20000,
  });
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
export async function screenshot(page, name) {
  mkdirSync(SCREENSHOTS, { recursive: true });
  const path = join(SCREENSHOTS, `${name}.png`);
  await page.screenshot({ path, fullPage: true });
  return path;
}
