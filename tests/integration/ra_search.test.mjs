// The RA's search (申请办理列表 with a search text): its results are kept as
// rendered while nothing they show changes (src/httpd/ra_search_cache.c,
// migration 021). Each step changes one thing a result shows, by espd or by
// SQL behind its back, and the same search must show it at once.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  startEsp, approvedApplicant, submitApplication, rawSql, ENGINE, staffClient, linkHref,
} from './lib/esp.mjs';

let esp;
before(async () => { esp = await startEsp(); });
after(async () => { await esp?.cleanup(); });

const rowOf = (html, number) => {
  const m = html.match(new RegExp(`<tr[^>]*><td>${number}</td>.*?</tr>`));
  return m ? m[0] : null;
};

test(`[${ENGINE}] a searched name shows each change to what it finds, and only to its province`, async () => {
  const { c, fields } = await approvedApplicant(esp, 'enterprise');
  const part = fields.name.slice(2); // "单位N": a part, looked up by trigrams
  const search = `/ra/queue?q=${encodeURIComponent(part)}`;
  const ra = await staffClient(esp, 'fj_ra');

  const none = await ra.get(search);
  assert.equal(none.status, 200);
  assert.doesNotMatch(none.text, /<td>ESP-/, 'no application yet');

  // A new application: the same search (kept as rendered) must find it.
  const number = await submitApplication(c, 'enterprise', 1);
  let page = await ra.get(search);
  assert.ok(rowOf(page.text, number), 'the new application is found');
  assert.match(rowOf(page.text, number), /state-submitted/);
  const again = await ra.get(search);
  assert.equal(again.text.match(/<tbody>[\s\S]*<\/tbody>/)?.[0], page.text.match(/<tbody>[\s\S]*<\/tbody>/)?.[0]);

  // Its state moves (payment recorded through espd).
  await ra.get(`/ra/applications/${number}`);
  const paid = await ra.post(`/ra/applications/${number}/payment`, {
    amount: 660, paid_on: new Date(Date.now() + 8 * 3600e3).toISOString().slice(0, 10), payer: '付款单位', bank_ref: 'BANK-002',
  });
  assert.equal(paid.status, 200);
  page = await ra.get(search);
  assert.match(rowOf(page.text, number), /state-paid/, 'the state shown is the new one');

  // The registration renamed behind espd's back: the old part finds nothing,
  // the new one finds it.
  const renamed = `改名单位${Date.now() % 100000}`;
  rawSql(esp, `UPDATE registrations SET name = '${renamed}' WHERE name = '${fields.name}'`);
  page = await ra.get(search);
  assert.equal(rowOf(page.text, number), null, 'the old name no longer matches');
  page = await ra.get(`/ra/queue?q=${encodeURIComponent(renamed.slice(1))}`);
  assert.ok(rowOf(page.text, number), 'the new name does');
  assert.ok(page.text.includes(renamed));

  // Another province's RA, same text: nothing (the scope is part of the key).
  const bj = await staffClient(esp, 'bj_ra');
  const other = await bj.get(`/ra/queue?q=${encodeURIComponent(renamed.slice(1))}`);
  assert.equal(other.status, 200);
  assert.equal(rowOf(other.text, number), null);
  assert.ok(linkHref(page.text, `办理 ${number}`));
});

// A text is looked up only in the columns that can hold it (core/ra.c): a
// part of the number (with its dash, or digits only) and a part of the code
// still find the application, a Chinese part of the name too.
test(`[${ENGINE}] a part of the number, of the code and of the name each find the application`, async () => {
  const { c, fields } = await approvedApplicant(esp, 'enterprise');
  const number = await submitApplication(c, 'enterprise', 1);
  const ra = await staffClient(esp, 'fj_ra');
  for (const part of [number.slice(2), number.slice(-5), fields.code.slice(4, 14), fields.name.slice(1)]) {
    const page = await ra.get(`/ra/queue?q=${encodeURIComponent(part)}`);
    assert.equal(page.status, 200);
    assert.ok(rowOf(page.text, number), `"${part}" finds ${number}`);
  }
});
