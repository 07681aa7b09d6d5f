// Concurrent issuances share one store transaction (group commit,
// src/core/issue.c): each request is still answered only after the COMMIT
// that holds its certificate, a refusal inside a shared batch undoes only its
// own statements, and an acknowledged certificate survives kill -9.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { startEsp, holderWithKeys, makeCsr, rawSql, espctlStatus, ENGINE } from './lib/esp.mjs';

let esp, tmp;
before(async () => {
  // Eight workers, so that the concurrent requests below meet in the store.
  esp = await startEsp({ args: ['--threads=8'] });
  tmp = mkdtempSync(join(tmpdir(), 'esp-batch-'));
});
after(async () => { await esp?.cleanup(); });

// Three applications of SETS keys each; per application TOKENS distinct token
// serials (two more than the sets), the first one sent three times (a client
// retrying). All requests of all applications at once.
const SETS = 4, TOKENS = 6, APPS = 3;

test(`[${ENGINE}] concurrent issuances: never more than the sets, retries get the same certificate, every 201 survives kill -9`, async () => {
  const apps = [];
  for (let i = 0; i < APPS; i++) apps.push(await holderWithKeys(esp, 'enterprise', SETS, tmp, { issued: 0 }));
  const requests = [];
  for (const a of apps) {
    for (let t = 0; t < TOKENS; t++) {
      for (let k = 0; k < (t === 0 ? 3 : 1); k++) {
        requests.push({ app: a, tokenSerial: `BATCH-${a.number}-${t}`, csr: makeCsr(tmp, `${a.number}-${t}-${k}`).pem });
      }
    }
  }
  const answers = await Promise.all(requests.map(async (q) => {
    const r = await fetch(`${esp.url}/api/v1/applications/${q.app.number}/certificates`, {
      method: 'POST',
      headers: { authorization: `Bearer ${q.app.token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ csr: q.csr, token_serial: q.tokenSerial }),
    });
    return { ...q, status: r.status, body: await r.json() };
  }));

  // Right after the last answer: no clean shutdown.
  await esp.kill9();
  await esp.start();

  for (const a of apps) {
    const mine = answers.filter((x) => x.app === a);
    const created = mine.filter((x) => x.status === 201);
    assert.equal(created.length, SETS, `${a.number}: ${mine.map((x) => x.status).join(' ')}`);
    const serialOf = new Map(created.map((x) => [x.tokenSerial, x.body.serial]));
    assert.equal(serialOf.size, SETS, 'one new certificate per token');
    for (const x of mine) {
      if (x.status === 200) {
        assert.equal(x.body.serial, serialOf.get(x.tokenSerial), 'a retry gets the certificate made for its token');
      } else if (x.status === 409) {
        assert.equal(x.body.error, 'all_issued');
        assert.ok(!serialOf.has(x.tokenSerial));
      } else {
        assert.equal(x.status, 201, JSON.stringify(x.body));
      }
    }
    // Every acknowledged certificate is in the store, and nothing else.
    const stored = rawSql(esp, `SELECT c.token_serial, c.serial FROM certificates c JOIN applications a ON a.id = c.application_id WHERE a.number = '${a.number}' ORDER BY c.token_serial`)
      .trim().split('\n').map((line) => line.split('|'));
    assert.deepEqual(stored, [...serialOf].sort((p, q) => (p[0] < q[0] ? -1 : 1)));
    assert.equal(rawSql(esp, `SELECT state FROM applications WHERE number = '${a.number}'`).trim(), 'issued');
    // One issuance event per certificate: the refused requests left none.
    const events = rawSql(esp, `SELECT COUNT(*) FROM application_events e JOIN applications a ON a.id = e.application_id WHERE a.number = '${a.number}' AND e.action = 'issue'`).trim();
    assert.equal(Number(events), SETS);
  }
  const v = espctlStatus(esp, 'audit', 'verify');
  assert.equal(v.code, 0, v.out);
});
