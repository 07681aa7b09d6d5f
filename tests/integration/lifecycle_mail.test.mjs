// 吊销 by the holder (挂失) told by e-mail, against a real SMTP server
// (aiosmtpd, started here): the holder reports the key in use lost on the
// certificate-login listener; the mail of the revocation arrives once, with
// the reason, and shows as a notice on the management home.
// (The RA's revocation, the renewal and the unlock mails are in
// mail.test.mjs, token/token_renewal.test.mjs and token/token_unlock.test.mjs.)
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { startEsp, holderWithKeys, rawSql, ENGINE } from './lib/esp.mjs';
import { startSmtp } from './lib/mail.mjs';

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

test(`[${ENGINE}] 挂失 by the holder: the revocation mail arrives once, with its reason, and shows on the home page`, async () => {
  const smtp = await startSmtp();
  const esp = await startEsp({ login: true, args: [`--smtp_url=${smtp.url}`, '--smtp_from=esp@example.cn',
    '--mail_poll_ms=100', '--smtp_retry_seconds=1', '--smtp_retry_max_seconds=2'] });
  const dir = mkdtempSync(join(tmpdir(), 'esp-lifemail-'));
  try {
    const holder = await holderWithKeys(esp, 'enterprise', 2, dir);
    const addr = holder.fields.email;
    const revoked = () => smtp.messages().filter((m) => m.to.includes(addr) && /已吊销/.test(m.subject));
    await smtp.waitFor((m) => m.filter((x) => x.to.includes(addr)).length >= 2); // approved, issued
    assert.equal(revoked().length, 0);
    // Logged in with the first key, the holder reports the second lost.
    const curl = (cookie, path, ...more) => spawnSync('curl', ['-s', '-i', '--cacert', holder.chain,
      '--cert', holder.certs[0].cert, '--key', holder.certs[0].key,
      ...(cookie ? ['-b', `esp_session=${cookie}`] : []), ...more, `${esp.loginUrl}${path}`], { encoding: 'utf8' }).stdout;
    const cookie = (curl(null, '/').match(/esp_session=([^;\s]+)/) || [])[1];
    assert.ok(cookie, 'certificate login');
    const serial = holder.certs[1].serial;
    const confirm = curl(cookie, `/mgmt/certs/${serial}/lost`);
    const csrf = confirm.match(/name="csrf" value="([^"]+)"/)[1];
    assert.match(curl(cookie, `/mgmt/certs/${serial}/lost`, '--data', `csrf=${csrf}`), /HTTP\/1.1 303/);
    assert.equal(rawSql(esp, `SELECT status FROM certificates WHERE serial = '${serial}'`).trim(), 'revoked');
    await smtp.waitFor(() => revoked().length >= 1);
    const [m] = revoked();
    assert.match(m.subject, new RegExp(`证书${serial}已吊销`));
    assert.match(m.body, /吊销原因：密钥泄露（挂失）/);
    assert.match(m.body, /如非本单位操作，请立即联系注册机构/);
    // Once: a second report of the same key changes nothing and tells nothing.
    const again = curl(cookie, `/mgmt/certs/${serial}/lost`, '--data', `csrf=${csrf}`);
    assert.doesNotMatch(again, /HTTP\/1.1 5\d\d/);
    await sleep(1000);
    assert.equal(revoked().length, 1);
    assert.equal(rawSql(esp, `SELECT COUNT(*) FROM outbox WHERE kind = 'cert_revoked' AND params LIKE '%${serial}%'`).trim(), '1');
    // The same event as a notice on the management home.
    const home = curl(cookie, '/mgmt');
    assert.match(home, /id="notices"/);
    assert.match(home, new RegExp(`证书${serial}已吊销`));
  } finally {
    await esp.cleanup();
    await smtp.cleanup();
    rmSync(dir, { recursive: true, force: true });
  }
});
