// OCSP (RFC 6960) at /ocsp: two certificates of this run, one revoked, asked
// about with OpenSSL's and GnuTLS's own clients (POST) and with GET; the
// answers are signed by the delegated responder (id-kp-OCSPSigning, issued
// by our CA), carry the revocation's time and reason, stay right across a
// revocation made by another process (espctl) while cached, and malformed
// requests get 400 malformedRequest without harming espd.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { startEsp, espctl, ENGINE } from './lib/esp.mjs';

let esp, dir, caCrt, chain;
const certs = {};

before(async () => {
  esp = await startEsp();
  dir = mkdtempSync(join(tmpdir(), 'esp-ocsp-'));
  caCrt = join(esp.dir, 'ca', 'ca.crt');
  chain = join(esp.dir, 'ca', 'chain.pem');
  for (const user of ['fj_reviewer', 'bj_ra', 'fj_trainer']) certs[user] = staffCert(user);
});
after(async () => {
  if (!esp) return;
  await esp.stop();
  assert.doesNotMatch(esp.log, /Sanitizer|runtime error/);
  await esp.cleanup();
  rmSync(dir, { recursive: true, force: true });
});

function staffCert(username) {
  const key = join(dir, `${username}.key`), csr = join(dir, `${username}.csr`), crt = join(dir, `${username}.crt`);
  execFileSync('openssl', ['req', '-new', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-subj', '/CN=x', '-keyout', key, '-out', csr], { stdio: 'ignore' });
  // espctl reads public_url as espd does (here from the command line).
  espctl(esp, `--public_url=${esp.url}`, 'staff-cert', '--username', username, '--csr', csr, '--out', crt);
  const serial = execFileSync('openssl', ['x509', '-in', crt, '-noout', '-serial'], { encoding: 'utf8' }).trim().split('=')[1].toLowerCase();
  return { crt, serial };
}

// `openssl ocsp` against espd: its text output and exit status.
function opensslOcsp(crt, extra = []) {
  const r = spawnSync('openssl', ['ocsp', '-issuer', caCrt, '-cert', crt, '-url', `${esp.url}/ocsp`,
    '-CAfile', chain, '-resp_text', ...extra], { encoding: 'utf8' });
  return { code: r.status, out: r.stdout + r.stderr };
}

test(`[${ENGINE}] issued certificates name the responder in AIA`, () => {
  const text = execFileSync('openssl', ['x509', '-in', certs.fj_reviewer.crt, '-noout', '-ext', 'authorityInfoAccess'], { encoding: 'utf8' });
  assert.match(text, new RegExp(`OCSP - URI:${esp.url}/ocsp`));
});

test(`[${ENGINE}] openssl ocsp: good, then revoked with time and reason after a revocation by espctl`, () => {
  const good = opensslOcsp(certs.fj_reviewer.crt);
  assert.equal(good.code, 0, good.out);
  assert.match(good.out, /Response verify OK/);
  assert.match(good.out, new RegExp(`${certs.fj_reviewer.crt}: good`));
  // Signed by the delegated responder, not by the CA itself.
  assert.match(good.out, /Responder Id: .*ESP OCSP Responder/);
  assert.match(good.out, /OCSP Signing/);
  // Once more without a nonce: the cached answer, still right.
  const cached = opensslOcsp(certs.fj_reviewer.crt, ['-no_nonce']);
  assert.match(cached.out, /: good/, cached.out);
  const cached2 = opensslOcsp(certs.fj_reviewer.crt, ['-no_nonce']);
  assert.match(cached2.out, /: good/, cached2.out);

  espctl(esp, 'cert', 'revoke', certs.bj_ra.serial, 'keyCompromise');
  espctl(esp, 'cert', 'revoke', certs.fj_reviewer.serial, 'superseded');
  const revoked = opensslOcsp(certs.bj_ra.crt);
  assert.equal(revoked.code, 0, revoked.out);
  assert.match(revoked.out, /Response verify OK/);
  assert.match(revoked.out, new RegExp(`${certs.bj_ra.crt}: revoked`));
  assert.match(revoked.out, /Reason: keyCompromise/);
  assert.match(revoked.out, /Revocation Time: \w+ +\d+ [\d:]+ \d{4} GMT/);
  // The one cached as good is revoked now (another process revoked it).
  const was = opensslOcsp(certs.fj_reviewer.crt, ['-no_nonce']);
  assert.match(was.out, new RegExp(`${certs.fj_reviewer.crt}: revoked`), was.out);
  assert.match(was.out, /Reason: superseded/);
  // Still good: the third certificate.
  assert.match(opensslOcsp(certs.fj_trainer.crt, ['-no_nonce']).out, /: good/);
});

test(`[${ENGINE}] GnuTLS's ocsptool accepts the answers`, () => {
  const req = join(dir, 'gnutls.req'), resp = join(dir, 'gnutls.resp');
  execFileSync('ocsptool', ['--generate-request', '--load-issuer', caCrt, '--load-cert', certs.fj_trainer.crt, '--outfile', req, '--outder'], { stdio: 'ignore' });
  const r = spawnSync('curl', ['-s', '-o', resp, '-w', '%{http_code}', '-H', 'Content-Type: application/ocsp-request', '--data-binary', `@${req}`, `${esp.url}/ocsp`], { encoding: 'utf8' });
  assert.equal(r.stdout, '200');
  // The signer is checked against our CA: the responder's certificate is
  // in the answer and chains to it.
  const v = spawnSync('ocsptool', ['--verify-response', '--load-response', resp, '--inder', '--load-trust', chain], { encoding: 'utf8' });
  assert.equal(v.status, 0, v.stdout + v.stderr);
  assert.match(v.stdout + v.stderr, /Certificate Status: good/);
  assert.match(v.stdout + v.stderr, /Verifying OCSP Response: Success/);
  // ocsptool's own client, with its nonce.
  const ask = spawnSync('ocsptool', [`--ask=${esp.url}/ocsp`, '--load-issuer', caCrt, '--load-cert', certs.bj_ra.crt, '--load-trust', chain], { encoding: 'utf8' });
  assert.equal(ask.status, 0, ask.stdout + ask.stderr);
  assert.match(ask.stdout + ask.stderr, /Certificate Status: revoked/, ask.stdout + ask.stderr);
  assert.match(ask.stdout + ask.stderr, /Verifying OCSP Response: Success/);
});

test(`[${ENGINE}] GET with the request in base64, and an unknown serial`, async () => {
  const req = join(dir, 'get.req');
  execFileSync('openssl', ['ocsp', '-issuer', caCrt, '-cert', certs.fj_trainer.crt, '-no_nonce', '-reqout', req], { stdio: 'ignore' });
  const b64 = readFileSync(req).toString('base64');
  const res = await fetch(`${esp.url}/ocsp/${encodeURIComponent(b64)}`);
  assert.equal(res.status, 200);
  assert.equal(res.headers.get('content-type'), 'application/ocsp-response');
  const resp = join(dir, 'get.resp');
  writeFileSync(resp, Buffer.from(await res.arrayBuffer()));
  const out = execFileSync('openssl', ['ocsp', '-respin', resp, '-issuer', caCrt, '-cert', certs.fj_trainer.crt, '-CAfile', chain], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  assert.match(out, /: good/);
  // A serial ESP never issued: unknown, signed all the same.
  const unk = join(dir, 'unknown.req');
  execFileSync('openssl', ['ocsp', '-issuer', caCrt, '-serial', '0x0badc0de', '-no_nonce', '-reqout', unk], { stdio: 'ignore' });
  const r2 = await fetch(`${esp.url}/ocsp`, { method: 'POST', headers: { 'content-type': 'application/ocsp-request' }, body: readFileSync(unk) });
  assert.equal(r2.status, 200);
  const resp2 = join(dir, 'unknown.resp');
  writeFileSync(resp2, Buffer.from(await r2.arrayBuffer()));
  const text = execFileSync('openssl', ['ocsp', '-respin', resp2, '-resp_text', '-CAfile', chain], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  assert.match(text, /Cert Status: unknown/);
});

test(`[${ENGINE}] malformed requests get 400 malformedRequest, and espd carries on`, async () => {
  const bodies = [Buffer.alloc(0), Buffer.from('not der'), Buffer.from([0x30, 0x82, 0xff, 0xff, 0x30]),
    Buffer.from([0x30, 0x03, 0x30, 0x01, 0x00]), Buffer.alloc(5000, 0x30)];
  for (const body of bodies) {
    const res = await fetch(`${esp.url}/ocsp`, { method: 'POST', headers: { 'content-type': 'application/ocsp-request' }, body });
    assert.equal(res.status, 400);
    const der = Buffer.from(await res.arrayBuffer());
    // OCSPResponse { responseStatus malformedRequest (1) }, nothing else.
    assert.deepEqual([...der], [0x30, 0x03, 0x0a, 0x01, 0x01]);
  }
  for (const path of ['/ocsp/%%%', '/ocsp/AAAA', '/ocsp/' + 'A'.repeat(1500)]) {
    const res = await fetch(`${esp.url}${path}`);
    assert.equal(res.status, 400, path);
  }
  // A request of the wrong type is malformed too.
  const form = await fetch(`${esp.url}/ocsp`, { method: 'POST', headers: { 'content-type': 'text/plain' }, body: 'x' });
  assert.equal(form.status, 400);
  assert.equal((await fetch(`${esp.url}/healthz`)).status, 200);
});
