// An enterprise registers through the real pages in Chromium, a reviewer of
// its authority approves it, and the applicant sees the result. Assertions go
// by what a person sees: labels, link and button texts, visible messages.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { openBrowser, screenshot, startEsp } from './lib/browser.mjs';
import { uscc, unique } from '../integration/lib/esp.mjs';

let esp;
before(async () => { esp = await startEsp(); });
after(async () => { await esp?.cleanup(); });

// Chooses the option of a <select> whose visible text is `text` (the list may
// indent lower authorities with ideographic spaces).
async function choose(select, text) {
  const labels = await select.locator('option').allTextContents();
  const label = labels.find((l) => l.replace(/^[\s\u3000]+/, '').trim() === text);
  assert.ok(label !== undefined, `option ${text} in the list`);
  await select.selectOption({ label });
}

async function chosenText(select) {
  return select.evaluate((s) => (s.selectedIndex < 0 ? '' : s.options[s.selectedIndex].text.trim()));
}

// A form control by its label as written on the page; required fields carry a
// trailing * in the label, which is not part of the name.
function field(page, label) {
  const re = new RegExp(`^\\s*${label.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}\\s*\\*?\\s*$`);
  return page.getByLabel(re);
}

async function seeText(page, text) {
  await page.getByText(text, { exact: true }).first().waitFor({ state: 'visible' });
}

function noProblems(t, b) {
  for (const line of new Set(b.ignored.map((l) => l.replace(/:\d+\//, ':PORT/')))) {
    t.diagnostic(`expected, not counted: ${line}`);
  }
  assert.deepEqual(b.problems, [], 'no console errors or CSP violations');
}

function enterprise(n = unique()) {
  return {
    单位名称: `福州测试运输有限公司${n}`,
    '统一社会信用代码（或组织机构代码）': uscc(n),
    法定代表人: '张三',
    经办人姓名: '李四',
    经办人身份证号码: '11010519491231002X',
    单位电话: '0591-87654321',
    经办人手机: '13800138000',
    电子邮箱: `e2e${n}@example.cn`,
    通信地址: '福建省福州市鼓楼区五四路1号',
    邮政编码: '350001',
    用户名: `e2e_${n}`,
    密码: `Secret-${n}!`,
    确认密码: `Secret-${n}!`,
  };
}

// Home → 企业用户登录 → 【企业报名申请】 → fill the form by its labels.
async function openAndFill(page, values) {
  await page.goto(esp.url + '/');
  await page.getByRole('link', { name: '企业用户登录', exact: true }).click();
  await seeText(page, '企业用户登录');
  await page.getByRole('link', { name: '【企业报名申请】', exact: true }).click();
  await page.getByRole('button', { name: '提交报名信息' }).waitFor();

  for (const [label, value] of Object.entries(values)) {
    await field(page, label).fill(value);
  }
  await choose(field(page, '业务类型'), '道路运输-普通货运');
  const authority = field(page, '主管机关');
  await choose(field(page, '所在省份'), '福建省');
  // The page's script narrows the authorities to the province (national ones stay).
  const fuzhou = authority.locator('option', { hasText: '福州市交通运输局' });
  const beijing = authority.locator('option', { hasText: '北京市交通委员会' });
  assert.equal(await fuzhou.isDisabled(), false, '福州市交通运输局 can be chosen');
  assert.equal(await beijing.count(), 0, '北京市交通委员会 is not offered for 福建省');
  await choose(authority, '福州市交通运输局');
}

test('an enterprise registers in the browser, the 福州 reviewer approves, the applicant sees 已通过', async (t) => {
  const [applicant, reviewer] = await Promise.all([openBrowser(), openBrowser()]);
  try {
    const page = applicant.page;
    const values = enterprise();
    await openAndFill(page, values);
    await screenshot(page, 'register-enterprise-filled');
    await page.getByRole('button', { name: '提交报名信息' }).click();

    await seeText(page, '查看初审状态');
    await seeText(page, '待审核');
    await seeText(page, values.单位名称);
    await seeText(page, '福州市交通运输局');
    await seeText(page, '您的报名信息正在等待主管机关初审，请耐心等待并稍后登录查看。');
    await screenshot(page, 'status-pending');

    // The reviewer of 福州市交通运输局, in a browser of its own.
    const rp = reviewer.page;
    const account = esp.account('fz_reviewer');
    await rp.goto(esp.url + '/login');
    await field(rp, '用户名').fill('fz_reviewer');
    await field(rp, '密码').fill(account.password);
    await rp.getByRole('button', { name: '登录', exact: true }).click();
    await seeText(rp, '报名初审');
    const row = rp.getByRole('row').filter({ hasText: values.单位名称 });
    await row.getByText('待审核', { exact: true }).waitFor();
    await screenshot(rp, 'review-queue');
    await rp.getByRole('link', { name: `查看并审核 ${values.单位名称}`, exact: true }).click();

    await seeText(rp, '报名信息审核');
    await seeText(rp, values['统一社会信用代码（或组织机构代码）']);
    await field(rp, '通过').check();
    await rp.getByRole('button', { name: '提交初审结果' }).click();
    await seeText(rp, '已通过');
    await screenshot(rp, 'review-approved');
    assert.equal(await rp.getByRole('button', { name: '提交初审结果' }).count(), 0, 'a decision is final');

    await page.reload();
    await seeText(page, '已通过');
    await seeText(page, '初审已通过，您可以开始申请证书U盘。');
    assert.equal(await page.getByText('待审核', { exact: true }).count(), 0);
    await screenshot(page, 'status-approved');

    noProblems(t, applicant);
    noProblems(t, reviewer);
  } finally {
    await applicant.close();
    await reviewer.close();
  }
});

test('a wrong 统一社会信用代码 shows the Chinese error under the field and keeps the other values', async (t) => {
  const b = await openBrowser();
  try {
    const page = b.page;
    const values = enterprise();
    const good = values['统一社会信用代码（或组织机构代码）'];
    const bad = good.slice(0, 17) + (good[17] === '0' ? '1' : '0');
    values['统一社会信用代码（或组织机构代码）'] = bad;
    await openAndFill(page, values);
    b.expectStatus('/register/enterprise', 422);
    const [response] = await Promise.all([
      page.waitForResponse((r) => r.request().method() === 'POST'),
      page.getByRole('button', { name: '提交报名信息' }).click(),
    ]);
    assert.equal(response.status(), 422, 'the form comes back as 422');

    await seeText(page, '报名信息有 1 处需要修改，请查看标红的项目。');
    const error = page.getByText('统一社会信用代码校验错误，请核对后重新输入');
    await error.waitFor({ state: 'visible' });
    const code = field(page, '统一社会信用代码（或组织机构代码）');
    const ib = await code.boundingBox();
    const eb = await error.boundingBox();
    assert.ok(eb.y >= ib.y + ib.height - 1, 'the message is below the field');
    assert.ok(eb.x < ib.x + ib.width && eb.x + eb.width > ib.x, 'the message is in the field column');

    for (const [label, value] of Object.entries(values)) {
      const expected = label === '密码' || label === '确认密码' ? '' : value;
      assert.equal(await field(page, label).inputValue(), expected, `${label} kept`);
    }
    assert.equal(await chosenText(field(page, '业务类型')), '道路运输-普通货运');
    assert.equal(await chosenText(field(page, '所在省份')), '福建省');
    assert.equal(await chosenText(field(page, '主管机关')), '福州市交通运输局');
    await screenshot(page, 'register-wrong-code');
    noProblems(t, b);
  } finally {
    await b.close();
  }
});
