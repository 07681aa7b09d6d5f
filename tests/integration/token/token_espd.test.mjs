// esp-token against the real espd: a SoftHSM2 token per test, an application
// made ready to issue through the pages (RA fj_ra), the API token from the
// RA's page, then `esp-token enroll` puts a certificate on the token that
// verifies against ESP's chain, belongs to the token's key, shows on the RA's
// page and in NSS. Also HTTPS with --ca-file, resuming an interrupted
// enrolment, and the server's refusals (exit 6 with its Chinese message).
//
//   node --test tests/integration/token/token_espd.test.mjs
//   ESP_ENGINE=postgresql ESP_PG_CLUSTER=... node --test tests/integration/token/token_espd.test.mjs
//
// Needs softhsm2, opensc (pkcs11-tool), libnss3-tools (certutil, modutil),
// openssl. PIN change and unlock are covered by test_token.sh; the set-up is
// shared with token_login.test.mjs in lib.mjs.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { approvedApplicant, submitApplication, freePort, ENGINE } from '../lib/esp.mjs';
import { tokenTestbed, MODULE, PIN } from './lib.mjs';

const T = tokenTestbed();
const {
  run, newToken, enroll, objects, staff, readyApplication, verifyWithChain, spkiOfCert, spkiOfTokenKey,
} = T;

test(`[${ENGINE}] enroll puts ESP's certificate for the token's own key on the token`, async () => {
  const { number, fields } = await readyApplication(1);
  const t = newToken('ZhangSan');
  const r = enroll(t, T.esp.url, number, T.apiTokenFile);
  assert.equal(r.code, 0, r.all);
  const label = `esp-${number}`;
  assert.match(r.out, new RegExp(`已在证书U盘上生成密钥对 \\(key pair\\) ${label}：EC P-256`));
  assert.match(r.out, /已写入CA证书/);
  assert.match(r.out, /申请完成/);

  // The certificate on the token verifies against ESP's chain ...
  const cert = join(t.dir, 'cert.pem');
  const ex = t.tool('export-cert', '--out', cert);
  assert.equal(ex.code, 0, ex.all);
  const v = verifyWithChain(cert);
  assert.equal(v.code, 0, v.all);
  assert.match(v.out, /OK/);
  const text = run('openssl', ['x509', '-in', cert, '-noout', '-subject', '-nameopt', 'utf8,sep_comma_plus'], {}).out;
  assert.ok(text.includes(`CN=${fields.name}`), 'subject from the application');
  // ... and is the certificate of the key generated on the token.
  assert.equal(spkiOfCert(cert), spkiOfTokenKey(t, label));
  const objs = objects(t);
  const keys = objs.filter((o) => o.type === 'Private Key');
  const userCerts = objs.filter((o) => o.type === 'Certificate' && o.label === label);
  assert.equal(keys.length, 1);
  assert.equal(userCerts.length, 1);
  assert.equal(userCerts[0].id, keys[0].id, 'certificate and key share CKA_ID');
  assert.equal(objs.filter((o) => o.type === 'Certificate').length, 3, 'leaf, issuing CA, root');

  // The RA's application page lists the token serial; the application is issued.
  const page = await T.ra.get(`/ra/applications/${number}`);
  assert.ok(page.text.includes(t.serial), `token serial ${t.serial} on the RA page`);
  assert.match(page.text, /id="app-state">已制证/);

  // esp-token list: the certificate with about three years left.
  const l = t.tool('list');
  assert.equal(l.code, 0, l.all);
  assert.ok(l.out.includes(`标签 ${label}`), l.out);
  assert.ok(l.out.includes(`CN=${fields.name}`), l.out);
  assert.match(l.out, /（CA证书）：标签 ESP Issuing CA/);
  assert.match(l.out, /（CA证书）：标签 ESP Root CA/);
  const leaf = l.out.slice(l.out.indexOf(`标签 ${label}`)).split(/\n  证书 \d/)[0];
  assert.match(leaf, /颁发者 \(issuer\)：CN=ESP Issuing CA/);
  const days = Number(leaf.match(/剩余天数 \(days left\)：(\d+)/)[1]);
  assert.ok(days >= 1093 && days <= 1095, `days left ${days}`);
  assert.ok(!l.out.includes('警告'), 'no expiry warning');

  // Running enroll again changes nothing.
  const again = enroll(t, T.esp.url, number, T.apiTokenFile);
  assert.equal(again.code, 0, again.all);
  assert.match(again.out, /无需再次申请/);
  assert.equal(objects(t).length, objs.length);

  // NSS (as Firefox/Chromium use it) finds the certificate on the token.
  const nss = join(t.dir, 'nss');
  mkdirSync(nss);
  const db = `sql:${nss}`;
  assert.equal(run('certutil', ['-N', '-d', db, '--empty-password'], t.env).code, 0);
  const mod = run('modutil', ['-dbdir', db, '-add', 'softhsm', '-libfile', MODULE, '-force'], t.env);
  assert.equal(mod.code, 0, mod.all);
  const pw = join(t.dir, 'nss-pw');
  writeFileSync(pw, `${PIN}\n`);
  const nl = run('certutil', ['-L', '-d', db, '-h', t.label, '-f', pw], t.env);
  assert.equal(nl.code, 0, nl.all);
  assert.ok(nl.out.includes(`${t.label}:${label}`), nl.out);
  const nk = run('certutil', ['-K', '-d', db, '-h', t.label, '-f', pw], t.env);
  assert.equal(nk.code, 0, nk.all);
  assert.ok(nk.out.includes(label), `NSS pairs the key with the certificate:\n${nk.out}`);
});

test(`[${ENGINE}] enroll over HTTPS: --ca-file with ESP's chain works, without it exit 5`, async () => {
  const { number } = await readyApplication(1);
  const t = newToken('HttpsTok');
  const bad = enroll(t, T.esp.httpsUrl, number, T.apiTokenFile);
  assert.equal(bad.code, 5, bad.all);
  assert.match(bad.err, /esp-token: 错误：无法连接服务器/);
  const ok = enroll(t, T.esp.httpsUrl, number, T.apiTokenFile, '--ca-file', T.chainFiles.chain);
  assert.equal(ok.code, 0, ok.all);
  assert.match(ok.out, new RegExp(`正在向服务器提交证书请求 \\(CSR\\)：${T.esp.httpsUrl}/api/v1/applications/${number}/certificates`));
  const cert = join(t.dir, 'cert.pem');
  assert.equal(t.tool('export-cert', '--out', cert).code, 0);
  assert.equal(verifyWithChain(cert).code, 0);
  const page = await T.ra.get(`/ra/applications/${number}`);
  assert.ok(page.text.includes(t.serial));
});

test(`[${ENGINE}] an interrupted enrolment resumed leaves exactly one key and one certificate`, async () => {
  const { number } = await readyApplication(2);
  const label = `esp-${number}`;

  // (a) Interrupted before the server saw the request: nothing listens.
  const t = newToken('Resume');
  const dead = `http://127.0.0.1:${await freePort()}`;
  const first = enroll(t, dead, number, T.apiTokenFile);
  assert.equal(first.code, 5, first.all);
  assert.match(first.out, /已在证书U盘上生成密钥对/);
  let objs = objects(t);
  assert.equal(objs.filter((o) => o.type === 'Private Key').length, 1);
  assert.equal(objs.filter((o) => o.type === 'Certificate').length, 0);
  const second = enroll(t, T.esp.url, number, T.apiTokenFile);
  assert.equal(second.code, 0, second.all);
  assert.match(second.out, /继续申请 \(resume\)/);
  assert.doesNotMatch(second.out, /已在证书U盘上生成密钥对/);
  objs = objects(t);
  assert.equal(objs.filter((o) => o.type === 'Private Key').length, 1);
  assert.equal(objs.filter((o) => o.type === 'Public Key').length, 1);
  assert.equal(objs.filter((o) => o.type === 'Certificate' && o.label === label).length, 1);
  const cert = join(t.dir, 'cert.pem');
  assert.equal(t.tool('export-cert', '--out', cert).code, 0);
  assert.equal(spkiOfCert(cert), spkiOfTokenKey(t, label));

  // (b) Interrupted after the server issued but before the certificate was
  // written (the certificate objects are gone): the server gives back the
  // same certificate for this token, no second one is issued.
  const t2 = newToken('Resume2');
  const one = enroll(t2, T.esp.url, number, T.apiTokenFile);
  assert.equal(one.code, 0, one.all);
  const c1 = join(t2.dir, 'c1.pem');
  assert.equal(t2.tool('export-cert', '--out', c1).code, 0);
  for (const l of [label, 'ESP Issuing CA', 'ESP Root CA']) t2.p11('--login', '--pin', PIN, '--delete-object', '--type', 'cert', '--label', l);
  assert.equal(objects(t2).filter((o) => o.type === 'Certificate').length, 0, 'certificates removed');
  const two = enroll(t2, T.esp.url, number, T.apiTokenFile);
  assert.equal(two.code, 0, two.all);
  assert.match(two.out, /继续申请 \(resume\)/);
  const c2 = join(t2.dir, 'c2.pem');
  assert.equal(t2.tool('export-cert', '--out', c2).code, 0);
  assert.equal(readFileSync(c2, 'utf8'), readFileSync(c1, 'utf8'), 'the same certificate');
  objs = objects(t2);
  assert.equal(objs.filter((o) => o.type === 'Private Key').length, 1);
  assert.equal(objs.filter((o) => o.type === 'Certificate' && o.label === label).length, 1);

  // Two sets, two tokens, two certificates: the application is now issued.
  const page = await T.ra.get(`/ra/applications/${number}`);
  assert.ok(page.text.includes(t.serial) && page.text.includes(t2.serial));
  assert.match(page.text, /id="app-state">已制证/);
});

test(`[${ENGINE}] the server's refusals: exit 6 with its Chinese message`, async () => {
  const { number } = await readyApplication(1);
  const t = newToken('First');
  assert.equal(enroll(t, T.esp.url, number, T.apiTokenFile).code, 0);

  // All sets issued: a second token gets nothing.
  const t2 = newToken('Second');
  const r = enroll(t2, T.esp.url, number, T.apiTokenFile);
  assert.equal(r.code, 6, r.all);
  assert.match(r.err, /服务器拒绝 \(HTTP 409\)：该申请的证书U盘已全部签发，不能超过申请数量 \[all_issued\]/);
  assert.match(r.err, /已删除本次生成的密钥对/);
  assert.deepEqual(objects(t2), [], 'no orphan key pair left on the refused token');

  // A token holding a valid certificate cannot take another application's.
  const other = await readyApplication(1);
  const inUse = enroll(t, T.esp.url, other.number, T.apiTokenFile);
  assert.equal(inUse.code, 6, inUse.all);
  assert.match(inUse.err, /HTTP 409\)：该证书U盘已有有效证书，不能重复签发 \[token_in_use\]/);
  const left = objects(t);
  assert.equal(left.filter((o) => o.type === 'Private Key').length, 1, 'only the first key is kept');
  assert.equal(left.find((o) => o.type === 'Private Key').label, `esp-${number}`);
  assert.equal(t.tool('export-cert', '--out', join(t.dir, 'still.pem')).code, 0, 'its certificate too');

  // Not yet paid: wrong state.
  const { c } = await approvedApplicant(T.esp, 'enterprise');
  const unpaid = await submitApplication(c, 'enterprise', 1);
  const w = enroll(newToken('Unpaid'), T.esp.url, unpaid, T.apiTokenFile);
  assert.equal(w.code, 6, w.all);
  assert.match(w.err, /尚未确认付款和申请材料.*\[wrong_state\]/);

  // Another province's RA may not issue: 403.
  const bj = await staff('bj_ra');
  await bj.get('/ra/tokens');
  const m = (await bj.post('/ra/tokens', { name: 'bj' })).text.match(/id="new-token">([^<]+)</);
  const bjFile = join(T.tmp, 'bj-token');
  writeFileSync(bjFile, `${m[1]}\n`);
  const f = enroll(newToken('Beijing'), T.esp.url, other.number, bjFile);
  assert.equal(f.code, 6, f.all);
  assert.match(f.err, /HTTP 403\)：无权为该申请签发证书/);

  // A wrong API token: 401.
  const badFile = join(T.tmp, 'bad-token');
  writeFileSync(badFile, 'not-a-token\n');
  const u = enroll(newToken('BadApi'), T.esp.url, other.number, badFile);
  assert.equal(u.code, 6, u.all);
  assert.match(u.err, /HTTP 401\)：API令牌无效/);
  // A key from an earlier, interrupted run is kept on a refusal: the server
  // may hold its certificate already.
  const k = newToken('KeepKey');
  assert.equal(enroll(k, `http://127.0.0.1:${await freePort()}`, other.number, T.apiTokenFile).code, 5);
  const ku = enroll(k, T.esp.url, other.number, badFile);
  assert.equal(ku.code, 6, ku.all);
  assert.doesNotMatch(ku.err, /已删除/);
  assert.equal(objects(k).filter((o) => o.type === 'Private Key').length, 1);

  // An unknown application: 404.
  const n = enroll(newToken('NoApp'), T.esp.url, 'ESP-2000-999999', T.apiTokenFile);
  assert.equal(n.code, 6, n.all);
  assert.match(n.err, /HTTP 404\)：申请编号不存在/);
  assert.ok(existsSync(T.apiTokenFile));
});
