// espctl backup / backup verify / restore: a populated system (registrations,
// an application with a certificate issued through the API, staff
// certificates, one revoked, so the CRL has an entry) is backed up while espd
// runs, the file is checked, then restored into an empty data directory and
// an empty store; the restored system has every table's count, the audit
// chain (verified, same head) and the CRL of the original, and a certificate
// issued before the backup logs in on it while the revoked one does not.
// Wrong passphrases, cut files and non-empty targets are refused.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { startEsp, startEspAt, emptyDatabase, espctl, espctlStatus, rawSql, holderWithKeys, registerAs, ESPCTL, ENGINE } from './lib/esp.mjs';

let esp, restored, dir;
const passFile = () => join(dir, 'pass');
const before_ = {};

before(async () => {
  esp = await startEsp({ login: true });
  dir = mkdtempSync(join(tmpdir(), 'esp-backup-'));
  writeFileSync(passFile(), 'a long enough backup passphrase\n', { mode: 0o600 });
});
after(async () => {
  if (restored) {
    await restored.stop();
    assert.doesNotMatch(restored.log, /Sanitizer|runtime error/);
    await restored.cleanup();
  }
  if (esp) {
    await esp.stop();
    assert.doesNotMatch(esp.log, /Sanitizer|runtime error/);
    await esp.cleanup();
  }
  if (dir) rmSync(dir, { recursive: true, force: true });
});

// espctl without blocking this process: requests go on while it runs.
function espctlAsync(e, ...args) {
  return new Promise((resolve) => {
    const p = spawn(ESPCTL, [`--data_dir=${e.dir}`, `--database=${e.database}`, '--password_hash=min', ...args]);
    let out = '';
    p.stdout.on('data', (d) => { out += d; });
    p.stderr.on('data', (d) => { out += d; });
    p.on('exit', (code) => resolve({ code, out }));
  });
}

function staffCert(username) {
  const key = join(dir, `${username}.key`), csr = join(dir, `${username}.csr`), crt = join(dir, `${username}.crt`);
  execFileSync('openssl', ['req', '-new', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-subj', '/CN=x', '-keyout', key, '-out', csr], { stdio: 'ignore' });
  espctl(esp, 'staff-cert', '--username', username, '--csr', csr, '--out', crt);
  const serial = execFileSync('openssl', ['x509', '-in', crt, '-noout', '-serial'], { encoding: 'utf8' }).trim().split('=')[1].toLowerCase();
  return { key, crt, serial };
}

function certLogin(e, c) {
  const r = spawnSync('curl', ['-s', '-i', '--cacert', join(e.dir, 'ca', 'chain.pem'), '--cert', c.crt, '--key', c.key, `${e.loginUrl}/`], { encoding: 'utf8' });
  return { status: Number((r.stdout.match(/^HTTP\/[\d.]+ (\d+)/) || [])[1] || 0), cookie: (r.stdout.match(/esp_session=([^;\s]+)/) || [])[1] || null };
}

function tables(e) {
  const sql = ENGINE === 'postgresql'
    ? "SELECT tablename FROM pg_tables WHERE schemaname = current_schema() ORDER BY 1"
    : "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY 1";
  return rawSql(e, sql).trim().split('\n');
}

// Every table's row count, the audit log's last entry, the stored CRL.
function state(e) {
  const counts = Object.fromEntries(tables(e).map((t) => [t, Number(rawSql(e, `SELECT count(*) FROM "${t}"`).trim())]));
  const audit = rawSql(e, 'SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1').trim();
  const crl = rawSql(e, ENGINE === 'postgresql' ? "SELECT number, encode(der, 'hex') FROM crl" : 'SELECT number, hex(der) FROM crl').trim().toLowerCase();
  return { counts, audit, crl };
}

test(`[${ENGINE}] backup while espd runs, verify, restore, and the restored system is the same`, async () => {
  // A populated system.
  await registerAs(esp, 'agency', '福建省交通运输厅');
  const holder = await holderWithKeys(esp, 'enterprise', 2, dir);
  before_.staff = staffCert('fj_reviewer');
  before_.revoked = staffCert('bj_ra');
  espctl(esp, 'cert', 'revoke', before_.revoked.serial, 'keyCompromise');
  assert.equal(certLogin(esp, before_.staff).status, 303, 'the staff certificate logs in before');
  assert.ok(certLogin(esp, before_.staff).cookie);
  const crlBefore = Buffer.from(await (await fetch(`${esp.url}/ca/crl`)).arrayBuffer());

  // The backup, taken while espd answers requests.
  const file = join(dir, 'esp.backup');
  let busy = true;
  const load = (async () => { let n = 0; while (busy) { await fetch(`${esp.url}/help`); n++; } return n; })();
  const b = await espctlAsync(esp, 'backup', file, '--passphrase-file', passFile());
  busy = false;
  assert.ok(await load > 0, 'espd answered during the backup');
  assert.equal(b.code, 0, b.out);
  assert.equal(statSync(file).mode & 0o777, 0o600);
  const s0 = state(esp);
  assert.ok(Object.keys(s0.counts).length > 15, 'every table is counted');
  assert.ok(s0.counts.certificates >= 4 && s0.counts.registrations >= 2, JSON.stringify(s0.counts));
  // The file is sealed: neither the CA key nor any table's text shows.
  const raw = readFileSync(file);
  assert.ok(!raw.includes('PRIVATE KEY') && !raw.includes('audit_log') && !raw.includes('BEGIN CERTIFICATE'));

  const v = spawnSync(process.env.ESP_BUILD ? join(process.env.ESP_BUILD, 'src/cli/espctl') : 'espctl',
    ['--password_hash=min', 'backup', 'verify', file, '--passphrase-file', passFile()], { encoding: 'utf8' });
  assert.equal(v.status, 0, v.stdout + v.stderr);
  assert.match(v.stdout, new RegExp(`verified .*${ENGINE} store .*tables`));

  // Restore into an empty data directory and an empty store.
  const target = { dir: join(dir, 'restored'), database: emptyDatabase(join(dir)) };
  if (ENGINE !== 'postgresql') target.database = join(target.dir, 'esp.db');
  const r = espctlStatus(target, 'restore', file, '--passphrase-file', passFile());
  assert.equal(r.code, 0, r.out);
  for (const f of ['ca/ca.key', 'ca/ca.crt', 'ca/chain.pem', 'ca/server.key', 'ca/ocsp.pem', 'audit.key'])
    assert.ok(existsSync(join(target.dir, f)), f);
  assert.equal(statSync(join(target.dir, 'ca', 'ca.key')).mode & 0o777, 0o600);
  assert.deepEqual(state(target), s0, 'every table, the audit head and the CRL as backed up');
  const av = espctlStatus(target, 'audit', 'verify');
  assert.equal(av.code, 0, av.out);

  // The store records the deployment's public_url: the restored espd keeps
  // the original's (it listens elsewhere, as a new machine would).
  restored = await startEspAt(target.dir, target.database, { login: true, args: [`--public_url=${esp.url}`] });
  const crlAfter = Buffer.from(await (await fetch(`${restored.url}/ca/crl`)).arrayBuffer());
  assert.deepEqual(crlAfter, crlBefore, 'the same CRL');
  // A certificate issued before the backup logs in; the revoked one does not.
  const login = certLogin(restored, before_.staff);
  assert.equal(login.status, 303);
  assert.ok(login.cookie, 'a session from the certificate');
  assert.notEqual(certLogin(restored, before_.revoked).status, 303);
  const holderLogin = certLogin(restored, { crt: holder.certs[0].cert, key: holder.certs[0].key });
  assert.ok(holderLogin.cookie, 'the holder logs in with its key');
});

test(`[${ENGINE}] refusals: wrong passphrase, cut file, non-empty target, backup inside the data directory`, () => {
  const file = join(dir, 'esp.backup');
  const wrong = join(dir, 'wrong');
  writeFileSync(wrong, 'another long passphrase');
  const w = espctlStatus(esp, 'backup', 'verify', file, '--passphrase-file', wrong);
  assert.equal(w.code, 2);
  assert.match(w.out, /wrong passphrase/);
  const cut = join(dir, 'cut.backup');
  const raw = readFileSync(file);
  writeFileSync(cut, raw.subarray(0, raw.length - 100));
  const c = espctlStatus(esp, 'backup', 'verify', cut, '--passphrase-file', passFile());
  assert.equal(c.code, 2);
  assert.match(c.out, /cut short|damaged/);
  // A flipped byte in the middle fails its chunk's authentication.
  const flipped = Buffer.from(raw);
  flipped[Math.floor(raw.length / 2)] ^= 1;
  writeFileSync(cut, flipped);
  assert.equal(espctlStatus(esp, 'backup', 'verify', cut, '--passphrase-file', passFile()).code, 2);
  // Into the running system's own directory: refused, nothing touched.
  const n = espctlStatus(esp, 'restore', file, '--passphrase-file', passFile());
  assert.equal(n.code, 2);
  assert.match(n.out, /not empty/);
  const inside = espctlStatus(esp, 'backup', join(esp.dir, 'x.backup'), '--passphrase-file', passFile());
  assert.equal(inside.code, 2);
  assert.ok(!existsSync(join(esp.dir, 'x.backup')));
  // A forged header asking Argon2id for 1 TB of memory is refused before any work.
  const forged = Buffer.alloc(11 + 16 + 16 + 24 + 4);
  forged.write('ESPBACKUP1\n', 0, 'latin1');
  forged.writeBigUInt64LE(3n, 27);
  forged.writeBigUInt64LE(1n << 40n, 35);
  writeFileSync(cut, forged);
  const fg = espctlStatus(esp, 'backup', 'verify', cut, '--passphrase-file', passFile());
  assert.equal(fg.code, 2);
  assert.match(fg.out, /bad key derivation parameters/);
  const short = join(dir, 'short');
  writeFileSync(short, 'short');
  assert.equal(espctlStatus(esp, 'backup', file, '--passphrase-file', short).code, 1);
});

test(`[${ENGINE}] a backup taken during a stream of registrations restores to one consistent moment`, async () => {
  const file = join(dir, 'busy.backup');
  let busy = true, made = 0;
  const writer = (async () => {
    while (busy) { await registerAs(esp, 'enterprise', '福建省交通运输厅'); made++; }
  })();
  // Let the writes get going, then back up in their midst.
  while (made < 2) await new Promise((r) => setTimeout(r, 20));
  const atStart = made;
  const b = await espctlAsync(esp, 'backup', file, '--passphrase-file', passFile());
  const during = made - atStart;
  busy = false;
  await writer;
  assert.equal(b.code, 0, b.out);
  assert.ok(during >= 1, `registrations went on during the backup (${during})`);
  const target = { dir: join(dir, 'restored-busy'), database: join(dir, 'restored-busy', 'esp.db') };
  if (ENGINE === 'postgresql') target.database = emptyDatabase(dir);
  // restore itself compares every table's count and the audit head with
  // the manifest, counted in the same snapshot as the store it holds.
  const r = espctlStatus(target, 'restore', file, '--passphrase-file', passFile());
  assert.equal(r.code, 0, r.out);
  // Every audit entry of the snapshot is there and chains: no torn copy.
  const av = espctlStatus(target, 'audit', 'verify');
  assert.equal(av.code, 0, av.out);
  const regs = (e) => Number(rawSql(e, 'SELECT count(*) FROM registrations').trim());
  const audits = (e) => Number(rawSql(e, 'SELECT count(*) FROM audit_log').trim());
  assert.ok(regs(target) <= regs(esp) && regs(target) >= regs(esp) - made, `${regs(target)} of ${regs(esp)}`);
  assert.ok(audits(target) <= audits(esp));
  rmSync(target.dir, { recursive: true, force: true });
});
