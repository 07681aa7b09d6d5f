// Shared set-up for the esp-token tests against the real espd: one espd per
// test file (with ESP's chain saved for `--ca-file` and `openssl verify`),
// a fresh SoftHSM2 token per test, and the RA side done through the pages
// (RA fj_ra: the API token from /ra/tokens, an application paid and with its
// materials, 待制证).
//
//   import { tokenTestbed } from './lib.mjs';
//   const T = tokenTestbed();   // registers before/after; T.esp etc. once started
//
// Needs softhsm2, opensc (pkcs11-tool) and openssl.
import { before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startEsp, Client, approvedApplicant, submitApplication, BUILD } from '../lib/esp.mjs';

export const ESP_TOKEN = process.env.ESP_TOKEN || join(BUILD, 'src/cli/esp-token');
export const MODULE = '/usr/lib/softhsm/libsofthsm2.so';
export const PIN = '123456';
export const SO_PIN = '87654321';

export function tokenTestbed(espOpts = {}) {
  const T = { esp: null, tmp: null, chainFiles: null, ra: null, apiTokenFile: null };

  before(async () => {
    T.esp = await startEsp(espOpts);
    T.tmp = mkdtempSync(join(tmpdir(), 'esp-token-it-'));
    mkdirSync(join(T.tmp, 'home'));
    const chain = await (await fetch(`${T.esp.url}/ca/chain.pem`)).text();
    const certs = chain.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----\n?/g);
    assert.equal(certs.length, 2, 'the chain is the issuing CA and the root');
    T.chainFiles = { chain: join(T.tmp, 'chain.pem'), issuing: join(T.tmp, 'issuing.pem'), root: join(T.tmp, 'root.pem') };
    writeFileSync(T.chainFiles.chain, chain);
    writeFileSync(T.chainFiles.issuing, certs[0]);
    writeFileSync(T.chainFiles.root, certs[1]);
  });
  after(async () => {
    await T.esp?.cleanup();
    if (T.tmp) rmSync(T.tmp, { recursive: true, force: true });
  });

  // ---- the token side ----

  // A command with its own HOME; {code, out, err, all}.
  T.run = (cmd, args, env, input) => {
    const r = spawnSync(cmd, args, {
      encoding: 'utf8', input, timeout: 60000,
      env: { ...process.env, HOME: join(T.tmp, 'home'), LC_ALL: 'C.UTF-8', ...env },
    });
    if (r.error) throw r.error;
    return { code: r.status, out: r.stdout, err: r.stderr, all: `${r.stdout}\n${r.stderr}` };
  };

  // A fresh SoftHSM2 token in its own directory (own SOFTHSM2_CONF).
  let tokenCount = 0;
  T.newToken = (label = `T${tokenCount + 1}`) => {
    tokenCount++;
    const dir = join(T.tmp, `tok-${label}-${tokenCount}`);
    mkdirSync(join(dir, 'tokens'), { recursive: true });
    const conf = join(dir, 'softhsm2.conf');
    writeFileSync(conf, `directories.tokendir = ${join(dir, 'tokens')}\nobjectstore.backend = file\nlog.level = ERROR\n`);
    const env = { SOFTHSM2_CONF: conf };
    const init = T.run('softhsm2-util', ['--init-token', '--free', '--label', label, '--so-pin', SO_PIN, '--pin', PIN], env);
    assert.equal(init.code, 0, init.all);
    const pinFile = join(dir, 'pin');
    writeFileSync(pinFile, `${PIN}\n`, { mode: 0o600 });
    const t = {
      label, dir, env, pinFile,
      tool: (...args) => T.run(ESP_TOKEN, ['--module', MODULE, '--token', label, ...args], env),
      p11: (...args) => T.run('pkcs11-tool', ['--module', MODULE, '--token-label', label, ...args], env),
    };
    const l = t.tool('list');
    t.serial = l.out.match(/序列号 \(serial\)：([0-9a-f]+)/)[1];
    return t;
  };

  T.enroll = (t, server, number, apiTokenFile, ...extra) => t.tool('enroll', '--server', server,
    '--application', number, '--api-token-file', apiTokenFile, '--pin-file', t.pinFile, ...extra);

  // Objects on the token by class: [{type, label, id}] (logged in).
  T.objects = (t) => {
    const r = t.p11('--login', '--pin', PIN, '--list-objects');
    assert.equal(r.code, 0, r.all);
    const list = [];
    for (const block of r.out.split(/\n(?=\S)/)) {
      const m = block.match(/^(Private Key|Public Key|Certificate) Object/);
      if (!m) continue;
      const label = block.match(/label:\s*(.*)/)?.[1].trim() ?? '';
      const id = block.match(/ID:\s*([0-9a-f]*)/)?.[1] ?? '';
      list.push({ type: m[1], label, id });
    }
    return list;
  };

  // ---- the ESP side, as the RA does it in the browser ----

  T.staff = async (username) => {
    const c = new Client(T.esp.url);
    const r = await c.login(username, T.esp.account(username).password);
    assert.equal(r.status, 200);
    return c;
  };

  // The RA fj_ra, logged in, and its API token in T.apiTokenFile (once).
  T.raClient = async () => {
    if (T.ra) return T.ra;
    T.ra = await T.staff('fj_ra');
    await T.ra.get('/ra/tokens');
    const r = await T.ra.post('/ra/tokens', { name: '制证工作站 esp-token' });
    const m = r.text.match(/id="new-token">([^<]+)</);
    assert.ok(m, 'the RA page shows the new API token once');
    T.apiToken = m[1];
    T.apiTokenFile = join(T.tmp, 'api-token');
    writeFileSync(T.apiTokenFile, `${m[1]}\n`, { mode: 0o600 });
    return T.ra;
  };

  // An enterprise application of `sets` sets, paid and with its materials: 待制证.
  T.readyApplication = async (sets = 1) => {
    const { c, fields } = await approvedApplicant(T.esp, 'enterprise');
    const number = await submitApplication(c, 'enterprise', sets);
    const r = await T.raClient();
    await r.get(`/ra/applications/${number}`);
    const paid = await r.post(`/ra/applications/${number}/payment`, {
      amount: 660 * sets, paid_on: new Date(Date.now() + 8 * 3600e3).toISOString().slice(0, 10),
      payer: fields.name, bank_ref: `BANK-${number}`,
    });
    assert.match(paid.text, /id="app-state">已付款/);
    const mats = await r.post(`/ra/applications/${number}/materials`, { item: ['0', '1'] });
    assert.match(mats.text, /id="app-state">待制证/);
    // The page tells the RA the command to run.
    assert.match(mats.text, new RegExp(`esp-token enroll --server ${T.esp.url} --application ${number}`));
    return { number, fields };
  };

  // A token enrolled for a fresh one-set application (extra: e.g. '--rsa'),
  // its certificate exported to t.certFile: {t, number, fields, label}.
  T.enrolledToken = async (tokenLabel, ...extra) => {
    const { number, fields } = await T.readyApplication(1);
    const t = T.newToken(tokenLabel);
    const r = T.enroll(t, T.esp.url, number, T.apiTokenFile, ...extra);
    assert.equal(r.code, 0, r.all);
    t.certFile = join(t.dir, 'cert.pem');
    const ex = t.tool('export-cert', '--out', t.certFile);
    assert.equal(ex.code, 0, ex.all);
    return { t, number, fields, label: `esp-${number}` };
  };

  T.verifyWithChain = (certFile) => T.run('openssl', ['verify', '-x509_strict', '-purpose', 'sslclient',
    '-CAfile', T.chainFiles.root, '-untrusted', T.chainFiles.issuing, certFile], {});

  T.spkiOfCert = (certFile) => {
    const r = T.run('openssl', ['x509', '-in', certFile, '-noout', '-pubkey'], {});
    assert.equal(r.code, 0, r.all);
    return r.out.trim();
  };

  T.spkiOfTokenKey = (t, label) => {
    const der = join(t.dir, `${label}.pub.der`);
    const r = t.p11('--read-object', '--type', 'pubkey', '--label', label, '--output-file', der);
    assert.equal(r.code, 0, r.all);
    const p = T.run('openssl', ['pkey', '-pubin', '-inform', 'DER', '-in', der, '-outform', 'PEM'], {});
    assert.equal(p.code, 0, p.all);
    return p.out.trim();
  };

  return T;
}
