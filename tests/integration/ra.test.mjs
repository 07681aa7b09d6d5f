// The RA back office and ESP's CA: payment, materials, issuance over the API,
// shipping, the 20-day promise, revocation and the CRL, the audit chain.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { writeFileSync, mkdtempSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import {
  startEsp, Client, approvedApplicant, submitApplication, makeCsr, linkHref, rawSql, espctlStatus,
  ENGINE, staffClient, registrationFields, authorityIdByName
} from './lib/esp.mjs';

let esp, tmp;
before(async () => {
  esp = await startEsp();
  tmp = mkdtempSync(join(tmpdir(), 'esp-ra-'));
});
after(async () => { await esp?.cleanup(); });

const staff = (username) => staffClient(esp, username);

async function apiToken(ra) {
  await ra.get('/ra/tokens');
  const r = await ra.post('/ra/tokens', { name: '制证工作站' });
  const m = r.text.match(/id="new-token">([^<]+)</);
  assert.ok(m, 'the token is shown once');
  const again = await ra.get('/ra/tokens');
  assert.ok(!again.text.includes(m[1]), 'and never again');
  return m[1];
}

function issue(number, token, csrPem, tokenSerial) {
  return fetch(`${esp.url}/api/v1/applications/${number}/certificates`, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: JSON.stringify({ csr: csrPem, token_serial: tokenSerial }),
  });
}

async function pay(ra, number, amount) {
  await ra.get(`/ra/applications/${number}`);
  return ra.post(`/ra/applications/${number}/payment`, {
    amount, paid_on: new Date(Date.now() + 8 * 3600e3).toISOString().slice(0, 10), payer: '付款单位', bank_ref: 'BANK-001',
  });
}

async function materials(op, number, n) {
  await op.get(`/ra/applications/${number}`);
  return op.post(`/ra/applications/${number}/materials`, { item: [...Array(n).keys()].map(String) });
}

function verifyThreeWays(certPem, chainPem, name) {
  const dir = mkdtempSync(join(tmp, name));
  const leaf = join(dir, 'leaf.pem');
  writeFileSync(leaf, certPem);
  const certs = chainPem.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----\n?/g);
  writeFileSync(join(dir, 'ca.pem'), certs[0]);
  writeFileSync(join(dir, 'root.pem'), certs[1]);
  writeFileSync(join(dir, 'chain.pem'), certPem + certs[0] + certs[1]);
  const o = execFileSync('openssl', ['verify', '-x509_strict', '-purpose', 'sslclient', '-CAfile', join(dir, 'root.pem'), '-untrusted', join(dir, 'ca.pem'), leaf], { encoding: 'utf8' });
  assert.match(o, /OK/);
  const g = execFileSync('certtool', ['--verify-chain', '--infile', join(dir, 'chain.pem')], { encoding: 'utf8' });
  assert.match(g, /Chain verification output: Verified/);
  const db = `sql:${dir}/nss`;
  execFileSync('mkdir', ['-p', `${dir}/nss`]);
  execFileSync('certutil', ['-N', '-d', db, '--empty-password']);
  execFileSync('certutil', ['-A', '-d', db, '-n', 'root', '-t', 'CT,C,C', '-i', join(dir, 'root.pem')]);
  execFileSync('certutil', ['-A', '-d', db, '-n', 'issuing', '-t', ',,', '-i', join(dir, 'ca.pem')]);
  execFileSync('certutil', ['-A', '-d', db, '-n', 'leaf', '-t', ',,', '-i', leaf]);
  const n = execFileSync('certutil', ['-V', '-u', 'C', '-n', 'leaf', '-d', db], { encoding: 'utf8' });
  assert.match(n, /certificate is valid/);
  return execFileSync('openssl', ['x509', '-in', leaf, '-noout', '-text', '-nameopt', 'utf8,sep_comma_plus'], { encoding: 'utf8' });
}

test(`[${ENGINE}] an enterprise application goes through payment, materials, issuance, shipping, receipt`, async () => {
  const { c, fields } = await approvedApplicant(esp, 'enterprise');
  const number = await submitApplication(c, 'enterprise', 2);
  const ra = await staff('fj_ra');
  const home = await ra.get('/ra');
  assert.match(home.text, /<svg[^>]*class="chart"/);
  const q = await ra.get(`/ra/queue?q=${encodeURIComponent(number)}`);
  assert.ok(linkHref(q.text, `办理 ${number}`));
  const token = await apiToken(ra);
  const csr1 = makeCsr(tmp, 'k1');

  let r = await issue(number, token, csr1.pem, 'TOKEN-A1');
  assert.equal(r.status, 409, 'no certificate before payment and materials');
  assert.equal((await r.json()).error, 'wrong_state');

  const wrong = await pay(ra, number, 1000);
  assert.equal(wrong.status, 422);
  assert.match(wrong.text, /请填写说明/);
  const paid = await pay(ra, number, 1320);
  assert.match(paid.text, /id="app-state">已付款/);
  r = await issue(number, token, csr1.pem, 'TOKEN-A1');
  assert.equal(r.status, 409, 'no certificate without materials');

  const partial = await ra.post(`/ra/applications/${number}/materials`, { item: ['0'] });
  assert.equal(partial.status, 422);
  const mats = await materials(ra, number, 2);
  assert.match(mats.text, /id="app-state">待制证/);
  assert.match(mats.text, new RegExp(`esp-token enroll --server ${esp.url} --application ${number}`));

  // Another province's RA: nothing.
  const bj = await staff('bj_ra');
  assert.equal((await bj.get(`/ra/applications/${number}`)).status, 403);
  assert.equal((await bj.post(`/ra/applications/${number}/ship`, { courier: 'x', tracking_no: 'y' })).status, 403);
  const bjToken = await apiToken(bj);
  r = await issue(number, bjToken, csr1.pem, 'TOKEN-X');
  assert.equal(r.status, 403);
  assert.ok(!(await bj.get('/ra/queue?state=all')).text.includes(number));

  r = await issue(number, token, csr1.pem, 'TOKEN-A1');
  assert.equal(r.status, 201);
  const c1 = await r.json();
  assert.match(c1.serial, /^[0-9a-f]{32}$/);
  const text = verifyThreeWays(c1.certificate, c1.chain, 'c1');
  assert.ok(text.includes(`CN=${fields.name}`), 'subject from the application, not the CSR');
  assert.ok(text.includes('OU=交通运输企业'));
  assert.ok(text.includes('ST=福建省'));
  assert.ok(text.includes(`serialNumber=${fields.code}`));
  assert.match(text, /TLS Web Client Authentication/);
  assert.match(text, /Digital Signature/);
  assert.match(text, new RegExp(`URI:${esp.url}/ca/crl`));
  assert.ok(!text.includes('ignored by the CA'));

  const retry = await issue(number, token, csr1.pem, 'TOKEN-A1');
  assert.equal(retry.status, 200, 'a retried request returns the same certificate');
  assert.equal((await retry.json()).serial, c1.serial);

  const inUse = await issue(number, token, makeCsr(tmp, 'k1b').pem, 'TOKEN-A1');
  assert.equal(inUse.status, 200, 'same application and token: the existing certificate');

  const c2 = await (await issue(number, token, makeCsr(tmp, 'k2').pem, 'TOKEN-A2')).json();
  assert.ok(c2.serial && c2.serial !== c1.serial);
  r = await issue(number, token, makeCsr(tmp, 'k3').pem, 'TOKEN-A3');
  assert.equal(r.status, 409, 'never more certificates than sets');
  assert.equal((await r.json()).error, 'all_issued');

  let page = await ra.get(`/ra/applications/${number}`);
  assert.match(page.text, /id="app-state">已制证/);
  assert.ok(page.text.includes('TOKEN-A1') && page.text.includes('TOKEN-A2'));
  const noCourier = await ra.post(`/ra/applications/${number}/ship`, { courier: '', tracking_no: '' });
  assert.equal(noCourier.status, 422);
  page = await ra.post(`/ra/applications/${number}/ship`, { courier: '中国邮政EMS', tracking_no: 'EA123456789CN' });
  assert.match(page.text, /id="app-state">已寄出/);
  page = await ra.post(`/ra/applications/${number}/received`, {});
  assert.match(page.text, /id="app-state">已签收/);

  const mine = await c.get(`/applications/${number}`);
  const done = [...mine.text.matchAll(/<li class="done"><span class="t-label">([^<]+)<\/span> <span class="t-date">(\d{4}-\d{2}-\d{2} \d{2}:\d{2})<\/span>/g)].map((m) => m[1]);
  assert.deepEqual(done, ['已提交', '已付款', '材料已收到', '已制证', '已寄出', '已签收']);
  assert.match(mine.text, /EA123456789CN/);
});

test(`[${ENGINE}] bad CSRs and tokens are refused with JSON errors and nothing written`, async () => {
  const { c } = await approvedApplicant(esp, 'agency');
  const number = await submitApplication(c, 'agency', 1);
  const ra = await staff('fj_ra');
  const token = await apiToken(ra);
  await pay(ra, number, 660);
  await materials(ra, number, 2);
  const cases = [
    ['not a csr', 400, 'bad_csr'],
    [makeCsr(tmp, 'rsa1024', ['-newkey', 'rsa:1024']).pem, 400, 'weak_key'],
    [makeCsr(tmp, 'p384', ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-384']).pem, 400, 'weak_key'],
  ];
  const good = makeCsr(tmp, 'goodsig').pem;
  // Flip one character inside the base64 body: the self-signature fails.
  const lines = good.split('\n');
  const mid = Math.floor(lines.length / 2);
  lines[mid] = lines[mid].slice(0, 10) + (lines[mid][10] === 'A' ? 'B' : 'A') + lines[mid].slice(11);
  cases.push([lines.join('\n'), 400, null]);
  for (const [csr, status, code] of cases) {
    const r = await issue(number, token, csr, 'TOKEN-BAD');
    assert.equal(r.status, status);
    const body = await r.json();
    if (code) assert.equal(body.error, code);
    assert.match(body.message, /[\u4e00-\u9fff]/, 'a Chinese message');
  }
  const rsa = makeCsr(tmp, 'rsa2048', ['-newkey', 'rsa:2048']);
  const tampered = await issue(number, token.slice(0, -2) + (token.endsWith('A') ? 'BB' : 'AA'), rsa.pem, 'T');
  assert.equal(tampered.status, 401);
  const noAuth = await fetch(`${esp.url}/api/v1/applications/${number}/certificates`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' });
  assert.equal(noAuth.status, 401);
  const badJson = await fetch(`${esp.url}/api/v1/applications/${number}/certificates`, { method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: '{"csr":' });
  assert.equal(badJson.status, 400);
  const page = await ra.get(`/ra/applications/${number}`);
  assert.match(page.text, /尚未签发证书/, 'nothing written');
  const ok = await issue(number, token, rsa.pem, 'TOKEN-RSA');
  assert.equal(ok.status, 201, 'RSA 2048 accepted');

  // A revoked API token stops working.
  const list = await ra.get('/ra/tokens');
  const m = list.text.match(/action="\/ra\/tokens\/(\d+)\/revoke"/);
  await ra.post(`/ra/tokens/${m[1]}/revoke`, {});
  const after = await issue(number, token, makeCsr(tmp, 'late').pem, 'TOKEN-LATE');
  assert.equal(after.status, 401);
});

test(`[${ENGINE}] 退回: the applicant sees the reason and resubmits`, async () => {
  const { c } = await approvedApplicant(esp, 'enterprise');
  const number = await submitApplication(c, 'enterprise', 1);
  const ra = await staff('fj_ra');
  await ra.get(`/ra/applications/${number}`);
  const noReason = await ra.post(`/ra/applications/${number}/return`, { reason: '' });
  assert.equal(noReason.status, 422);
  const ret = await ra.post(`/ra/applications/${number}/return`, { reason: '申请表未加盖公章' });
  assert.match(ret.text, /id="app-state">已退回/);
  const st = await c.get('/status');
  assert.match(st.text, /申请表未加盖公章/);
  const page = await c.get(`/applications/${number}`);
  assert.match(page.text, /申请表未加盖公章/);
  const back = await c.post(`/applications/${number}/resubmit`, {});
  assert.match(back.text, /id="app-state">已提交/);
});

test(`[${ENGINE}] evaluators: the training institution records materials and hands out the key`, async () => {
  const { c } = await approvedApplicant(esp, 'evaluator');
  const number = await submitApplication(c, 'evaluator');
  const trainer = await staff('fj_trainer');
  const ra = await staff('fj_ra');
  assert.equal((await ra.post(`/ra/applications/${number}/materials`, { item: ['0', '1'] })).status, 403, 'RA does not record evaluators materials');
  assert.equal((await ra.post(`/ra/applications/${number}/payment`, { amount: '1', paid_on: '2024-01-01', payer: 'x', bank_ref: 'y' })).status, 403, 'evaluators pay nothing: no payment step for the RA');
  const mats = await materials(trainer, number, 2);
  assert.match(mats.text, /id="app-state">待制证/, 'no payment for evaluators');
  const token = await apiToken(ra);
  const r = await issue(number, token, makeCsr(tmp, 'ev').pem, 'TOKEN-EV');
  assert.equal(r.status, 201);
  const cert = await r.json();
  const text = verifyThreeWays(cert.certificate, cert.chain, 'ev');
  assert.match(text, /OU=考评员/);
  await ra.get(`/ra/applications/${number}`);
  const pick = await ra.post(`/ra/applications/${number}/ship`, {});
  assert.match(pick.text, /id="app-state">待领取/);
  assert.ok(!pick.text.includes(`/ra/applications/${number}/received`), 'the RA has no receive button for a pickup');
  assert.equal((await ra.post(`/ra/applications/${number}/received`, {})).status, 403, 'the training institution hands the key out');
  await trainer.get(`/ra/applications/${number}`);
  const got = await trainer.post(`/ra/applications/${number}/received`, {});
  assert.match(got.text, /id="app-state">已签收/);

  // The trainer sees no unit applications, another province's trainer nothing.
  const unit = await approvedApplicant(esp, 'enterprise');
  const unitNumber = await submitApplication(unit.c, 'enterprise', 1);
  assert.equal((await trainer.get(`/ra/applications/${unitNumber}`)).status, 403);
  const bjTrainer = await staff('bj_trainer');
  assert.equal((await bjTrainer.get(`/ra/applications/${number}`)).status, 403);
  assert.ok(!(await trainer.get('/ra/queue')).text.includes(unitNumber));
});

test(`[${ENGINE}] revocation re-signs the CRL with the reason; the chain is public`, async () => {
  const { c } = await approvedApplicant(esp, 'enterprise');
  const number = await submitApplication(c, 'enterprise', 1);
  const ra = await staff('fj_ra');
  const token = await apiToken(ra);
  await pay(ra, number, 660);
  await materials(ra, number, 2);
  const cert = await (await issue(number, token, makeCsr(tmp, 'rev').pem, 'TOKEN-REV')).json();
  const rev = await fetch(`${esp.url}/api/v1/certificates/${cert.serial}/revoke`, {
    method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: JSON.stringify({ reason: 'keyCompromise' }),
  });
  assert.equal(rev.status, 200);
  const again = await fetch(`${esp.url}/api/v1/certificates/${cert.serial}/revoke`, {
    method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: JSON.stringify({ reason: 'keyCompromise' }),
  });
  assert.equal(again.status, 409);
  const crlFile = join(tmp, 'crl.der');
  writeFileSync(crlFile, Buffer.from(await (await fetch(`${esp.url}/ca/crl`)).arrayBuffer()));
  const chain = await (await fetch(`${esp.url}/ca/chain.pem`)).text();
  writeFileSync(join(tmp, 'chain.pem'), chain);
  const out = execFileSync('openssl', ['crl', '-inform', 'DER', '-in', crlFile, '-noout', '-text'], { encoding: 'utf8' });
  assert.ok(out.toUpperCase().includes(cert.serial.toUpperCase()));
  assert.match(out, /Key Compromise/);
  execFileSync('openssl', ['crl', '-inform', 'DER', '-in', crlFile, '-noout', '-CAfile', join(tmp, 'chain.pem')], { stdio: 'ignore' });
  const viaHttps = execFileSync('curl', ['-s', '--cacert', join(tmp, 'chain.pem'), `${esp.httpsUrl}/ca/chain.pem`], { encoding: 'utf8' });
  assert.equal(viaHttps, chain);
  const crlHttps = join(tmp, 'crl-https.der');
  execFileSync('curl', ['-s', '--cacert', join(tmp, 'chain.pem'), '-o', crlHttps, `${esp.httpsUrl}/ca/crl`]);
  const outHttps = execFileSync('openssl', ['crl', '-inform', 'DER', '-in', crlHttps, '-noout', '-text'], { encoding: 'utf8' });
  assert.match(outHttps, /Key Compromise/);
  const page = await ra.get(`/ra/applications/${number}`);
  assert.match(page.text, /已吊销 密钥泄露（挂失）/);
  // The revoked certificate is never handed out again for that token.
  const retry = await issue(number, token, makeCsr(tmp, 'rev2').pem, 'TOKEN-REV');
  assert.equal(retry.status, 409);
  assert.equal((await retry.json()).error, 'token_revoked');
});

test(`[${ENGINE}] the overdue list shows an application whose materials arrived 21 days ago`, async () => {
  const { c } = await approvedApplicant(esp, 'enterprise');
  const number = await submitApplication(c, 'enterprise', 1);
  const ra = await staff('fj_ra');
  await pay(ra, number, 660);
  await materials(ra, number, 2);
  let home = await ra.get('/ra');
  assert.equal(linkHref(home.text, `办理 ${number}`), null, 'not overdue today');
  // 21 days later.
  await esp.stop();
  esp.env = { ESP_TIME_OFFSET: String(21 * 86400) };
  await esp.start();
  const ra2 = await staff('fj_ra');
  home = await ra2.get('/ra');
  assert.ok(linkHref(home.text, `办理 ${number}`), 'overdue first on the home page');
  const q = await ra2.get('/ra/queue?overdue=1');
  assert.ok(q.text.includes(number));
  const csv = await ra2.get('/ra/queue.csv?overdue=1');
  assert.match(csv.headers.get('content-type'), /text\/csv/);
  assert.ok(csv.text.includes(number));
  assert.match(csv.text, /是/);
  await esp.stop();
  esp.env = {};
  await esp.start();
});

// The home page is kept as rendered (page_ra.c): it must follow every change
// of an application, its own or one written past espd, and it is no use if
// each new registration (one a second nationally) throws it away.
test(`[${ENGINE}] the RA home follows the applications and is kept while registrations arrive`, async () => {
  const ra = await staff('fj_ra');
  const submitted = (t) => Number(t.match(/href="\/ra\/queue\?state=submitted">(\d+)</)[1]);
  const today = (t) => Number([...t.matchAll(/收到申请 (\d+)<\/title>/g)].at(-1)[1]);
  const hits = async () => {
    const m = await (await fetch(`${esp.url}/metrics`)).text();
    return Number(m.match(/^esp_cache_hits_total\{cache="ra_search"\} (\d+)$/m)[1]);
  };
  let home = await ra.get('/ra');
  const n0 = submitted(home.text), d0 = today(home.text);

  const { c } = await approvedApplicant(esp, 'enterprise');
  const number = await submitApplication(c, 'enterprise', 1);
  home = await ra.get('/ra');
  assert.equal(submitted(home.text), n0 + 1, 'a new application is counted at once');
  assert.equal(today(home.text), d0 + 1, 'and in today\'s bar');

  // A registration arriving leaves the kept page (the minute is part of
  // its key: a try that spans a minute's turn is not judged).
  for (let tries = 0; ; tries++) {
    const minute = Math.floor(Date.now() / 60000);
    await ra.get('/ra');
    const u = new Client(esp.url);
    const authorityId = await authorityIdByName(u, 'enterprise', '福建省交通运输厅');
    assert.equal((await u.post('/register/enterprise', registrationFields('enterprise', { authorityId }))).status, 200);
    const h0 = await hits();
    home = await ra.get('/ra');
    const h1 = await hits();
    assert.equal(submitted(home.text), n0 + 1);
    if (minute === Math.floor(Date.now() / 60000)) {
      assert.equal(h1, h0 + 1, 'served from the kept page after a registration');
      break;
    }
    assert.ok(tries < 3);
  }

  // Written past espd (another process, an operator's SQL): seen too.
  rawSql(esp, `UPDATE applications SET state = 'withdrawn' WHERE number = '${number}'`);
  home = await ra.get('/ra');
  assert.equal(submitted(home.text), n0, 'the withdrawn application is no longer counted');
});

test(`[${ENGINE}] espctl audit verify finds a row changed in the database`, async () => {
  let v = espctlStatus(esp, 'audit', 'verify');
  assert.equal(v.code, 0, v.out);
  assert.match(v.out, /完整/);
  rawSql(esp, "UPDATE audit_log SET after_state = 'approved!' WHERE seq = 5");
  v = espctlStatus(esp, 'audit', 'verify');
  assert.notEqual(v.code, 0);
  assert.match(v.out, /seq=5/);
});

test(`[${ENGINE}] the admin creates an RA operator who then works its own province only`, async () => {
  const admin = await staff('admin');
  await admin.get('/admin/staff');
  const bad = await admin.post('/admin/staff', { role: 'ra', username: 'x', display_name: '某', province_code: '35' });
  assert.equal(bad.status, 422);
  const made = await admin.post('/admin/staff', { role: 'ra', username: 'fj_ra_2', display_name: '福建省注册机构二号窗口', province_code: '35' });
  assert.equal(made.status, 200);
  const pw = made.text.match(/id="new-password">([^<]+)</)[1];
  const op = new Client(esp.url);
  const home = await op.login('fj_ra_2', pw);
  assert.equal(home.status, 200);
  assert.match(home.text, /注册机构首页/);
  const { c } = await approvedApplicant(esp, 'enterprise', { authority: '北京市交通委员会', reviewer: 'bj_reviewer', overrides: { province_code: '11' } });
  const bjNumber = await submitApplication(c, 'enterprise', 1);
  assert.equal((await op.get(`/ra/applications/${bjNumber}`)).status, 403, 'not its province');
  assert.equal((await c.get('/admin/staff')).status, 403, 'applicants never reach staff accounts');
});
