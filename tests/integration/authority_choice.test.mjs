// The 主管机关 (上级主管机关) of a registration is the applicant's explicit
// choice: the select starts on 请选择 with nothing chosen, a form sent without
// a choice is refused (nobody lands at 交通运输部 by default), an authority of
// another province is refused with a message naming the field, one of the
// applicant's province or the ministry (central units) is taken, and an
// authority whose own registration is still pending is never offered.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  startEsp, Client, ENGINE, registrationFields, authorityIdByName, fieldError, selectedOption,
  optionValue, rawSql, counts,
} from './lib/esp.mjs';

let esp;
before(async () => { esp = await startEsp(); });
after(async () => {
  if (!esp) return;
  await esp.stop();
  // A sanitizer build reports leaks and errors when espd ends.
  assert.doesNotMatch(esp.log, /Sanitizer|runtime error/);
  await esp.cleanup();
});

// Posts a registration as a browser would: the form first (its token).
async function register(c, kind, fields) {
  await c.get(`/register/${kind}`);
  return c.post(`/register/${kind}`, fields);
}

// The <select> of a field, as sent.
function selectHtml(html, name) {
  const start = html.indexOf(`<select id="f-${name}"`);
  assert.ok(start >= 0, `a select ${name}`);
  return html.slice(start, html.indexOf('</select>', start));
}

test(`[${ENGINE}] the authority select is required and starts on 请选择, for every kind`, async () => {
  const c = new Client(esp.url);
  for (const kind of ['authority', 'agency', 'enterprise', 'evaluator']) {
    const page = await c.get(`/register/${kind}`);
    assert.equal(page.status, 200);
    const sel = selectHtml(page.text, 'authority_id');
    assert.match(sel, /^<select id="f-authority_id" name="authority_id" required/, `${kind}: required`);
    const first = sel.match(/<option value="([^"]*)"( selected)?>([^<]*)</);
    assert.deepEqual([first[1], first[2], first[3]], ['', ' selected', '请选择'], `${kind}: 请选择 first and selected`);
    assert.equal(selectedOption(page.text, 'authority_id'), '', `${kind}: nothing else selected`);
    assert.equal((sel.match(/ selected>/g) || []).length, 1, `${kind}: one selected option`);
  }
});

test(`[${ENGINE}] a registration without an explicit 主管机关 is refused, and nothing is written`, async () => {
  const c = new Client(esp.url);
  const before = counts(esp).registrations;
  for (const [kind, label] of [['enterprise', '主管机关'], ['authority', '上级主管机关']]) {
    const fields = registrationFields(kind, { authorityId: '' });
    const res = await register(c, kind, fields);
    assert.equal(res.status, 422, `${kind}: refused`);
    assert.equal(fieldError(res.text, 'authority_id'), `请选择${label}`);
    // Not even the ministry is chosen for the applicant on the form sent back.
    assert.equal(selectedOption(res.text, 'authority_id'), '');
    const missing = { ...registrationFields(kind, { authorityId: '1' }) };
    delete missing.authority_id;
    const res2 = await register(c, kind, missing);
    assert.equal(res2.status, 422, `${kind}: refused without the field at all`);
    assert.equal(fieldError(res2.text, 'authority_id'), `请选择${label}`);
  }
  assert.equal(counts(esp).registrations, before, 'no registration written');
});

test(`[${ENGINE}] the 主管机关 must be of the chosen province (or the ministry, for central units)`, async () => {
  const c = new Client(esp.url);
  const beijing = await authorityIdByName(c, 'enterprise', '北京市交通委员会');
  const fujian = await authorityIdByName(c, 'enterprise', '福建省交通运输厅');
  const ministry = await authorityIdByName(c, 'enterprise', '交通运输部');
  // A 厦门 enterprise (福建, 35) under Beijing's authority.
  const wrong = await register(c, 'enterprise', registrationFields('enterprise', { authorityId: beijing, province: '35' }));
  assert.equal(wrong.status, 422);
  assert.match(fieldError(wrong.text, 'authority_id'), /^所选主管机关不在所在省份/);
  assert.equal(selectedOption(wrong.text, 'authority_id'), beijing, 'the choice is shown again to be corrected');
  const wrongParent = await register(c, 'authority', registrationFields('authority', { authorityId: beijing, province: '35' }));
  assert.equal(wrongParent.status, 422);
  assert.match(fieldError(wrongParent.text, 'authority_id'), /^所选上级主管机关不在所在省份/);

  const own = registrationFields('enterprise', { authorityId: fujian, province: '35' });
  const ok = await register(c, 'enterprise', own);
  assert.equal(ok.status, 200, 'its own province is taken');
  const stored = rawSql(esp, `SELECT a.name FROM registrations r JOIN authorities a ON a.id = r.authority_id WHERE r.name = '${own.name}'`).trim();
  assert.equal(stored, '福建省交通运输厅', 'filed where the applicant chose');

  const central = registrationFields('enterprise', { authorityId: ministry, province: '11' });
  const ok2 = await register(new Client(esp.url), 'enterprise', central);
  assert.equal(ok2.status, 200, 'a central unit chooses 交通运输部');
});

test(`[${ENGINE}] an authority registered but not yet approved is never offered`, async () => {
  const c = new Client(esp.url);
  const fujian = await authorityIdByName(c, 'authority', '福建省交通运输厅');
  const pending = registrationFields('authority', { authorityId: fujian, province: '35' });
  const res = await register(c, 'authority', pending);
  assert.equal(res.status, 200, 'the authority registration is filed');
  for (const kind of ['authority', 'agency', 'enterprise', 'evaluator']) {
    const page = await new Client(esp.url).get(`/register/${kind}`);
    assert.ok(!page.text.includes(pending.name), `${kind}: the pending authority is not in the list`);
    assert.equal(optionValue(page.text, 'authority_id', `　${pending.name}`), null);
  }
  // Nor taken if its would-be id is posted.
  const ids = rawSql(esp, 'SELECT MAX(id) FROM authorities').trim();
  const ghost = String(Number(ids) + 1);
  const refused = await register(new Client(esp.url), 'enterprise', registrationFields('enterprise', { authorityId: ghost }));
  assert.equal(refused.status, 422);
  assert.equal(fieldError(refused.text, 'authority_id'), '请从列表中选择主管机关');
});

test(`[${ENGINE}] a registrant logs in again with the password it registered with`, async () => {
  const c = new Client(esp.url);
  const fujian = await authorityIdByName(c, 'enterprise', '福建省交通运输厅');
  const f = registrationFields('enterprise', { authorityId: fujian });
  assert.equal((await register(c, 'enterprise', f)).status, 200);
  const again = new Client(esp.url);
  const res = await again.login(f.username, f.password);
  assert.equal(res.status, 200);
  assert.match(res.text, /查看初审状态/, 'its status page, not 用户名或密码错误');
});
