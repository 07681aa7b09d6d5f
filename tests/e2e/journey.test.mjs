// What a new user meets, in Chromium, by what a person sees on the page:
// the 主管机关 select (required, no default, narrowed by the province,
// searchable); 撤销此申请 with its confirmation and a withdrawn application
// shown as withdrawn; the status page saying where an application is, what
// comes next and when its key is due (and overdue: whom to call); an
// approved 主管机关 reviewing its own applicants with its key; 退出登录 at the
// certificate-login listener, whose links lead to the portal; 挂失 of the
// key in use, the unit's last one, and how to apply again afterwards.
// Every page is looked at in a screenshot at 1280 and at 1024 px.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, rmdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  openBrowser, screenshot, startEsp, field, seeText, noProblems, passwordLogin,
} from './lib/browser.mjs';
import {
  approvedApplicant, submitApplication, holderWithKeys, registerAs, registrationFields, rawSql, staffClient,
} from '../integration/lib/esp.mjs';

const POLICY_DIR = process.env.ESP_CHROMIUM_POLICIES || '/etc/chromium/policies/managed';
const POLICY_FILE = join(POLICY_DIR, `esp-test-journey-${process.pid}.json`);

let esp, dir;
before(async () => {
  esp = await startEsp({ login: true });
  dir = mkdtempSync(join(tmpdir(), 'esp-e2e-journey-'));
});
after(async () => {
  await esp?.cleanup();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

// A screenshot at 1280 px and one at 1024 px; at 1280 the page must not
// scroll sideways.
async function look(page, name, { wide = true } = {}) {
  await page.setViewportSize({ width: 1280, height: 900 });
  if (wide) {
    const over = await page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
    assert.ok(over <= 0, `${name}: no horizontal scrollbar at 1280 px (${over} px over)`);
  }
  await screenshot(page, `journey-${name}-1280`);
  await page.setViewportSize({ width: 1024, height: 800 });
  await screenshot(page, `journey-${name}-1024`);
  await page.setViewportSize({ width: 1280, height: 900 });
}

// The visible texts of a select's options.
async function optionTexts(select) {
  return (await select.locator('option').allTextContents()).map((t) => t.replace(/^[\s\u3000]+/, '').trim());
}

function run(cmd, args) {
  return execFileSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

test('item 1: the 主管机关 select is required, starts empty, narrows to the province and searches', async (t) => {
  const b = await openBrowser();
  try {
    const page = b.page;
    await page.goto(`${esp.url}/register/enterprise`);
    const authority = field(page, '主管机关');
    assert.equal(await authority.getAttribute('required'), '', 'required');
    assert.equal(await authority.inputValue(), '', 'nothing chosen for the applicant');
    assert.deepEqual(await optionTexts(authority), ['请先选择所在省份'], 'no list before the province');
    await look(page, 'register-authority-empty');

    await field(page, '所在省份').selectOption({ label: '福建省' });
    const texts = await optionTexts(authority);
    assert.equal(texts[0], '请选择');
    assert.equal(await authority.inputValue(), '', 'still nothing chosen');
    assert.ok(texts.includes('福建省交通运输厅') && texts.includes('福州市交通运输局'), 'the province\'s own');
    assert.ok(texts.includes('交通运输部'), 'the ministry, for central units');
    assert.ok(!texts.includes('北京市交通委员会'), 'not another province\'s');
    assert.ok(texts.indexOf('福建省交通运输厅') < texts.indexOf('交通运输部'), 'the province first');
    // The list is long before narrowing: a search field by its label.
    const search = page.getByLabel('按名称查找主管机关');
    await search.fill('福州');
    assert.deepEqual(await optionTexts(authority), ['请选择', '福州市交通运输局']);
    await look(page, 'register-authority-search');
    await search.fill('');

    // Sent without a choice: refused, the field named.
    b.expectStatus('/register/enterprise', 422);
    const f = registrationFields('enterprise');
    await field(page, '单位名称').fill(f.name);
    await page.getByRole('button', { name: '提交报名信息' }).click();
    await seeText(page, '请选择主管机关');
    assert.equal(await field(page, '主管机关').inputValue(), '');
    await look(page, 'register-authority-refused');
    noProblems(t, b);
  } finally {
    await b.close();
  }
});

test('items 2 and 3: the status page says where an application is; withdrawal asks first and shows everywhere', async (t) => {
  // An application paid and with its materials 25 days ago: overdue.
  const late = await approvedApplicant(esp, 'enterprise');
  const lateNo = await submitApplication(late.c, 'enterprise', 1);
  const ra = await staffClient(esp, 'fj_ra');
  const today = new Date(Date.now() + 8 * 3600e3).toISOString().slice(0, 10);
  const due = rawSql(esp, `SELECT amount_yuan FROM applications WHERE number = '${lateNo}'`).trim();
  await ra.get(`/ra/applications/${lateNo}`);
  await ra.post(`/ra/applications/${lateNo}/payment`, { amount: due, paid_on: today, payer: 'x', bank_ref: 'R1' });
  await ra.get(`/ra/applications/${lateNo}`);
  await ra.post(`/ra/applications/${lateNo}/materials`, { item: ['0', '1'] });
  assert.equal(rawSql(esp, `SELECT state FROM applications WHERE number = '${lateNo}'`).trim(), 'ready_to_issue');

  const fresh = await approvedApplicant(esp, 'enterprise');
  const freshNo = await submitApplication(fresh.c, 'enterprise', 1);

  const b = await openBrowser();
  try {
    const page = b.page;
    b.context.setDefaultTimeout(20000);
    // Item 3: in time, with the date it is due.
    await passwordLogin(page, esp.url, late.fields.username, late.fields.password);
    await page.getByRole('heading', { name: '查看初审状态' }).waitFor();
    await seeText(page, '注册机构已收到付款和申请材料，正在制作证书U盘。');
    const dueText = await page.locator('dd.due').innerText();
    const dueDate = new Date(Date.now() + 8 * 3600e3 + 20 * 86400e3).toISOString().slice(0, 10);
    assert.match(dueText, new RegExp(`20日内送达，即 ${dueDate} 前`));
    assert.doesNotMatch(dueText, /已超期/);
    assert.equal(await page.getByText('初审已通过，您可以开始申请证书U盘。').count(), 0, 'no longer told to start');
    await look(page, 'status-due');

    // 25 days later: overdue, and whom to call.
    const back = 25 * 86400;
    rawSql(esp, `UPDATE applications SET paid_at = paid_at - ${back}, materials_at = materials_at - ${back}, submitted_at = submitted_at - ${back} WHERE number = '${lateNo}'`);
    await page.reload();
    const overdue = page.locator('dd.due');
    assert.match(await overdue.innerText(), /^已超期：/);
    assert.match(await overdue.innerText(), /请联系福建省数字证书注册机构（演示），联系电话 0591-00000003。/);
    assert.equal(await overdue.evaluate((e) => getComputedStyle(e).color), 'rgb(179, 38, 30)', 'in red');
    await look(page, 'status-overdue');

    // Item 2: another applicant withdraws.
    const p2 = (await openBrowser());
    try {
      const pg = p2.page;
      p2.context.setDefaultTimeout(20000);
      await passwordLogin(pg, esp.url, fresh.fields.username, fresh.fields.password);
      await seeText(pg, '申请已提交，等待您付款并邮寄申请材料。');
      await seeText(pg, '注册机构收到付款和申请材料后20日内，证书U盘送达。');
      await look(pg, 'status-submitted');
      await pg.goto(`${esp.url}/applications/${freshNo}`);
      await pg.getByRole('link', { name: '撤销此申请' }).click();
      await pg.getByRole('heading', { name: `撤销证书U盘申请 ${freshNo}` }).waitFor();
      await seeText(pg, '注册机构不再办理此申请，不会为它制作证书U盘；');
      await seeText(pg, '撤销后不能恢复。如仍需要证书U盘，可以重新提交申请。');
      assert.equal(rawSql(esp, `SELECT state FROM applications WHERE number = '${freshNo}'`).trim(), 'submitted', 'the confirmation changes nothing');
      await look(pg, 'withdraw-confirm');
      // 不撤销 goes back; then withdraw for real.
      await pg.getByRole('link', { name: '不撤销，返回申请' }).click();
      await pg.getByRole('link', { name: '撤销此申请' }).click();
      await pg.getByRole('button', { name: `确认撤销申请 ${freshNo}` }).click();
      await seeText(pg, '申请已撤销。无需付款，也无需邮寄申请材料。');
      assert.equal((await pg.locator('#app-state').innerText()).trim(), '已撤销');
      assert.equal(await pg.getByRole('link', { name: '撤销此申请' }).count(), 0);
      await look(pg, 'withdrawn-application');

      await pg.goto(`${esp.url}/status`);
      await seeText(pg, '此申请已撤销，不再办理。');
      await look(pg, 'withdrawn-status');

      await pg.goto(`${esp.url}/applications/${freshNo}/payment`);
      await seeText(pg, '此申请已撤销，不再办理：请不要为它付款，也不要邮寄申请材料。');
      assert.equal(await pg.locator('#amount-due').count(), 0, 'no amount');
      assert.equal(await pg.locator('#ra-account').count(), 0, 'no bank account');
      await look(pg, 'withdrawn-payment');

      await pg.goto(`${esp.url}/applications/${freshNo}/print`);
      await seeText(pg, '此申请已撤销，本申请表作废，不能用于办理证书U盘，也无需付款或邮寄。');
      assert.equal(await pg.getByText('申请注册成功', { exact: false }).count(), 0);
      assert.equal(await pg.locator('#print-button').count(), 0, 'no 【打印】 of a withdrawn form');
      const mark = await pg.locator('.sheet.withdrawn').first().evaluate((e) => getComputedStyle(e, '::after').content);
      assert.equal(mark, '"已撤销　作废"', 'the watermark on the sheet');
      await pg.getByRole('heading', { name: '单位数字证书申请表（已撤销）' }).first().waitFor();
      await look(pg, 'withdrawn-print', { wide: false });
      noProblems(t, p2);
    } finally {
      await p2.close();
    }
    noProblems(t, b);
  } finally {
    await b.close();
  }
});

// The root of ESP's CA in a fresh NSS database of `home`, and the key as
// PKCS#12 when given.
function nss(home, root, p12) {
  const db = join(home, '.pki', 'nssdb');
  mkdirSync(db, { recursive: true });
  run('certutil', ['-N', '-d', `sql:${db}`, '--empty-password']);
  if (p12) run('pk12util', ['-i', p12, '-d', `sql:${db}`, '-W', 'test']);
  run('certutil', ['-A', '-d', `sql:${db}`, '-n', 'ESP Root CA', '-t', 'CT,C,C', '-i', root]);
}

function splitRoot(chainFile) {
  const blocks = readFileSync(chainFile, 'utf8').match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----\n?/g);
  const root = join(dir, 'root.pem');
  // The chain ends with the self-signed root.
  writeFileSync(root, blocks[blocks.length - 1]);
  return root;
}

function makeDirs(path) {
  const made = [];
  let p = path;
  while (!existsSync(p)) {
    made.push(p);
    p = join(p, '..');
  }
  mkdirSync(path, { recursive: true });
  return made;
}

test('items 4, 9 and 10: an approved 主管机关 reviews with its key, logs out for good, loses its last key and applies again', async (t) => {
  const auth = await holderWithKeys(esp, 'authority', 1, dir);
  const applicant = await registerAs(esp, 'enterprise', auth.fields.name);
  assert.equal(applicant.res.status, 200);
  const key = auth.certs[0];
  const root = splitRoot(auth.chain);
  const p12 = join(dir, 'auth.p12');
  run('openssl', ['pkcs12', '-export', '-in', key.cert, '-inkey', key.key, '-certfile', auth.chain,
    '-name', key.token, '-passout', 'pass:test', '-out', p12]);
  const madeDirs = makeDirs(POLICY_DIR);
  let b, nokey;
  try {
    writeFileSync(POLICY_FILE, JSON.stringify({
      AutoSelectCertificateForUrls: [JSON.stringify({ pattern: `https://127.0.0.1:${esp.loginPort}`, filter: { ISSUER: { CN: 'ESP Issuing CA' } } })],
    }));
    b = await openBrowser({ prepareHome: (home) => nss(home, root, p12) });
    b.context.setDefaultTimeout(20000);
    const page = b.page;

    // Item 4: its key opens the management system; 报名初审 is in its menu.
    await page.goto(`${esp.loginUrl}/`);
    assert.equal(new URL(page.url()).pathname, '/mgmt');
    const nav = page.getByRole('navigation', { name: '快捷导航' });
    await nav.getByRole('link', { name: '报名初审' }).click();
    await page.getByRole('heading', { name: '报名初审' }).first().waitFor();
    const row = page.getByRole('row').filter({ hasText: applicant.fields.name });
    await row.getByText('待审核', { exact: true }).waitFor();
    await look(page, 'authority-review-queue');
    await row.getByRole('link').first().click();
    await seeText(page, '报名信息审核');
    await field(page, '通过').check();
    await page.getByRole('button', { name: '提交初审结果' }).click();
    await seeText(page, '已通过');
    await look(page, 'authority-review-approved');
    assert.equal(rawSql(esp, `SELECT state FROM registrations WHERE name = '${applicant.fields.name}'`).trim(), 'approved');

    // Item 9: 退出登录 at the login listener says so and stays logged out.
    await page.getByRole('button', { name: '退出登录' }).click();
    await page.getByRole('heading', { name: '您已退出登录' }).waitFor();
    await page.waitForTimeout(1500);
    assert.equal(new URL(page.url()).pathname, '/logged-out', 'not logged in again by itself');
    await seeText(page, '如需再次登录管理系统，请保持证书U盘插入，点击【使用证书U盘重新登录】。');
    const top = page.getByRole('navigation', { name: '主导航' });
    assert.equal(await top.getByRole('button', { name: '退出登录' }).count(), 0, 'signed out');
    assert.equal(await top.getByRole('link', { name: '首页' }).getAttribute('href'), `${esp.httpsUrl}/`, '首页 is the portal');
    assert.equal(await top.getByRole('link', { name: '帮助' }).getAttribute('href'), `${esp.httpsUrl}/help`);
    await look(page, 'logged-out');
    await page.getByRole('link', { name: '使用证书U盘重新登录' }).click();
    assert.equal(new URL(page.url()).pathname, '/mgmt', 'logs in again when asked');

    // Item 10: 挂失 of the key in use, the unit's last.
    await page.goto(`${esp.loginUrl}/mgmt/user`);
    await page.getByRole('link', { name: `挂失证书 ${key.token}` }).click();
    await seeText(page, '这是您本次登录使用的证书U盘。');
    await seeText(page, '这是本单位最后一个有效的证书U盘。');
    await look(page, 'lost-warning');
    await page.getByRole('button', { name: `确认挂失证书U盘 ${key.token}` }).click();
    await page.getByRole('heading', { name: '证书已挂失' }).waitFor();
    await seeText(page, '本单位已没有有效的证书U盘，不能再用证书U盘登录管理系统。');
    await page.locator('#apply-again').getByText('用用户名和密码登录').waitFor();
    assert.equal(await page.getByText('请使用其他证书U盘登录').count(), 0, 'no other key to advise');
    await look(page, 'lost-last');

    // How to apply again: the password at the portal, then 再次申请.
    const go = page.getByRole('link', { name: '用户名和密码登录证书U盘申请网站' });
    assert.equal(await go.getAttribute('href'), `${esp.httpsUrl}/login`);
    await go.click();
    await field(page, '用户名').fill(auth.fields.username);
    await field(page, '密码').fill(auth.fields.password);
    await page.getByRole('button', { name: '登录', exact: true }).click();
    await page.getByRole('heading', { name: '查看初审状态' }).waitFor();
    await seeText(page, '本单位已没有有效的证书U盘（已挂失或已过期），不能再用证书U盘登录。请点击下面的按钮重新申请证书U盘。');
    await look(page, 'status-no-keys');
    await page.getByRole('link', { name: '【再次申请登录认证U盘】' }).click();
    await field(page, '证书U盘数量').waitFor();
    await look(page, 'reapply-without-key');
    noProblems(t, b);

    // Item 9 without a key: the refusal's links lead to the portal.
    nokey = await openBrowser({ prepareHome: (home) => nss(home, root) });
    nokey.context.setDefaultTimeout(20000);
    nokey.expectStatus('/', 401);
    const np = nokey.page;
    await np.goto(`${esp.loginUrl}/`);
    await np.locator('#refusal').waitFor();
    const home = np.getByRole('link', { name: '返回首页' });
    assert.equal(await home.getAttribute('href'), `${esp.httpsUrl}/`);
    await look(np, 'login-no-key');
    await home.click();
    await np.getByRole('link', { name: '企业用户登录' }).first().waitFor();
    assert.equal(new URL(np.url()).origin, esp.httpsUrl, 'the portal, not the key login');
    noProblems(t, nokey);
  } finally {
    await b?.close();
    await nokey?.close();
    rmSync(POLICY_FILE, { force: true });
    for (const d of madeDirs) {
      try { rmdirSync(d); } catch { /* not empty */ }
    }
  }
});

test('item 4: the admin chooses a reviewer\'s authority from the top of the tree', async (t) => {
  const b = await openBrowser();
  try {
    const page = b.page;
    await passwordLogin(page, esp.url, 'admin', esp.account('admin').password);
    await page.goto(`${esp.url}/admin/staff`);
    const sel = field(page, '所属主管机关（初审人员）');
    const texts = await optionTexts(sel);
    assert.equal(texts[0], '请选择');
    assert.ok(texts.includes('交通运输部') && texts.includes('福建省交通运输厅'));
    assert.ok(!texts.includes('福州市交通运输局'), 'below the provinces: they review with their keys');
    await field(page, '账户类型').selectOption({ label: '主管机关初审人员' });
    await field(page, '用户名').fill('e2e_fj_rev');
    await field(page, '机构或人员名称').fill('福建省初审（浏览器）');
    await sel.selectOption({ label: '福建省交通运输厅' });
    await page.getByRole('button', { name: '创建工作人员账户' }).click();
    await seeText(page, 'e2e_fj_rev');
    const row = page.getByRole('row').filter({ hasText: 'e2e_fj_rev' });
    assert.match(await row.innerText(), /福建省交通运输厅\s+福建省/);
    await look(page, 'admin-staff');
    noProblems(t, b);
  } finally {
    await b.close();
  }
});
