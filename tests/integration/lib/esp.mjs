// Test harness: starts a real espd (and espctl init/demo) on free ports with
// a temporary data directory, on SQLite or on a fresh PostgreSQL database,
// and gives a small HTTP client with a cookie jar that finds its way through
// the pages as a person would (labels, links, the form token).
import { spawn, spawnSync, execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
export const BUILD = process.env.ESP_BUILD || join(ROOT, 'build');
export const ENGINE = process.env.ESP_ENGINE || 'sqlite';
export const ESPD = join(BUILD, 'src/httpd/espd');
export const ESPCTL = join(BUILD, 'src/cli/espctl');

export function freePort() {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.unref();
    s.on('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

let dbCounter = 0;
function newDatabase(dir) {
  if (ENGINE !== 'postgresql') return join(dir, 'esp.db');
  const cluster = process.env.ESP_PG_CLUSTER;
  if (!cluster) throw new Error('ESP_PG_CLUSTER not set for the postgresql engine');
  const name = `esp_${process.pid}_${Date.now() % 100000}_${dbCounter++}`;
  return execFileSync('bash', [join(ROOT, 'scripts/pg-test-cluster.sh'), 'newdb', cluster, name],
    { encoding: 'utf8' }).trim();
}

export function espctl(esp, ...args) {
  return execFileSync(ESPCTL, [`--data_dir=${esp.dir}`, `--database=${esp.database}`,
    '--password_hash=min', ...args], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

export function espctlStatus(esp, ...args) {
  try {
    return { code: 0, out: espctl(esp, ...args) };
  } catch (e) {
    return { code: e.status, out: String(e.stdout) + String(e.stderr) };
  }
}

export async function startEsp(opts = {}) {
  const dir = mkdtempSync(join(tmpdir(), 'esp-it-'));
  const esp = { dir, database: newDatabase(dir), extra: opts.args || [] };
  espctl(esp, 'init');
  espctl(esp, 'demo');
  espctl(esp, 'directory', 'load', join(ROOT, 'scripts/demo-ra-directory.csv'));
  const tsv = readFileSync(join(dir, 'demo-accounts.tsv'), 'utf8').trim().split('\n');
  const header = tsv.shift().split('\t');
  esp.accounts = tsv.map((line) => Object.fromEntries(line.split('\t').map((v, i) => [header[i], v])));
  esp.account = (username) => esp.accounts.find((a) => a.username === username);
  esp.httpPort = await freePort();
  esp.httpsPort = await freePort();
  esp.loginPort = opts.login ? await freePort() : 0;
  esp.loginUrl = esp.loginPort ? `https://127.0.0.1:${esp.loginPort}` : '';
  esp.url = `http://127.0.0.1:${esp.httpPort}`;
  esp.httpsUrl = `https://127.0.0.1:${esp.httpsPort}`;
  esp.start = () => startProcess(esp);
  esp.stop = () => stopProcess(esp, 'SIGTERM');
  esp.kill9 = () => stopProcess(esp, 'SIGKILL');
  esp.cleanup = async () => {
    await esp.stop();
    rmSync(dir, { recursive: true, force: true });
  };
  await esp.start();
  return esp;
}

// An espd on a data directory and store that exist already (a restored
// backup): nothing is initialised; cleanup removes the directory.
export async function startEspAt(dir, database, opts = {}) {
  const esp = { dir, database, extra: opts.args || [], accounts: [] };
  esp.httpPort = await freePort();
  esp.httpsPort = await freePort();
  esp.loginPort = opts.login ? await freePort() : 0;
  esp.loginUrl = esp.loginPort ? `https://127.0.0.1:${esp.loginPort}` : '';
  esp.url = `http://127.0.0.1:${esp.httpPort}`;
  esp.httpsUrl = `https://127.0.0.1:${esp.httpsPort}`;
  esp.start = () => startProcess(esp);
  esp.stop = () => stopProcess(esp, 'SIGTERM');
  esp.cleanup = async () => {
    await esp.stop();
    rmSync(dir, { recursive: true, force: true });
  };
  await esp.start();
  return esp;
}

// A new empty store for the engine under test (a file path for SQLite, a
// new database for PostgreSQL), for a data directory `dir`.
export function emptyDatabase(dir) {
  return newDatabase(dir);
}

async function startProcess(esp) {
  const args = [`--data_dir=${esp.dir}`, `--database=${esp.database}`,
    `--http_listen=127.0.0.1:${esp.httpPort}`, `--https_listen=127.0.0.1:${esp.httpsPort}`,
    `--login_listen=${esp.loginPort ? `127.0.0.1:${esp.loginPort}` : ''}`,
    `--login_url=${esp.loginUrl ? `${esp.loginUrl}/` : ''}`, `--public_url=${esp.url}`, '--password_hash=min',
    '--staff_password_login=true',
    // Every test registers and logs in from 127.0.0.1, faster than any
    // person: these two limits are off unless a test sets them (its args
    // come last and win). tests/integration/throttle.test.mjs tests them.
    '--registrations_per_address_hour=0', '--login_checks_per_second=0', ...esp.extra];
  esp.log = '';
  esp.proc = spawn(ESPD, args, { stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, ...(esp.env || {}) } });
  esp.proc.stderr.on('data', (d) => { esp.log += d; });
  esp.exited = new Promise((resolve) => esp.proc.on('exit', (code, sig) => resolve({ code, sig })));
  // A sanitizer build on a busy machine may take a while to start.
  for (let i = 0; i < 1200; i++) {
    try {
      const r = await fetch(`${esp.url}/healthz`);
      if (r.ok) return;
    } catch { /* not yet */ }
    if (esp.proc.exitCode !== null) break;
    await new Promise((r) => setTimeout(r, 50));
  }
  // Never leave a half-started espd behind: the test process would not end.
  esp.proc.kill('SIGKILL');
  await esp.exited;
  throw new Error(`espd did not start:\n${esp.log}`);
}

async function stopProcess(esp, sig) {
  if (!esp.proc || esp.proc.exitCode !== null || esp.proc.signalCode) return esp.exited;
  esp.proc.kill(sig);
  return esp.exited;
}

// ---- a person with a browser, without the browser ----

export function decode(s) {
  return s.replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&quot;/g, '"')
    .replace(/&#39;/g, "'").replace(/&amp;/g, '&');
}

export class Client {
  constructor(base) {
    this.base = base;
    this.cookies = new Map();
    this.html = '';
  }

  async request(method, path, { body, headers = {}, redirect = true } = {}) {
    const h = { ...headers };
    if (this.cookies.size) h.cookie = [...this.cookies].map(([k, v]) => `${k}=${v}`).join('; ');
    const res = await fetch(new URL(path, this.base), { method, body, headers: h, redirect: 'manual' });
    for (const c of res.headers.getSetCookie()) {
      const [pair] = c.split(';');
      const i = pair.indexOf('=');
      const name = pair.slice(0, i), value = pair.slice(i + 1);
      if (/Max-Age=0/i.test(c) || value === '') this.cookies.delete(name);
      else this.cookies.set(name, value);
    }
    const text = await res.text();
    const out = { status: res.status, headers: res.headers, text, location: res.headers.get('location') };
    if (redirect && res.status >= 300 && res.status < 400 && out.location) {
      return this.request('GET', out.location);
    }
    if ((res.headers.get('content-type') || '').startsWith('text/html')) this.html = text;
    out.url = path;
    return out;
  }

  get(path, opts) { return this.request('GET', path, opts); }

  // The token of the last page's forms (every form carries it).
  csrf() {
    const m = this.html.match(/name="csrf" value="([^"]*)"/);
    return m ? m[1] : '';
  }

  async post(path, fields, opts = {}) {
    const body = new URLSearchParams();
    if (!('csrf' in fields)) body.set('csrf', this.csrf());
    for (const [k, v] of Object.entries(fields)) {
      if (Array.isArray(v)) v.forEach((x) => body.append(k, x));
      else if (v !== undefined && v !== null) body.set(k, String(v));
    }
    return this.request('POST', path, {
      ...opts, body: body.toString(),
      headers: { 'content-type': 'application/x-www-form-urlencoded', ...(opts.headers || {}) },
    });
  }

  // A multipart form: fields and files {name: {data: Buffer, filename, type}}.
  async postMultipart(path, fields, files) {
    const fd = new FormData();
    fd.set('csrf', this.csrf());
    for (const [k, v] of Object.entries(fields)) fd.set(k, String(v));
    for (const [k, f] of Object.entries(files)) fd.set(k, new Blob([f.data], { type: f.type || 'application/octet-stream' }), f.filename);
    return this.request('POST', path, { body: fd });
  }

  async login(username, password) {
    await this.get('/login');
    return this.post('/login', { username, password });
  }
}

// ---- page reading helpers ----

// The id of the input whose <label for> says `label`.
export function inputFor(html, label) {
  const re = /<label for="([^"]+)">([\s\S]*?)<\/label>/g;
  let m;
  while ((m = re.exec(html))) {
    if (decode(m[2].replace(/<[^>]+>/g, '')).trim() === label) return m[1];
  }
  return null;
}

// The error message shown at a field (by its name).
export function fieldError(html, name) {
  const m = html.match(new RegExp(`id="err-${name}">([^<]*)<`));
  return m ? decode(m[1]) : null;
}

export function fieldValue(html, name) {
  const m = html.match(new RegExp(`<input id="f-${name}" name="${name}" type="[a-z]+" value="([^"]*)"`));
  return m ? decode(m[1]) : null;
}

export function selectedOption(html, name) {
  const start = html.indexOf(`<select id="f-${name}"`);
  if (start < 0) return null;
  const end = html.indexOf('</select>', start);
  const m = html.slice(start, end).match(/<option value="([^"]*)" selected>/);
  return m ? decode(m[1]) : null;
}

// The option value of a <select> whose visible label contains `text`.
export function optionValue(html, name, text) {
  const start = html.indexOf(`<select id="f-${name}"`);
  const end = html.indexOf('</select>', start);
  const re = /<option value="([^"]*)"(?: selected)?>([^<]*)<\/option>/g;
  const part = html.slice(start, end);
  let m;
  while ((m = re.exec(part))) if (decode(m[2]).trim() === text) return m[1];
  return null;
}

// The href of a link whose text is `text`.
export function linkHref(html, text) {
  const re = /<a [^>]*href="([^"]+)"[^>]*>([\s\S]*?)<\/a>/g;
  let m;
  while ((m = re.exec(html))) if (decode(m[2].replace(/<[^>]+>/g, '')).trim() === text) return decode(m[1]);
  return null;
}

// ---- identifiers with real check digits ----

const USCC_ALPHA = '0123456789ABCDEFGHJKLMNPQRTUWXY';
const USCC_W = [1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28];
export function uscc(seed) {
  const n = String(seed).padStart(8, '0').slice(-8);
  const body = `913501${n}${'A1B'}`.slice(0, 17).split('');
  // positions 9-17 include letters from the alphabet
  let sum = 0;
  body.forEach((ch, i) => { sum += USCC_ALPHA.indexOf(ch) * USCC_W[i]; });
  const c = (31 - (sum % 31)) % 31;
  return body.join('') + USCC_ALPHA[c];
}

const ID_W = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
export function idNumber(seed, birth = '19800101') {
  const body = `110105${birth}${String(seed).padStart(3, '0').slice(-3)}`;
  let sum = 0;
  for (let i = 0; i < 17; i++) sum += Number(body[i]) * ID_W[i];
  return body + '10X98765432'[sum % 11];
}

let uniq = 0;
export function unique() {
  uniq += 1;
  return `${process.pid % 10000}${String(Date.now() % 100000).padStart(5, '0')}${uniq}`.slice(-8);
}

// A valid registration of each kind, province 福建 (35) by default.
export function registrationFields(kind, { authorityId, province = '35', n = unique() } = {}) {
  const common = {
    phone: '0591-87654321', mobile: '13800138000', email: `u${n}@example.cn`,
    province_code: province, authority_id: authorityId, address: '福建省福州市鼓楼区某某路1号',
    postcode: '350001', username: `user_${n}`, password: `Secret-${n}!`, password2: `Secret-${n}!`,
  };
  if (kind === 'evaluator') {
    return { ...common, name: `考评员${n}`, code: idNumber(Number(n) % 1000), work_unit: '某某考评机构', department: '评审部' };
  }
  const unit = {
    ...common, name: `测试单位${n}`, code: uscc(n), legal_rep: '张三', contact_name: '李四',
    contact_id_number: '11010519491231002X',
  };
  if (kind === 'enterprise') unit.category = '道路运输-普通货运';
  if (kind === 'agency') unit.grade = '二级';
  if (kind === 'authority') unit.name = `测试市交通运输局${n}`;
  return unit;
}

// A staff member of the demo logged in with a password (fails loudly when
// the login is refused: every test that uses one expects it to work).
export async function staffClient(esp, username) {
  const c = new Client(esp.url);
  const res = await c.login(username, esp.account(username).password);
  if (res.status !== 200) throw new Error(`${username} did not log in: ${res.status}`);
  return c;
}

// Submits a valid registration of `kind` under the authority named
// `authorityName`, with `overrides` over the generated fields.
export async function registerAs(esp, kind, authorityName, overrides = {}) {
  const c = new Client(esp.url);
  const authorityId = await authorityIdByName(c, kind, authorityName);
  const fields = { ...registrationFields(kind, { authorityId }), ...overrides };
  const res = await c.post(`/register/${kind}`, fields);
  return { c, res, fields };
}

export async function authorityIdByName(client, kind, name) {
  const page = await client.get(`/register/${kind}`);
  const id = optionValue(page.text, 'authority_id', name) ?? optionValue(page.text, 'authority_id', `　${name}`);
  if (!id) throw new Error(`authority ${name} not in the list`);
  return id;
}

export function counts(esp) {
  const out = espctl(esp, 'counts');
  return Object.fromEntries(out.trim().split('\n').map((l) => {
    const m = l.match(/^(.*?)\s+(\d+)$/);
    return [m[1].trim(), Number(m[2])];
  }));
}

// Registers an applicant of `kind` under `authority` and has `reviewer` approve it.
export async function approvedApplicant(esp, kind, { authority = '福建省交通运输厅', reviewer = 'fj_reviewer', overrides = {} } = {}) {
  const c = new Client(esp.url);
  const authorityId = await authorityIdByName(c, kind, authority);
  const fields = { ...registrationFields(kind, { authorityId }), ...overrides };
  const res = await c.post(`/register/${kind}`, fields);
  if (res.status !== 200) throw new Error(`registration failed: ${res.status}`);
  const s = new Client(esp.url);
  await s.login(reviewer, esp.account(reviewer).password);
  const list = await s.get('/review');
  const href = linkHref(list.text, `查看并审核 ${fields.name}`);
  await s.get(href);
  const d = await s.post(href, { decision: 'approve' });
  if (!/已通过/.test(d.text)) throw new Error('approval failed');
  await c.get('/status');
  return { c, fields };
}

// A tiny valid PDF and PNG, and something that is not either.
export const SAMPLE_PDF = Buffer.from('%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n2 0 obj<</Type/Pages/Kids[]/Count 0>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n');
export const SAMPLE_PNG = Buffer.from('89504e470d0a1a0a0000000d4948445200000001000000010806000000' +
  '1f15c4890000000d49444154789c6360000002000154a24f5d0000000049454e44ae426082', 'hex');
export const SAMPLE_EXE = Buffer.concat([Buffer.from('MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff', 'latin1'), Buffer.alloc(200, 0)]);

// A PKCS#10 request made with OpenSSL (as the token would), P-256 unless told.
export function makeCsr(dir, name, keyArgs = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256']) {
  const key = join(dir, `${name}.key`), csr = join(dir, `${name}.csr`);
  execFileSync('openssl', ['req', '-new', ...keyArgs, '-nodes', '-subj', '/CN=ignored by the CA', '-keyout', key, '-out', csr], { stdio: 'ignore' });
  return { key, csr, pem: readFileSync(csr, 'utf8') };
}

// Runs SQL directly on the store, bypassing ESP (for tamper tests).
export function rawSql(esp, sql) {
  if (ENGINE === 'postgresql') return execFileSync('psql', [esp.database, '-At', '-c', sql], { encoding: 'utf8' });
  return execFileSync('sqlite3', [esp.database, sql], { encoding: 'utf8' });
}

// An application of `kind` made through the wizard; returns its number.
export async function submitApplication(c, kind, sets = 1) {
  let page = await c.get('/apply');
  if (kind === 'agency' || kind === 'enterprise') {
    page = await c.postMultipart('/apply/scan', {}, { scan: { data: SAMPLE_PDF, filename: 'scan.pdf', type: 'application/pdf' } });
  }
  const values = {};
  for (const m of page.text.matchAll(/<input id="f-([a-z_]+)" name="[a-z_]+" type="[a-z]+" value="([^"]*)"/g)) values[m[1]] = decode(m[2]);
  for (const n of ['idem', 'scan_id']) values[n] = decode(page.text.match(new RegExp(`name="${n}" value="([^"]*)"`))[1]);
  if (kind !== 'evaluator') values.sets = String(sets);
  await c.post('/apply/form', { ...values, action: 'next' });
  const done = await c.post('/apply/form', { ...values, action: 'confirm' });
  const m = done.text.match(/ESP-\d{4}-\d{6}/);
  if (!m) throw new Error(`application not created: ${done.status}`);
  return m[0];
}

// A session of the management system opened by certificate login with key
// i of a holder from holderWithKeys (curl presents the key to the login
// listener; the session cookie is carried over to a Client).
export function keySession(esp, holder, i) {
  const r = spawnSync('curl', ['-s', '-i', '--cacert', holder.chain, '--cert', holder.certs[i].cert,
    '--key', holder.certs[i].key, `${esp.loginUrl}/`], { encoding: 'utf8' });
  const cookie = (r.stdout.match(/esp_session=([^;\s]+)/) || [])[1];
  if (!cookie) throw new Error(`certificate login failed:\n${r.stdout.slice(0, 500)}`);
  const c = new Client(esp.url);
  c.cookies.set('esp_session', cookie);
  return c;
}

// A holder with `sets` keys of `kind`: registered, approved, applied, paid,
// materials received and issued through the RA's API with OpenSSL keys
// (only the first opts.issued of them when given).
export async function holderWithKeys(esp, kind, sets, dir, opts = {}) {
  const { c, fields } = await approvedApplicant(esp, kind, opts);
  const number = await submitApplication(c, kind, sets);
  const ra = new Client(esp.url);
  await ra.login('fj_ra', esp.account('fj_ra').password);
  const today = new Date(Date.now() + 8 * 3600e3).toISOString().slice(0, 10);
  const page = await ra.get(`/ra/applications/${number}`);
  const due = page.text.match(/id="amount-due">(\d+) 元/);
  if (kind !== 'evaluator') {
    await ra.post(`/ra/applications/${number}/payment`, { amount: due[1], paid_on: today, payer: 'x', bank_ref: 'R1' });
    await ra.get(`/ra/applications/${number}`);
    await ra.post(`/ra/applications/${number}/materials`, { item: ['0', '1'] });
  } else {
    const tr = new Client(esp.url);
    await tr.login('fj_trainer', esp.account('fj_trainer').password);
    await tr.get(`/ra/applications/${number}`);
    await tr.post(`/ra/applications/${number}/materials`, { item: ['0', '1'] });
  }
  await ra.get('/ra/tokens');
  const t = await ra.post('/ra/tokens', { name: 'ws' });
  const token = t.text.match(/id="new-token">([^<]+)</)[1];
  const certs = [];
  for (let i = 0; i < (opts.issued ?? sets); i++) {
    const csr = makeCsr(dir, `${number}-${i}`);
    const r = await fetch(`${esp.url}/api/v1/applications/${number}/certificates`, {
      method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ csr: csr.pem, token_serial: `TK-${number}-${i}` }),
    });
    if (r.status !== 201) throw new Error(`issue failed ${r.status} ${await r.text()}`);
    const body = await r.json();
    const certFile = join(dir, `${number}-${i}.crt`);
    writeFileSync(certFile, body.certificate);
    certs.push({ serial: body.serial, pem: body.certificate, cert: certFile, key: csr.key, token: `TK-${number}-${i}` });
    writeFileSync(join(dir, 'chain.pem'), body.chain);
  }
  return { c, fields, number, certs, token, ra, chain: join(dir, 'chain.pem') };
}
