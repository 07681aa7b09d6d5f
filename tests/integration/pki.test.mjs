// The CA's keys and revocation of any certificate: the root key is not in the
// data directory; the admin revokes staff certificates on its page, through
// the API and with espctl; the CRL lists them and they no longer log in.
// The API's refusals of non-JSON bodies (415) and of bad reasons (400).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { startEsp, Client, espctl, espctlStatus, inputFor, linkHref, optionValue, rawSql, approvedApplicant, submitApplication, ENGINE, staffClient } from './lib/esp.mjs';

let esp, dir, chain;
before(async () => {
  esp = await startEsp({ login: true });
  dir = mkdtempSync(join(tmpdir(), 'esp-pki-'));
  chain = join(esp.dir, 'ca', 'chain.pem');
});
after(async () => {
  if (!esp) return;
  await esp.stop();
  // A sanitizer build reports leaks and errors when espd ends.
  assert.doesNotMatch(esp.log, /Sanitizer|runtime error/);
  await esp.cleanup();
});

// A staff certificate for `username`, made as an operator would.
let n = 0;
function staffCert(username) {
  n += 1;
  const key = join(dir, `s${n}.key`), csr = join(dir, `s${n}.csr`), crt = join(dir, `s${n}.crt`);
  execFileSync('openssl', ['req', '-new', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-subj', '/CN=x', '-keyout', key, '-out', csr], { stdio: 'ignore' });
  espctl(esp, 'staff-cert', '--username', username, '--csr', csr, '--out', crt);
  const serial = execFileSync('openssl', ['x509', '-in', crt, '-noout', '-serial'], { encoding: 'utf8' }).trim().split('=')[1].toLowerCase();
  return { key, crt, serial };
}

function certLogin(c) {
  const r = spawnSync('curl', ['-s', '-i', '--cacert', chain, '--cert', c.crt, '--key', c.key, `${esp.loginUrl}/`], { encoding: 'utf8' });
  const cookie = (r.stdout.match(/esp_session=([^;\s]+)/) || [])[1] || null;
  return { status: Number((r.stdout.match(/^HTTP\/[\d.]+ (\d+)/) || [])[1] || 0), body: r.stdout, cookie };
}

function sessionGet(cookie, path) {
  const r = spawnSync('curl', ['-s', '-i', '--cacert', chain, '-b', `esp_session=${cookie}`, `${esp.loginUrl}${path}`], { encoding: 'utf8' });
  return Number((r.stdout.match(/^HTTP\/[\d.]+ (\d+)/) || [])[1] || 0);
}

async function crlText() {
  const res = await fetch(`${esp.url}/ca/crl`);
  const file = join(dir, `crl-${Date.now()}.der`);
  writeFileSync(file, Buffer.from(await res.arrayBuffer()));
  // The CRL is signed by the issuing CA: verify it with the chain.
  return execFileSync('openssl', ['crl', '-inform', 'DER', '-in', file, '-noout', '-text', '-CAfile', chain], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

function inCrl(text, serial) {
  return text.toUpperCase().includes(`SERIAL NUMBER: ${serial.toUpperCase()}`);
}

const staff = (username) => staffClient(esp, username);

async function apiToken(client) {
  await client.get('/ra/tokens');
  const t = await client.post('/ra/tokens', { name: 'revoker' });
  return t.text.match(/id="new-token">([^<]+)</)[1];
}

function revokeApi(token, serial, body, contentType = 'application/json') {
  return fetch(`${esp.url}/api/v1/certificates/${serial}/revoke`, {
    method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': contentType },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
}

test(`[${ENGINE}] the root CA key is not in the data directory; espctl ca root + init --root keep it apart`, () => {
  assert.equal(existsSync(join(esp.dir, 'ca', 'root.key')), false, 'espctl init leaves no root key');
  assert.equal(existsSync(join(esp.dir, 'ca', 'root.crt')), true);
  assert.equal(existsSync(join(esp.dir, 'ca', 'ca.key')), true);

  const offline = join(dir, 'offline-root');
  const made = espctlStatus({ dir: join(dir, 'unused'), database: join(dir, 'unused.db') }, 'ca', 'root', '--out', offline);
  assert.equal(made.code, 0, made.out);
  assert.ok(existsSync(join(offline, 'root.key')));
  const data = mkdtempSync(join(tmpdir(), 'esp-pki-data-'));
  const target = { dir: data, database: join(data, 'esp.db') };
  const same = espctlStatus(target, 'init', '--root', join(data, 'ca'));
  assert.notEqual(same.code, 0);
  const init = espctlStatus(target, 'init', '--root', offline);
  assert.equal(init.code, 0, init.out);
  assert.equal(existsSync(join(data, 'ca', 'root.key')), false);
  assert.equal(readFileSync(join(data, 'ca', 'root.crt'), 'utf8'), readFileSync(join(offline, 'root.crt'), 'utf8'));
  // The issuing CA and the server certificate chain to the offline root.
  execFileSync('openssl', ['verify', '-x509_strict', '-CAfile', join(offline, 'root.crt'), join(data, 'ca', 'ca.crt')], { stdio: 'ignore' });
  execFileSync('openssl', ['verify', '-CAfile', join(offline, 'root.crt'), '-untrusted', join(data, 'ca', 'ca.crt'), join(data, 'ca', 'server.crt')], { stdio: 'ignore' });
  assert.equal(espctlStatus(target, 'init').code, 3, 'a second init changes nothing');
});

test(`[${ENGINE}] the admin revokes a staff certificate on 证书管理: CRL lists it, it no longer logs in`, async () => {
  const sc = staffCert('fj_reviewer');
  const session = certLogin(sc);
  assert.equal(session.status, 303, 'the staff certificate logs in before');
  assert.equal(sessionGet(session.cookie, '/mgmt'), 200);
  const admin = await staff('admin');
  const home = await admin.get('/admin');
  const list = await admin.get(linkHref(home.text, '证书管理（查看与吊销全部证书，含工作人员证书）'));
  assert.equal(list.status, 200);
  assert.match(list.text, /工作人员证书/);
  const href = linkHref(list.text, `吊销证书 ${sc.serial}`);
  assert.ok(href, 'a revoke link for the staff certificate');
  const page = await admin.get(href);
  const reasonId = inputFor(page.text, '吊销原因');
  const confirmId = inputFor(page.text, '确认吊销该证书');
  assert.equal(reasonId, 'r-reason');
  assert.equal(confirmId, 'r-confirm');
  assert.equal(optionValue(page.text.replace('id="r-reason"', 'id="f-reason"'), 'reason', '密钥泄露（挂失）'), 'keyCompromise');
  const unconfirmed = await admin.post(href, { reason: 'keyCompromise' });
  assert.equal(unconfirmed.status, 422);
  assert.match(unconfirmed.text, /确认吊销/);
  assert.equal(certLogin(sc).status, 303, 'nothing happened without the confirmation');
  const done = await admin.post(href, { reason: 'keyCompromise', confirm: 'yes' });
  assert.equal(done.status, 200);
  assert.match(done.text, new RegExp(`证书 <span class="mono">${sc.serial}</span> 已吊销`));
  const refused = certLogin(sc);
  assert.equal(refused.status, 403);
  assert.match(refused.body, /证书已吊销/);
  assert.notEqual(sessionGet(session.cookie, '/mgmt'), 200, 'the session opened with it has ended');
  const crl = await crlText();
  assert.ok(inCrl(crl, sc.serial), 'the CRL lists the staff certificate');
  assert.match(crl, /Key Compromise/);
  const audit = rawSql(esp, `SELECT actor FROM audit_log WHERE action = 'certificate.revoke' AND object = 'certificate:${sc.serial}'`);
  assert.match(audit, /admin/);
  // A reviewer never reaches the page.
  const rev = await staff('fj_reviewer');
  assert.equal((await rev.get('/admin/certs')).status, 403);
  assert.equal((await rev.get(href)).status, 403);
});

test(`[${ENGINE}] espctl cert revoke SERIAL REASON revokes a staff certificate; cert list shows it`, async () => {
  const sc = staffCert('bj_ra');
  assert.equal(certLogin(sc).status, 303);
  assert.equal(espctlStatus(esp, 'cert', 'revoke', sc.serial, 'lostIt').code, 1, 'unknown reason');
  assert.equal(espctlStatus(esp, 'cert', 'revoke', '0badc0de', 'superseded').code, 2, 'unknown serial');
  const ok = espctlStatus(esp, 'cert', 'revoke', sc.serial, 'superseded');
  assert.equal(ok.code, 0, ok.out);
  assert.equal(espctlStatus(esp, 'cert', 'revoke', sc.serial, 'superseded').code, 2, 'already revoked');
  assert.equal(certLogin(sc).status, 403);
  const crl = await crlText();
  assert.ok(inCrl(crl, sc.serial));
  assert.match(crl, /Superseded/);
  const list = espctl(esp, 'cert', 'list');
  assert.match(list, new RegExp(`^${sc.serial}\\tstaff\\t.*\\tbj_ra\\t已吊销`, 'm'));
});

test(`[${ENGINE}] the API revokes staff certificates with the admin's token (RA: 403), and checks reason and body`, async () => {
  const sc = staffCert('fj_trainer');
  const admin = await staff('admin');
  const adminToken = await apiToken(admin);
  const raToken = await apiToken(await staff('fj_ra'));

  // Not JSON: 415 JSON, whatever the form looks like.
  for (const [ct, body] of [['application/x-www-form-urlencoded', 'reason=keyCompromise'],
    ['application/x-www-form-urlencoded', '%zz&&==%'], ['text/plain', '{"reason":"keyCompromise"}']]) {
    const r = await revokeApi(adminToken, sc.serial, body, ct);
    assert.equal(r.status, 415, `${ct} ${body}`);
    assert.match(r.headers.get('content-type'), /^application\/json/);
    const j = await r.json();
    assert.equal(j.error, 'unsupported_media_type');
    assert.match(j.message, /application\/json/);
  }
  // A reason that is not an RFC 5280 name is refused, naming the field.
  for (const reason of [5, 'lostIt', null, ['keyCompromise']]) {
    const r = await revokeApi(adminToken, sc.serial, { reason });
    assert.equal(r.status, 400, JSON.stringify(reason));
    const j = await r.json();
    assert.equal(j.error, 'bad_reason');
    assert.match(j.message, /reason/);
  }
  assert.equal(certLogin(sc).status, 303, 'refused requests revoked nothing');

  const ra = await revokeApi(raToken, sc.serial, { reason: 'keyCompromise' });
  assert.equal(ra.status, 403, 'an RA does not revoke staff certificates');
  const missing = await revokeApi(adminToken, '0badc0de', { reason: 'keyCompromise' });
  assert.equal(missing.status, 404);
  const ok = await revokeApi(adminToken, sc.serial, { reason: 'cessationOfOperation' });
  assert.equal(ok.status, 200, await ok.clone().text());
  assert.deepEqual(await ok.json(), { serial: sc.serial, status: 'revoked', reason: 'cessationOfOperation' });
  const again = await revokeApi(adminToken, sc.serial, {});
  assert.equal(again.status, 409);
  assert.equal(certLogin(sc).status, 403);
  assert.ok(inCrl(await crlText(), sc.serial));
});

// An application of one set, paid and with its materials: ready to issue.
async function readyApplication() {
  const { c } = await approvedApplicant(esp, 'enterprise');
  const number = await submitApplication(c, 'enterprise', 1);
  const ra = await staff('fj_ra');
  const today = new Date(Date.now() + 8 * 3600e3).toISOString().slice(0, 10);
  const page = await ra.get(`/ra/applications/${number}`);
  const due = page.text.match(/id="amount-due">(\d+) 元/)[1];
  await ra.post(`/ra/applications/${number}/payment`, { amount: due, paid_on: today, payer: 'x', bank_ref: 'R1' });
  await ra.get(`/ra/applications/${number}`);
  await ra.post(`/ra/applications/${number}/materials`, { item: ['0', '1'] });
  return { number, token: await apiToken(ra) };
}

test(`[${ENGINE}] CSRs with explicit curve parameters, other curves or short RSA keys are refused before the paid key is used`, async () => {
  const app = await readyApplication();
  const issue = (pem, tk) => fetch(`${esp.url}/api/v1/applications/${app.number}/certificates`, {
    method: 'POST', headers: { authorization: `Bearer ${app.token}`, 'content-type': 'application/json' },
    body: JSON.stringify({ csr: pem, token_serial: tk }),
  });
  const csrFrom = (name, genArgs) => {
    const key = join(dir, `${name}.key`), csr = join(dir, `${name}.csr`);
    execFileSync('openssl', [...genArgs, '-out', key], { stdio: 'ignore' });
    execFileSync('openssl', ['req', '-new', '-key', key, '-subj', '/CN=x', '-out', csr], { stdio: 'ignore' });
    return readFileSync(csr, 'utf8');
  };
  const refused = {
    explicit: ['ecparam', '-name', 'prime256v1', '-param_enc', 'explicit', '-genkey', '-noout'],
    secp384r1: ['ecparam', '-name', 'secp384r1', '-genkey', '-noout'],
    rsa1024: ['genpkey', '-algorithm', 'RSA', '-pkeyopt', 'rsa_keygen_bits:1024'],
  };
  for (const [name, args] of Object.entries(refused)) {
    const r = await issue(csrFrom(name, args), `TK-${app.number}-${name}`);
    assert.equal(r.status, 400, name);
    const j = await r.json();
    assert.equal(j.error, 'weak_key', name);
    assert.match(j.message, /显式曲线参数/);
  }
  // The one paid key is still there: an RSA 2048 request gets it.
  const ok = await issue(csrFrom('rsa2048', ['genpkey', '-algorithm', 'RSA', '-pkeyopt', 'rsa_keygen_bits:2048']), `TK-${app.number}-ok`);
  assert.equal(ok.status, 201, await ok.clone().text());
});
