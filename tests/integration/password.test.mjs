// Passwords and sessions: the password rule at registration and at 修改密码,
// the change page ending the account's other sessions, the admin's reset to a
// one-time password that must be changed first (page and espctl), sessions
// that end when idle and at their absolute cap, and password login over plain
// HTTP sent to the HTTPS portal.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import {
  startEsp, Client, espctlStatus, registrationFields, authorityIdByName, fieldError, inputFor, ENGINE,
} from './lib/esp.mjs';

let esp;
before(async () => { esp = await startEsp(); });
after(async () => {
  await esp?.stop();
  if (esp) assert.doesNotMatch(esp.log, /Sanitizer|runtime error/);
  await esp?.cleanup();
});

// Each run's log is checked for sanitizer reports before the next begins.
async function restart({ env = {}, args = [] } = {}) {
  await esp.stop();
  assert.doesNotMatch(esp.log, /Sanitizer|runtime error/);
  esp.env = env;
  esp.extra = args;
  await esp.start();
}

const GOOD = 'Tr4m-line-Fuzhou';

async function changePassword(c, current, next, next2 = next) {
  await c.get('/password');
  return c.post('/password', { current_password: current, new_password: next, new_password2: next2 });
}

test(`[${ENGINE}] registration refuses 12345678 and password, saying why`, async () => {
  const c = new Client(esp.url);
  const authorityId = await authorityIdByName(c, 'enterprise', '福建省交通运输厅');
  for (const [pw, why] of [['12345678', /连续的数字/], ['password', /过于常见/], ['Aa123456', /过于常见/],
    ['19800101', /日期/]]) {
    const fields = { ...registrationFields('enterprise', { authorityId }), password: pw, password2: pw };
    const res = await c.post('/register/enterprise', fields);
    assert.equal(res.status, 422, pw);
    assert.match(fieldError(res.text, 'password'), why, pw);
  }
  const ok = await c.post('/register/enterprise', registrationFields('enterprise', { authorityId }));
  assert.equal(ok.status, 200);
});

test(`[${ENGINE}] 修改密码: labelled form, the rule, the old password then fails and other sessions end`, async () => {
  const user = 'bj_ra';
  const old = esp.account(user).password;
  const a = new Client(esp.url), b = new Client(esp.url);
  assert.equal((await a.login(user, old)).status, 200);
  assert.equal((await b.login(user, old)).status, 200);
  // Linked from every logged-in page.
  assert.match(a.html, /<a href="\/password">修改密码<\/a>/);

  const page = await a.get('/password');
  assert.equal(page.status, 200);
  assert.equal(inputFor(page.text, '当前密码'), 'pw-current');
  assert.equal(inputFor(page.text, '新密码'), 'pw-new');
  assert.equal(inputFor(page.text, '确认新密码'), 'pw-new2');

  let res = await changePassword(a, old, '12345678');
  assert.equal(res.status, 422);
  assert.match(fieldError(res.text, 'new_password'), /连续的数字或字母/);
  res = await changePassword(a, old, 'password');
  assert.equal(res.status, 422);
  assert.match(fieldError(res.text, 'new_password'), /过于常见/);
  res = await changePassword(a, old, 'Ab3$xyz');
  assert.equal(fieldError(res.text, 'new_password'), '密码至少8位');
  res = await changePassword(a, 'not-the-password', GOOD);
  assert.equal(res.status, 422);
  assert.equal(fieldError(res.text, 'current_password'), '当前密码不正确');
  res = await changePassword(a, old, GOOD, `${GOOD}x`);
  assert.equal(fieldError(res.text, 'new_password2'), '两次输入的新密码不一致');
  // Nothing changed so far: b is still in.
  assert.equal((await b.get('/ra', { redirect: false })).status, 200);

  res = await changePassword(a, old, GOOD);
  assert.equal(res.status, 200);
  assert.match(res.text, /密码已修改/);
  // This session goes on; the other one ended.
  assert.equal((await a.get('/ra', { redirect: false })).status, 200);
  const other = await b.get('/ra', { redirect: false });
  assert.equal(other.status, 303);
  assert.equal(other.location, '/login?expired=1');
  // The old password fails, the new one works.
  assert.equal((await new Client(esp.url).login(user, old)).status, 401);
  assert.equal((await new Client(esp.url).login(user, GOOD)).status, 200);
});

// Logs in with a one-time password: every page leads to 修改密码 until changed.
async function forcedChange(user, oneTime, old) {
  assert.equal((await new Client(esp.url).login(user, old)).status, 401, 'the old password is gone');
  const c = new Client(esp.url);
  await c.get('/login');
  const login = await c.post('/login', { username: user, password: oneTime }, { redirect: false });
  assert.equal(login.status, 303);
  const landing = await c.get(login.location, { redirect: false });
  assert.equal(landing.status, 303);
  assert.equal(landing.location, '/password');
  for (const path of ['/ra', '/home', '/ra/queue']) {
    const r = await c.get(path, { redirect: false });
    assert.equal(r.status, 303, path);
    assert.equal(r.location, '/password', path);
  }
  const page = await c.get('/password');
  assert.match(page.text, /系统管理员已为您的账户重置了密码/);
  assert.equal(inputFor(page.text, '管理员提供的临时密码'), 'pw-current');
  const weak = await c.post('/password', { current_password: oneTime, new_password: 'password', new_password2: 'password' });
  assert.equal(weak.status, 422);
  assert.equal((await c.get('/ra', { redirect: false })).location, '/password');
  const done = await changePassword(c, oneTime, GOOD);
  assert.equal(done.status, 200);
  assert.equal((await c.get('/ra', { redirect: false })).status, 200);
  assert.equal((await new Client(esp.url).login(user, oneTime)).status, 401, 'the one-time password is spent');
}

test(`[${ENGINE}] 重置密码 on the staff page: shown once, sessions end, changed at the next login`, async () => {
  const user = 'bj_trainer';
  const old = esp.account(user).password;
  const t = new Client(esp.url);
  await t.login(user, old);
  assert.equal((await t.get('/ra', { redirect: false })).status, 200);

  const admin = new Client(esp.url);
  await admin.login('admin', esp.account('admin').password);
  const staff = await admin.get('/admin/staff');
  // The link's name starts with its visible text; the account follows for screen readers.
  assert.match(staff.text, new RegExp(`<a href="/admin/staff/${user}/reset-password"[^>]*>重置密码(<span class="sr-only">：${user}</span>)?</a>`));
  assert.doesNotMatch(staff.text, /href="\/admin\/staff\/admin\/reset-password"/, 'not for the admin itself');
  // It asks first, naming whom; nothing happens until confirmed.
  const confirm = await admin.get(`/admin/staff/${user}/reset-password`);
  assert.equal(confirm.status, 200);
  assert.match(confirm.text, /北京市培训机构/);
  assert.match(confirm.text, /确认重置密码/);
  assert.equal((await t.get('/ra', { redirect: false })).status, 200);
  const res = await admin.post(`/admin/staff/${user}/reset-password`, {});
  assert.equal(res.status, 200);
  const oneTime = (res.text.match(/<code id="one-time-password">([^<]+)<\/code>/) || [])[1];
  assert.ok(oneTime, 'the one-time password is shown');
  assert.equal(oneTime.length, 16);
  // Shown once: the page reloaded does not show it.
  assert.doesNotMatch((await admin.get('/admin/staff')).text, new RegExp(oneTime));
  // Its open session ended.
  assert.equal((await t.get('/ra', { redirect: false })).status, 303);
  // Not for applicants, unknown accounts, or the admin itself; not for others than the admin.
  assert.equal((await admin.get('/admin/staff/nobody_here/reset-password')).status, 404);
  assert.equal((await admin.post('/admin/staff/nobody_here/reset-password', {})).status, 404);
  assert.equal((await admin.get('/admin/staff/admin/reset-password')).status, 422);
  assert.equal((await admin.post('/admin/staff/admin/reset-password', {})).status, 422);
  const reviewer = new Client(esp.url);
  await reviewer.login('fz_reviewer', esp.account('fz_reviewer').password);
  await reviewer.get('/review');
  assert.equal((await reviewer.post(`/admin/staff/${user}/reset-password`, {})).status, 403);
  await forcedChange(user, oneTime, old);
});

test(`[${ENGINE}] espctl user reset-password prints a one-time password that must be changed`, async () => {
  const user = 'fj_trainer';
  const old = esp.account(user).password;
  const r = espctlStatus(esp, 'user', 'reset-password', user);
  assert.equal(r.code, 0, r.out);
  const oneTime = (r.out.match(/one-time password: (\S+)/) || [])[1];
  assert.ok(oneTime, r.out);
  await forcedChange(user, oneTime, old);
  const missing = espctlStatus(esp, 'user', 'reset-password', 'nobody_here');
  assert.equal(missing.code, 2);
  assert.match(missing.out, /no account 'nobody_here'/);
});

test(`[${ENGINE}] espctl user create follows the password rule for a chosen password`, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'esp-pw-'));
  const file = join(dir, 'pw');
  writeFileSync(file, '12345678\n');
  const weak = espctlStatus(esp, 'user', 'create', '--role', 'ra', '--username', 'gd_ra', '--province', '44', '--password-file', file);
  assert.equal(weak.code, 1);
  assert.match(weak.out, /连续的数字或字母/);
  writeFileSync(file, `${GOOD}\n`);
  const ok = espctlStatus(esp, 'user', 'create', '--role', 'ra', '--username', 'gd_ra', '--province', '44', '--password-file', file);
  assert.equal(ok.code, 0, ok.out);
  assert.equal((await new Client(esp.url).login('gd_ra', GOOD)).status, 200);
});

test(`[${ENGINE}] sessions end after 30 idle minutes and 8 hours after login however active`, async () => {
  const minutes = (m) => String(m * 60);
  const c = new Client(esp.url);
  await c.login('mot_reviewer', esp.account('mot_reviewer').password);
  assert.equal((await c.get('/review', { redirect: false })).status, 200);
  // Used at 20 and 45 minutes: each use counts, so 25 idle minutes are fine.
  await restart({ env: { ESP_TIME_OFFSET: minutes(20) } });
  assert.equal((await c.get('/review', { redirect: false })).status, 200);
  await restart({ env: { ESP_TIME_OFFSET: minutes(45) } });
  assert.equal((await c.get('/review', { redirect: false })).status, 200);
  // 31 minutes after the last use: gone.
  await restart({ env: { ESP_TIME_OFFSET: minutes(76) } });
  const idle = await c.get('/review', { redirect: false });
  assert.equal(idle.status, 303);
  assert.equal(idle.location, '/login?expired=1');

  // Active every 25 minutes, but session_max_hours = 1 ends it after an hour.
  await restart({ env: {}, args: ['--session_max_hours=1'] });
  const d = new Client(esp.url);
  await d.login('mot_reviewer', esp.account('mot_reviewer').password);
  for (const m of [25, 50]) {
    await restart({ env: { ESP_TIME_OFFSET: minutes(m) }, args: ['--session_max_hours=1'] });
    assert.equal((await d.get('/review', { redirect: false })).status, 200, `${m} minutes`);
  }
  await restart({ env: { ESP_TIME_OFFSET: minutes(61) }, args: ['--session_max_hours=1'] });
  assert.equal((await d.get('/review', { redirect: false })).status, 303);
  await restart();
});

// curl over HTTPS (Node's fetch would not trust our CA), with a cookie jar.
function curl(args) {
  const r = spawnSync('curl', ['-s', '-i', '--cacert', join(esp.dir, 'ca/chain.pem'), ...args], { encoding: 'utf8' });
  const head = r.stdout.split('\r\n\r\n')[0];
  return { status: Number((head.match(/^HTTP\/[\d.]+ (\d+)/) || [])[1] || 0), head, body: r.stdout };
}

test(`[${ENGINE}] password login over HTTP goes to the HTTPS portal, except for the loopback demo`, async () => {
  // On loopback (the demo) HTTP login works as before.
  const demo = new Client(esp.url);
  assert.equal((await demo.get('/login', { redirect: false })).status, 200);

  // A client off loopback (always = what such a client sees).
  await restart({ args: ['--http_login_redirect=always'] });
  const c = new Client(esp.url);
  let r = await c.get('/login?portal=enterprise', { redirect: false });
  assert.equal(r.status, 303);
  assert.equal(r.location, `${esp.httpsUrl}/login?portal=enterprise`);
  // A password posted over HTTP (with a good form token) is not used: no
  // session, sent to the HTTPS form.
  r = await c.request('POST', '/login', {
    body: new URLSearchParams({
      csrf: c.cookies.get('esp_csrf'), username: 'bj_reviewer', password: esp.account('bj_reviewer').password,
    }).toString(),
    headers: { 'content-type': 'application/x-www-form-urlencoded' }, redirect: false,
  });
  assert.equal(r.status, 303);
  assert.equal(r.location, `${esp.httpsUrl}/login`);
  assert.ok(!c.cookies.has('esp_session'));
  // Other pages stay on HTTP.
  assert.equal((await c.get('/', { redirect: false })).status, 200);

  // Over HTTPS the login works and the session cookie is Secure.
  const jar = join(mkdtempSync(join(tmpdir(), 'esp-pw-')), 'jar');
  const form = curl(['-c', jar, `${esp.httpsUrl}/login`]);
  assert.equal(form.status, 200);
  const csrf = (form.body.match(/name="csrf" value="([^"]*)"/) || [])[1];
  const login = curl(['-b', jar, '-c', jar, '--data-urlencode', `csrf=${csrf}`, '--data-urlencode', 'username=bj_reviewer',
    '--data-urlencode', `password=${esp.account('bj_reviewer').password}`, `${esp.httpsUrl}/login`]);
  assert.equal(login.status, 303);
  assert.match(login.head, /Set-Cookie: esp_session=[^;]+;[^\r\n]*HttpOnly[^\r\n]*; Secure/i);

  // Behind a trusted TLS-terminating proxy: a remote client on plain HTTP
  // is sent to HTTPS (auto mode, its address is not loopback); one the proxy
  // marks as HTTPS logs in there, with Secure cookies.
  await restart({ args: ['--trusted_proxies=127.0.0.1'] });
  const remote = { 'x-forwarded-for': '203.0.113.7' };
  const p = new Client(esp.url);
  r = await p.get('/login', { redirect: false, headers: remote });
  assert.equal(r.status, 303);
  assert.equal(r.location, `${esp.httpsUrl}/login`);
  const viaTls = { ...remote, 'x-forwarded-proto': 'https' };
  p.cookies.clear();
  r = await p.get('/login', { redirect: false, headers: viaTls });
  assert.equal(r.status, 200);
  assert.match(r.headers.get('set-cookie') || '', /esp_csrf=[^;]+;.*; Secure/);
  r = await p.post('/login', { username: 'bj_reviewer', password: esp.account('bj_reviewer').password },
    { redirect: false, headers: viaTls });
  assert.equal(r.status, 303);
  assert.match(r.headers.getSetCookie().find((c) => c.startsWith('esp_session=')), /; Secure/);
  // X-Forwarded-Proto from anyone but a trusted proxy is not believed.
  await restart({ args: ['--http_login_redirect=always'] });
  r = await new Client(esp.url).get('/login', { redirect: false, headers: { 'x-forwarded-proto': 'https' } });
  assert.equal(r.status, 303);

  // https_url names the portal when the HTTPS listener sits behind another address.
  await restart({ args: ['--http_login_redirect=always', '--https_url=https://esp.example.cn/'] });
  r = await new Client(esp.url).get('/login?as=ra', { redirect: false });
  assert.equal(r.location, 'https://esp.example.cn/login?as=ra');
  await restart();
});
