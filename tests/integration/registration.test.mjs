// Registration (报名申请), login, review (初审) and status over real HTTP.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  startEsp, Client, rawSql, espctl, registrationFields, authorityIdByName, fieldError, fieldValue,
  selectedOption, inputFor, linkHref, uscc, idNumber, ENGINE, staffClient, registerAs
} from './lib/esp.mjs';

let esp;
before(async () => { esp = await startEsp(); });
after(async () => { await esp?.cleanup(); });

const register = (kind, authorityName, overrides) => registerAs(esp, kind, authorityName, overrides);

const staff = (username) => staffClient(esp, username);

test(`[${ENGINE}] home page shows the four entries and each portal its apply button`, async () => {
  const c = new Client(esp.url);
  const home = await c.get('/');
  for (const label of ['主管机关用户登录', '考评机构用户登录', '企业用户登录', '考评员登录']) {
    assert.ok(linkHref(home.text, label), `entry ${label}`);
  }
  const portals = { authority: '主管机关报名申请', agency: '考评机构报名申请', enterprise: '企业报名申请', evaluator: '考评员报名申请' };
  for (const [kind, apply] of Object.entries(portals)) {
    const p = await c.get(`/portal/${kind}`);
    assert.equal(p.status, 200);
    assert.equal(linkHref(p.text, `【${apply}】`), `/register/${kind}`);
    assert.ok(inputFor(p.text, '用户名') && inputFor(p.text, '密码'), 'login form with labels');
  }
});

test(`[${ENGINE}] every page carries the security headers`, async () => {
  const r = await fetch(`${esp.url}/register/enterprise`);
  assert.match(r.headers.get('content-security-policy'), /frame-ancestors 'none'/);
  assert.doesNotMatch(r.headers.get('content-security-policy'), /unsafe-inline/);
  assert.equal(r.headers.get('x-content-type-options'), 'nosniff');
  assert.ok(r.headers.get('referrer-policy'));
});

test(`[${ENGINE}] every input of every registration form has a label`, async () => {
  const c = new Client(esp.url);
  for (const kind of ['authority', 'agency', 'enterprise', 'evaluator']) {
    const p = await c.get(`/register/${kind}`);
    const ids = [...p.text.matchAll(/<(?:input|select|textarea) id="([^"]+)"/g)].map((m) => m[1]);
    assert.ok(ids.length > 8);
    for (const id of ids) assert.match(p.text, new RegExp(`<label for="${id}">`), `${kind}: label for ${id}`);
  }
});

test(`[${ENGINE}] an enterprise registers, appears only in its authority chain, is approved`, async () => {
  const { c, res, fields } = await register('enterprise', '福州市交通运输局');
  assert.equal(res.status, 200);
  assert.match(res.text, /待审核/);

  // In the queue of the authority it chose and of every authority above it.
  for (const who of ['fz_reviewer', 'fj_reviewer', 'mot_reviewer']) {
    const s = await staff(who);
    const q = await s.get('/review');
    assert.ok(q.text.includes(fields.name), `${who} sees it`);
  }
  // Not in another province's queue, and not reachable there by id.
  const bj = await staff('bj_reviewer');
  const q = await bj.get('/review?state=all');
  assert.ok(!q.text.includes(fields.name), 'bj_reviewer does not see it');

  const fz = await staff('fz_reviewer');
  const list = await fz.get('/review');
  const href = linkHref(list.text, `查看并审核 ${fields.name}`);
  assert.ok(href);
  assert.equal((await bj.get(href)).status, 403, 'other province: 403 on the detail');
  const bjPost = await bj.post(href, { decision: 'approve' });
  assert.equal(bjPost.status, 403, 'other province: 403 on the decision');

  await fz.get(href);
  const decided = await fz.post(href, { decision: 'approve' });
  assert.equal(decided.status, 200);
  assert.match(decided.text, /已通过/);
  const again = await fz.post(href, { decision: 'reject', reason: 'x' });
  assert.equal(again.status, 409, 'a decision is final');

  const status = await c.get('/status');
  assert.match(status.text, /id="reg-state">已通过/);
});

test(`[${ENGINE}] a rejection carries its reason; the registrant corrects and resubmits`, async () => {
  const { c, fields } = await register('agency', '福建省交通运输厅');
  const fj = await staff('fj_reviewer');
  const list = await fj.get('/review');
  const href = linkHref(list.text, `查看并审核 ${fields.name}`);
  await fj.get(href);
  const noReason = await fj.post(href, { decision: 'reject', reason: '  ' });
  assert.equal(noReason.status, 422);
  assert.match(noReason.text, /请填写不通过的原因/);
  await fj.post(href, { decision: 'reject', reason: '单位名称与营业执照不一致' });

  const st = await c.get('/status');
  assert.match(st.text, /未通过/);
  assert.match(st.text, /单位名称与营业执照不一致/);
  const edit = await c.get(linkHref(st.text, '修改报名信息并重新提交'));
  assert.equal(fieldValue(edit.text, 'name'), fields.name, 'form prefilled');
  const corrected = { ...fields, name: `${fields.name}有限公司` };
  delete corrected.username; delete corrected.password; delete corrected.password2;
  const res = await c.post('/registration/edit', corrected);
  assert.equal(res.status, 200);
  assert.match(res.text, /id="reg-state">待审核/);
  const q = await fj.get('/review');
  assert.ok(q.text.includes(corrected.name));
});

test(`[${ENGINE}] a wrong 统一社会信用代码 comes back with a Chinese error there and all values kept`, async () => {
  const good = uscc('77123456');
  const bad = good.slice(0, 17) + (good[17] === '0' ? '1' : '0');
  const { res, fields } = await register('enterprise', '福建省交通运输厅', { code: bad });
  assert.equal(res.status, 422);
  assert.match(fieldError(res.text, 'code'), /统一社会信用代码校验错误/);
  for (const name of ['name', 'legal_rep', 'contact_name', 'phone', 'mobile', 'email', 'address', 'postcode', 'username']) {
    assert.equal(fieldValue(res.text, name), fields[name], `${name} kept`);
  }
  assert.equal(selectedOption(res.text, 'category'), fields.category);
  assert.equal(selectedOption(res.text, 'province_code'), '35');
  assert.equal(selectedOption(res.text, 'authority_id'), fields.authority_id);
  assert.equal(fieldValue(res.text, 'password'), '', 'passwords are never sent back');
});

test(`[${ENGINE}] a wrong 身份证号 of an evaluator is refused at that field`, async () => {
  const good = idNumber(5);
  const bad = good.slice(0, 16) + String((Number(good[16]) + 1) % 10) + good[17];
  const { res } = await register('evaluator', '福建省交通运输厅', { code: bad });
  assert.equal(res.status, 422);
  assert.match(fieldError(res.text, 'code'), /身份证号码校验错误/);
  const future = idNumber(6, '20991231');
  const r2 = await register('evaluator', '福建省交通运输厅', { code: future });
  assert.match(fieldError(r2.res.text, 'code'), /身份证号码校验错误/);
});

test(`[${ENGINE}] bad inputs each get their message`, async () => {
  const { res } = await register('enterprise', '福建省交通运输厅', {
    mobile: '12345', email: 'nope', postcode: '35000', password2: 'different', category: '造飞机',
    name: '', contact_id_number: '110105194912310021',
  });
  assert.equal(res.status, 422);
  assert.match(fieldError(res.text, 'mobile'), /手机号码/);
  assert.match(fieldError(res.text, 'email'), /电子邮箱/);
  assert.match(fieldError(res.text, 'postcode'), /6位数字/);
  assert.match(fieldError(res.text, 'password2'), /不一致/);
  assert.match(fieldError(res.text, 'category'), /业务类型/);
  assert.match(fieldError(res.text, 'name'), /必填/);
  assert.match(fieldError(res.text, 'contact_id_number'), /身份证号码/);
});

test(`[${ENGINE}] an authority outside the chosen province is refused`, async () => {
  const c = new Client(esp.url);
  const bjId = await authorityIdByName(c, 'enterprise', '北京市交通委员会');
  const res = await c.post('/register/enterprise', registrationFields('enterprise', { authorityId: bjId, province: '35' }));
  assert.equal(res.status, 422);
  assert.match(fieldError(res.text, 'authority_id'), /不在所在省份/);
});

test(`[${ENGINE}] a code already registered is refused; a rejected one may register again`, async () => {
  const first = await register('enterprise', '福建省交通运输厅');
  const second = await register('enterprise', '福建省交通运输厅', { code: first.fields.code });
  assert.equal(second.res.status, 422);
  assert.match(fieldError(second.res.text, 'code'), /已经报名/);
  const fj = await staff('fj_reviewer');
  const list = await fj.get('/review');
  const href = linkHref(list.text, `查看并审核 ${first.fields.name}`);
  await fj.get(href);
  await fj.post(href, { decision: 'reject', reason: '重复' });
  const third = await register('enterprise', '福建省交通运输厅', { code: first.fields.code });
  assert.equal(third.res.status, 200);
});

test(`[${ENGINE}] an applicant cannot see another registration or review`, async () => {
  const a = await register('enterprise', '福建省交通运输厅');
  const b = await register('enterprise', '福建省交通运输厅');
  const fj = await staff('fj_reviewer');
  const list = await fj.get('/review');
  const hrefB = linkHref(list.text, `查看并审核 ${b.fields.name}`);
  assert.equal((await a.c.get(hrefB)).status, 403);
  assert.equal((await a.c.get('/review')).status, 403);
  const st = await a.c.get('/status');
  assert.ok(!st.text.includes(b.fields.name));
  assert.equal((await a.c.get('/registration/edit')).status, 403, 'pending: nothing to edit');
});

test(`[${ENGINE}] an authority registers under its parent and joins the tree when approved`, async () => {
  const { fields } = await register('authority', '福建省交通运输厅');
  const fj = await staff('fj_reviewer');
  const href = linkHref((await fj.get('/review')).text, `查看并审核 ${fields.name}`);
  await fj.get(href);
  await fj.post(href, { decision: 'approve' });
  const c = new Client(esp.url);
  const id = await authorityIdByName(c, 'enterprise', fields.name);
  assert.ok(id, 'the new authority can be chosen');
});

test(`[${ENGINE}] forms without the token are refused`, async () => {
  const c = new Client(esp.url);
  await c.get('/register/enterprise');
  const res = await c.post('/register/enterprise', { csrf: 'forged-token-forged-token', name: 'x' });
  assert.equal(res.status, 403);
  const fresh = new Client(esp.url);
  const res2 = await fresh.post('/login', { csrf: '', username: 'x', password: 'y' });
  assert.equal(res2.status, 403);
});

test(`[${ENGINE}] login: wrong password, lockout after 5 failures, logout`, async () => {
  const { fields } = await register('evaluator', '福建省交通运输厅');
  const c = new Client(esp.url);
  for (let i = 0; i < 4; i++) {
    const r = await c.login(fields.username, 'wrong-password');
    assert.equal(r.status, 401);
    assert.match(r.text, /用户名或密码错误/);
  }
  const locked = await c.login(fields.username, 'wrong-password');
  assert.equal(locked.status, 429);
  assert.match(locked.text, /锁定/);
  const stillLocked = await c.login(fields.username, fields.password);
  assert.equal(stillLocked.status, 429, 'locked even with the right password');

  const d = new Client(esp.url);
  const r = await d.login(esp.account('bj_reviewer').username, esp.account('bj_reviewer').password);
  assert.equal(r.status, 200);
  await d.post('/logout', {});
  assert.equal((await d.get('/review', { redirect: false })).status, 303);
});

test(`[${ENGINE}] session cookie flags`, async () => {
  const { res } = await (async () => {
    const c = new Client(esp.url);
    await c.get('/login');
    return { res: await c.request('POST', '/login', {
      body: new URLSearchParams({ csrf: c.csrf(), username: 'bj_reviewer', password: esp.account('bj_reviewer').password }).toString(),
      headers: { 'content-type': 'application/x-www-form-urlencoded', cookie: [...c.cookies].map(([k, v]) => `${k}=${v}`).join('; ') },
      redirect: false,
    }) };
  })();
  assert.equal(res.status, 303);
  const cookie = res.headers.getSetCookie().find((s) => s.startsWith('esp_session='));
  assert.match(cookie, /HttpOnly/);
  assert.match(cookie, /SameSite=Lax/);
});

test(`[${ENGINE}] limits: long URL 414, big body 413, unknown 404, server stays up`, async () => {
  const long = await fetch(`${esp.url}/${'a'.repeat(5000)}`);
  assert.equal(long.status, 414);
  const big = await fetch(`${esp.url}/login`, { method: 'POST', body: 'x'.repeat(13 * 1024 * 1024), headers: { 'content-type': 'application/x-www-form-urlencoded' } });
  assert.equal(big.status, 413);
  assert.equal((await fetch(`${esp.url}/nope`)).status, 404);
  const bigHeader = await fetch(`${esp.url}/`, { headers: { 'x-big': 'a'.repeat(40000) } });
  assert.equal(bigHeader.status, 431);
  assert.equal((await fetch(`${esp.url}/static/..%2fesp.conf`)).status, 404);
  assert.equal((await fetch(`${esp.url}/healthz`)).status, 200);
});

test(`[${ENGINE}] a registration acknowledged survives kill -9`, async () => {
  const { fields, res } = await register('enterprise', '福建省交通运输厅');
  assert.equal(res.status, 200);
  await esp.kill9();
  await esp.start();
  const c = new Client(esp.url);
  const r = await c.login(fields.username, fields.password);
  assert.equal(r.status, 200);
  assert.match(r.text, /待审核/);
  assert.ok(r.text.includes(fields.name));
});

test(`[${ENGINE}] SIGTERM stops cleanly`, async () => {
  const { code, sig } = await esp.stop();
  assert.equal(code, 0, `exit code (signal ${sig})\n${esp.log.slice(-2000)}`);
  assert.match(esp.log, /espd stopped/);
  await esp.start();
});

test(`[${ENGINE}] a queue seen before shows each change at once (rendered queues are reused only while nothing changed)`, async () => {
  const fj = await staff('fj_reviewer');
  const before = await fj.get('/review');
  const again = await fj.get('/review');
  assert.equal(again.text.match(/共 (\d+) 条/)[1], before.text.match(/共 (\d+) 条/)[1]);
  const { fields } = await register('agency', '福建省交通运输厅');
  const after = await fj.get('/review');
  assert.ok(after.text.includes(fields.name), 'the new registration is listed');
  assert.equal(Number(after.text.match(/共 (\d+) 条/)[1]), Number(before.text.match(/共 (\d+) 条/)[1]) + 1);
  const href = linkHref(after.text, `查看并审核 ${fields.name}`);
  await fj.get(href);
  await fj.post(href, { decision: 'approve' });
  assert.ok(!(await fj.get('/review')).text.includes(fields.name), 'approved: no longer pending');
  assert.ok((await fj.get('/review?state=approved')).text.includes(fields.name));
});

test(`[${ENGINE}] what espd keeps in memory follows changes made outside it (SQL, espctl)`, async () => {
  const { fields } = await register('enterprise', '福建省交通运输厅');
  const fj = await staff('fj_reviewer');
  for (let i = 0; i < 2; i++) assert.ok((await fj.get('/review')).text.includes(fields.name));
  // A registration renamed in the store by hand: the queue shows it at once.
  const renamed = `${fields.name}（更名）`;
  rawSql(esp, `UPDATE registrations SET name = '${renamed}' WHERE code = '${fields.code}'`);
  assert.ok((await fj.get('/review')).text.includes(renamed), 'queue re-rendered after the SQL change');
  // The session's account renamed by hand: the next page says the new name.
  const display = rawSql(esp, "SELECT display_name FROM accounts WHERE username = 'fj_reviewer'").trim();
  rawSql(esp, "UPDATE accounts SET display_name = '临时姓名' WHERE username = 'fj_reviewer'");
  assert.match((await fj.get('/review')).text, /临时姓名（初审人员）/);
  rawSql(esp, `UPDATE accounts SET display_name = '${display}' WHERE username = 'fj_reviewer'`);
  // Disabled by espctl, another process: the open session ends on its next request.
  assert.equal((await fj.get('/review')).status, 200);
  espctl(esp, 'user', 'disable', 'fj_reviewer');
  const gone = await fj.get('/review', { redirect: false });
  assert.equal(gone.status, 303);
  assert.match(gone.location, /^\/login\?expired=1/);
  espctl(esp, 'user', 'enable', 'fj_reviewer');
  assert.equal((await fj.get('/review', { redirect: false })).status, 303, 'enabling does not bring the session back');
});
