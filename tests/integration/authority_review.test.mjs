// An approved 主管机关 is a reviewer of what is filed under it: signed in
// with its own key it sees and decides (初审) the registrations of its
// subtree, and nothing else: not those of its parent, of a sibling or of
// another province, and never its own. Its password session stays an
// applicant's only.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import {
  startEsp, Client, ENGINE, holderWithKeys, registerAs, rawSql, linkHref, staffClient,
} from './lib/esp.mjs';

let esp, dir;
before(async () => {
  esp = await startEsp({ login: true });
  dir = mkdtempSync(join(tmpdir(), 'esp-authrev-'));
});
after(async () => {
  if (!esp) return;
  await esp.stop();
  assert.doesNotMatch(esp.log, /Sanitizer|runtime error/);
  await esp.cleanup();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

// A session opened with the holder's key over TLS at the login listener.
function keySession(holder) {
  const r = spawnSync('curl', ['-s', '-i', '--cacert', holder.chain, '--cert', holder.certs[0].cert,
    '--key', holder.certs[0].key, `${esp.loginUrl}/`], { encoding: 'utf8' });
  const cookie = (r.stdout.match(/esp_session=([^;\s]+)/) || [])[1];
  if (!cookie) throw new Error(`certificate login failed:\n${r.stdout.slice(0, 500)}`);
  const c = new Client(esp.url);
  c.cookies.set('esp_session', cookie);
  return c;
}

const regId = (name) => rawSql(esp, `SELECT id FROM registrations WHERE name = '${name}'`).trim();

test(`[${ENGINE}] an approved 主管机关 with its key reviews its subtree and nothing else`, async () => {
  const auth = await holderWithKeys(esp, 'authority', 1, dir);
  const authName = auth.fields.name;
  // Filed under it, under its parent, under a sibling, in another province.
  const mine = await registerAs(esp, 'enterprise', authName);
  assert.equal(mine.res.status, 200, 'its applicants choose it once it is approved');
  const parents = await registerAs(esp, 'enterprise', '福建省交通运输厅');
  const siblings = await registerAs(esp, 'agency', '福州市交通运输局');
  const beijing = await registerAs(esp, 'enterprise', '北京市交通委员会', { province_code: '11' });
  for (const x of [parents, siblings, beijing]) assert.equal(x.res.status, 200);

  const k = keySession(auth);
  const queue = await k.get('/review');
  assert.equal(queue.status, 200, 'the queue opens to its key');
  assert.ok(queue.text.includes(mine.fields.name), 'its own applicant is listed');
  for (const x of [parents, siblings, beijing]) assert.ok(!queue.text.includes(x.fields.name), `${x.fields.name} is not its`);
  assert.ok(!queue.text.includes(`查看并审核 ${authName}`), "its own registration is not in its queue");
  // The management menu leads there.
  const mgmt = await k.get('/mgmt');
  assert.equal(linkHref(mgmt.text, '报名初审'), '/review');

  // Others' records: neither seen nor decided.
  for (const x of [parents, siblings, beijing]) {
    const id = regId(x.fields.name);
    assert.equal((await k.get(`/review/${id}`)).status, 403, `${x.fields.name} not shown`);
    await k.get('/review');
    const d = await k.post(`/review/${id}`, { decision: 'approve' });
    assert.equal(d.status, 403, `${x.fields.name} not decided`);
    assert.equal(rawSql(esp, `SELECT state FROM registrations WHERE id = ${id}`).trim(), 'pending');
  }
  // Its own registration (filed under its parent): seen as its own, never decided by itself.
  const ownId = regId(authName);
  await k.get('/review');
  assert.equal((await k.post(`/review/${ownId}`, { decision: 'reject', reason: '自己审自己' })).status, 403);
  assert.equal(rawSql(esp, `SELECT state FROM registrations WHERE id = ${ownId}`).trim(), 'approved');

  // Its own applicant: shown and approved by it.
  const id = regId(mine.fields.name);
  const detail = await k.get(`/review/${id}`);
  assert.equal(detail.status, 200);
  assert.ok(detail.text.includes(mine.fields.name));
  const d = await k.post(`/review/${id}`, { decision: 'approve' });
  assert.equal(d.status, 200);
  assert.match(d.text, /已通过/);
  assert.equal(rawSql(esp, `SELECT state FROM registrations WHERE id = ${id}`).trim(), 'approved');
  const by = rawSql(esp, `SELECT a.registration_id FROM registrations r JOIN accounts a ON a.id = r.reviewed_by WHERE r.id = ${id}`).trim();
  assert.equal(by, ownId, 'decided by the authority holder\'s account');

  // Its status page tells it so, and how; an enterprise's does not.
  const st = await auth.c.get('/status');
  assert.match(st.text, /id="reviews-with-key">本机关已成为主管机关：报在本机关（含下级主管机关）的报名由本机关初审。/);
  assert.doesNotMatch((await mine.c.get('/status')).text, /reviews-with-key/);
  // The same holder with its password: an applicant, no review.
  assert.equal((await auth.c.get('/review', { redirect: false })).status, 403);
  assert.equal((await auth.c.get(`/review/${regId(parents.fields.name)}`, { redirect: false })).status, 403);
  // Reviewers above still see what is filed under it.
  const fj = await staffClient(esp, 'fj_reviewer');
  assert.ok((await fj.get('/review?state=all')).text.includes(mine.fields.name));
});

test(`[${ENGINE}] the admin makes reviewer accounts for the top of the tree, chosen from it`, async () => {
  const admin = await staffClient(esp, 'admin');
  const page = await admin.get('/admin/staff');
  const start = page.text.indexOf('<select id="s-authority"');
  assert.ok(start >= 0, 'a select, not a text field');
  assert.doesNotMatch(page.text, /<input id="s-authority"/);
  const sel = page.text.slice(start, page.text.indexOf('</select>', start));
  assert.match(sel, />交通运输部</);
  assert.match(sel, />福建省交通运输厅</);
  assert.doesNotMatch(sel, /福州市交通运输局|长江航务管理局/, 'only the ministry and the provinces');
  const fj = sel.match(/<option value="(\d+)">福建省交通运输厅</)[1];
  const fz = rawSql(esp, "SELECT id FROM authorities WHERE name = '福州市交通运输局'").trim();

  const city = await admin.post('/admin/staff', { role: 'reviewer', username: 'fz_rev2', display_name: '福州初审', authority_id: fz });
  assert.equal(city.status, 422, 'a city authority reviews with its own key');
  assert.match(city.text, /请从列表中选择初审人员所属的主管机关/);
  const typed = await admin.post('/admin/staff', { role: 'reviewer', username: 'fz_rev3', display_name: '福建初审', authority: '福建省交通运输厅' });
  assert.equal(typed.status, 422, 'a typed name is not a choice');

  const made = await admin.post('/admin/staff', { role: 'reviewer', username: 'fj_rev2', display_name: '福建省初审二号', authority_id: fj });
  assert.equal(made.status, 200);
  assert.match(made.text, /已创建账户 <strong>fj_rev2<\/strong>/);
  const row = made.text.match(/<tr><td>fj_rev2<\/td>.*?<\/tr>/)[0];
  assert.match(row, /<td>福建省交通运输厅<\/td><td>福建省<\/td>/, 'authority and province shown');
});

// The layout around the queue is kept per session (form token, user), so a
// session never gets another's token or name, nor one it no longer has.
test(`[${ENGINE}] each session's queue page carries its own form token, also after another logs out`, async () => {
  const tokenOf = (page) => (page.text.match(/name="csrf" value="([^"]*)"/) || [])[1];
  const a = await staffClient(esp, 'fj_reviewer');
  const b = await staffClient(esp, 'fj_reviewer');
  const pa = await a.get('/review'), pb = await b.get('/review');
  assert.equal(pa.status, 200);
  assert.equal(pb.status, 200);
  const ta = tokenOf(pa), tb = tokenOf(pb);
  assert.ok(ta && tb && ta !== tb, 'two sessions, two tokens');
  for (let i = 0; i < 3; i++) {
    assert.equal(tokenOf(await a.get('/review')), ta);
    assert.equal(tokenOf(await b.get('/review')), tb);
  }
  const name = esp.account('fj_reviewer').display_name;
  if (name) assert.ok(pa.text.includes(name));
  // a's token from the page works; then a is out and b is as before.
  const out = await a.post('/logout', { csrf: ta }, { redirect: false });
  assert.equal(out.status, 303);
  const gone = await a.get('/review', { redirect: false });
  assert.notEqual(gone.status, 200, 'a logged-out session sees no queue');
  assert.ok(!gone.text.includes(ta));
  const still = await b.get('/review');
  assert.equal(still.status, 200);
  assert.equal(tokenOf(still), tb);
});

// From the second request of a session on, the queue page and its response
// are the ones kept from the first (no copy, no headers added again): the
// same bytes, and every header the first one had.
test(`[${ENGINE}] a queue page sent again carries the same bytes and every header`, async () => {
  const c = await staffClient(esp, 'fj_reviewer');
  const first = await c.get('/review');
  assert.equal(first.status, 200);
  const want = ['content-security-policy', 'x-content-type-options', 'x-frame-options',
    'referrer-policy', 'content-type', 'cache-control'];
  for (let i = 0; i < 4; i++) {
    const again = await c.get('/review');
    assert.equal(again.status, 200);
    assert.equal(again.text, first.text);
    for (const h of want) {
      assert.ok(again.headers.get(h), `${h} on request ${i + 2}`);
      assert.equal(again.headers.get(h), first.headers.get(h), h);
    }
    assert.equal(again.headers.get('cache-control'), 'no-store');
    assert.equal(again.headers.get('set-cookie'), null);
  }
  // HEAD shares the kept response: its headers, no body.
  const head = await c.request('HEAD', '/review');
  assert.equal(head.status, 200);
  assert.equal(head.text, '');
  assert.equal(head.headers.get('content-security-policy'), first.headers.get('content-security-policy'));
  assert.equal(head.headers.get('cache-control'), 'no-store');
  // Another state's tab is other bytes: not the kept page.
  const approved = await c.get('/review?state=approved');
  assert.equal(approved.status, 200);
  assert.notEqual(approved.text, first.text);
  assert.equal((await c.get('/review')).text, first.text);
});
