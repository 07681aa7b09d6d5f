// The cluster (scripts/cluster.sh): PostgreSQL with a synchronous standby,
// two espd on one store, HAProxy in front. What two processes on one store
// must get right (registrations under concurrency, the CRL, settings,
// request ids, the maintenance lease, start-up), then a failover in the
// middle of a stream of writes. Needs PostgreSQL 15 and haproxy.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import net from 'node:net';
import tls from 'node:tls';
import {
  ROOT, BUILD, ESPD, ESPCTL, Client, registrationFields, authorityIdByName, makeCsr, linkHref,
} from '../integration/lib/esp.mjs';
import { readyToIssue } from './lib.mjs';

const PGBIN = '/usr/lib/postgresql/15/bin';
const dir = mkdtempSync(join(tmpdir(), 'esp-cluster-'));
const cluster = (cmd, ...args) => execFileSync('bash', [join(ROOT, 'scripts/cluster.sh'), cmd, dir, ...args],
  { encoding: 'utf8', env: { ...process.env, ESP_BUILD: BUILD, ESP_PASSWORD_HASH: 'interactive' } });
let env, esp;

// psql on one server of the pair (pg1 or pg2), as the test user.
function psql(server, sql, db = 'esp_test') {
  const port = readFileSync(join(dir, server, 'port'), 'utf8').trim();
  return execFileSync(`${PGBIN}/psql`, ['-X', '-At', '-h', '127.0.0.1', '-p', port, '-U', 'esptest', '-d', db, '-c', sql],
    { encoding: 'utf8' }).trim();
}
const ctl = (database, dataDir, ...args) => spawnSync(ESPCTL, [`--data_dir=${dataDir}`, `--database=${database}`, '--password_hash=min', ...args], { encoding: 'utf8' });
const log = (n) => readFileSync(join(dir, `espd${n}.log`), 'utf8');
const espdUrl = (n) => `http://${env[`ESPD${n}_HTTP`]}`;

before(async () => {
  chmodDir(dir);
  // Every request of this test comes from 127.0.0.1, faster than any
  // person: the per-address limits are off (tests/integration/throttle.test.mjs).
  cluster('start', '--registrations_per_address_hour=0', '--login_checks_per_second=0');
  env = Object.fromEntries(readFileSync(join(dir, 'env'), 'utf8').trim().split('\n')
    .map((l) => { const i = l.indexOf('='); return [l.slice(0, i), l.slice(i + 1).replace(/^'|'$/g, '')]; }));
  const tsv = readFileSync(join(dir, 'esp/demo-accounts.tsv'), 'utf8').trim().split('\n');
  const header = tsv.shift().split('\t');
  const accounts = tsv.map((line) => Object.fromEntries(line.split('\t').map((v, i) => [header[i], v])));
  esp = { url: env.ESP_URL, dir: join(dir, 'esp'), database: env.ESP_DATABASE, accounts, account: (u) => accounts.find((a) => a.username === u) };
});

function chmodDir(d) { execFileSync('chmod', ['755', d]); }

// A PROXY protocol v2 header claiming 198.51.100.9, sent straight to an
// espd's login listener from 127.0.0.1, then a TLS login.
function forgedProxyLogin(hostPort, chain, crt, key) {
  const [host, port] = hostPort.split(':');
  const body = Buffer.from([198, 51, 100, 9, 127, 0, 0, 1, 0x9c, 0x40, Number(port) >> 8, Number(port) & 255]);
  const header = Buffer.concat([Buffer.from([0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a, 0x21, 0x11, 0, body.length]), body]);
  return new Promise((resolve) => {
    const wire = net.connect({ host, port: Number(port), localAddress: '127.0.0.1' });
    wire.on('error', () => {});
    wire.once('connect', () => {
      wire.write(header);
      const s = tls.connect({ socket: wire, ca: readFileSync(chain), cert: readFileSync(crt), key: readFileSync(key), rejectUnauthorized: false });
      let data = '';
      s.on('secureConnect', () => s.write('GET /login/certificate HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n'));
      s.on('data', (d) => { data += d; });
      s.on('error', (e) => resolve({ error: e.code || String(e) }));
      s.on('close', () => resolve(data ? { text: data } : { error: 'closed' }));
    });
  });
}

after(() => {
  try { cluster('stop'); } finally {
    // A sanitizer build reports leaks and errors when espd ends.
    for (const n of [1, 2]) assert.doesNotMatch(log(n), /Sanitizer|runtime error/);
    rmSync(dir, { recursive: true, force: true });
  }
});

test('HAProxy: the portal reaches both espd with the client address from its header, the certificate login in TCP mode', async () => {
  const c = new Client(esp.url);
  const id = await authorityIdByName(c, 'enterprise', '福建省交通运输厅');
  const viaProxy = registrationFields('enterprise', { authorityId: id });
  // A client cannot choose its address: HAProxy appends the real one last.
  let res = await c.post('/register/enterprise', viaProxy, { headers: { 'x-forwarded-for': '203.0.113.9' } });
  assert.equal(res.status, 200);
  const direct = registrationFields('enterprise', { authorityId: id });
  const d = new Client(espdUrl(1));
  await d.get('/register/enterprise');
  res = await d.post('/register/enterprise', direct, { headers: { 'x-forwarded-for': '203.0.113.9' } });
  assert.equal(res.status, 200);
  const addr = (u) => psql('pg1', `SELECT address FROM audit_log WHERE action = 'registration.submit' AND actor = '${u}'`);
  // Through HAProxy (which connects from 127.0.0.2, a trusted proxy) the
  // client is the address HAProxy saw; directly, the header is ignored.
  assert.equal(addr(viaProxy.username), '127.0.0.1');
  assert.equal(addr(direct.username), '127.0.0.1');
  // Round robin: both processes answered the portal's requests.
  for (let i = 0; i < 4; i++) await c.get('/help');
  assert.match(log(1), /GET \/help 200/);
  assert.match(log(2), /GET \/help 200/);

  // A staff certificate logs in through HAProxy's TCP listener: TLS ends in espd.
  const key = join(dir, 'staff.key'), csr = join(dir, 'staff.csr'), crt = join(dir, 'staff.crt');
  execFileSync('openssl', ['req', '-new', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-subj', '/CN=x', '-keyout', key, '-out', csr], { stdio: 'ignore' });
  const sc = ctl(esp.database, esp.dir, 'staff-cert', '--username', 'fj_reviewer', '--csr', csr, '--out', crt);
  assert.equal(sc.status, 0, sc.stderr);
  const chain = join(esp.dir, 'ca/chain.pem');
  const logins = (addr) => [1, 2].map((n) => (log(n).match(new RegExp(`certificate login: account \\d+ from ${addr.replace(/\./g, '\\.')}\n`, 'g')) || []).length).reduce((a, b) => a + b);
  const withCert = spawnSync('curl', ['-s', '-i', '--cacert', chain, '--cert', crt, '--key', key, `${env.ESP_LOGIN_URL}/login/certificate`], { encoding: 'utf8' });
  assert.match(withCert.stdout, /esp_session=/, withCert.stdout.slice(0, 300));
  // HAProxy connects from 127.0.0.2; its PROXY v2 header says the client
  // is 127.0.0.1, and that is the address the login is known by.
  await new Promise((r) => setTimeout(r, 100));
  assert.equal(logins('127.0.0.1'), 1, 'the client address from HAProxy\'s PROXY header');
  assert.equal(logins('127.0.0.2'), 0, 'not HAProxy\'s own address');
  // Directly from an address that is no trusted proxy, a PROXY header is
  // not read: the TLS handshake fails on it, and no login is made.
  const forged = await forgedProxyLogin(env.ESPD1_LOGIN, chain, crt, key);
  assert.ok(forged.error, `a forged PROXY header got ${JSON.stringify(forged).slice(0, 200)}`);
  assert.equal(logins('198.51.100.9'), 0);
  const without = spawnSync('curl', ['-s', '-o', '/dev/null', '-w', '%{http_code}', '--cacert', chain, `${env.ESP_LOGIN_URL}/login/certificate`], { encoding: 'utf8' });
  assert.equal(without.stdout, '401');
});

test('a burst of 50 registrations split over both espd: every one is accepted', async () => {
  const prepared = [];
  for (let i = 0; i < 50; i++) {
    const c = new Client(espdUrl(1 + (i % 2)));
    const id = await authorityIdByName(c, 'enterprise', '福建省交通运输厅');
    prepared.push({ c, f: registrationFields('enterprise', { authorityId: id }) });
  }
  const res = await Promise.all(prepared.map(({ c, f }) => c.post('/register/enterprise', f)));
  const byStatus = {};
  for (const r of res) byStatus[r.status] = (byStatus[r.status] || 0) + 1;
  assert.deepEqual(byStatus, { 200: 50 });
  const names = prepared.map(({ f }) => `'${f.username}'`).join(',');
  assert.equal(psql('pg1', `SELECT count(*) FROM accounts WHERE username IN (${names})`), '50');
});

test('two processes re-signing the CRL around revocations: every revocation is published, no number repeats', async () => {
  const serials = [];
  for (let i = 0; i < 3; i++) {
    const key = join(dir, `r${i}.key`), csr = join(dir, `r${i}.csr`), crt = join(dir, `r${i}.crt`);
    execFileSync('openssl', ['req', '-new', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-subj', '/CN=x', '-keyout', key, '-out', csr], { stdio: 'ignore' });
    assert.equal(ctl(esp.database, esp.dir, 'staff-cert', '--username', 'bj_reviewer', '--csr', csr, '--out', crt).status, 0);
    serials.push(execFileSync('openssl', ['x509', '-in', crt, '-noout', '-serial'], { encoding: 'utf8' }).trim().split('=')[1].toLowerCase());
  }
  const run = (args) => new Promise((resolve) => {
    const p = spawn(ESPCTL, [`--data_dir=${esp.dir}`, `--database=${esp.database}`, ...args]);
    let out = '';
    p.stdout.on('data', (b) => { out += b; });
    p.stderr.on('data', (b) => { out += b; });
    p.on('exit', (code) => resolve({ code, out }));
  });
  const signer = async () => {
    const numbers = [];
    for (let i = 0; i < 12; i++) {
      const r = await run(['crl', 'sign']);
      assert.equal(r.code, 0, r.out);
      numbers.push(Number(r.out.match(/CRL (\d+) signed/)[1]));
    }
    return numbers;
  };
  const revoker = async () => {
    for (const s of serials) {
      await new Promise((r) => setTimeout(r, 150));
      const r = await run(['cert', 'revoke', s, 'keyCompromise']);
      assert.equal(r.code, 0, r.out);
    }
  };
  const [a, b] = await Promise.all([signer(), signer(), revoker()]);
  const all = [...a, ...b];
  assert.equal(new Set(all).size, all.length, `CRL numbers repeat: ${all}`);
  // The CRL now published (after the last revocation and the signers) lists them all.
  const file = join(dir, 'crl.der');
  writeFileSync(file, Buffer.from(await (await fetch(`${esp.url}/ca/crl`)).arrayBuffer()));
  const text = execFileSync('openssl', ['crl', '-inform', 'DER', '-in', file, '-noout', '-text'], { encoding: 'utf8' }).toUpperCase();
  for (const s of serials) assert.ok(text.includes(`SERIAL NUMBER: ${s.toUpperCase()}`), `revoked ${s} missing from the CRL`);
  const published = Number(text.match(/X509V3 CRL NUMBER:\s*\n\s*(\d+)/)[1]);
  assert.ok(published >= Math.max(...all), 'the published CRL is the latest');
});

test('a changed setting reaches both espd; request ids differ between them; one runs the maintenance jobs', async () => {
  psql('pg1', "UPDATE settings SET value = '15' WHERE name = 'delivery_days'");
  for (const n of [1, 2]) {
    let text = '';
    for (let i = 0; i < 40 && !/的15日内接收/.test(text); i++) {
      await new Promise((r) => setTimeout(r, 100));
      text = await (await fetch(`${espdUrl(n)}/help`)).text();
    }
    assert.match(text, /的15日内接收/, `espd ${n} still shows the old delivery_days`);
  }
  const ids = (n) => new Set([...log(n).matchAll(/req=(\d+)/g)].map((m) => m[1]));
  const one = ids(1), two = ids(2);
  assert.ok(one.size > 10 && two.size > 10);
  assert.equal([...one].filter((x) => two.has(x)).length, 0, 'a request id appears in both processes');
  const leaders = [1, 2].filter((n) => /maintenance lease taken/.test(log(n)));
  assert.equal(leaders.length, 1, `processes that ran maintenance: ${leaders}`);
});

test('the maintenance jobs move to the other espd when the one running them dies', async () => {
  const leader = [1, 2].find((n) => /maintenance lease taken/.test(log(n)));
  const other = 3 - leader;
  process.kill(Number(readFileSync(join(dir, `espd${leader}.pid`), 'utf8')), 'SIGKILL');
  let taken = false;
  for (let i = 0; i < 200 && !taken; i++) {
    await new Promise((r) => setTimeout(r, 100));
    taken = /maintenance lease taken/.test(log(other));
  }
  assert.ok(taken, `espd ${other} did not take the maintenance over`);
  assert.match(log(other), /maintenance lease of process \d+ \(gone\) released/);
  // Back to two processes for what follows.
  cluster('start', '--registrations_per_address_hour=0', '--login_checks_per_second=0');
});

test('a renamed province shows at once in both espd\'s cached review queue', async () => {
  const queue = async (n) => {
    const s = new Client(espdUrl(n));
    await s.login('mot_reviewer', esp.account('mot_reviewer').password);
    return s;
  };
  const s1 = await queue(1), s2 = await queue(2);
  assert.match((await s1.get('/review')).text, /福建省/);
  assert.match((await s2.get('/review')).text, /福建省/);
  psql('pg1', "UPDATE provinces SET name = '福建省（改）' WHERE code = '35'");
  try {
    assert.match((await s1.get('/review')).text, /福建省（改）/);
    assert.match((await s2.get('/review')).text, /福建省（改）/);
  } finally {
    psql('pg1', "UPDATE provinces SET name = '福建省' WHERE code = '35'");
  }
});

test('start-up: two espd at once on a store with pending migrations both come up; a second CA, other CA files or another public_url are refused', async () => {
  psql('pg1', 'CREATE DATABASE esp_migrate', 'postgres');
  const uri = env.ESP_DATABASE.replace('/esp_test?', '/esp_migrate?');
  // A store as an older release left it: the first migrations only.
  const old = join(dir, 'migrations-old');
  mkdirSync(old);
  for (const f of readdirSync(join(ROOT, 'src/db/migrations')).filter((f) => f < '013')) cpSync(join(ROOT, 'src/db/migrations', f), join(old, f));
  const data = join(dir, 'esp-migrate');
  const init = ctl(uri, data, `--migrations_dir=${old}`, 'init');
  assert.equal(init.status, 0, init.stderr);
  const start = () => new Promise((resolve) => {
    const p = spawn(ESPD, [`--data_dir=${data}`, `--database=${uri}`, '--http_listen=127.0.0.1:0', '--https_listen=', '--login_listen=', '--public_url=http://m.example']);
    let err = '';
    p.stderr.on('data', (b) => {
      const was = /espd started/.test(err);
      err += b;
      if (!was && /espd started/.test(err)) p.kill('SIGTERM');
    });
    p.on('exit', (code, sig) => resolve({ code, sig, err }));
  });
  const [a, b] = await Promise.all([start(), start()]);
  assert.match(a.err, /espd started/, a.err);
  assert.match(b.err, /espd started/, b.err);
  assert.equal(a.code, 0, a.err);
  assert.equal(b.code, 0, b.err);
  assert.equal(psql('pg1', 'SELECT count(*) FROM schema_migrations WHERE version = 13', 'esp_migrate'), '1');

  // espctl init with a new data directory against a store that has a CA.
  const second = join(dir, 'esp-second');
  const r = ctl(uri, second, 'init');
  assert.equal(r.status, 2, r.stdout + r.stderr);
  assert.match(r.stderr, /already belongs to a CA/);
  // espd with other CA files (made against another store) or another public_url.
  const other = join(dir, 'esp-other');
  assert.equal(ctl(join(other, 'x.db'), other, 'init').status, 0);
  const refused = (dataDir, url) => spawnSync(ESPD, [`--data_dir=${dataDir}`, `--database=${uri}`, '--http_listen=127.0.0.1:0', '--https_listen=', '--login_listen=', `--public_url=${url}`], { encoding: 'utf8', timeout: 30000 });
  const otherCa = refused(other, 'http://m.example');
  assert.equal(otherCa.status, 2);
  assert.match(otherCa.stderr, /CA certificate \(SHA-256\) differs/);
  const otherUrl = refused(data, 'http://elsewhere.example');
  assert.equal(otherUrl.status, 2);
  assert.match(otherUrl.stderr, /public_url differs/);
});

test('failover: the primary stops in a stream of registrations and issuances; espd carries on; every acknowledged write is on the new primary', async () => {
  const { number, token } = await readyToIssue(esp, 60);
  const csrs = Array.from({ length: 60 }, (_, i) => makeCsr(dir, `fo-${i}`).pem);
  const c = new Client(esp.url);
  const id = await authorityIdByName(c, 'enterprise', '福建省交通运输厅');
  const acked = { registrations: [], serials: [] };
  const failed = [];
  let failoverAt = 0, stop = false, firstAfter = 0;
  const register = async () => {
    const f = registrationFields('enterprise', { authorityId: id });
    const rc = new Client(esp.url);
    try {
      await rc.get('/register/enterprise');
      const r = await rc.post('/register/enterprise', f);
      if (r.status === 200 && /待审核/.test(r.text)) { acked.registrations.push(f.username); return true; }
      failed.push(`registration ${r.status}`);
    } catch (e) { failed.push(String(e.code || e)); }
    return false;
  };
  let next = 0;
  const issue = async () => {
    if (next >= csrs.length) return false;
    const i = next++;
    try {
      const r = await fetch(`${esp.url}/api/v1/applications/${number}/certificates`, {
        method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
        body: JSON.stringify({ csr: csrs[i], token_serial: `FO-${number}-${i}` }),
      });
      if (r.status === 201) { acked.serials.push((await r.json()).serial); return true; }
      failed.push(`issuance ${r.status} ${(await r.text()).slice(0, 200)}`);
    } catch (e) { failed.push(String(e.code || e)); }
    return false;
  };
  const writer = async (fn) => {
    while (!stop) {
      const ok = await fn();
      if (ok && failoverAt && !firstAfter) firstAfter = Date.now();
      await new Promise((r) => setTimeout(r, 20));
    }
  };
  const writers = [writer(register), writer(register), writer(issue)];
  await new Promise((r) => setTimeout(r, 3000));
  const before = acked.registrations.length + acked.serials.length;
  failoverAt = Date.now();
  const out = cluster('failover');
  assert.match(out, /primary now pg2/);
  // Writes go on after a short pause.
  for (let i = 0; i < 300 && !firstAfter; i++) await new Promise((r) => setTimeout(r, 100));
  await new Promise((r) => setTimeout(r, 3000));
  stop = true;
  await Promise.all(writers);
  const total = acked.registrations.length + acked.serials.length;
  const pause = firstAfter - failoverAt;
  console.log(`# failover: ${before} writes acknowledged before, ${total - before} after; first write ${pause} ms after the failover began; ${failed.length} refused (${[...new Set(failed)]})`);
  assert.ok(before > 5, 'writes were flowing before the failover');
  assert.ok(firstAfter, 'espd carried on after the failover');
  assert.ok(pause < 20000, `pause of ${pause} ms`);
  assert.ok(total > before);
  // A 500 is allowed only where a COMMIT was cut off (its outcome unknown,
  // so espd does not run it again); every other write waits or gets 503.
  const fivehundreds = failed.filter((f) => / 500\b/.test(f)).length;
  const lostCommits = [1, 2].map((n) => (log(n).match(/commit failed/g) || []).length).reduce((a, b) => a + b);
  assert.ok(fivehundreds <= lostCommits, `${fivehundreds} answers 500, ${lostCommits} commits cut off`);
  // Every acknowledged write is on the new primary (pg2), whole.
  assert.equal(psql('pg2', 'SELECT pg_is_in_recovery()'), 'f');
  const users = acked.registrations.map((u) => `'${u}'`).join(',');
  assert.equal(Number(psql('pg2', `SELECT count(*) FROM accounts a JOIN registrations r ON r.id = a.registration_id WHERE a.username IN (${users})`)), acked.registrations.length);
  if (acked.serials.length) {
    const serials = acked.serials.map((s) => `'${s}'`).join(',');
    assert.equal(Number(psql('pg2', `SELECT count(*) FROM certificates WHERE serial IN (${serials})`)), acked.serials.length);
  }
  assert.equal(psql('pg2', 'SELECT count(*) FROM registrations r LEFT JOIN accounts a ON a.registration_id = r.id WHERE a.id IS NULL'), '0', 'a registration without its account');

  // Every pooled connection of both espd, busy or idle during the failover:
  // the first requests after it all succeed, with nothing failed in the
  // logs (a connection whose server went away reconnects before its
  // statement is sent).
  const from = [1, 2].map((n) => log(n).length);
  for (const n of [1, 2]) {
    const pages = await Promise.all(Array.from({ length: 8 }, () => new Client(espdUrl(n)).get('/register/enterprise', { redirect: false })));
    assert.deepEqual(pages.map((p) => p.status), pages.map(() => 200), `espd ${n}`);
    for (const p of pages) assert.match(p.text, /福建省/, `espd ${n}: the page's list of provinces`);
  }
  for (const n of [1, 2]) assert.doesNotMatch(log(n).slice(from[n - 1]), /postgresql: \w+ failed/, `espd ${n}`);
});
