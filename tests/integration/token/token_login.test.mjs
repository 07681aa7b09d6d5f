// esp-token login against the real espd: the signed-challenge login
// (docs/api.md "Signed-challenge login") with a SoftHSM2 token enrolled
// through `esp-token enroll` (set-up shared with token_espd.test.mjs in
// lib.mjs).
//
//  - `esp-token login` prints a session that opens 当前用户信息 (/mgmt/user)
//    with the unit's name and the token's serial (EC and RSA keys; HTTP, and
//    HTTPS with --ca-file);
//  - the protocol done by hand (challenge from the API, signed on the token
//    with pkcs11-tool): the first POST is accepted, the replay is refused
//    (401 bad_challenge);
//  - a signature by another key with the token's certificate: 401
//    bad_signature; after the RA revokes the certificate (keyCompromise),
//    `esp-token login` exits 6 with the server's Chinese message.
//
//   node --test tests/integration/token/token_login.test.mjs
//   ESP_ENGINE=postgresql ESP_PG_CLUSTER=... node --test tests/integration/token/token_login.test.mjs
//
// Needs softhsm2, opensc (pkcs11-tool) and openssl.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, generateKeyPairSync, sign as cryptoSign, verify as cryptoVerify, X509Certificate } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ENGINE } from '../lib/esp.mjs';
import { tokenTestbed, ESP_TOKEN, MODULE, PIN } from './lib.mjs';

const T = tokenTestbed();

function login(t, ...extra) {
  return loginTo(T.esp.url, t, ...extra);
}
function loginTo(server, t, ...extra) {
  return T.run(ESP_TOKEN, ['login', '--server', server, '--pin-file', t.pinFile,
    '--module', MODULE, '--token', t.label, ...extra], t.env);
}

async function userPage(session) {
  const r = await fetch(`${T.esp.url}/mgmt/user`, { headers: { Cookie: `esp_session=${session}` }, redirect: 'manual' });
  return { status: r.status, text: await r.text() };
}

async function challenge() {
  const r = await fetch(`${T.esp.url}/api/v1/login/challenge`);
  assert.equal(r.status, 200);
  const j = await r.json();
  assert.equal(typeof j.id, 'string');
  const raw = Buffer.from(j.challenge, 'base64');
  assert.equal(raw.length, 32, 'a challenge of 32 bytes');
  assert.equal(j.expires_in, 300);
  return { ...j, raw };
}

async function postLogin(body) {
  const r = await fetch(`${T.esp.url}/api/v1/login/certificate`, {
    method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(body),
  });
  return { status: r.status, json: await r.json() };
}

// Sign data with the token's private key: ECDSA-SHA256, DER (as OpenSSL).
// SoftHSM2 2.6 offers only CKM_ECDSA (no CKM_ECDSA_SHA256), so then the
// SHA-256 of the data is signed with plain ECDSA, which is the same thing.
function tokenSign(t, keyId, data) {
  const inFile = join(t.dir, 'challenge.bin');
  const outFile = join(t.dir, 'challenge.sig');
  const mechs = t.p11('--list-mechanisms');
  assert.equal(mechs.code, 0, mechs.all);
  const hashOnToken = /^\s*ECDSA-SHA256\b/m.test(mechs.out);
  writeFileSync(inFile, hashOnToken ? data : createHash('sha256').update(data).digest());
  const r = t.p11('--login', '--pin', PIN, '--sign', '--mechanism', hashOnToken ? 'ECDSA-SHA256' : 'ECDSA',
    '--signature-format', 'openssl', '--id', keyId, '--input-file', inFile, '--output-file', outFile);
  assert.equal(r.code, 0, r.all);
  return readFileSync(outFile);
}

test(`[${ENGINE}] esp-token login prints a session that opens 当前用户信息`, async () => {
  const { t, fields } = await T.enrolledToken('LoginTok');
  const r = login(t);
  assert.equal(r.code, 0, r.all);
  const session = r.out.trim();
  assert.match(session, /^[A-Za-z0-9_-]{20,}$/, `only the session on stdout: ${JSON.stringify(r.out)}`);
  assert.equal(r.out, `${session}\n`);

  const page = await userPage(session);
  assert.equal(page.status, 200);
  assert.ok(page.text.includes(fields.name), `unit name ${fields.name} on /mgmt/user`);
  assert.ok(page.text.includes(t.serial), `token serial ${t.serial} on /mgmt/user`);
  assert.match(page.text, /本次登录/, 'the certificate of this login is marked');

  // Without the session, or with a made-up one, no page.
  assert.notEqual((await userPage('x'.repeat(43))).status, 200);

  // Each login is a new session.
  const again = login(t);
  assert.equal(again.code, 0, again.all);
  assert.notEqual(again.out.trim(), session);
  assert.equal((await userPage(again.out.trim())).status, 200);

  // Over HTTPS: ESP's chain with --ca-file; without it the server is not trusted (exit 5).
  const untrusted = loginTo(T.esp.httpsUrl, t);
  assert.equal(untrusted.code, 5, untrusted.all);
  assert.equal(untrusted.out, '');
  const https = loginTo(T.esp.httpsUrl, t, '--ca-file', T.chainFiles.chain);
  assert.equal(https.code, 0, https.all);
  assert.equal((await userPage(https.out.trim())).status, 200);
});

test(`[${ENGINE}] esp-token login with an RSA key (PKCS#1 v1.5, SHA-256)`, async () => {
  const { t, fields } = await T.enrolledToken('RsaTok', '--rsa');
  assert.match(T.run('openssl', ['x509', '-in', t.certFile, '-noout', '-text'], {}).out, /rsaEncryption/);
  const r = login(t);
  assert.equal(r.code, 0, r.all);
  const page = await userPage(r.out.trim());
  assert.equal(page.status, 200);
  assert.ok(page.text.includes(fields.name) && page.text.includes(t.serial));
});

test(`[${ENGINE}] the protocol by hand: the token's signature is accepted once, a replay is refused`, async () => {
  const { t, fields, label } = await T.enrolledToken('ByHand');
  const key = T.objects(t).find((o) => o.type === 'Private Key' && o.label === label);
  assert.ok(key, 'the enrolled key is on the token');
  const pem = readFileSync(t.certFile, 'utf8');

  const ch = await challenge();
  const sig = tokenSign(t, key.id, ch.raw);
  // What the token made is an ECDSA-SHA256 signature of the raw challenge.
  assert.ok(cryptoVerify('sha256', ch.raw, new X509Certificate(pem).publicKey, sig));
  const body = { id: ch.id, challenge: ch.challenge, signature: sig.toString('base64'), certificate: pem };

  const first = await postLogin(body);
  assert.equal(first.status, 200, JSON.stringify(first.json));
  assert.equal(first.json.cookie, 'esp_session');
  assert.ok(first.json.session && first.json.csrf);
  assert.ok(first.json.expires_in > 0);
  const page = await userPage(first.json.session);
  assert.equal(page.status, 200);
  assert.ok(page.text.includes(fields.name) && page.text.includes(t.serial));

  const replay = await postLogin(body);
  assert.equal(replay.status, 401, JSON.stringify(replay.json));
  assert.equal(replay.json.error, 'bad_challenge');
  assert.match(replay.json.message, /挑战码无效、已使用或已过期/);

  // A challenge that was never issued, or another challenge's bytes under this id.
  const forged = await postLogin({ ...body, id: 'no-such-challenge' });
  assert.equal(forged.status, 401);
  assert.equal(forged.json.error, 'bad_challenge');
  const other = await challenge();
  const swapped = await postLogin({ ...body, id: other.id });
  assert.equal(swapped.status, 401);
  assert.equal(swapped.json.error, 'bad_challenge');
});

test(`[${ENGINE}] another key's signature: bad_signature; a revoked certificate: esp-token exits 6`, async () => {
  const { t } = await T.enrolledToken('Revoked');
  const pem = readFileSync(t.certFile, 'utf8');

  // A signature by an OpenSSL key over a fresh challenge, with the token's certificate.
  const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const ch = await challenge();
  const bad = await postLogin({
    id: ch.id, challenge: ch.challenge, certificate: pem,
    signature: cryptoSign('sha256', ch.raw, privateKey).toString('base64'),
  });
  assert.equal(bad.status, 401, JSON.stringify(bad.json));
  assert.equal(bad.json.error, 'bad_signature');
  assert.match(bad.json.message, /签名验证失败/);
  // That challenge is used up even though the login failed.
  const sig = tokenSign(t, T.objects(t).find((o) => o.type === 'Private Key').id, ch.raw);
  const late = await postLogin({ id: ch.id, challenge: ch.challenge, certificate: pem, signature: sig.toString('base64') });
  assert.equal(late.json.error, 'bad_challenge');

  // Still good before the revocation.
  assert.equal(login(t).code, 0);

  // The RA revokes the certificate through the API (its API token).
  // ESP names serials by their whole bytes ("0a…" keeps its zero): a serial
  // whose first byte is below 0x10 used to be looked up without it.
  let serial = new X509Certificate(pem).serialNumber.toLowerCase();
  if (serial.length % 2) serial = `0${serial}`;
  const rv = await fetch(`${T.esp.url}/api/v1/certificates/${serial}/revoke`, {
    method: 'POST',
    headers: { Authorization: `Bearer ${T.apiToken}`, 'Content-Type': 'application/json' },
    body: JSON.stringify({ reason: 'keyCompromise' }),
  });
  const rvj = await rv.json();
  assert.equal(rv.status, 200, JSON.stringify(rvj));
  assert.equal(rvj.status, 'revoked');
  assert.equal(rvj.reason, 'keyCompromise');

  const r = login(t);
  assert.equal(r.code, 6, r.all);
  assert.equal(r.out, '', 'no session on stdout');
  assert.match(r.err, /esp-token: 错误：服务器拒绝 \(HTTP 403\)：.*\[revoked\]/);
  const msg = r.err.match(/HTTP 403\)：(.*) \[revoked\]/)[1];
  assert.match(msg, /[\u4e00-\u9fff]/, 'a Chinese message');
  assert.match(msg, /吊销/);
});
