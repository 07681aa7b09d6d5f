// The driver page offers this deployment's client package 证书应用环境 by
// default: a person opens 证书U盘驱动 in Chromium, reads version, size, the
// systems it is for and the installation steps, downloads the package and
// checks its SHA-256 against the one the page shows.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { openBrowser, screenshot, startEsp, BUILD, noProblems, seeText } from './lib/browser.mjs';
import { ROOT } from '../integration/lib/esp.mjs';

let esp;
let deb;
before(async () => {
  esp = await startEsp();
  // What scripts/run.sh does for its deployment: the package with this
  // deployment's CA chain, into <data_dir>/client.
  deb = execFileSync('bash', [join(ROOT, 'packaging/deb/build-deb.sh'), '--build', BUILD,
    '--ca', join(esp.dir, 'ca/chain.pem'), '--portal', `${esp.httpsUrl}/`, '--out', join(esp.dir, 'client')],
  { encoding: 'utf8' }).trim();
});
after(async () => { await esp?.cleanup(); });

test('driver page: the client package with its SHA-256, downloaded and checked', async (t) => {
  const b = await openBrowser();
  try {
    const { page } = b;
    await page.goto(`${esp.url}/drivers`);
    await seeText(page, '证书应用环境（含证书管理工具）');
    const row = page.locator('#client-package tbody tr').first();
    const shown = (await row.locator('.sha256').innerText()).trim();
    const filename = (await row.locator('.filename').innerText()).trim();
    const version = (await row.locator('.version').innerText()).trim();
    assert.match(shown, /^[0-9a-f]{64}$/);
    assert.match(filename, /^esp-client_[0-9.]+_amd64\.deb$/);
    assert.ok(deb.endsWith(filename), 'the file the deployment built is the one listed');
    assert.match(await row.innerText(), /Debian \/ Ubuntu \/ 统信UOS \/ 银河麒麟/);
    const text = await page.locator('main').innerText();
    assert.match(text, /双击已下载的应用程序安装介质驱动/);
    assert.match(text, /证书应用环境安装成功后会在桌面上生成一个证书管理工具/);
    assert.match(text, /点击【修改密码】按钮，输入当前密码和新密码，点击【确定】/);
    assert.match(text, /esp-token setup-browser/);
    assert.match(text, /Windows 和 macOS 用户/);
    await screenshot(page, 'drivers-client-package');

    const [download] = await Promise.all([
      page.waitForEvent('download'),
      page.getByRole('link', { name: `下载证书应用环境 ${version}` }).click(),
    ]);
    assert.equal(download.suggestedFilename(), filename);
    const got = readFileSync(await download.path());
    assert.equal(createHash('sha256').update(got).digest('hex'), shown, 'SHA-256 as shown on the page');
    // and it is this deployment's package: its CA chain inside
    const chain = execFileSync('sh', ['-c', 'dpkg-deb --fsys-tarfile "$1" | tar -xOf - ./usr/share/esp-client/ca-chain.pem', 'sh', await download.path()]);
    assert.deepEqual(chain, readFileSync(join(esp.dir, 'ca/chain.pem')));
    noProblems(t, b);
  } finally {
    await b.close();
  }
});
