// What a registration stores: only the fields of its kind, each bounded and
// free of invisible and control characters; an authority cannot register
// twice under a name that differs only in spaces or width, and a reviewer is
// told the truth about an old registration that can never be approved.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  startEsp, Client, rawSql, registrationFields, authorityIdByName, fieldError, ENGINE, staffClient, registerAs
} from './lib/esp.mjs';

let esp;
before(async () => { esp = await startEsp(); });
after(async () => { await esp?.cleanup(); });

const register = (kind, authorityName, overrides) => registerAs(esp, kind, authorityName, overrides);

const staff = (username) => staffClient(esp, username);

const sql = (q) => rawSql(esp, q).trim();
const storedCount = (code) => Number(sql(`SELECT COUNT(*) FROM registrations WHERE code = '${code}'`));
const fullWidth = (s) => s.replace(/[!-~]/g, (ch) => String.fromCharCode(ch.charCodeAt(0) + 0xFEE0));

test(`[${ENGINE}] an enterprise's 1 MB work_unit and invented grade are not stored`, async () => {
  const { res, fields } = await register('enterprise', '福建省交通运输厅', {
    work_unit: 'x'.repeat(1024 * 1024), grade: '特级', department: '不该有的部门', reject_reason: '伪造',
  });
  assert.equal(res.status, 200, 'the enterprise registers: fields it does not have are ignored');
  const row = sql(`SELECT COALESCE(work_unit, '-') || '|' || COALESCE(grade, '-') || '|' || `
    + `COALESCE(department, '-') || '|' || COALESCE(reject_reason, '-') || '|' || category `
    + `FROM registrations WHERE code = '${fields.code}'`);
  assert.equal(row, '-|-|-|-|道路运输-普通货运');
  const fj = await staff('fj_reviewer');
  const id = sql(`SELECT id FROM registrations WHERE code = '${fields.code}'`);
  const detail = await fj.get(`/review/${id}`);
  assert.equal(detail.status, 200);
  assert.ok(!detail.text.includes('特级') && !detail.text.includes('xxxxxxxx'), 'nothing of it shown');
});

test(`[${ENGINE}] an evaluator's work_unit is bounded, an agency's grade must be one of the list`, async () => {
  const ev = await register('evaluator', '福建省交通运输厅', { work_unit: '单'.repeat(101) });
  assert.equal(ev.res.status, 422);
  assert.match(fieldError(ev.res.text, 'work_unit'), /工作单位不能超过100个字/);
  assert.equal(storedCount(ev.fields.code), 0);
  const ag = await register('agency', '福建省交通运输厅', { grade: '特级' });
  assert.equal(ag.res.status, 422);
  assert.match(fieldError(ag.res.text, 'grade'), /请从列表中选择考评机构等级/);
  assert.equal(storedCount(ag.fields.code), 0);
});

test(`[${ENGINE}] names with RLO, zero-width space or NEL are refused with a Chinese message`, async () => {
  for (const ch of ['\u202E', '\u200B', '\u0085', '\u2066', '\uFEFF', '\u00AD']) {
    const { res, fields } = await register('enterprise', '福建省交通运输厅', { name: `福州${ch}运输有限公司` });
    const cp = ch.codePointAt(0).toString(16);
    assert.equal(res.status, 422, `U+${cp}`);
    assert.equal(fieldError(res.text, 'name'), '单位名称含有不可见或控制字符，请删除后重新输入', `U+${cp}`);
    assert.equal(storedCount(fields.code), 0, `U+${cp}: nothing stored`);
  }
  const ev = await register('evaluator', '福建省交通运输厅', { name: '张\u202E三' });
  assert.equal(ev.res.status, 422);
  assert.match(fieldError(ev.res.text, 'name'), /^姓名含有不可见或控制字符/);
  const addr = await register('agency', '福建省交通运输厅', { address: '某路\u001b[2J1号' });
  assert.equal(addr.res.status, 422);
  assert.match(fieldError(addr.res.text, 'address'), /^通信地址含有不可见或控制字符/);
  const pua = await register('enterprise', '福建省交通运输厅', { legal_rep: '张\uE000' });
  assert.equal(pua.res.status, 422);
  assert.match(fieldError(pua.res.text, 'legal_rep'), /^法定代表人含有无法识别的字符/);
});

test(`[${ENGINE}] an authority named like one in the tree is refused at submission`, async () => {
  for (const name of ['福州市交通运输局', '福州市 交通运输局', '福州市　交通运输局', ' 福州市\u00A0交通运输局', '福建省交通运输厅']) {
    const { res, fields } = await register('authority', '福建省交通运输厅', { name });
    assert.equal(res.status, 422, name);
    assert.match(fieldError(res.text, 'name'), /^该主管机关已存在/, name);
    assert.equal(storedCount(fields.code), 0, `${name}: nothing stored`);
  }
  // Another pending authority registration counts too; full-width digits are digits.
  const first = await register('authority', '福建省交通运输厅');
  assert.equal(first.res.status, 200);
  const twin = first.fields.name.replace(/\d+$/, (d) => ` ${fullWidth(d)}`);
  const second = await register('authority', '福建省交通运输厅', { name: twin });
  assert.equal(second.res.status, 422);
  assert.match(fieldError(second.res.text, 'name'), /^该主管机关已有报名正在审核/);
  assert.equal(storedCount(second.fields.code), 0);
});

test(`[${ENGINE}] an old authority registration named like an existing authority: the reviewer is told why, not "already decided"`, async () => {
  const fj = await staff('fj_reviewer');
  for (const oldName of ['福州市交通运输局', '福州市 交通运输局']) {
    const { res, fields } = await register('authority', '福建省交通运输厅');
    assert.equal(res.status, 200);
    // Submitted before names were compared: put the name in by hand.
    sql(`UPDATE registrations SET name = '${oldName}' WHERE code = '${fields.code}'`);
    const id = sql(`SELECT id FROM registrations WHERE code = '${fields.code}'`);
    const detail = await fj.get(`/review/${id}`);
    assert.match(detail.text, /id="reg-blocker">不能通过：已有名称相同的主管机关“福州市交通运输局”/);
    const approve = await fj.post(`/review/${id}`, { decision: 'approve' });
    assert.equal(approve.status, 409);
    assert.match(approve.text, /不能通过：已有名称相同的主管机关/);
    assert.doesNotMatch(approve.text, /已经审核过/);
    assert.equal(sql(`SELECT state FROM registrations WHERE id = ${id}`), 'pending');
    assert.equal(sql(`SELECT COUNT(*) FROM authorities WHERE name = '${oldName}'`), oldName === '福州市交通运输局' ? '1' : '0', 'no second authority');
    const reject = await fj.post(`/review/${id}`, { decision: 'reject', reason: '该主管机关已开通' });
    assert.equal(reject.status, 200);
    assert.equal(sql(`SELECT state FROM registrations WHERE id = ${id}`), 'rejected');
  }
});

test(`[${ENGINE}] a corrected registration stores only its kind's fields, checked as at submission`, async () => {
  const { c, fields } = await register('enterprise', '福建省交通运输厅');
  const fj = await staff('fj_reviewer');
  const id = sql(`SELECT id FROM registrations WHERE code = '${fields.code}'`);
  await fj.post(`/review/${id}`, { decision: 'reject', reason: '请核对' });
  const corrected = { ...fields };
  delete corrected.username; delete corrected.password; delete corrected.password2;
  const bad = await c.post('/registration/edit', { ...corrected, contact_name: '李\u200D四' });
  assert.equal(bad.status, 422);
  assert.match(fieldError(bad.text, 'contact_name'), /^经办人姓名含有不可见或控制字符/);
  const ok = await c.post('/registration/edit', { ...corrected, work_unit: 'y'.repeat(5000), grade: '特级' });
  assert.equal(ok.status, 200);
  assert.equal(sql(`SELECT state || '|' || COALESCE(work_unit, '-') || '|' || COALESCE(grade, '-') FROM registrations WHERE id = ${id}`), 'pending|-|-');
});

test(`[${ENGINE}] a reviewer's reason with control characters is refused`, async () => {
  const { fields } = await register('enterprise', '福建省交通运输厅');
  const fj = await staff('fj_reviewer');
  const id = sql(`SELECT id FROM registrations WHERE code = '${fields.code}'`);
  const bad = await fj.post(`/review/${id}`, { decision: 'reject', reason: '名称\u202E不符' });
  assert.equal(bad.status, 422);
  assert.match(bad.text, /不通过原因含有不可见或控制字符/);
  const ok = await fj.post(`/review/${id}`, { decision: 'reject', reason: '第一行\r\n第二行' });
  assert.equal(ok.status, 200);
});

test(`[${ENGINE}] espd stops cleanly after all this (no sanitizer report)`, async () => {
  const { code, sig } = await esp.stop();
  assert.equal(code, 0, `exit code (signal ${sig})\n${esp.log.slice(-3000)}`);
  assert.doesNotMatch(esp.log, /Sanitizer|runtime error/);
  await esp.start();
});
