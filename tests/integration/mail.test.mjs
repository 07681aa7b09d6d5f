// E-mail notifications against a real SMTP server (aiosmtpd, started here):
// each event mails the right person (the registration's e-mail, the RA's
// address from the RA directory); a mail server down during 100 events
// delivers each once when it comes back; espd killed (SIGKILL) while
// sending loses none and sends none twice (the in-doubt rows wait for the
// admin); the renewal reminders with the moved clock, once per window; the
// admin's dead letters and retry; STARTTLS.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import {
  startEsp, Client, staffClient, approvedApplicant, registerAs, holderWithKeys, submitApplication,
  rawSql, linkHref, decode, ENGINE,
} from './lib/esp.mjs';
import { startSmtp } from './lib/mail.mjs';

const RA_MAIL = 'ra-fujian@example.cn';

// Short waits so the tests run in seconds: a message is looked for every
// 100 ms, retried after 1 s then 2 s, and a dead worker's lease runs out
// after 5 s (more than the 4 s an SMTP exchange may take).
function mailArgs(smtp, more = []) {
  return [`--smtp_url=${smtp.url}`, '--smtp_from=esp@example.cn', '--mail_poll_ms=100',
    '--smtp_retry_seconds=1', '--smtp_retry_max_seconds=2', '--smtp_lease_seconds=5',
    '--smtp_timeout_seconds=4', ...more];
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function waitUntil(what, fn, timeoutMs = 30000) {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out: ${what}`);
    await sleep(100);
  }
}

function outbox(esp) {
  return rawSql(esp, 'SELECT id, state, recipient, kind, audience FROM outbox ORDER BY id').trim().split('\n')
    .filter(Boolean).map((l) => { const [id, state, recipient, kind, audience] = l.split('|'); return { id: Number(id), state, recipient, kind, audience }; });
}

// The admin writes the RA's e-mail into the RA directory (福建, 35).
async function setRaMail(esp, email) {
  const admin = await staffClient(esp, 'admin');
  const page = await admin.get('/admin/directory/35');
  const values = {};
  for (const m of page.text.matchAll(/<input id="f-([a-z_]+)" name="[a-z_]+" type="text" value="([^"]*)"/g)) values[m[1]] = decode(m[2]);
  assert.ok('email' in values, 'the directory has an e-mail field');
  const bad = await admin.post('/admin/directory/35', { ...values, email: 'not an address' });
  assert.equal(bad.status, 422);
  assert.match(bad.text, /请输入正确的电子邮箱/);
  const ok = await admin.post('/admin/directory/35', { ...values, email });
  assert.equal(ok.status, 200);
}

const mailsTo = (msgs, addr) => msgs.filter((m) => m.to.includes(addr));

// A session opened with the holder's key on the certificate-login listener.
function keySession(esp, holder) {
  const r = spawnSync('curl', ['-s', '-i', '--cacert', holder.chain, '--cert', holder.certs[0].cert,
    '--key', holder.certs[0].key, `${esp.loginUrl}/`], { encoding: 'utf8' });
  const cookie = (r.stdout.match(/esp_session=([^;\s]+)/) || [])[1];
  if (!cookie) throw new Error(`certificate login failed:\n${r.stdout.slice(0, 500)}`);
  const c = new Client(esp.url);
  c.cookies.set('esp_session', cookie);
  return c;
}

test(`[${ENGINE}] each event mails the right person, and shows as a notice`, async () => {
  const smtp = await startSmtp();
  const esp = await startEsp({ login: true, args: mailArgs(smtp) });
  const dir = mkdtempSync(join(tmpdir(), 'esp-mail-'));
  try {
    await setRaMail(esp, RA_MAIL);
    // 注册审核未通过, with its reason.
    const { fields: rejected } = await registerAs(esp, 'enterprise', '福建省交通运输厅');
    const rev = await staffClient(esp, 'fj_reviewer');
    const list = await rev.get('/review');
    const href = linkHref(list.text, `查看并审核 ${rejected.name}`);
    await rev.get(href);
    await rev.post(href, { decision: 'reject', reason: '营业执照扫描件不清晰' });
    let msgs = await smtp.waitFor((m) => mailsTo(m, rejected.email).length === 1);
    let m = mailsTo(msgs, rejected.email)[0];
    assert.match(m.subject, /注册审核未通过/);
    assert.match(m.body, /营业执照扫描件不清晰/);
    assert.equal(m.from, 'esp@example.cn');

    // 注册审核通过, then 制证 (all sets issued): the holder and the RA.
    const holder = await holderWithKeys(esp, 'enterprise', 1, dir);
    const addr = holder.fields.email;
    msgs = await smtp.waitFor((all) => mailsTo(all, addr).length === 2 && mailsTo(all, RA_MAIL).length === 1);
    assert.match(mailsTo(msgs, addr)[0].subject, /注册审核已通过/);
    assert.match(mailsTo(msgs, addr)[1].subject, new RegExp(`申请${holder.number}的证书已制作完成`));
    const raIssued = mailsTo(msgs, RA_MAIL)[0];
    assert.match(raIssued.subject, new RegExp(`${holder.number}.*${holder.fields.name}`));

    // 已寄出 with the courier's number.
    await holder.ra.get(`/ra/applications/${holder.number}`);
    await holder.ra.post(`/ra/applications/${holder.number}/ship`, { courier: '顺丰速运', tracking_no: 'SF1234567890' });
    msgs = await smtp.waitFor((all) => mailsTo(all, addr).length === 3 && mailsTo(all, RA_MAIL).length === 2);
    assert.match(mailsTo(msgs, addr)[2].subject, /已寄出/);
    assert.match(mailsTo(msgs, addr)[2].body, /SF1234567890/);
    // The management home shows the same events to the holder signed in with the key.
    const home = await keySession(esp, holder).get('/mgmt');
    assert.equal(home.status, 200);
    assert.match(home.text, /id="notices"/);
    assert.match(home.text, new RegExp(`申请${holder.number}的证书U盘已寄出`));

    // 吊销 by the RA with a reason offered in Chinese.
    const serial = holder.certs[0].serial;
    const app = await holder.ra.get(`/ra/applications/${holder.number}`);
    assert.ok(app.text.includes(`/ra/certs/${serial}/revoke`), 'the RA sees a revoke link');
    const form = await holder.ra.get(`/ra/certs/${serial}/revoke`);
    assert.match(form.text, /停止使用/);
    assert.match(form.text, /<label for="r-reason">吊销原因<\/label>/);
    const noReason = await holder.ra.post(`/ra/certs/${serial}/revoke`, { confirm: 'yes' });
    assert.equal(noReason.status, 422);
    const done = await holder.ra.post(`/ra/certs/${serial}/revoke`, { reason: 'cessationOfOperation', confirm: 'yes' });
    assert.equal(done.status, 200);
    assert.match(done.text, /已吊销/);
    msgs = await smtp.waitFor((all) => mailsTo(all, addr).length === 4);
    assert.match(mailsTo(msgs, addr)[3].subject, new RegExp(`证书${serial}已吊销`));
    assert.match(mailsTo(msgs, addr)[3].body, /吊销原因：停止使用/);

    // 申请被退回: the holder with the reason, and the RA.
    const other = await approvedApplicant(esp, 'enterprise');
    const number = await submitApplication(other.c, 'enterprise');
    await holder.ra.get(`/ra/applications/${number}`);
    await holder.ra.post(`/ra/applications/${number}/return`, { reason: '申请表未盖公章' });
    msgs = await smtp.waitFor((all) => mailsTo(all, other.fields.email).length === 2 && mailsTo(all, RA_MAIL).length === 3);
    const ret = mailsTo(msgs, other.fields.email)[1];
    assert.match(ret.subject, new RegExp(`申请${number}已被退回`));
    assert.match(ret.body, /退回原因：申请表未盖公章/);
    assert.match(mailsTo(msgs, RA_MAIL)[2].body, new RegExp(`${other.fields.name}的证书申请${number}已退回`));

    // Nobody else got anything, and each message went to one address.
    await sleep(500);
    msgs = smtp.messages();
    assert.ok(msgs.every((x) => x.to.length === 1));
    const expected = { [rejected.email]: 1, [addr]: 4, [RA_MAIL]: 3, [other.fields.email]: 2 };
    const got = {};
    for (const x of msgs) got[x.to[0]] = (got[x.to[0]] || 0) + 1;
    assert.deepEqual(got, expected);

    // The same events on the applicant's status page.
    const status = await other.c.get('/status');
    assert.match(status.text, /id="notices"/);
    assert.match(status.text, new RegExp(`申请${number}已被退回`));
    assert.match(status.text, /注册审核已通过/);
    assert.match(status.text, /邮件已发送/);
  } finally {
    await esp.cleanup();
    await smtp.cleanup();
    rmSync(dir, { recursive: true, force: true });
  }
});

// 100 registrations approved by the reviewer: 100 messages, one each.
async function approveMany(esp, n) {
  const rev = await staffClient(esp, 'fj_reviewer');
  const emails = [];
  for (let i = 0; i < n; i++) {
    const { fields, res } = await registerAs(esp, 'enterprise', '福建省交通运输厅');
    assert.equal(res.status, 200);
    const list = await rev.get('/review');
    const href = linkHref(list.text, `查看并审核 ${fields.name}`);
    await rev.get(href);
    const d = await rev.post(href, { decision: 'approve' });
    assert.match(d.text, /已通过/);
    emails.push(fields.email);
  }
  return emails;
}

test(`[${ENGINE}] the mail server down during 100 events, then up: every message delivered once`, async () => {
  const smtp = await startSmtp({ down: true });
  const esp = await startEsp({ args: mailArgs(smtp, ['--smtp_max_attempts=1000']) });
  try {
    const emails = await approveMany(esp, 100);
    // Tried and failed, kept in the backlog, visible to the admin.
    await waitUntil('failed attempts recorded', () => Number(rawSql(esp, "SELECT COUNT(*) FROM outbox WHERE attempts > 0 AND last_error IS NOT NULL").trim()) > 0);
    const admin = await staffClient(esp, 'admin');
    const page = await admin.get('/admin/mail');
    const backlog = Number(page.text.match(/id="count-backlog">(\d+)</)[1]);
    assert.equal(backlog, 100);
    assert.match(page.text, /SMTP/);
    assert.equal(smtp.messages().length, 0);

    await smtp.start();
    await smtp.waitFor(100, 60000);
    await waitUntil('every row sent', () => outbox(esp).every((r) => r.state === 'sent'), 30000);
    await sleep(1000);
    const msgs = smtp.messages();
    assert.equal(msgs.length, 100);
    assert.deepEqual(msgs.map((x) => x.to[0]).sort(), [...emails].sort());
    assert.equal(new Set(msgs.map((x) => x.outboxId)).size, 100);
    const after = await admin.get('/admin/mail');
    assert.match(after.text, /id="count-backlog">0</);
    assert.match(after.text, /id="count-sent">100</);
  } finally {
    await esp.cleanup();
    await smtp.cleanup();
  }
});

// Each outbox id received how many times.
function receivedCounts(smtp) {
  const n = new Map();
  for (const m of smtp.messages()) n.set(m.outboxId, (n.get(m.outboxId) || 0) + 1);
  return n;
}

test(`[${ENGINE}] espd killed (SIGKILL) while sending: no message lost, none sent twice`, async (t) => {
  // The server holds each 250 for 150 ms after recording the message: most
  // kills land between the final "." and the reply.
  const smtp = await startSmtp({ down: true, holdMs: 150 });
  const esp = await startEsp({ args: mailArgs(smtp, ['--smtp_max_attempts=1000']) });
  try {
    await approveMany(esp, 60);
    await smtp.start();
    for (let k = 0; k < 4; k++) {
      await sleep(400 + Math.floor(Math.random() * 600));
      await esp.kill9();
      await esp.start();
    }
    // Every row settles: sent, or in doubt (never sent again by itself).
    await waitUntil('rows settled', () => outbox(esp).every((r) => r.state === 'sent' || r.state === 'in_doubt'), 60000);
    await sleep(1500);
    const rows = outbox(esp);
    const got = receivedCounts(smtp);
    for (const [id, n] of got) assert.equal(n, 1, `message ${id} received ${n} times`);
    for (const r of rows) {
      if (r.state === 'sent') assert.equal(got.get(r.id), 1, `sent row ${r.id} received once`);
    }
    const doubt = rows.filter((r) => r.state === 'in_doubt');
    t.diagnostic(`in doubt after the kills: ${doubt.length} of ${rows.length}`);
    // The admin settles each: delivered when the server has it (as the
    // server's log would show), sent again when it does not.
    const admin = await staffClient(esp, 'admin');
    for (const r of doubt) {
      const page = await admin.get('/admin/mail');
      assert.ok(page.text.includes(`/admin/mail/${r.id}/delivered`), 'the in-doubt row is on the admin page');
      const action = got.get(r.id) ? 'delivered' : 'retry';
      const res = await admin.post(`/admin/mail/${r.id}/${action}`, {});
      assert.equal(res.status, 200);
    }
    await waitUntil('all sent', () => outbox(esp).every((r) => r.state === 'sent'), 30000);
    await sleep(500);
    const final = receivedCounts(smtp);
    assert.equal(final.size, 60, 'every message delivered');
    for (const [id, n] of final) assert.equal(n, 1, `message ${id} received ${n} times`);
  } finally {
    await esp.cleanup();
    await smtp.cleanup();
  }
});

test(`[${ENGINE}] killed after the final "." and before the reply: held in doubt, never sent again`, async () => {
  const smtp = await startSmtp({ holdMs: 3000 });
  const esp = await startEsp({ args: mailArgs(smtp) });
  try {
    const { fields } = await approvedApplicant(esp, 'enterprise');
    await smtp.waitFor(1); // recorded; the 250 is still held
    await esp.kill9();
    assert.equal(outbox(esp)[0].state, 'committing');
    await esp.start();
    await waitUntil('in doubt', () => outbox(esp)[0].state === 'in_doubt', 20000);
    await sleep(1500);
    assert.equal(smtp.messages().length, 1, 'not sent again');
    const admin = await staffClient(esp, 'admin');
    const page = await admin.get('/admin/mail');
    assert.match(page.text, /id="count-in-doubt">1</);
    assert.match(page.text, new RegExp(fields.email.replace('.', '\\.')));
    const res = await admin.post(`/admin/mail/${outbox(esp)[0].id}/delivered`, {});
    assert.match(res.text, /已记录为已送达/);
    assert.equal(outbox(esp)[0].state, 'sent');
    // A second decision on the same row is refused.
    const again = await admin.post(`/admin/mail/${outbox(esp)[0].id}/delivered`, {});
    assert.equal(again.status, 409);
    // A worker killed before the "." leaves 'sending' under its lease (made
    // here in the store, as such a worker leaves it): nobody sends it while
    // the lease runs, then it is claimed again and delivered once (the
    // server discarded the unfinished transaction).
    await smtp.stop();
    const { fields: f2 } = await approvedApplicant(esp, 'enterprise');
    await esp.kill9();
    const leaseEnd = Math.floor(Date.now() / 1000) + 4;
    rawSql(esp, `UPDATE outbox SET state = 'sending', lease_token = 'killed-worker', lease_until = ${leaseEnd} WHERE recipient = '${f2.email}'`);
    await smtp.start({ holdMs: 0 });
    await esp.start();
    await sleep(1500);
    assert.equal(smtp.messages().length, 1, 'not sent while the lease runs');
    await waitUntil('second sent', () => smtp.messages().some((m) => m.to.includes(f2.email)), 20000);
    await sleep(500);
    assert.equal(smtp.messages().length, 2);
  } finally {
    await esp.cleanup();
    await smtp.cleanup();
  }
});

test(`[${ENGINE}] a refused recipient is a dead letter; the admin's retry sends it`, async () => {
  const smtp = await startSmtp({ reject: 'bounce-' });
  const esp = await startEsp({ args: mailArgs(smtp) });
  try {
    const { fields } = await approvedApplicant(esp, 'enterprise', { overrides: { email: `bounce-${Date.now()}@example.cn` } });
    await waitUntil('dead', () => outbox(esp)[0]?.state === 'dead');
    const admin = await staffClient(esp, 'admin');
    let page = await admin.get('/admin/mail');
    assert.match(page.text, /id="count-dead">1</);
    assert.match(page.text, /SMTP 550/);
    assert.equal(smtp.messages().length, 0);
    await smtp.stop();
    await smtp.start({ reject: '' });
    const id = outbox(esp)[0].id;
    page = await admin.post(`/admin/mail/${id}/retry`, {});
    assert.match(page.text, /已重新排入发送队列/);
    const msgs = await smtp.waitFor(1);
    assert.deepEqual(msgs[0].to, [fields.email]);
    await waitUntil('sent', () => outbox(esp)[0].state === 'sent');
    page = await admin.get('/admin/mail');
    assert.match(page.text, /id="count-dead">0</);
    assert.doesNotMatch(page.text, /重新发送全部死信/);
    // After a longer refusal, every dead letter at once.
    await smtp.stop();
    await smtp.start({ reject: 'bounce-' });
    await approvedApplicant(esp, 'enterprise', { overrides: { email: `bounce-a${Date.now()}@example.cn` } });
    await approvedApplicant(esp, 'enterprise', { overrides: { email: `bounce-b${Date.now()}@example.cn` } });
    await waitUntil('two dead', () => outbox(esp).filter((r) => r.state === 'dead').length === 2);
    page = await admin.get('/admin/mail');
    assert.match(page.text, /重新发送全部死信（2 封）/);
    await smtp.stop();
    await smtp.start({ reject: '' });
    page = await admin.post('/admin/mail/retry-dead', {});
    assert.match(page.text, /全部死信已重新排入发送队列/);
    await smtp.waitFor(3);
    await waitUntil('all sent', () => outbox(esp).every((r) => r.state === 'sent'));
    assert.equal(smtp.messages().length, 3);
  } finally {
    await esp.cleanup();
    await smtp.cleanup();
  }
});

test(`[${ENGINE}] renewal reminders at 60, 30 and 7 days with the moved clock, once per window; overdue to the holder and the RA`, async () => {
  const smtp = await startSmtp();
  const esp = await startEsp({ args: mailArgs(smtp) });
  const dir = mkdtempSync(join(tmpdir(), 'esp-mail-'));
  try {
    await setRaMail(esp, RA_MAIL);
    const holder = await holderWithKeys(esp, 'enterprise', 1, dir);
    const addr = holder.fields.email;
    await smtp.waitFor((m) => mailsTo(m, addr).length === 2); // approved, issued
    const notAfter = Number(rawSql(esp, `SELECT not_after FROM certificates WHERE serial = '${holder.certs[0].serial}'`).trim());
    const now = Math.floor(Date.now() / 1000);
    const reminders = () => mailsTo(smtp.messages(), addr).filter((m) => /请及时更新/.test(m.subject));
    // Moves the clock to `days` before expiry and waits for the daily job.
    const at = async (days) => {
      await esp.stop();
      esp.env = { ESP_TIME_OFFSET: String(notAfter - days * 86400 - now) };
      await esp.start();
      await waitUntil('daily job ran', () => /daily notices/.test(esp.log));
    };
    await at(61);
    await sleep(800);
    assert.equal(reminders().length, 0, 'not yet in the window');
    await at(59);
    await smtp.waitFor(() => reminders().length === 1);
    assert.match(reminders()[0].subject, /60天内到期/);
    assert.match(reminders()[0].body, new RegExp(holder.certs[0].serial));
    await at(58); // the same window again: nothing new
    await sleep(800);
    assert.equal(reminders().length, 1);
    await at(29);
    await smtp.waitFor(() => reminders().length === 2);
    assert.match(reminders()[1].subject, /30天内到期/);
    await at(6);
    await smtp.waitFor(() => reminders().length === 3);
    assert.match(reminders()[2].subject, /7天内到期/);
    await at(5);
    await sleep(800);
    assert.equal(reminders().length, 3);
    // Issued but never shipped: overdue since long, told once to both.
    const overdue = (a) => mailsTo(smtp.messages(), a).filter((m) => /未办结/.test(m.subject));
    assert.equal(overdue(addr).length, 1);
    assert.equal(overdue(RA_MAIL).length, 1);
    assert.match(overdue(RA_MAIL)[0].body, new RegExp(holder.number));
    // Nothing went to anyone else: the RA never gets the holder's reminders.
    assert.equal(mailsTo(smtp.messages(), RA_MAIL).filter((m) => /请及时更新/.test(m.subject)).length, 0);
  } finally {
    esp.env = {};
    await esp.cleanup();
    await smtp.cleanup();
    rmSync(dir, { recursive: true, force: true });
  }
});

test(`[${ENGINE}] STARTTLS when the server offers it (smtp_require_tls), then the SMTP login`, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'esp-mailtls-'));
  const cert = join(dir, 'smtp.crt'), key = join(dir, 'smtp.key');
  execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes',
    '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1', '-days', '2', '-keyout', key, '-out', cert], { stdio: 'ignore' });
  const pwFile = join(dir, 'smtp.password');
  writeFileSync(pwFile, 's3cret-口令\n', { mode: 0o600 });
  const smtp = await startSmtp({ tlsCert: cert, tlsKey: key, auth: 'esp-mailer:s3cret-口令' });
  const esp = await startEsp({ args: mailArgs(smtp, [`--smtp_ca_file=${cert}`, '--smtp_require_tls=true',
    '--smtp_username=esp-mailer', `--smtp_password_file=${pwFile}`]) });
  try {
    const { fields } = await approvedApplicant(esp, 'enterprise');
    const [m] = await smtp.waitFor(1);
    assert.deepEqual(m.to, [fields.email]);
    assert.equal(m.tls, true, 'the message came over STARTTLS');
    assert.equal(m.login, 'esp-mailer', 'and after logging in');
    // A wrong password: the server refuses the login (535), a dead letter.
    await esp.stop();
    writeFileSync(pwFile, 'wrong\n', { mode: 0o600 });
    await esp.start();
    await approvedApplicant(esp, 'enterprise');
    await waitUntil('dead', () => outbox(esp).some((r) => r.state === 'dead'));
    assert.match(rawSql(esp, "SELECT last_error FROM outbox WHERE state = 'dead'"), /SMTP 535/);
    assert.equal(smtp.messages().length, 1);
  } finally {
    await esp.cleanup();
    await smtp.cleanup();
    rmSync(dir, { recursive: true, force: true });
  }
});
