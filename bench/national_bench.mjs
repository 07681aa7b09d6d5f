// National-scale figures of one espd on a filled store (bench/national_fill),
// run by bench/national_bench.sh once per engine. A benchmark, never a test.
//
//   node bench/national_bench.mjs --data_dir=DIR [--database=TARGET] [--build=DIR]
//        [--seconds=10] [--connections=16] [--change_every_ms=1000] [--port=18480]
//        [--only=LABEL-PART] [--espd_args="--key=value ..."]
//
// It prints one JSON object: the store's size, espd's start-up time, each
// page's latency (p50/p99, req/s) at `connections` concurrent clients while
// registrations keep arriving through espd (each one changes the reviewers'
// queues, so cached pages are made again), each page's latency right after a
// change (a change, then one request, 40 times), registration throughput,
// CRL signing with every revoked certificate, OCSP answers, and espd's peak
// RSS.
import { spawn, execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, statSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Agent, request } from 'node:http';
import {
  Client, ROOT, registrationFields, authorityIdByName, holderWithKeys,
} from '../tests/integration/lib/esp.mjs';

const arg = (name, def) => {
  const a = process.argv.find((x) => x.startsWith(`--${name}=`));
  return a ? a.slice(name.length + 3) : def;
};
const dataDir = arg('data_dir');
const database = arg('database', '');
const build = arg('build', join(ROOT, 'build'));
const seconds = Number(arg('seconds', '10'));
const connections = Number(arg('connections', '16'));
// One registration a second: a national peak (a million in a few years is
// about one every two minutes on average).
const changeEvery = Number(arg('change_every_ms', '1000'));
if (!dataDir) throw new Error('--data_dir=DIR is required');
const ESPD = join(build, 'src/httpd/espd');
const ESPCTL = join(build, 'src/cli/espctl');
const engine = database.startsWith('postgresql') ? 'postgresql' : 'sqlite';
const work = mkdtempSync(join(tmpdir(), 'esp-national-'));
const dbArgs = database ? [`--database=${database}`] : [];
const ctl = (...a) => execFileSync(ESPCTL, [`--data_dir=${dataDir}`, ...dbArgs, '--password_hash=min', ...a], { encoding: 'utf8' });
const pct = (xs, p) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length ? s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))] : NaN;
};
const ms = (x) => Math.round(x * 100) / 100;

// ---- accounts the measurements use (idempotent) ----
const password = 'Bench-passw0rd!';
writeFileSync(join(work, 'pw'), password);
function user(role, username, extra) {
  try { ctl('user', 'create', '--role', role, '--username', username, ...extra, '--password-file', join(work, 'pw')); } catch { /* exists */ }
}
user('reviewer', 'nb_mot', ['--authority', '交通运输部']);
user('reviewer', 'nb_prov', ['--authority', '福建省交通运输厅']);
user('reviewer', 'nb_city', ['--authority', '福建省第1市交通运输局']);
user('ra', 'nb_ra', ['--province', '35']);
let demo = true;
try { ctl('demo'); } catch { demo = false; } // exit 3: made before
try { ctl('directory', 'load', join(ROOT, 'scripts/demo-ra-directory.csv')); } catch { /* loaded */ }
const tsv = readFileSync(join(dataDir, 'demo-accounts.tsv'), 'utf8').trim().split('\n');
const header = tsv.shift().split('\t');
const accounts = tsv.map((l) => Object.fromEntries(l.split('\t').map((v, i) => [header[i], v])));

// ---- espd, its start-up time ----
// A fixed address: the store records public_url at the first start and
// refuses another (several espd must agree on it).
const port = Number(arg('port', '18480'));
const url = `http://127.0.0.1:${port}`;
let proc;
async function start() {
  const t0 = performance.now();
  proc = spawn(ESPD, [`--data_dir=${dataDir}`, ...dbArgs, `--http_listen=127.0.0.1:${port}`,
    '--https_listen=', '--login_listen=', `--public_url=${url}`, '--staff_password_login=true',
    '--log_requests=false', '--login_checks_per_second=0', '--registrations_per_address_hour=0',
    `--threads=${arg('threads', '2')}`, `--db_connections=${arg('db_connections', '8')}`,
    ...arg('espd_args', '').split(' ').filter(Boolean)],
  { stdio: ['ignore', 'ignore', 'pipe'] });
  let log = '';
  proc.stderr.on('data', (d) => { log += d; });
  for (;;) {
    try { if ((await fetch(`${url}/healthz`)).ok) break; } catch { /* not yet */ }
    if (proc.exitCode !== null) throw new Error(`espd exited:\n${log}`);
    await new Promise((r) => setTimeout(r, 10));
  }
  return performance.now() - t0;
}
async function stop() {
  proc.kill('SIGTERM');
  await new Promise((r) => proc.on('exit', r));
}
const startups = [];
for (let i = 0; i < 3; i++) { startups.push(await start()); if (i < 2) await stop(); }
const esp = { url, account: (u) => accounts.find((a) => a.username === u) || { password } };

async function staff(username) {
  const c = new Client(url);
  const res = await c.login(username, esp.account(username).password);
  if (res.status !== 200) throw new Error(`${username}: login ${res.status}`);
  return c;
}

// A holder with a real key, for 当前用户信息 (password reviewers and RA of the demo).
const holder = await holderWithKeys(esp, 'enterprise', 1, work);
const ch = await (await fetch(`${url}/api/v1/login/challenge`)).json();
writeFileSync(join(work, 'ch.bin'), Buffer.from(ch.challenge, 'base64'));
execFileSync('openssl', ['dgst', '-sha256', '-sign', holder.certs[0].key, '-out', join(work, 'sig.bin'), join(work, 'ch.bin')]);
const login = await (await fetch(`${url}/api/v1/login/certificate`, {
  method: 'POST', headers: { 'content-type': 'application/json' },
  body: JSON.stringify({ id: ch.id, challenge: ch.challenge, signature: readFileSync(join(work, 'sig.bin')).toString('base64'), certificate: holder.certs[0].pem }),
})).json();
const holderCookie = `esp_session=${login.session}`;

// ---- the pages ----
const one = async (name, username) => ({ name, cookie: [...(await staff(username)).cookies].map(([k, v]) => `${k}=${v}`).join('; ') });
const mot = await one('mot', 'nb_mot'), prov = await one('prov', 'nb_prov'), city = await one('city', 'nb_city'), ra = await one('ra', 'nb_ra');
const q = (s) => encodeURIComponent(s);
const sample = (sql) => execFileSync(engine === 'sqlite' ? 'sqlite3' : 'psql', engine === 'sqlite' ? [join(dataDir, 'esp.db'), sql] : [database, '-At', '-c', sql], { encoding: 'utf8' }).trim();
const number = sample("SELECT number FROM applications WHERE province_code = '35' ORDER BY id LIMIT 1 OFFSET 777");
const code = sample(`SELECT r.code FROM applications a JOIN registrations r ON r.id = a.registration_id WHERE a.number = '${number}'`);
const name = sample(`SELECT r.name FROM applications a JOIN registrations r ON r.id = a.registration_id WHERE a.number = '${number}'`);
const pages = [
  ['初审 交通运输部 待审核 p1', mot.cookie, '/review'],
  ['初审 交通运输部 已通过 p999', mot.cookie, '/review?state=approved&page=999'],
  ['初审 福建省 已通过 p1', prov.cookie, '/review?state=approved'],
  ['初审 福建省第1市 全部 p1', city.cookie, '/review?state=all'],
  ['RA 首页 (福建)', ra.cookie, '/ra'],
  ['RA 查询 申请编号', ra.cookie, `/ra/queue?q=${q(number)}`],
  ['RA 查询 单位名称', ra.cookie, `/ra/queue?q=${q(name.slice(-8))}`],
  ['RA 查询 统一社会信用代码', ra.cookie, `/ra/queue?q=${q(code)}`],
  ['当前用户信息', holderCookie, '/mgmt/user'],
];

const agent = new Agent({ keepAlive: true, maxSockets: connections });
function get(path, cookie) {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const req = request(`${url}${path}`, { agent, headers: { cookie } }, (res) => {
      res.resume();
      res.on('end', () => resolve({ status: res.statusCode, ms: performance.now() - t0 }));
    });
    req.on('error', reject);
    req.end();
  });
}

// Registrations through espd, one after another, as long as `running`: each
// changes the queues. Production password cost (what a registration costs).
let running = false, changes = 0;
const authorityId = await authorityIdByName(new Client(url), 'enterprise', '福建省交通运输厅');
async function register() {
  const c = new Client(url);
  await c.get('/register/enterprise');
  return c.post('/register/enterprise', registrationFields('enterprise', { authorityId }));
}
async function changer(gapMs) {
  while (running) {
    const r = await register();
    if (r.status === 200) changes++;
    await new Promise((res) => setTimeout(res, gapMs));
  }
}

async function load(path, cookie) {
  const lat = [];
  let errors = 0;
  const end = performance.now() + seconds * 1000;
  await Promise.all(Array.from({ length: connections }, async () => {
    while (performance.now() < end) {
      const r = await get(path, cookie);
      if (r.status !== 200) errors++;
      lat.push(r.ms);
    }
  }));
  return { rps: Math.round(lat.length / seconds), p50: ms(pct(lat, 50)), p99: ms(pct(lat, 99)), errors };
}

// After a change: one registration committed, then the page once.
async function afterChange(path, cookie) {
  const lat = [];
  for (let i = 0; i < 40; i++) {
    const r = await register();
    if (r.status !== 200) throw new Error(`registration ${r.status}`);
    lat.push((await get(path, cookie)).ms);
  }
  return { p50: ms(pct(lat, 50)), p99: ms(pct(lat, 99)), max: ms(Math.max(...lat)) };
}

const result = { engine, threads: Number(arg('threads', '2')), db_connections: Number(arg('db_connections', '8')), startup_ms: startups.map(ms), pages: {} };
// --only: the pages whose label contains it, and nothing after them (a
// single measurement while iterating; the table comes from full runs).
const only = arg('only', '');
for (const [label, cookie, path] of pages) {
  if (only && !label.includes(only)) continue;
  const after = await afterChange(path, cookie);
  running = true;
  const ch = changer(changeEvery);
  const under = await load(path, cookie);
  running = false;
  await ch;
  result.pages[label] = { path, after_change: after, under_changes: under };
  process.stderr.write(`${label}: ${JSON.stringify(result.pages[label])}\n`);
}

if (only) {
  const st = readFileSync(`/proc/${proc.pid}/status`, 'utf8');
  result.espd_rss_peak_mb = ms(Number(st.match(/VmHWM:\s+(\d+)/)[1]) / 1024);
  await stop();
  console.log(JSON.stringify(result, null, 2));
  process.exit(0);
}
// Registration throughput at `connections` (production Argon2id cost).
{
  let n = 0, failed = 0;
  const end = performance.now() + seconds * 1000;
  await Promise.all(Array.from({ length: connections }, async () => {
    while (performance.now() < end) {
      const r = await register();
      if (r.status === 200) n++; else failed++;
    }
  }));
  result.registrations_per_s = ms(n / seconds);
  result.registration_failures = failed;
}

// OCSP: requests for a valid and a revoked certificate, posted as a client would.
if (existsSync(join(dataDir, 'ca/chain.pem'))) {
  const revoked = sample("SELECT serial FROM certificates WHERE status = 'revoked' ORDER BY id LIMIT 1");
  const issuer = join(work, 'issuing.pem');
  const chain = readFileSync(join(dataDir, 'ca/chain.pem'), 'utf8');
  writeFileSync(issuer, chain.slice(0, chain.indexOf('-----END CERTIFICATE-----') + 26));
  const reqs = [holder.certs[0].serial, revoked].map((s, i) => {
    const f = join(work, `ocsp${i}.der`);
    execFileSync('openssl', ['ocsp', '-issuer', issuer, '-serial', `0x${s}`, '-no_nonce', '-reqout', f], { stdio: 'ignore' });
    return readFileSync(f);
  });
  const post = (body) => new Promise((resolve, reject) => {
    const t0 = performance.now();
    const req = request(`${url}/ocsp`, { method: 'POST', agent, headers: { 'content-type': 'application/ocsp-request' } }, (res) => {
      res.resume();
      res.on('end', () => resolve({ status: res.statusCode, ms: performance.now() - t0 }));
    });
    req.on('error', reject);
    req.end(body);
  });
  const lat = [];
  let bad = 0;
  const end = performance.now() + seconds * 1000;
  await Promise.all(Array.from({ length: connections }, async (_, k) => {
    while (performance.now() < end) {
      const r = await post(reqs[k % 2]);
      if (r.status !== 200) bad++;
      lat.push(r.ms);
    }
  }));
  result.ocsp = { rps: Math.round(lat.length / seconds), p50: ms(pct(lat, 50)), p99: ms(pct(lat, 99)), non_200: bad };
}

const status = readFileSync(`/proc/${proc.pid}/status`, 'utf8');
result.espd_rss_peak_mb = ms(Number(status.match(/VmHWM:\s+(\d+)/)[1]) / 1024);
result.espd_rss_mb = ms(Number(status.match(/VmRSS:\s+(\d+)/)[1]) / 1024);
await stop();

// CRL: re-signed with every revoked certificate (100,000 in the national fill).
{
  const t0 = performance.now();
  try { ctl('crl', 'sign'); result.crl_sign_ms = ms(performance.now() - t0); } catch (e) { result.crl_sign_ms = `failed: ${e.message.split('\n')[0]}`; }
  result.revoked = Number(sample("SELECT COUNT(*) FROM certificates WHERE status = 'revoked'"));
}
result.store_bytes = engine === 'sqlite'
  ? statSync(join(dataDir, 'esp.db')).size
  : Number(sample('SELECT pg_database_size(current_database())'));
result.rows = {
  registrations: Number(sample('SELECT COUNT(*) FROM registrations')),
  applications: Number(sample('SELECT COUNT(*) FROM applications')),
  certificates: Number(sample('SELECT COUNT(*) FROM certificates')),
};
result.changes_during_load = changes;
result.demo_made_now = demo;
console.log(JSON.stringify(result, null, 2));
process.exit(0);
