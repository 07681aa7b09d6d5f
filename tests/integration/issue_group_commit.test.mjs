// Group commit of issuances through the committer thread (src/core/
// issue_commit.c, issue_group_commit = on, the default): requests that
// arrive while a COMMIT is under way are stored together by the next one
// (/metrics counts the batches), a refusal inside a shared batch (409: the
// paid keys are all issued) takes only itself down, every 201 survives
// kill -9, a stop (SIGTERM) with issuances still queued and suspended ends
// cleanly (exit 0, no sanitizer report) and loses no acknowledged
// certificate, and with issue_group_commit = off the same requests give the same
// answers through the worker threads.
//
// To make the batch certain rather than likely, the store's write lock is
// held from outside for a moment (a sqlite3 shell or a psql session): the
// committer's first transaction waits on it, every other request queues
// behind it, and the next COMMIT takes them all.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { startEsp, holderWithKeys, makeCsr, rawSql, espctlStatus, ENGINE } from './lib/esp.mjs';

let tmp;
before(() => { tmp = mkdtempSync(join(tmpdir(), 'esp-gcommit-')); });
after(() => { rmSync(tmp, { recursive: true, force: true }); });

// Holds the store's write lock (for certificates) for ms; resolves once it
// is held, with { ended }, a promise of its end (wrapped: an async function
// returning a promise would wait for it).
async function holdWriteLock(esp, ms) {
  const mark = join(tmp, `locked-${Date.now()}-${Math.random()}`);
  const child = ENGINE === 'postgresql'
    ? spawn('psql', [esp.database, '-q', '-v', 'ON_ERROR_STOP=1'], { stdio: ['pipe', 'ignore', 'inherit'] })
    : spawn('sqlite3', ['-bail', esp.database], { stdio: ['pipe', 'ignore', 'inherit'] });
  const ended = new Promise((resolve) => child.on('exit', resolve));
  const script = ENGINE === 'postgresql'
    ? `BEGIN;\nLOCK TABLE certificates IN EXCLUSIVE MODE;\n\\! touch ${mark}\nSELECT pg_sleep(${ms / 1000});\nCOMMIT;\n`
    : `.timeout 10000\nBEGIN IMMEDIATE;\n.shell touch ${mark}\n.shell sleep ${ms / 1000}\nCOMMIT;\n`;
  child.stdin.end(script);
  for (let i = 0; i < 200 && !existsSync(mark); i++) await new Promise((r) => setTimeout(r, 25));
  assert.ok(existsSync(mark), 'the lock holder did not start');
  return { ended };
}

async function issue(esp, app, tokenSerial, csr) {
  const r = await fetch(`${esp.url}/api/v1/applications/${app.number}/certificates`, {
    method: 'POST',
    headers: { authorization: `Bearer ${app.token}`, 'content-type': 'application/json' },
    body: JSON.stringify({ csr, token_serial: tokenSerial }),
  });
  return { app, tokenSerial, status: r.status, retryAfter: r.headers.get('retry-after'), body: await r.json() };
}

async function metric(esp, name) {
  const text = await (await fetch(`${esp.url}/metrics`)).text();
  const m = text.match(new RegExp(`^${name} (\\d+)$`, 'm'));
  return m ? Number(m[1]) : null;
}

// Two applications: A paid for 2 keys and asked for 10 (two 201, eight 409),
// B for 3 and asked for 3; all at once.
async function concurrentIssuances(esp, tag) {
  const a = await holderWithKeys(esp, 'enterprise', 2, tmp, { issued: 0 });
  const b = await holderWithKeys(esp, 'enterprise', 3, tmp, { issued: 0 });
  const requests = [];
  for (let t = 0; t < 10; t++) requests.push([a, `${tag}-A-${t}`, makeCsr(tmp, `${tag}-a${t}`).pem]);
  for (let t = 0; t < 3; t++) requests.push([b, `${tag}-B-${t}`, makeCsr(tmp, `${tag}-b${t}`).pem]);
  const held = await holdWriteLock(esp, 1500);
  const answers = await Promise.all(requests.map(([app, serial, csr]) => issue(esp, app, serial, csr)));
  await held.ended;
  return { a, b, answers };
}

function checkAnswers(esp, { a, b, answers }) {
  const of = (app) => answers.filter((x) => x.app === app);
  const aStatus = of(a).map((x) => x.status).sort();
  assert.deepEqual(aStatus, [201, 201, 409, 409, 409, 409, 409, 409, 409, 409], JSON.stringify(of(a).map((x) => x.body)));
  for (const x of of(a).filter((y) => y.status === 409)) assert.equal(x.body.error, 'all_issued');
  assert.deepEqual(of(b).map((x) => x.status), [201, 201, 201], JSON.stringify(of(b).map((x) => x.body)));
  const created = answers.filter((x) => x.status === 201);
  for (const x of created) assert.match(x.body.certificate, /BEGIN CERTIFICATE/);
  return created;
}

function checkStore(esp, created, { a, b }) {
  for (const app of [a, b]) {
    const stored = rawSql(esp, `SELECT c.token_serial || ' ' || c.serial FROM certificates c JOIN applications p ON p.id = c.application_id WHERE p.number = '${app.number}' ORDER BY 1`)
      .trim().split('\n').filter(Boolean);
    const acknowledged = created.filter((x) => x.app === app).map((x) => `${x.tokenSerial} ${x.body.serial}`).sort();
    assert.deepEqual(stored, acknowledged, 'exactly the acknowledged certificates are stored');
    assert.equal(rawSql(esp, `SELECT state FROM applications WHERE number = '${app.number}'`).trim(), 'issued');
    const events = rawSql(esp, `SELECT COUNT(*) FROM application_events e JOIN applications p ON p.id = e.application_id WHERE p.number = '${app.number}' AND e.action = 'issue'`).trim();
    assert.equal(Number(events), acknowledged.length, 'one issuance event per certificate, none for the refusals');
  }
  const v = espctlStatus(esp, 'audit', 'verify');
  assert.equal(v.code, 0, v.out);
}

test(`[${ENGINE}] concurrent issuances share a COMMIT; a refusal in the batch takes only itself down; every 201 survives kill -9`, async () => {
  const esp = await startEsp();
  try {
    const before = { batches: await metric(esp, 'esp_issue_batch_size_count'), jobs: await metric(esp, 'esp_issue_batch_size_sum') };
    assert.notEqual(before.batches, null, 'the committer is on by default and counted in /metrics');
    const run = await concurrentIssuances(esp, 'GC');
    const created = checkAnswers(esp, run);
    const batches = (await metric(esp, 'esp_issue_batch_size_count')) - before.batches;
    const jobs = (await metric(esp, 'esp_issue_batch_size_sum')) - before.jobs;
    assert.equal(jobs, 13, 'every request went through the committer');
    assert.ok(batches <= 3, `13 requests in ${batches} transactions`);
    assert.ok((await metric(esp, 'esp_issue_batch_size_max')) >= 5, 'one COMMIT served several');
    // Right after the last answer: no clean shutdown.
    await esp.kill9();
    await esp.start();
    checkStore(esp, created, run);
  } finally {
    await esp.cleanup();
  }
});

test(`[${ENGINE}] issue_group_commit = off: the same answers through the worker threads, no committer`, async () => {
  const esp = await startEsp({ args: ['--issue_group_commit=off'] });
  try {
    assert.equal(await metric(esp, 'esp_issue_batch_size_count'), null, 'no committer when off');
    const run = await concurrentIssuances(esp, 'NG');
    const created = checkAnswers(esp, run);
    checkStore(esp, created, run);
  } finally {
    await esp.cleanup();
  }
});

test(`[${ENGINE}] a full queue answers 503 with Retry-After, in Chinese, and stores nothing`, async () => {
  const esp = await startEsp({ args: ['--issue_queue_max=1'] });
  try {
    const app = await holderWithKeys(esp, 'enterprise', 6, tmp, { issued: 0 });
    const csrs = Array.from({ length: 6 }, (_, i) => makeCsr(tmp, `full-${i}`).pem);
    // The committer's first transaction waits on the lock; one more job
    // fills the queue; the rest are refused at once. (On a busy machine the
    // committer may not have taken the first job yet when the others come:
    // then that one fills the queue and only it is issued.)
    const held = await holdWriteLock(esp, 1500);
    const answers = await Promise.all(csrs.map((csr, i) => issue(esp, app, `FULL-${i}`, csr)));
    await held.ended;
    const busy = answers.filter((x) => x.status === 503);
    const created = answers.filter((x) => x.status === 201);
    assert.equal(busy.length + created.length, 6, JSON.stringify(answers.map((x) => x.status)));
    assert.ok(created.length >= 1 && created.length <= 2, JSON.stringify(answers.map((x) => x.status)));
    for (const x of busy) {
      assert.equal(x.retryAfter, '1');
      assert.equal(x.body.error, 'busy');
      assert.match(x.body.message, /系统繁忙/);
    }
    assert.equal(await metric(esp, 'esp_issue_queue_full_total'), busy.length);
    const stored = rawSql(esp, `SELECT token_serial FROM certificates WHERE token_serial LIKE 'FULL-%' ORDER BY 1`).trim().split('\n').filter(Boolean);
    assert.deepEqual(stored, created.map((x) => x.tokenSerial).sort());
    // Refused, not lost: sent again, they are issued.
    for (const x of busy) assert.equal((await issue(esp, app, x.tokenSerial, csrs[Number(x.tokenSerial.slice(5))])).status, 201);
  } finally {
    await esp.cleanup();
  }
});

test(`[${ENGINE}] SIGTERM with issuances suspended and queued: a clean exit, and every 201 is stored`, async (t) => {
  // One job per batch: whatever the scheduling, all but the first wait in
  // the queue while the first waits on the lock.
  const esp = await startEsp({ args: ['--issue_batch_max=1'] });
  let restarted = false;
  try {
    const app = await holderWithKeys(esp, 'enterprise', 8, tmp, { issued: 0 });
    const csrs = Array.from({ length: 8 }, (_, i) => makeCsr(tmp, `stop-${i}`).pem);
    // The committer's first transaction waits on the lock past the
    // listeners' 5 s grace on PostgreSQL (on SQLite it gives up after its
    // retries): the others are still queued when the committer stops.
    const held = await holdWriteLock(esp, ENGINE === 'postgresql' ? 7000 : 2500);
    const pending = csrs.map((csr, i) => issue(esp, app, `STOP-${i}`, csr).catch((e) => ({ tokenSerial: `STOP-${i}`, status: 0, error: String(e) })));
    await new Promise((r) => setTimeout(r, 500));
    const stopped = esp.stop();
    const answers = await Promise.all(pending);
    const { code, sig } = await stopped;
    await held.ended;
    assert.equal(sig, null);
    assert.equal(code, 0, esp.log.slice(-2000));
    assert.doesNotMatch(esp.log, /AddressSanitizer|LeakSanitizer|runtime error/);
    t.diagnostic(`answers: ${answers.map((x) => x.status).join(' ')}`);
    for (const x of answers) assert.ok([0, 201, 500, 503].includes(x.status), JSON.stringify(x));
    for (const x of answers.filter((y) => y.status === 503)) assert.equal(x.retryAfter, '1');
    // On PostgreSQL the lock outlasts the grace: the queued ones were
    // answered busy by the stopping committer.
    if (ENGINE === 'postgresql') assert.ok(answers.some((x) => x.status === 503), 'jobs queued at the stop are answered 503');
    await esp.start();
    restarted = true;
    const stored = new Set(rawSql(esp, `SELECT token_serial FROM certificates WHERE token_serial LIKE 'STOP-%'`).trim().split('\n').filter(Boolean));
    for (const x of answers.filter((y) => y.status === 201)) assert.ok(stored.has(x.tokenSerial), `${x.tokenSerial} answered 201 but not stored`);
    // Nothing half-done: each stored certificate has its event.
    const events = rawSql(esp, `SELECT COUNT(*) FROM application_events e JOIN applications p ON p.id = e.application_id WHERE p.number = '${app.number}' AND e.action = 'issue'`).trim();
    assert.equal(Number(events), stored.size);
  } finally {
    if (!restarted) await esp.start().catch(() => {});
    await esp.cleanup();
  }
});
