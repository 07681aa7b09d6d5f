// Access decided at dispatch: every route of src/httpd/routes.c requested by
// every kind of actor (anonymous, each applicant kind with a password
// session, a certificate holder with a key session and with a password one,
// reviewers, RAs and a trainer in and out of the records' region, the
// admin), each answered as the policy says: the login page for the
// anonymous, 403 for the refused (the "use your key" page in the management
// system), /home for staff on /status, 401 JSON on the API without its
// token. The expectations are written here, independently of routes.c, and
// the test fails when a route has none: a new route must say who reaches it.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { startEsp, Client, approvedApplicant, submitApplication, holderWithKeys, rawSql, ROOT, ENGINE, staffClient } from './lib/esp.mjs';

let esp, dir;
const actors = [];
const data = {};

function actor(name, role, client, extra = {}) {
  actors.push({ name, role, client, anon: role === 'none', key: false, ...extra });
}

const staff = (username) => staffClient(esp, username);

// A session opened with the holder's key over TLS (curl: Node's fetch would
// not trust our CA), then used like any other session cookie.
function keySession(holder) {
  const r = spawnSync('curl', ['-s', '-i', '--cacert', holder.chain, '--cert', holder.certs[0].cert,
    '--key', holder.certs[0].key, `${esp.loginUrl}/`], { encoding: 'utf8' });
  const cookie = (r.stdout.match(/esp_session=([^;\s]+)/) || [])[1];
  if (!cookie) throw new Error(`certificate login failed:\n${r.stdout.slice(0, 500)}`);
  const c = new Client(esp.url);
  c.cookies.set('esp_session', cookie);
  return c;
}

before(async () => {
  esp = await startEsp({ login: true });
  dir = mkdtempSync(join(tmpdir(), 'esp-access-'));
  const ent = await approvedApplicant(esp, 'enterprise');
  data.appE = await submitApplication(ent.c, 'enterprise');
  data.nameE = ent.fields.name;
  data.regE = rawSql(esp, `SELECT id FROM registrations WHERE name = '${ent.fields.name}'`).trim();
  // A pending 信息变更 of the enterprise (its address: no scan, no certificate).
  await ent.c.get('/change');
  const change = await ent.c.postMultipart('/change', { ...ent.fields, address: '福建省福州市鼓楼区新地址2号' }, {});
  if (change.status !== 200) throw new Error(`change not submitted: ${change.status}`);
  data.changeE = rawSql(esp, `SELECT id FROM registration_changes WHERE registration_id = ${data.regE}`).trim();
  const ev = await approvedApplicant(esp, 'evaluator');
  data.appV = await submitApplication(ev.c, 'evaluator');
  const agency = await approvedApplicant(esp, 'agency');
  const authority = await approvedApplicant(esp, 'authority');
  const holder = await holderWithKeys(esp, 'enterprise', 1, dir);
  data.serial = holder.certs[0].serial;
  // An approved 主管机关 with its key: it reviews what is filed under it
  // (nothing here is: the records above are filed under its parent).
  const authorityHolder = await holderWithKeys(esp, 'authority', 1, dir);
  data.token = holder.certs[0].token;

  actor('anonymous', 'none', new Client(esp.url));
  actor('enterprise', 'applicant', ent.c, { owner: true });
  actor('agency', 'applicant', agency.c);
  actor('evaluator', 'applicant', ev.c, { evaluatorOwner: true });
  actor('authority', 'applicant', authority.c);
  actor('holder (password)', 'applicant', holder.c);
  actor('holder (key)', 'applicant', keySession(holder), { key: true, holder: true });
  actor('authority holder (key)', 'applicant', keySession(authorityHolder), { key: true, reviews: true });
  actor('fj_reviewer', 'reviewer', await staff('fj_reviewer'), { region: true });
  actor('bj_reviewer', 'reviewer', await staff('bj_reviewer'));
  actor('fj_ra', 'ra', await staff('fj_ra'), { region: true });
  actor('bj_ra', 'ra', await staff('bj_ra'));
  actor('fj_trainer', 'trainer', await staff('fj_trainer'), { region: true });
  actor('admin', 'admin', await staff('admin'));
});
after(async () => {
  await esp?.cleanup();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

// ---- who may: the policy, restated ----

const anyone = () => 'ok';
const signedIn = (may) => (a) => (a.anon ? 'login' : may(a) ? 'ok' : 'forbid');
// The management system: an applicant's password session is sent for the key first.
const mgmt = (may) => (a) => (a.anon ? 'login' : a.role === 'applicant' && !a.key ? 'key' : may(a) ? 'ok' : 'forbid');
const apiToken = () => 'token';

const all = () => true;
const none = () => false;
const role = (...roles) => (a) => roles.includes(a.role);
const applicant = role('applicant');
const admin = role('admin');
// Enterprise application data: its registrant, the reviewer and RA of its
// region, the admin; never another applicant, region or the trainer.
const seesEnterpriseApp = (a) => a.owner || (a.region && (a.role === 'reviewer' || a.role === 'ra')) || a.role === 'admin';
// An evaluator's: the trainer of its region joins in.
const seesEvaluatorApp = (a) => a.evaluatorOwner || (a.region && ['reviewer', 'ra', 'trainer'].includes(a.role)) || a.role === 'admin';

// [method, pattern, [[path, expect, {destructive}]...]]: a destructive
// request is only made by the actors it refuses.
const spec = () => [
  ['GET', '/', [['/', anyone]]],
  ['GET', '/help', [['/help', anyone]]],
  ['GET', '/healthz', [['/healthz', anyone]]],
  ['GET', '/readyz', [['/readyz', anyone]]],
  // By address, not by actor (metrics_allow): every actor here is on loopback.
  ['GET', '/metrics', [['/metrics', anyone]]],
  ['GET', '/static/*', [['/static/esp.css', anyone]]],
  ['GET', '/portal/{}', [['/portal/enterprise', anyone]]],
  ['GET', '/register/{}', [['/register/enterprise', anyone]]],
  ['POST', '/register/{}', [['/register/enterprise', anyone]]],
  ['GET', '/login', [['/login', anyone]]],
  ['POST', '/login', [['/login', anyone]]],
  ['POST', '/logout', [['/logout', signedIn(all), { destructive: true }]]],
  ['GET', '/logged-out', [['/logged-out', anyone]]],
  ['GET', '/home', [['/home', signedIn(all)]]],
  // 修改密码: every account with a password, for itself only.
  ['GET', '/password', [['/password', signedIn(all)]]],
  ['POST', '/password', [['/password', signedIn(all)]]],
  ['GET', '/status', [['/status', (a) => (a.anon ? 'login' : applicant(a) ? 'ok' : 'home')]]],
  // Every registration here is approved: only a rejected one is corrected.
  ['GET', '/registration/edit', [['/registration/edit', signedIn(none)]]],
  ['POST', '/registration/edit', [['/registration/edit', signedIn(none)]]],
  ['GET', '/review', [['/review', signedIn((a) => a.role === 'reviewer' || a.reviews)]]],
  ['GET', '/review/{}', [[`/review/${data.regE}`, signedIn((a) => a.owner || (a.role === 'reviewer' && a.region) || admin(a))]]],
  ['POST', '/review/{}', [[`/review/${data.regE}`, signedIn((a) => a.role === 'reviewer' && a.region), { destructive: true }]]],
  // 信息变更: every applicant here is approved and may change its own
  // registration (an empty form is refused as input, not as access); only
  // the reviewers of the registration's authority path see or decide a
  // change: not the unit, another region, the RA, the trainer or the admin.
  ['GET', '/change', [['/change', signedIn(applicant)]]],
  ['POST', '/change', [['/change', signedIn(applicant)]]],
  ['GET', '/review/changes', [['/review/changes', signedIn((a) => a.role === 'reviewer' || a.reviews)]]],
  ['GET', '/review/changes/{}', [[`/review/changes/${data.changeE}`, signedIn((a) => a.role === 'reviewer' && a.region)]]],
  ['GET', '/review/changes/{}/scan', [[`/review/changes/${data.changeE}/scan`, signedIn((a) => a.role === 'reviewer' && a.region)]]],
  ['POST', '/review/changes/{}', [[`/review/changes/${data.changeE}`, signedIn((a) => a.role === 'reviewer' && a.region), { destructive: true }]]],
  ['GET', '/apply', [['/apply', signedIn(applicant)]]],
  ['POST', '/apply/scan', [['/apply/scan', signedIn(applicant)]]],
  ['GET', '/apply/form', [['/apply/form', signedIn(applicant)]]],
  ['POST', '/apply/form', [['/apply/form', signedIn(applicant), { destructive: true }]]],
  ['GET', '/applications/{}', [
    [`/applications/${data.appE}`, signedIn(seesEnterpriseApp)],
    [`/applications/${data.appV}`, signedIn(seesEvaluatorApp)],
  ]],
  ['GET', '/applications/{}/print', [[`/applications/${data.appE}/print`, signedIn(seesEnterpriseApp)]]],
  ['GET', '/applications/{}/form.pdf', [[`/applications/${data.appE}/form.pdf`, signedIn(seesEnterpriseApp)]]],
  ['GET', '/applications/{}/payment', [[`/applications/${data.appE}/payment`, signedIn(seesEnterpriseApp)]]],
  ['GET', '/applications/{}/scan', [[`/applications/${data.appE}/scan`, signedIn(seesEnterpriseApp)]]],
  ['GET', '/applications/{}/withdraw', [[`/applications/${data.appE}/withdraw`, signedIn((a) => a.owner)]]],
  ['POST', '/applications/{}/withdraw', [[`/applications/${data.appE}/withdraw`, signedIn((a) => a.owner), { destructive: true }]]],
  ['POST', '/applications/{}/resubmit', [[`/applications/${data.appE}/resubmit`, signedIn((a) => a.owner)]]],
  ['GET', '/admin', [['/admin', signedIn(admin)]]],
  ['GET', '/admin/directory', [['/admin/directory', signedIn(admin)]]],
  ['GET', '/admin/directory/{}', [['/admin/directory/35', signedIn(admin)]]],
  ['POST', '/admin/directory/{}', [['/admin/directory/35', signedIn(admin), { destructive: true }]]],
  ['GET', '/admin/fees', [['/admin/fees', signedIn(admin)]]],
  ['POST', '/admin/fees', [['/admin/fees', signedIn(admin), { destructive: true }]]],
  ['GET', '/ra', [['/ra', signedIn(role('ra', 'trainer', 'admin'))]]],
  ['GET', '/ra/queue', [['/ra/queue', signedIn(role('ra', 'trainer', 'admin'))]]],
  ['GET', '/ra/queue.csv', [['/ra/queue.csv', signedIn(role('ra', 'trainer', 'admin'))]]],
  ['GET', '/ra/applications/{}', [
    [`/ra/applications/${data.appE}`, signedIn((a) => (a.role === 'ra' && a.region) || admin(a))],
    [`/ra/applications/${data.appV}`, signedIn((a) => ((a.role === 'ra' || a.role === 'trainer') && a.region) || admin(a))],
  ]],
  // Recording a payment is the RA's of the region: not the admin's, nor the trainer's.
  ['POST', '/ra/applications/{}/{}', [[`/ra/applications/${data.appE}/payment`, signedIn((a) => a.role === 'ra' && a.region)]]],
  ['GET', '/ra/tokens', [['/ra/tokens', signedIn(role('ra', 'admin'))]]],
  ['POST', '/ra/tokens', [['/ra/tokens', signedIn(role('ra', 'admin'))]]],
  ['POST', '/ra/tokens/{}/revoke', [['/ra/tokens/999999/revoke', signedIn(role('ra', 'admin'))]]],
  ['GET', '/admin/staff', [['/admin/staff', signedIn(admin)]]],
  ['POST', '/admin/staff', [['/admin/staff', signedIn(admin)]]],
  ['GET', '/admin/staff/{}/reset-password', [['/admin/staff/999999/reset-password', signedIn(admin)]]],
  ['POST', '/admin/staff/{}/reset-password', [['/admin/staff/999999/reset-password', signedIn(admin)]]],
  ['GET', '/admin/certs', [['/admin/certs', signedIn(admin)]]],
  ['GET', '/admin/certs/{}/revoke', [[`/admin/certs/${data.serial}/revoke`, signedIn(admin)]]],
  ['POST', '/admin/certs/{}/revoke', [[`/admin/certs/${data.serial}/revoke`, signedIn(admin), { destructive: true }]]],
  // The API answers its Bearer token, never a session.
  ['POST', '/api/v1/applications/{}/certificates', [[`/api/v1/applications/${data.appE}/certificates`, apiToken]]],
  ['POST', '/api/v1/certificates/{}/revoke', [[`/api/v1/certificates/${data.serial}/revoke`, apiToken]]],
  ['GET', '/api/v1/openapi.json', [['/api/v1/openapi.json', anyone]]],
  ['GET', '/ca/chain.pem', [['/ca/chain.pem', anyone]]],
  ['GET', '/ca/crl', [['/ca/crl', anyone]]],
  // OCSP: anyone, without a session; what it is asked decides 200 or 400.
  ['GET', '/ocsp/*', [['/ocsp/MAA=', anyone]]],
  ['POST', '/ocsp', [['/ocsp', anyone]]],
  ['GET', '/login/certificate', [['/login/certificate', anyone]]],
  ['GET', '/api/v1/login/challenge', [['/api/v1/login/challenge', anyone]]],
  ['POST', '/api/v1/login/certificate', [['/api/v1/login/certificate', anyone]]],
  ['GET', '/mgmt', [['/mgmt', mgmt(all)]]],
  ['GET', '/mgmt/user', [['/mgmt/user', mgmt(all)]]],
  // 再次申请: a unit signed in with its key; the others are told why not.
  ['GET', '/mgmt/reapply', [['/mgmt/reapply', signedIn((a) => applicant(a) && a.key)]]],
  ['POST', '/mgmt/reapply', [['/mgmt/reapply', signedIn((a) => applicant(a) && a.key), { destructive: true }]]],
  // 挂失: the holder, the RA of its region and the admin.
  ['GET', '/mgmt/certs/{}/lost', [[`/mgmt/certs/${data.serial}/lost`, mgmt((a) => a.holder || (a.role === 'ra' && a.region) || admin(a))]]],
  ['POST', '/mgmt/certs/{}/lost', [[`/mgmt/certs/${data.serial}/lost`, mgmt((a) => a.holder || (a.role === 'ra' && a.region) || admin(a)), { destructive: true }]]],
  // The e-mail outbox: the admin's.
  ['GET', '/admin/mail', [['/admin/mail', signedIn(admin)]]],
  ['POST', '/admin/mail/{}/retry', [['/admin/mail/999999/retry', signedIn(admin)]]],
  ['POST', '/admin/mail/{}/delivered', [['/admin/mail/999999/delivered', signedIn(admin)]]],
  ['POST', '/admin/mail/retry-dead', [['/admin/mail/retry-dead', signedIn(admin), { destructive: true }]]],
  // Revocation with a reason: the RA of the certificate's region only (the
  // admin has its own page, the trainer none).
  ['GET', '/ra/certs/{}/revoke', [[`/ra/certs/${data.serial}/revoke`, signedIn((a) => a.role === 'ra' && a.region)]]],
  ['POST', '/ra/certs/{}/revoke', [[`/ra/certs/${data.serial}/revoke`, signedIn((a) => a.role === 'ra' && a.region), { destructive: true }]]],
  // 更新: every applicant sees the page (a password login in the grace
  // period too); a certificate is renewed by its holder only, with the key
  // or the password (this one is
  // far from its window: the holder gets 409, the others 403).
  ['GET', '/renewal', [['/renewal', signedIn(applicant)]]],
  ['POST', '/renewal/{}', [[`/renewal/${data.serial}`, signedIn((a) => applicant(a) && (a.holder || a.name === 'holder (password)'))]]],
  // The holder's tool proves the key itself: anyone may ask (400 here, no body).
  ['POST', '/api/v1/renewals', [['/api/v1/renewals', anyone]]],
  ['POST', '/api/v1/renewals/confirm', [['/api/v1/renewals/confirm', anyone]]],
  // 密码解锁: every applicant sees the page; the token named here has no
  // SO PIN in custody, so its holder gets 409 and everyone else 403.
  ['GET', '/replace', [['/replace', signedIn(applicant)]]],
  ['POST', '/replace/{}/lost', [[`/replace/${data.serial}/lost`, signedIn((a) => applicant(a) && (a.holder || a.name === 'holder (password)'))]]],
  ['POST', '/replace/{}/damaged', [[`/replace/${data.serial}/damaged`, signedIn((a) => applicant(a) && (a.holder || a.name === 'holder (password)')), { destructive: true }]]],
  ['GET', '/unlock', [['/unlock', signedIn(applicant)]]],
  ['POST', '/unlock/{}', [[`/unlock/${data.token}`, signedIn((a) => applicant(a) && (a.holder || a.name === 'holder (password)'))]]],
  // The RA workstation's custody of SO PINs answers its Bearer token only.
  ['POST', '/api/v1/tokens/{}/so-pin', [[`/api/v1/tokens/${data.token}/so-pin`, apiToken]]],
  ['POST', '/api/v1/tokens/{}/so-pin/confirm', [[`/api/v1/tokens/${data.token}/so-pin/confirm`, apiToken]]],
  // The holder's tool brings the one-time authorisation: anyone may ask (400 here).
  ['POST', '/api/v1/unlocks/{}/release', [[`/api/v1/unlocks/${data.appE}/release`, anyone]]],
  ['POST', '/api/v1/unlocks/{}/confirm', [[`/api/v1/unlocks/${data.appE}/confirm`, anyone]]],
  ['GET', '/drivers', [['/drivers', anyone]]],
  ['GET', '/drivers/{}/download', [['/drivers/999999/download', anyone]]],
  ['GET', '/drivers/client/{}', [['/drivers/client/esp-client_0.0.0_amd64.deb', anyone]]],
  ['GET', '/docs/esp-token', [['/docs/esp-token', anyone]]],
  ['GET', '/admin/drivers', [['/admin/drivers', signedIn(admin)]]],
  ['POST', '/admin/drivers', [['/admin/drivers', signedIn(admin)]]],
];

function routeTable() {
  const src = readFileSync(join(ROOT, 'src/httpd/routes.c'), 'utf8');
  return [...src.matchAll(/\{"(GET|POST)", "([^"]+)",/g)].map((m) => `${m[1]} ${m[2]}`);
}

test(`[${ENGINE}] every route of routes.c has its expectations here, and no other`, () => {
  const table = routeTable();
  const mine = spec().map(([m, p]) => `${m} ${p}`);
  assert.ok(table.length > 60, 'the route table was read');
  assert.deepEqual([...mine].sort(), [...table].sort());
});

async function request(a, method, path) {
  if (method === 'GET') return a.client.get(path, { redirect: false });
  // The form token of this client's session (or its anonymous cookie):
  // without it every POST is refused before access is even asked.
  await a.client.get('/login');
  return a.client.post(path, {}, { redirect: false });
}

function check(a, method, path, want, res) {
  const what = `${a.name} ${method} ${path} (want ${want}): ${res.status} ${res.location || ''}`;
  const refused = res.status === 403 || res.status === 401 || (res.status === 303 && /^\/login/.test(res.location || ''));
  switch (want) {
    case 'login':
      assert.equal(res.status, 303, what);
      assert.equal(res.location, '/login?expired=1', what);
      break;
    case 'forbid':
      assert.equal(res.status, 403, what);
      assert.doesNotMatch(res.text, /请使用证书U盘登录/, what);
      // Refused for who asks, not for a stale form token.
      assert.doesNotMatch(res.text, /页面已过期/, what);
      break;
    case 'key':
      assert.equal(res.status, 403, what);
      assert.match(res.text, /请使用证书U盘登录/, what);
      break;
    case 'home':
      assert.equal(res.status, 303, what);
      assert.equal(res.location, '/home', what);
      break;
    case 'token':
      assert.equal(res.status, 401, what);
      assert.match(res.headers.get('content-type') || '', /^application\/json/, what);
      assert.equal(JSON.parse(res.text).error, 'unauthenticated', what);
      break;
    case 'ok':
      assert.ok(!refused, what);
      assert.ok(res.status < 500, what);
      break;
    default:
      assert.fail(`unknown expectation ${want}`);
  }
  // What is refused shows nothing of the record (its registrant sees her
  // own name in the page's header).
  if (want !== 'ok' && !a.owner) {
    assert.ok(!res.text.includes(data.nameE), `${what}: the registrant's name shown`);
    assert.ok(!res.text.includes(`申请编号`) || !res.text.includes(data.appE), `${what}: the application shown`);
  }
}

test(`[${ENGINE}] every route answers every actor as the policy says`, async () => {
  let n = 0;
  for (const [method, , requests] of spec()) {
    for (const [path, expect, opts = {}] of requests) {
      for (const a of actors) {
        const want = expect(a);
        if (want === 'ok' && opts.destructive) continue;
        const res = await request(a, method, path);
        check(a, method, path, want, res);
        n++;
      }
    }
  }
  // Each actor still holds its session: nothing above ended one.
  for (const a of actors.filter((x) => !x.anon)) {
    const res = await a.client.get('/home', { redirect: false });
    assert.equal(res.status, a.role === 'admin' ? 200 : 303, `${a.name} still signed in`);
  }
  assert.ok(n > 700, `${n} requests`);
});

test(`[${ENGINE}] the API keeps a form body raw and answers JSON; a page sends the anonymous to log in`, async () => {
  const anon = new Client(esp.url);
  const api = await anon.request('GET', `/api/v1/certificates/${data.serial}/revoke`, { redirect: false });
  assert.equal(api.status, 405);
  const form = await fetch(`${esp.url}/api/v1/certificates/${data.serial}/revoke`, {
    method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'a=b',
  });
  assert.equal(form.status, 401);
  assert.match(form.headers.get('content-type'), /^application\/json/);
  const page = await anon.get('/admin', { redirect: false });
  assert.equal(page.status, 303);
  assert.equal(page.location, '/login?expired=1');
});
