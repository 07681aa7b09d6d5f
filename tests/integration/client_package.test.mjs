// The client package 证书应用环境 on the driver page (page_client.c): nothing
// to offer until the deployment built it; then version, size and SHA-256 of
// the file in <data_dir>/client, served only under its own name.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import { basename, join } from 'node:path';
import { startEsp, Client, ROOT, BUILD, ENGINE, linkHref } from './lib/esp.mjs';

let esp;
before(async () => { esp = await startEsp(); });
after(async () => { await esp?.cleanup(); });

test(`[${ENGINE}] driver page: the client package once built, its download and nothing else`, async () => {
  const c = new Client(esp.url);
  let page = await c.get('/drivers');
  assert.equal(page.status, 200);
  assert.match(page.text, /证书应用环境安装包尚未生成，请联系系统管理员。/);
  assert.doesNotMatch(page.text, /id="client-steps"/, 'no installation steps without a package');

  const deb = execFileSync('bash', [join(ROOT, 'packaging/deb/build-deb.sh'), '--build', BUILD,
    '--ca', join(esp.dir, 'ca/chain.pem'), '--portal', `${esp.httpsUrl}/`, '--out', join(esp.dir, 'client')],
  { encoding: 'utf8' }).trim();
  const name = basename(deb);
  const data = readFileSync(deb);
  const sha = createHash('sha256').update(data).digest('hex');
  // a file that is not a package of this form is never listed or served
  writeFileSync(join(esp.dir, 'client', 'notes.txt'), 'not a package');
  mkdirSync(join(esp.dir, 'client', 'esp-client_9_x.deb.d'), { recursive: true });

  page = await c.get('/drivers');
  assert.ok(page.text.includes(sha), 'SHA-256 shown');
  assert.ok(page.text.includes(name), 'file name shown');
  assert.match(page.text, /x86-64/);
  assert.match(page.text, /证书应用环境安装成功后会在桌面上生成一个证书管理工具/);
  assert.doesNotMatch(page.text, /notes\.txt/);
  const href = linkHref(page.text, `下载证书应用环境 ${name.split('_')[1]}`);
  assert.equal(href, `/drivers/client/${name}`);
  const dl = await fetch(`${esp.url}${href}`);
  assert.equal(dl.status, 200);
  assert.equal(dl.headers.get('content-type'), 'application/vnd.debian.binary-package');
  assert.equal(dl.headers.get('content-disposition'), `attachment; filename="${name}"`);
  assert.equal(createHash('sha256').update(Buffer.from(await dl.arrayBuffer())).digest('hex'), sha);

  for (const bad of ['notes.txt', '..%2Fesp.conf', '..%2F..%2Fetc%2Fpasswd', 'esp-client_0.0.1_amd64.deb',
    'esp-client_1_2_3.deb', 'esp-client_%2E%2E_amd64.deb']) {
    const r = await fetch(`${esp.url}/drivers/client/${bad}`);
    assert.equal(r.status, 404, bad);
  }
});
