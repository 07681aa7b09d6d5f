// Certificate login (the mTLS matrix over real TLS with curl), the management
// system, 再次申请, 挂失, drivers, and the signed-challenge login.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync, readFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { startEsp, Client, holderWithKeys, approvedApplicant, espctl, linkHref, ENGINE } from './lib/esp.mjs';

let esp, dir, holder;
before(async () => {
  esp = await startEsp({ login: true });
  dir = mkdtempSync(join(tmpdir(), 'esp-login-'));
  holder = await holderWithKeys(esp, 'enterprise', 3, dir);
});
after(async () => { await esp?.cleanup(); });

// One TLS login with curl; returns status, location and the session cookie.
function curlLogin(certOpts) {
  const r = spawnSync('curl', ['-s', '-i', '--cacert', holder.chain, ...certOpts, `${esp.loginUrl}/`], { encoding: 'utf8' });
  const head = r.stdout.split('\r\n\r\n')[0];
  const status = Number((head.match(/^HTTP\/[\d.]+ (\d+)/) || [])[1] || 0);
  const cookie = (head.match(/esp_session=([^;\s]+)/) || [])[1] || null;
  return { status, location: (head.match(/\r\n[Ll]ocation: (\S+)/) || [])[1], cookie, body: r.stdout };
}

// curl over HTTPS with a session cookie (Node's fetch would not trust our CA).
function curlGet(cookie, path) {
  const r = spawnSync('curl', ['-s', '-i', '--cacert', holder.chain, '-b', `esp_session=${cookie}`, `${esp.loginUrl}${path}`], { encoding: 'utf8' });
  const status = Number((r.stdout.match(/^HTTP\/[\d.]+ (\d+)/) || [])[1] || 0);
  return { status, text: r.stdout };
}

function otherCa(name, selfSigned) {
  const d = mkdtempSync(join(dir, name));
  const key = join(d, 'k.pem'), crt = join(d, 'c.pem');
  if (selfSigned) {
    execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-subj', '/CN=self', '-days', '30', '-keyout', key, '-out', crt, '-addext', 'extendedKeyUsage=clientAuth'], { stdio: 'ignore' });
    return { key, crt };
  }
  const cakey = join(d, 'ca.key'), cacrt = join(d, 'ca.crt'), csr = join(d, 'c.csr');
  execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-subj', '/CN=ESP Issuing CA', '-days', '30', '-keyout', cakey, '-out', cacrt], { stdio: 'ignore' });
  execFileSync('openssl', ['req', '-new', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-subj', '/CN=imposter', '-keyout', key, '-out', csr], { stdio: 'ignore' });
  writeFileSync(join(d, 'ext'), 'extendedKeyUsage=clientAuth\n');
  execFileSync('openssl', ['x509', '-req', '-in', csr, '-CA', cacrt, '-CAkey', cakey, '-CAcreateserial', '-days', '30', '-extfile', join(d, 'ext'), '-out', crt], { stdio: 'ignore' });
  return { key, crt };
}

function revoke(serial) {
  return fetch(`${esp.url}/api/v1/certificates/${serial}/revoke`, {
    method: 'POST', headers: { authorization: `Bearer ${holder.token}`, 'content-type': 'application/json' },
    body: JSON.stringify({ reason: 'keyCompromise' }),
  });
}

test(`[${ENGINE}] mTLS: a good certificate logs in and reaches 当前用户信息 under 其他`, async () => {
  const r = curlLogin(['--cert', holder.certs[0].cert, '--key', holder.certs[0].key]);
  assert.equal(r.status, 303);
  assert.equal(r.location, '/mgmt');
  assert.ok(r.cookie);
  const home = curlGet(r.cookie, '/mgmt');
  assert.equal(home.status, 200);
  assert.match(home.text, /快捷导航/);
  assert.match(home.text, /<h3>其他<\/h3>\s*<ul><li><a href="\/mgmt\/user">当前用户信息<\/a>/);
  const info = curlGet(r.cookie, '/mgmt/user');
  assert.equal(info.status, 200);
  assert.ok(info.text.includes(holder.fields.name));
  for (const c of holder.certs) assert.ok(info.text.includes(c.token), `key ${c.token} listed`);
  assert.match(info.text, /【再次申请登录认证U盘】/);
  assert.match(info.text, /本次登录/);
  assert.match(info.text, /<td>1094<\/td>|<td>1095<\/td>/, 'days left of a 3-year certificate');
});

test(`[${ENGINE}] mTLS refusals: none, another CA, self-signed, each with its Chinese page`, () => {
  const none = curlLogin([]);
  assert.equal(none.status, 401);
  assert.match(none.body, /未检测到证书U盘/);
  assert.match(none.body, /证书U盘已插入计算机/);
  const other = otherCa('other', false);
  const r1 = curlLogin(['--cert', other.crt, '--key', other.key]);
  assert.equal(r1.status, 403);
  assert.match(r1.body, /证书不是本系统签发的/);
  const self = otherCa('self', true);
  const r2 = curlLogin(['--cert', self.crt, '--key', self.key]);
  assert.equal(r2.status, 403);
  assert.match(r2.body, /证书不是本系统签发的/);
});

test(`[${ENGINE}] mTLS: revoked, revoked after the session began, disabled account`, async () => {
  // Revoked after the session began: the next request ends it.
  const s = curlLogin(['--cert', holder.certs[2].cert, '--key', holder.certs[2].key]);
  assert.equal(curlGet(s.cookie, '/mgmt/user').status, 200);
  assert.equal((await revoke(holder.certs[2].serial)).status, 200);
  const after = curlGet(s.cookie, '/mgmt/user');
  assert.equal(after.status, 303, 'session ended');
  const again = curlLogin(['--cert', holder.certs[2].cert, '--key', holder.certs[2].key]);
  assert.equal(again.status, 403);
  assert.match(again.body, /证书已吊销/);

  espctl(esp, 'user', 'disable', holder.fields.username);
  const disabled = curlLogin(['--cert', holder.certs[1].cert, '--key', holder.certs[1].key]);
  assert.equal(disabled.status, 403);
  assert.match(disabled.body, /账户已停用/);
  espctl(esp, 'user', 'enable', holder.fields.username);
});

test(`[${ENGINE}] 再次申请: name and code locked, the rest prefilled, business type 增加数量`, async () => {
  const s = curlLogin(['--cert', holder.certs[0].cert, '--key', holder.certs[0].key]);
  // Node's fetch would not trust ESP's CA: curl speaks to the login listener.
  const form = curlGet(s.cookie, '/mgmt/reapply');
  assert.equal(form.status, 200);
  assert.match(form.text, /<input id="f-unit_name" name="unit_name" type="text" value="[^"]+" readonly>/);
  assert.ok(form.text.includes(`value="${holder.fields.contact_name}"`), 'prefilled from the first application');
  const csrf = form.text.match(/name="csrf" value="([^"]+)"/)[1];
  const idem = form.text.match(/name="idem" value="([^"]+)"/)[1];
  const scan = form.text.match(/name="scan_id" value="([^"]*)"/)[1];
  const values = {};
  for (const m of form.text.matchAll(/<input id="f-([a-z_]+)" name="[a-z_]+" type="[a-z]+" value="([^"]*)"/g)) values[m[1]] = m[2];
  const post = (action, extra = {}) => {
    const body = new URLSearchParams({ ...values, csrf, idem, scan_id: scan, sets: '2', action, unit_name: '篡改后的单位名称', unit_code: '91350100M000100Y43', name: '篡改', code: 'X', ...extra });
    const r = spawnSync('curl', ['-s', '-i', '--cacert', holder.chain, '-b', `esp_session=${s.cookie}`, '--data', body.toString(), `${esp.loginUrl}/mgmt/reapply`], { encoding: 'utf8' });
    return r.stdout;
  };
  const confirm = post('next');
  assert.match(confirm, /id="confirm-amount">1320 元/);
  assert.ok(!confirm.includes('篡改后的单位名称'));
  const done = post('confirm');
  const location = (done.match(/\r\n[Ll]ocation: (\S+)/) || [])[1];
  assert.match(location, /^\/applications\/ESP-\d{4}-\d{6}\/print$/);
  const number = location.split('/')[2];
  const print = curlGet(s.cookie, `/applications/${number}/print`);
  assert.ok(print.text.includes(holder.fields.name), 'the registered name, not the tampered one');
  assert.ok(!print.text.includes('篡改'));
  assert.match(print.text, /<span class="box on" aria-hidden="true"><\/span><span class="sr-only">（已选）<\/span>增加数量/);
  const ra = holder.ra;
  const page = await ra.get(`/ra/applications/${number}`);
  assert.match(page.text, /增加数量/);
  assert.match(page.text, /id="amount-due">1320 元/);

  // A password session of an applicant does not reach the management system.
  const pw = new Client(esp.url);
  await pw.login(holder.fields.username, holder.fields.password);
  assert.equal((await pw.get('/mgmt/reapply')).status, 403);
  assert.equal((await pw.get('/mgmt/user')).status, 403);
});

test(`[${ENGINE}] 挂失 revokes at once; the key is refused; the RA sees it`, async () => {
  const s = curlLogin(['--cert', holder.certs[0].cert, '--key', holder.certs[0].key]);
  const confirm = curlGet(s.cookie, `/mgmt/certs/${holder.certs[1].serial}/lost`);
  assert.equal(confirm.status, 200);
  assert.match(confirm.text, /确认挂失证书U盘/);
  const csrf = confirm.text.match(/name="csrf" value="([^"]+)"/)[1];
  const r = spawnSync('curl', ['-s', '-i', '--cacert', holder.chain, '-b', `esp_session=${s.cookie}`, '--data', `csrf=${csrf}`, `${esp.loginUrl}/mgmt/certs/${holder.certs[1].serial}/lost`], { encoding: 'utf8' });
  assert.match(r.stdout, /HTTP\/1.1 303/);
  const refused = curlLogin(['--cert', holder.certs[1].cert, '--key', holder.certs[1].key]);
  assert.equal(refused.status, 403);
  assert.match(refused.body, /证书已吊销/);
  const page = await holder.ra.get(`/ra/applications/${holder.number}`);
  assert.match(page.text, /已吊销 密钥泄露（挂失）/);
  const crl = Buffer.from(await (await fetch(`${esp.url}/ca/crl`)).arrayBuffer());
  writeFileSync(join(dir, 'crl.der'), crl);
  const text = execFileSync('openssl', ['crl', '-inform', 'DER', '-in', join(dir, 'crl.der'), '-noout', '-text'], { encoding: 'utf8' });
  assert.ok(text.toUpperCase().includes(holder.certs[1].serial.toUpperCase()));
  // Another applicant cannot report someone else's key lost.
  const other = await approvedApplicant(esp, 'enterprise');
  assert.equal((await other.c.get(`/mgmt/certs/${holder.certs[0].serial}/lost`)).status, 403);
});

test(`[${ENGINE}] signed-challenge login: good, replayed, another key's signature`, async () => {
  const cert = holder.certs[0];
  const ch = await (await fetch(`${esp.url}/api/v1/login/challenge`)).json();
  const raw = Buffer.from(ch.challenge, 'base64');
  assert.equal(raw.length, 32);
  writeFileSync(join(dir, 'ch.bin'), raw);
  execFileSync('openssl', ['dgst', '-sha256', '-sign', cert.key, '-out', join(dir, 'sig.bin'), join(dir, 'ch.bin')]);
  const body = { id: ch.id, challenge: ch.challenge, signature: readFileSync(join(dir, 'sig.bin')).toString('base64'), certificate: cert.pem };
  const post = (b) => fetch(`${esp.url}/api/v1/login/certificate`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(b) });
  const ok = await post(body);
  assert.equal(ok.status, 200);
  const session = (await ok.json()).session;
  const c = new Client(esp.url);
  c.cookies.set('esp_session', session);
  const info = await c.get('/mgmt/user');
  assert.equal(info.status, 200);
  assert.ok(info.text.includes(holder.fields.name));
  const replay = await post(body);
  assert.equal(replay.status, 401);
  assert.equal((await replay.json()).error, 'bad_challenge');

  const ch2 = await (await fetch(`${esp.url}/api/v1/login/challenge`)).json();
  writeFileSync(join(dir, 'ch2.bin'), Buffer.from(ch2.challenge, 'base64'));
  execFileSync('openssl', ['dgst', '-sha256', '-sign', holder.certs[1].key, '-out', join(dir, 'sig2.bin'), join(dir, 'ch2.bin')]);
  const wrongKey = await post({ id: ch2.id, challenge: ch2.challenge, signature: readFileSync(join(dir, 'sig2.bin')).toString('base64'), certificate: cert.pem });
  assert.equal(wrongKey.status, 401);
  assert.equal((await wrongKey.json()).error, 'bad_signature');

  // The revoked key is refused here too.
  const ch3 = await (await fetch(`${esp.url}/api/v1/login/challenge`)).json();
  writeFileSync(join(dir, 'ch3.bin'), Buffer.from(ch3.challenge, 'base64'));
  execFileSync('openssl', ['dgst', '-sha256', '-sign', holder.certs[2].key, '-out', join(dir, 'sig3.bin'), join(dir, 'ch3.bin')]);
  const revoked = await post({ id: ch3.id, challenge: ch3.challenge, signature: readFileSync(join(dir, 'sig3.bin')).toString('base64'), certificate: holder.certs[2].pem });
  assert.equal(revoked.status, 403);
  assert.equal((await revoked.json()).error, 'revoked');
});

test(`[${ENGINE}] menus per role; the driver page lists a file with its SHA-256`, async () => {
  const admin = new Client(esp.url);
  await admin.login('admin', esp.account('admin').password);
  await admin.get('/admin/drivers');
  const data = Buffer.from('MZ fake driver package for the test '.repeat(100));
  const up = await admin.postMultipart('/admin/drivers', { name: '证书U盘驱动', version: '2.1.0', os: 'Windows 10/11' }, { file: { data, filename: '../../etc/setup driver.exe' } });
  assert.equal(up.status, 200);
  const sha = createHash('sha256').update(data).digest('hex');
  const page = await new Client(esp.url).get('/drivers');
  assert.ok(page.text.includes(sha));
  assert.ok(page.text.includes('setupdriver.exe'), 'the client file name is cleaned, never a path');
  const href = linkHref(page.text, '下载证书U盘驱动 2.1.0');
  const dl = await fetch(`${esp.url}${href}`);
  assert.equal(createHash('sha256').update(Buffer.from(await dl.arrayBuffer())).digest('hex'), sha);
  assert.match(page.text, /esp-token passwd/);

  // 主管机关 → 系统管理; 考评员 → 当前用户信息 without a group.
  const auth = await holderWithKeys(esp, 'authority', 1, dir);
  const a = curlLogin(['--cert', auth.certs[0].cert, '--key', auth.certs[0].key]);
  assert.match(curlGet(a.cookie, '/mgmt').text, /<h3>系统管理<\/h3>\s*<ul><li><a href="\/mgmt\/user">当前用户信息<\/a>/);
  const ev = await holderWithKeys(esp, 'evaluator', 1, dir);
  const e = curlLogin(['--cert', ev.certs[0].cert, '--key', ev.certs[0].key]);
  const evHome = curlGet(e.cookie, '/mgmt').text;
  assert.match(evHome, /<h2>快捷导航<\/h2>\s*<ul><li><a href="\/mgmt\/user">当前用户信息<\/a>/);
  assert.equal(curlGet(e.cookie, '/mgmt/reapply').status, 403, 'evaluators do not apply again');
});

test(`[${ENGINE}] staff log in with their own certificates; expired certificates are refused`, async () => {
  const csrKey = join(dir, 'staff.key'), csr = join(dir, 'staff.csr'), crt = join(dir, 'staff.crt');
  execFileSync('openssl', ['req', '-new', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-subj', '/CN=x', '-keyout', csrKey, '-out', csr], { stdio: 'ignore' });
  espctl(esp, 'staff-cert', '--username', 'fj_reviewer', '--csr', csr, '--out', crt);
  const r = curlLogin(['--cert', crt, '--key', csrKey]);
  assert.equal(r.status, 303);
  const home = curlGet(r.cookie, '/mgmt');
  assert.match(home.text, /报名初审/);
  // Three years and a bit later every certificate has expired.
  await esp.stop();
  esp.env = { ESP_TIME_OFFSET: String(1100 * 86400) };
  await esp.start();
  const old = curlLogin(['--cert', holder.certs[0].cert, '--key', holder.certs[0].key]);
  assert.equal(old.status, 403);
  assert.match(old.body, /证书已过期/);
  await esp.stop();
  esp.env = {};
  await esp.start();
});
