// The certificate-login listener behind a TCP proxy (login_proxy_protocol):
// a PROXY protocol v2 header is read only from trusted_proxies (here
// 127.0.0.2, standing for HAProxy), and its address is the client's; from
// anyone else a header is refused (the TLS handshake fails on it), and a
// trusted proxy that sends none, or too slowly, is cut off.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import net from 'node:net';
import tls from 'node:tls';
import { join } from 'node:path';
import { startEsp, espctl, ESPD, ENGINE } from './lib/esp.mjs';

let esp, cert, key, ca;
before(async () => {
  esp = await startEsp({ login: true, args: ['--trusted_proxies=127.0.0.2', '--login_proxy_protocol=true'] });
  const keyFile = join(esp.dir, 'staff.key'), csr = join(esp.dir, 'staff.csr'), crt = join(esp.dir, 'staff.crt');
  execFileSync('openssl', ['req', '-new', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-subj', '/CN=x', '-keyout', keyFile, '-out', csr], { stdio: 'ignore' });
  espctl(esp, 'staff-cert', '--username', 'fj_reviewer', '--csr', csr, '--out', crt);
  cert = readFileSync(crt);
  key = readFileSync(keyFile);
  ca = readFileSync(join(esp.dir, 'ca/chain.pem'));
});
after(async () => { await esp?.cleanup(); });

const SIG = Buffer.from([0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a]);
function proxyV2(src, srcPort = 40000) {
  const body = Buffer.concat([Buffer.from(src.split('.').map(Number)), Buffer.from([127, 0, 0, 1]),
    Buffer.from([srcPort >> 8, srcPort & 255, esp.loginPort >> 8, esp.loginPort & 255])]);
  return Buffer.concat([SIG, Buffer.from([0x21, 0x11, 0, body.length]), body]);
}

// Connects from `from`, writes `prefix` (a PROXY header or nothing), then
// logs in with the staff certificate over TLS: the status line, or the error.
function login(from, prefix) {
  return new Promise((resolve) => {
    const wire = net.connect({ host: '127.0.0.1', port: esp.loginPort, localAddress: from });
    wire.on('error', () => {});
    wire.once('connect', () => {
      if (prefix) wire.write(prefix);
      const s = tls.connect({ socket: wire, ca, cert, key, servername: 'localhost', rejectUnauthorized: false });
      let data = '';
      const timer = setTimeout(() => { s.destroy(); resolve({ error: 'timeout' }); }, 15000);
      s.on('secureConnect', () => s.write('GET /login/certificate HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n'));
      s.on('data', (d) => { data += d; });
      s.on('error', (e) => { clearTimeout(timer); resolve({ error: e.code || String(e) }); });
      s.on('close', () => { clearTimeout(timer); resolve(data ? { status: Number(data.split(' ')[1]), text: data } : { error: 'closed' }); });
    });
  });
}

const loginsFrom = (addr) => (esp.log.match(new RegExp(`certificate login: account \\d+ from ${addr.replace(/\./g, '\\.')}\\n`, 'g')) || []).length;

test(`[${ENGINE}] through a trusted proxy the client is the address of its PROXY header`, async () => {
  const r = await login('127.0.0.2', proxyV2('203.0.113.7'));
  assert.equal(r.status, 303, JSON.stringify(r));
  assert.match(r.text, /esp_session=/);
  await new Promise((res) => setTimeout(res, 100));
  assert.equal(loginsFrom('203.0.113.7'), 1, esp.log.slice(-2000));
  assert.equal(loginsFrom('127.0.0.2'), 0);
});

test(`[${ENGINE}] a LOCAL header (the proxy's own connection) keeps the proxy's address; a health check that leaves is not logged`, async () => {
  const local = Buffer.concat([SIG, Buffer.from([0x20, 0x00, 0, 0])]);
  const r = await login('127.0.0.2', local);
  assert.equal(r.status, 303, JSON.stringify(r));
  await new Promise((res) => setTimeout(res, 100));
  assert.equal(loginsFrom('127.0.0.2'), 1);
  const before = esp.log.length;
  await new Promise((resolve) => {
    const wire = net.connect({ host: '127.0.0.1', port: esp.loginPort, localAddress: '127.0.0.2' });
    wire.on('error', () => {});
    wire.once('connect', () => wire.end(local));
    wire.on('close', resolve);
  });
  await new Promise((res) => setTimeout(res, 300));
  assert.doesNotMatch(esp.log.slice(before), /certificate login|handshake|Error/);
});

test(`[${ENGINE}] a direct client (not a trusted proxy) logs in under its own address; a PROXY header from it is refused`, async () => {
  const r = await login('127.0.0.1');
  assert.equal(r.status, 303, JSON.stringify(r));
  await new Promise((res) => setTimeout(res, 100));
  assert.equal(loginsFrom('127.0.0.1'), 1);
  const forged = await login('127.0.0.1', proxyV2('198.51.100.9'));
  assert.ok(forged.error, `a forged header got ${JSON.stringify(forged).slice(0, 200)}`);
  assert.equal(loginsFrom('198.51.100.9'), 0);
});

test(`[${ENGINE}] a trusted proxy without a header, with a v1 text header, or too slow is cut off`, async () => {
  const none = await login('127.0.0.2');
  assert.ok(none.error, JSON.stringify(none).slice(0, 200));
  const v1 = await login('127.0.0.2', Buffer.from(`PROXY TCP4 203.0.113.8 127.0.0.1 40000 ${esp.loginPort}\r\n`));
  assert.ok(v1.error, JSON.stringify(v1).slice(0, 200));
  assert.equal(loginsFrom('203.0.113.8'), 0);
  // Half a header, then silence: closed after the header's time limit (2 s).
  const t0 = Date.now();
  const closedAfter = await new Promise((resolve) => {
    const wire = net.connect({ host: '127.0.0.1', port: esp.loginPort, localAddress: '127.0.0.2' });
    wire.on('error', () => {});
    wire.once('connect', () => wire.write(proxyV2('203.0.113.9').subarray(0, 10)));
    wire.on('close', () => resolve(Date.now() - t0));
    setTimeout(() => { wire.destroy(); resolve(-1); }, 10000);
  });
  assert.ok(closedAfter >= 1500 && closedAfter < 6000, `closed after ${closedAfter} ms`);
  assert.match(esp.log, /no PROXY header in time/);
  // Meanwhile, and after, logins through the proxy go on.
  const again = await login('127.0.0.2', proxyV2('203.0.113.10'));
  assert.equal(again.status, 303, JSON.stringify(again));
});

test(`[${ENGINE}] espd refuses login_proxy_protocol without trusted_proxies`, async () => {
  const r = spawnSync(ESPD, [`--data_dir=${esp.dir}`, `--database=${esp.database}`, '--http_listen=127.0.0.1:0', '--https_listen=',
    '--login_listen=127.0.0.1:0', `--public_url=${esp.url}`, '--login_proxy_protocol=true'], { encoding: 'utf8', timeout: 60000 });
  assert.equal(r.status, 1, r.stderr);
  assert.match(r.stderr, /login_proxy_protocol needs the proxy's address in trusted_proxies/);
});
