// Two espd on one PostgreSQL store: espd B keeps its OCSP answers (and the
// generations behind every cached page) until the store notifies it of a
// change (LISTEN esp_generations, src/db/db_pg_listen.c), instead of asking
// the store on every request. A revocation through espd A is answered
// "revoked" by B within a bounded wait after B's notification arrives; a
// revocation through A is answered by A itself at once (its own write); and
// while B's listening connection is down B asks the store on every request,
// so it is still right. SQLite has one process per store: nothing to test.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { startEsp, espctl, rawSql, staffClient, ENGINE } from './lib/esp.mjs';
import { startPeer } from '../cluster/lib.mjs';

const pg = ENGINE === 'postgresql';
let a, b, dir, caCrt, token;

before(async () => {
  if (!pg) return;
  a = await startEsp();
  b = await startPeer(a);
  dir = mkdtempSync(join(tmpdir(), 'esp-ocsp-notify-'));
  caCrt = join(a.dir, 'ca', 'ca.crt');
  const admin = await staffClient(a, 'admin');
  await admin.get('/ra/tokens');
  const t = await admin.post('/ra/tokens', { name: 'ocsp-notify' });
  token = t.text.match(/id="new-token">([^<]+)</)[1];
});
after(async () => {
  if (!pg) return;
  await b.stop();
  await a.stop();
  assert.doesNotMatch(a.log + b.log, /Sanitizer|runtime error/);
  await a.cleanup();
  rmSync(dir, { recursive: true, force: true });
});

let n = 0;
function staffCert(username) {
  n += 1;
  const key = join(dir, `s${n}.key`), csr = join(dir, `s${n}.csr`), crt = join(dir, `s${n}.crt`);
  execFileSync('openssl', ['req', '-new', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-subj', '/CN=x', '-keyout', key, '-out', csr], { stdio: 'ignore' });
  espctl(a, `--public_url=${a.url}`, 'staff-cert', '--username', username, '--csr', csr, '--out', crt);
  const serial = execFileSync('openssl', ['x509', '-in', crt, '-noout', '-serial'], { encoding: 'utf8' }).trim().split('=')[1].toLowerCase();
  // A nonce-less request, as browsers send: its answer is cached.
  const req = join(dir, `s${n}.req`);
  execFileSync('openssl', ['ocsp', '-issuer', caCrt, '-cert', crt, '-no_nonce', '-reqout', req], { stdio: 'ignore' });
  return { crt, serial, req: readFileSync(req) };
}

// espd `esp`'s answer for the certificate (DER).
async function ocspDer(esp, cert) {
  const res = await fetch(`${esp.url}/ocsp`, { method: 'POST', headers: { 'content-type': 'application/ocsp-request' }, body: cert.req });
  assert.equal(res.status, 200);
  return Buffer.from(await res.arrayBuffer());
}

// The certificate's status in an answer ("good" / "revoked"), as OpenSSL reads it.
function statusIn(der) {
  const file = join(dir, `resp-${Date.now()}-${Math.random()}.der`);
  writeFileSync(file, der);
  const text = execFileSync('openssl', ['ocsp', '-respin', file, '-resp_text', '-noverify'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  return (text.match(/Cert Status: (\w+)/) || [])[1];
}

const ocspStatus = async (esp, cert) => statusIn(await ocspDer(esp, cert));

async function metric(esp, name) {
  const text = await (await fetch(`${esp.url}/metrics`)).text();
  const m = text.match(new RegExp(`^${name} (\\d+)$`, 'm'));
  return m ? Number(m[1]) : undefined;
}

async function waitFor(what, fn, ms) {
  const end = Date.now() + ms;
  for (;;) {
    if (await fn()) return Date.now();
    if (Date.now() > end) assert.fail(`${what}: not within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

const revoke = (esp, serial, reason) => fetch(`${esp.url}/api/v1/certificates/${serial}/revoke`, {
  method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
  body: JSON.stringify({ reason }),
});

test(`[${ENGINE}] a revocation through espd A: espd B answers revoked once its notification arrives, espd A at once`, { skip: !pg && 'PostgreSQL only' }, async () => {
  await waitFor('espd B listening', async () => await metric(b, 'esp_store_listening') === 1, 5000);
  const c1 = staffCert('fj_reviewer'), c2 = staffCert('bj_ra');
  // Cached as good in both processes.
  for (const esp of [a, b]) for (const c of [c1, c2]) {
    assert.equal(await ocspStatus(esp, c), 'good');
    assert.equal(await ocspStatus(esp, c), 'good');
  }
  const heard = await metric(b, 'esp_store_notifications_total');
  const cachedB = await ocspDer(b, c1);
  const r = await revoke(a, c1.serial, 'keyCompromise');
  assert.equal(r.status, 200, await r.text());
  const t0 = Date.now();
  // espd A's own write: no wait for anything.
  assert.equal(await ocspStatus(a, c1), 'revoked');
  // espd B: within a bounded wait (its notification: milliseconds on
  // loopback; 2 s allowed for a loaded machine), still listening, having
  // heard at least one notification more. The loop only compares bytes:
  // B's cached answer stays byte for byte the same until it changes.
  let now;
  const t1 = await waitFor('espd B answers anew', async () => !(now = await ocspDer(b, c1)).equals(cachedB), 2000);
  assert.equal(statusIn(now), 'revoked');
  assert.ok(t1 - t0 <= 2000);
  assert.equal(await metric(b, 'esp_store_listening'), 1, b.log);
  assert.ok(await metric(b, 'esp_store_notifications_total') > heard, b.log);
  // The other certificate's answer is still good in both.
  assert.equal(await ocspStatus(b, c2), 'good');
  assert.equal(await ocspStatus(a, c2), 'good');
});

test(`[${ENGINE}] espd B's listening connection ended: B reads the store on every request, stays right, and listens again`, { skip: !pg && 'PostgreSQL only' }, async () => {
  const c3 = staffCert('fj_trainer');
  assert.equal(await ocspStatus(b, c3), 'good');
  assert.equal(await ocspStatus(b, c3), 'good');
  await waitFor('espd B listening', async () => await metric(b, 'esp_store_listening') === 1, 5000);
  // Ends every listening connection of the store: both processes' (A's too).
  rawSql(a, "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'espd-listen' AND datname = current_database()");
  await waitFor('espd B not listening', async () => await metric(b, 'esp_store_listening') === 0, 2000);
  // Asked again while not listening: nothing may be kept from these.
  assert.equal(await ocspStatus(b, c3), 'good');
  assert.equal(await ocspStatus(b, c3), 'good');
  const heard = await metric(b, 'esp_store_notifications_total');
  // A revocation no listener hears: espctl, another process.
  espctl(a, 'cert', 'revoke', c3.serial, 'superseded');
  assert.equal(await ocspStatus(b, c3), 'revoked');
  // Answered while B was not listening (it retries after a second).
  assert.equal(await metric(b, 'esp_store_listening'), 0, b.log);
  assert.equal(await metric(b, 'esp_store_notifications_total'), heard, b.log);
  await waitFor('espd B listening again', async () => await metric(b, 'esp_store_listening') === 1, 8000);
  assert.equal(await ocspStatus(b, c3), 'revoked');
  assert.match(b.log, /listening connection was lost/);
  assert.match(b.log, /listening again/);
});
