// Rate limits on expensive and anonymous requests (docs/config.md): password
// guesses in parallel, one address behind a NAT, registrations, login
// challenges and scan uploads, the client address behind a trusted proxy,
// and maintenance deleting what nothing refers to.
//
// `proxied` trusts 127.0.0.1 as a reverse proxy, so each test chooses the
// client address it speaks from with X-Forwarded-For. Its passwords are
// hashed at the production cost, so that checks take as long as they do in
// production and parallel requests really overlap. `direct` trusts no proxy.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import {
  startEsp, Client, ENGINE, ESPD, rawSql, registrationFields, authorityIdByName,
  approvedApplicant, submitApplication, SAMPLE_PDF,
} from './lib/esp.mjs';

const MAX_FAILURES = 5; // settings: login_max_failures

let proxied, direct;
before(async () => {
  proxied = await startEsp({ args: [
    '--trusted_proxies=10.9.9.9, 127.0.0.1', '--password_hash=interactive',
    '--login_failures_per_address=12', '--registrations_per_address_hour=3',
    '--challenges_per_address_minute=5', '--challenges_max=12', '--scans_per_account_minute=4',
  ] });
  direct = await startEsp({ args: ['--registrations_per_address_hour=1', '--login_checks_per_second=1'] });
});
after(async () => {
  await proxied?.cleanup();
  await direct?.cleanup();
});

// The proxy terminates TLS: a remote client's password login over plain
// HTTP would be sent to the HTTPS portal (password.test.mjs).
const from = (ip) => ({ headers: { 'x-forwarded-for': `198.18.0.1, ${ip}`, 'x-forwarded-proto': 'https' } });

async function login(esp, username, password, ip) {
  const c = new Client(esp.url);
  await c.get('/login');
  return c.post('/login', { username, password }, ip ? from(ip) : {});
}

async function register(esp, ip, kind = 'enterprise') {
  const c = new Client(esp.url);
  const authorityId = await authorityIdByName(c, kind, '福建省交通运输厅');
  const fields = registrationFields(kind, { authorityId });
  const res = await c.post(`/register/${kind}`, fields, ip ? from(ip) : {});
  return { c, fields, res };
}

// n wrong passwords at once, each from its own connection; the statuses.
async function parallelWrong(esp, username, ip, n) {
  const clients = await Promise.all(Array.from({ length: n }, async () => {
    const c = new Client(esp.url);
    await c.get('/login');
    return c;
  }));
  const res = await Promise.all(clients.map((c) => c.post('/login', { username, password: 'wrong-password' }, from(ip))));
  const tally = {};
  for (const r of res) tally[r.status] = (tally[r.status] || 0) + 1;
  return { tally, res };
}

test(`[${ENGINE}] 24 parallel wrong passwords get ${MAX_FAILURES} checks; one address does not lock out another user`, async () => {
  const a = (await register(proxied, '192.0.2.60')).fields;
  const b = (await register(proxied, '192.0.2.60')).fields;
  const nat = '198.51.100.1';
  for (const user of [a, b]) {
    const { tally, res } = await parallelWrong(proxied, user.username, nat, 24);
    // Reserved before hashing: exactly the limit of checks, the last of
    // which locks; everything else is refused without a check.
    assert.deepEqual(tally, { 401: MAX_FAILURES - 1, 429: 24 - MAX_FAILURES + 1 }, JSON.stringify(tally));
    for (const r of res.filter((x) => x.status === 429)) {
      assert.match(r.text, /账户已锁定，请1[45]分钟后再试/);
      const wait = Number(r.headers.get('retry-after'));
      assert.ok(wait > 800 && wait <= 900, `Retry-After ${wait}`);
    }
  }
  // 48 wrong passwords from that address: a colleague behind the same NAT
  // who types the right password gets in.
  const other = await login(proxied, 'fj_reviewer', proxied.account('fj_reviewer').password, nat);
  assert.equal(other.status, 200, other.text.slice(0, 300));
  assert.equal(other.url, '/review');
  // The guessed account stays locked from that address, right password or not ...
  const locked = await login(proxied, a.username, a.password, nat);
  assert.equal(locked.status, 429);
  assert.ok(Number(locked.headers.get('retry-after')) > 0);
  // ... but its owner, elsewhere, logs in.
  const owner = await login(proxied, a.username, a.password, '203.0.113.9');
  assert.equal(owner.status, 200);
  assert.match(owner.text, /待审核/);
});

test(`[${ENGINE}] one address guessing across many user names is refused, with Retry-After`, async () => {
  const ip = '198.51.100.2';
  for (let i = 0; i < 12; i++) assert.equal((await login(proxied, `ghost_${i}`, 'x', ip)).status, 401);
  const refused = await login(proxied, 'ghost_12', 'x', ip);
  assert.equal(refused.status, 429);
  assert.match(refused.text, /网络地址的登录尝试过于频繁，请\d+分钟后再试/);
  const wait = Number(refused.headers.get('retry-after'));
  assert.ok(wait > 800 && wait <= 900, `Retry-After ${wait}`);
  // Another address is not affected.
  const ok = await login(proxied, 'fj_reviewer', proxied.account('fj_reviewer').password, '198.51.100.3');
  assert.equal(ok.status, 200);
});

test(`[${ENGINE}] the store-wide cap of password checks per second answers 503 with Retry-After`, async () => {
  const clients = await Promise.all(Array.from({ length: 6 }, async () => {
    const c = new Client(direct.url);
    await c.get('/login');
    return c;
  }));
  const t0 = Date.now();
  const res = await Promise.all(clients.map((c, i) => c.post('/login', { username: `nobody_${i}`, password: 'x' })));
  const seconds = Math.ceil((Date.now() - t0) / 1000) + 1; // calendar seconds touched, at most
  const busy = res.filter((r) => r.status === 503);
  const checked = res.filter((r) => r.status === 401);
  // One check a second, whatever the number asking at once.
  assert.ok(busy.length >= 1 && checked.length <= seconds, `${res.map((r) => r.status)} in ${seconds} s`);
  assert.equal(checked.length + busy.length, 6);
  for (const r of busy) {
    assert.equal(r.headers.get('retry-after'), '1');
    assert.match(r.text, /系统繁忙，请1秒后再试/);
  }
});

test(`[${ENGINE}] a registration flood from one address gets 429 after the limit, and writes nothing`, async () => {
  const ip = '198.51.100.20';
  for (let i = 0; i < 3; i++) {
    const { res } = await register(proxied, ip, 'agency');
    assert.equal(res.status, 200, `registration ${i + 1}`);
  }
  const before = Number(rawSql(proxied, 'SELECT COUNT(*) FROM registrations').trim());
  const { res, fields } = await register(proxied, ip, 'agency');
  assert.equal(res.status, 429);
  assert.match(res.text, /同一网络地址提交报名过于频繁，请(\d+分钟|1小时)后再试/);
  const wait = Number(res.headers.get('retry-after'));
  assert.ok(wait > 3500 && wait <= 3600, `Retry-After ${wait}`);
  assert.equal(Number(rawSql(proxied, 'SELECT COUNT(*) FROM registrations').trim()), before);
  assert.equal(rawSql(proxied, `SELECT COUNT(*) FROM accounts WHERE username = '${fields.username}'`).trim(), '0');
  // A form with errors writes nothing and is not counted: another address
  // corrects its form and registers.
  const c = new Client(proxied.url);
  const authorityId = await authorityIdByName(c, 'agency', '福建省交通运输厅');
  const good = registrationFields('agency', { authorityId });
  assert.equal((await c.post('/register/agency', { ...good, code: '123' }, from('198.51.100.21'))).status, 422);
  assert.equal((await c.post('/register/agency', good, from('198.51.100.21'))).status, 200);
});

test(`[${ENGINE}] IPv6 clients are counted by their /64`, async () => {
  for (let i = 1; i <= 3; i++) assert.equal((await register(proxied, `2001:db8:7:7::${i}`, 'agency')).res.status, 200);
  const sameNet = await register(proxied, '2001:db8:7:7:ffff::9', 'agency');
  assert.equal(sameNet.res.status, 429);
  assert.equal((await register(proxied, '2001:db8:7:8::1', 'agency')).res.status, 200, 'another /64');
});

test(`[${ENGINE}] X-Forwarded-For from a peer that is not a trusted proxy is ignored`, async () => {
  const first = await register(direct, '192.0.2.1');
  assert.equal(first.res.status, 200);
  // A new "address" in the header changes nothing: the peer is the client.
  const second = await register(direct, '192.0.2.2');
  assert.equal(second.res.status, 429);
  assert.match(second.res.text, /报名过于频繁/);
});

test(`[${ENGINE}] a trusted_proxies entry that is not an IP address stops espd at start`, () => {
  const r = spawnSync(ESPD, [`--data_dir=${direct.dir}`, '--trusted_proxies=127.0.0.1, proxy.example'], { encoding: 'utf8' });
  assert.equal(r.status, 1);
  assert.match(r.stderr, /trusted_proxies: 'proxy.example' is not an IP address/);
});

test(`[${ENGINE}] a challenge flood gets 429 per address, 503 past the cap; the table stays within it`, async () => {
  const get = (ip) => fetch(`${proxied.url}/api/v1/login/challenge`, from(ip));
  const one = [];
  for (let i = 0; i < 7; i++) one.push(await get('198.51.100.30'));
  assert.deepEqual(one.map((r) => r.status), [200, 200, 200, 200, 200, 429, 429]);
  const refused = await one[5].json();
  assert.equal(refused.error, 'too_many_requests');
  assert.match(refused.message, /获取登录挑战码过于频繁，请(\d+秒|1分钟)后再试/);
  assert.ok(Number(one[5].headers.get('retry-after')) >= 1);
  // Many addresses: the store holds at most challenges_max (12) usable ones.
  const many = [];
  for (let i = 0; i < 20; i++) many.push(await get(`198.51.100.${40 + i}`));
  const statuses = many.map((r) => r.status);
  assert.equal(statuses.filter((s) => s === 200).length, 7, statuses.join(','));
  const full = many.find((r) => r.status === 503);
  assert.equal((await full.json()).error, 'busy');
  assert.equal(full.headers.get('retry-after'), '60');
  assert.equal(rawSql(proxied, 'SELECT COUNT(*) FROM login_challenges').trim(), '12');
});

test(`[${ENGINE}] rapid scan uploads get 429 after the limit; maintenance deletes the scans nothing uses`, async () => {
  const { c } = await approvedApplicant(proxied, 'enterprise');
  const number = await submitApplication(c, 'enterprise'); // one scan, used by the application
  assert.match(number, /^ESP-/);
  const used = rawSql(proxied, 'SELECT scan_id FROM applications WHERE scan_id IS NOT NULL').trim().split('\n');
  await c.get('/status'); // a page with the form token
  const scan = { scan: { data: SAMPLE_PDF, filename: 'scan.pdf', type: 'application/pdf' } };
  const res = [];
  for (let i = 0; i < 6; i++) res.push(await c.postMultipart('/apply/scan', {}, scan));
  assert.deepEqual(res.map((r) => r.status), [200, 200, 200, 429, 429, 429]);
  assert.match(res[3].text, /上传扫描件过于频繁，请(\d+秒|1分钟)后再试/);
  assert.ok(Number(res[3].headers.get('retry-after')) >= 1);
  assert.equal(rawSql(proxied, 'SELECT COUNT(*) FROM uploads').trim(), '4');

  // A day and more later, maintenance (at start, then every minute)
  // deletes the three scans no application took, the challenges and the
  // rate-limit windows that have ended.
  await proxied.stop();
  proxied.env = { ESP_TIME_OFFSET: String(25 * 3600) };
  await proxied.start();
  let left = '';
  for (let i = 0; i < 100; i++) {
    left = rawSql(proxied, 'SELECT id FROM uploads ORDER BY id').trim();
    if (left.split('\n').length === 1) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  assert.deepEqual(left.split('\n'), used);
  assert.equal(rawSql(proxied, 'SELECT COUNT(*) FROM login_challenges').trim(), '0');
  assert.equal(rawSql(proxied, 'SELECT COUNT(*) FROM rate_limits').trim(), '0');
  // The application still shows its scan.
  const ra = new Client(proxied.url);
  await ra.login('fj_ra', proxied.account('fj_ra').password);
  const scanPage = await ra.get(`/ra/applications/${number}`);
  assert.equal(scanPage.status, 200);
});
