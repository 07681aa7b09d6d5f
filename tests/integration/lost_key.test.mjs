// 挂失 warns specifically when the key is the one the holder is signed in
// with, and when it is the unit's last good key; after the last one is lost
// the holder is told how to apply again, and can: its password session at
// the portal reaches 再次申请, which otherwise needs a key.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { startEsp, ENGINE, holderWithKeys, linkHref, decode, rawSql, keySession } from './lib/esp.mjs';

let esp, dir;
before(async () => {
  esp = await startEsp({ login: true });
  dir = mkdtempSync(join(tmpdir(), 'esp-lost-'));
});
after(async () => {
  if (!esp) return;
  await esp.stop();
  assert.doesNotMatch(esp.log, /Sanitizer|runtime error/);
  await esp.cleanup();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

test(`[${ENGINE}] 挂失 of the key in use and of the last key: specific warnings, then how to apply again`, async () => {
  const h = await holderWithKeys(esp, 'enterprise', 2, dir);
  const [k0, k1] = h.certs;
  const k = keySession(esp, h, 0);

  const other = await k.get(`/mgmt/certs/${k1.serial}/lost`);
  assert.equal(other.status, 200);
  assert.doesNotMatch(other.text, /id="warn-current"/, 'not the key in use');
  assert.doesNotMatch(other.text, /id="warn-last"/, 'another key is left');
  const inUse = await k.get(`/mgmt/certs/${k0.serial}/lost`);
  assert.match(inUse.text, /id="warn-current"><strong>这是您本次登录使用的证书U盘。/);
  assert.doesNotMatch(inUse.text, /id="warn-last"/);

  // The other key lost: one is left, so the password session still cannot apply.
  await k.get(`/mgmt/certs/${k1.serial}/lost`);
  const lost1 = await k.post(`/mgmt/certs/${k1.serial}/lost`, {}, { redirect: false });
  assert.equal(lost1.status, 303);
  assert.equal(lost1.location, '/mgmt/user?lost=1');
  assert.equal((await h.c.get('/mgmt/reapply')).status, 403, 'a key is left: 再次申请 needs it');
  assert.equal(linkHref((await h.c.get('/status')).text, '【再次申请登录认证U盘】'), null);

  // The last key, in use: both warnings, and the advice names the way back.
  const last = await k.get(`/mgmt/certs/${k0.serial}/lost`);
  assert.match(last.text, /id="warn-current"/);
  assert.match(last.text, /id="warn-last"><strong>这是本单位最后一个有效的证书U盘。/);
  assert.match(last.text, /用用户名和密码登录，在【查看初审状态】页面点击【再次申请登录认证U盘】/);
  const done = await k.post(`/mgmt/certs/${k0.serial}/lost`, {});
  assert.equal(done.status, 200);
  assert.match(done.text, /本单位已没有有效的证书U盘，不能再用证书U盘登录管理系统。/);
  assert.doesNotMatch(done.text, /请使用其他证书U盘登录/, 'no other key to advise');
  assert.equal((await k.get('/mgmt', { redirect: false })).status, 303, 'its session ended with its key');

  // The password session at the portal: 再次申请 is offered and opens.
  const st = await h.c.get('/status');
  assert.match(st.text, /本单位已没有有效的证书U盘/);
  assert.equal(linkHref(st.text, '【再次申请登录认证U盘】'), '/mgmt/reapply');
  const form = await h.c.get('/mgmt/reapply');
  assert.equal(form.status, 200);
  assert.match(form.text, /证书U盘数量/);
  const values = {};
  for (const m of form.text.matchAll(/<input id="f-([a-z_]+)" name="[a-z_]+" type="[a-z]+" value="([^"]*)"/g)) values[m[1]] = decode(m[2]);
  for (const n of ['idem', 'scan_id']) values[n] = decode(form.text.match(new RegExp(`name="${n}" value="([^"]*)"`))[1]);
  values.sets = '1';
  await h.c.post('/mgmt/reapply', { ...values, action: 'next' });
  const made = await h.c.post('/mgmt/reapply', { ...values, action: 'confirm' });
  assert.equal(made.status, 200);
  const apps = rawSql(esp, `SELECT a.type FROM applications a JOIN registrations r ON r.id = a.registration_id WHERE r.name = '${h.fields.name}' ORDER BY a.id`).trim().split('\n');
  assert.deepEqual(apps, ['initial', 'additional'], 'applied again without a key');
});
