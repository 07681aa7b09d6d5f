// Chromium logs in with a client certificate (a key of an issued 证书U盘,
// imported as PKCS#12 into the browser's NSS database) at the certificate
// login listener and reaches 当前用户信息 of the management system.
// Headless Chromium needs the managed policy AutoSelectCertificateForUrls to
// choose the certificate by itself (without it, it waits at the choice; the
// policy is written below).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, rmdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openBrowser, screenshot, startEsp, seeText, noProblems } from './lib/browser.mjs';
import { holderWithKeys } from '../integration/lib/esp.mjs';

const POLICY_DIR = process.env.ESP_CHROMIUM_POLICIES || '/etc/chromium/policies/managed';
const POLICY_FILE = join(POLICY_DIR, 'esp-test.json');

let esp, dir;
before(async () => {
  esp = await startEsp({ login: true });
  dir = mkdtempSync(join(tmpdir(), 'esp-e2e-cert-'));
});
after(async () => {
  await esp?.cleanup();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

function run(cmd, args, opts = {}) {
  return execFileSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], ...opts });
}

// The CN of a certificate's subject or issuer.
function cn(file, which) {
  const line = run('openssl', ['x509', '-in', file, '-noout', `-${which}`, '-nameopt', 'RFC2253']);
  const m = line.match(/(?:^|[=,])CN=((?:\\.|[^,\\])+)/);
  assert.ok(m, `a CN in ${line}`);
  return m[1].replace(/\\(.)/g, '$1').trim();
}

// The certificates of a PEM bundle, each written to its own file.
function splitPem(file) {
  const blocks = readFileSync(file, 'utf8').match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----\n?/g) || [];
  return blocks.map((pem, i) => {
    const f = `${file}.${i}.pem`;
    writeFileSync(f, pem);
    return f;
  });
}

// Makes directories that do not exist yet; returns those it made, deepest first.
function makeDirs(path) {
  const made = [];
  let p = path;
  while (!existsSync(p)) {
    made.push(p);
    p = join(p, '..');
  }
  mkdirSync(path, { recursive: true });
  return made;
}

test('Chromium logs in with the certificate of a 证书U盘 and sees 当前用户信息', async (t) => {
  const holder = await holderWithKeys(esp, 'enterprise', 1, dir);
  const key = holder.certs[0];
  const issuerCn = cn(key.cert, 'issuer');
  assert.equal(issuerCn, 'ESP Issuing CA');
  const chain = splitPem(holder.chain);
  const root = chain.find((f) => cn(f, 'subject') === cn(f, 'issuer'));
  assert.ok(root, 'the chain has the self-signed root');

  // The key as PKCS#12, with the issuing CA, as a 证书U盘 would present it.
  const p12 = join(dir, 'client.p12');
  run('openssl', ['pkcs12', '-export', '-in', key.cert, '-inkey', key.key, '-certfile', holder.chain,
    '-name', key.token, '-passout', 'pass:test', '-out', p12]);

  const policy = {
    AutoSelectCertificateForUrls: [JSON.stringify({
      pattern: `https://127.0.0.1:${esp.loginPort}`,
      filter: { ISSUER: { CN: issuerCn } },
    })],
  };
  const madeDirs = makeDirs(POLICY_DIR);
  let b;
  try {
    writeFileSync(POLICY_FILE, JSON.stringify(policy, null, 2));
    b = await openBrowser({
      prepareHome(home) {
        const db = join(home, '.pki', 'nssdb');
        mkdirSync(db, { recursive: true });
        run('certutil', ['-N', '-d', `sql:${db}`, '--empty-password']);
        run('pk12util', ['-i', p12, '-d', `sql:${db}`, '-W', 'test']);
        run('certutil', ['-A', '-d', `sql:${db}`, '-n', 'ESP Root CA', '-t', 'CT,C,C', '-i', root]);
        const listed = run('certutil', ['-L', '-d', `sql:${db}`]);
        assert.match(listed, /^ESP Root CA.*\sCT,C,C$/m, 'the root is trusted');
      },
    });
    // Certificate login, then the management system; a slow machine can take seconds.
    b.context.setDefaultTimeout(20000);
    const page = b.page;
    const response = await page.goto(`${esp.loginUrl}/`);
    assert.equal(response.status(), 200);
    assert.equal(new URL(page.url()).pathname, '/mgmt');
    const nav = page.getByRole('navigation', { name: '快捷导航' });
    await nav.getByRole('heading', { name: '快捷导航' }).waitFor({ state: 'visible' });
    await screenshot(page, 'certlogin-1-mgmt');

    // 其他 → 当前用户信息.
    const other = nav.getByRole('heading', { name: '其他', exact: true });
    await other.waitFor({ state: 'visible' });
    await other.locator('xpath=following-sibling::ul[1]').getByRole('link', { name: '当前用户信息', exact: true }).click();
    await page.getByRole('heading', { name: '当前用户信息', level: 1 }).waitFor({ state: 'visible' });
    await seeText(page, holder.fields.name);
    // The keys' table (the 证书更新 table below names the token too).
    const row = page.locator('#keys').getByRole('row').filter({ hasText: key.token });
    await row.getByText(key.token, { exact: true }).waitFor({ state: 'visible' });
    await row.getByText('本次登录').waitFor({ state: 'visible' });
    assert.match(await row.innerText(), new RegExp(key.serial, 'i'), 'the certificate serial');
    await screenshot(page, 'certlogin-2-user');
    noProblems(t, b);
  } finally {
    await b?.close();
    rmSync(POLICY_FILE, { force: true });
    for (const d of madeDirs) {
      try { rmdirSync(d); } catch { /* not empty: somebody else's now */ }
    }
  }
});
