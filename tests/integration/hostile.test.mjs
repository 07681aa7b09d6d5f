// Hostile clients against a real espd: what one anonymous person with a
// socket can send must neither crash nor freeze the server.  Each attack is
// bounded and sent only to loopback.  Throughout, a watcher from another
// loopback address asks /healthz and a reviewer's queue page and records how
// long each answer took; the test fails when any took over its limit.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { request as httpRequest } from 'node:http';
import { readFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { startEsp, Client, ENGINE, ESPD } from './lib/esp.mjs';

// ASan keeps freed memory in quarantine: resident size says nothing there.
const SANITIZED = /libasan/.test(execFileSync('ldd', [ESPD], { encoding: 'utf8' }));

let esp;
const WATCH_ADDR = '127.0.0.2'; // the innocent user; attackers come from 127.0.0.1

before(async () => {
  esp = await startEsp({
    args: ['--header_timeout_seconds=3', '--body_timeout_seconds=6', '--send_timeout_seconds=8',
      '--idle_timeout_seconds=4', '--max_connections_per_ip=40', '--max_uploads_in_flight_bytes=16000000',
      '--max_form_fields=200', '--db_connections=4'],
  });
});
after(async () => { await esp?.cleanup(); });

// One request from the innocent address, on a connection of its own;
// resolves {status, ms, body, headers}.
function call(method, path, { cookie, body, type, timeout = 10000 } = {}) {
  const t0 = performance.now();
  const headers = cookie ? { cookie } : {};
  if (body !== undefined) Object.assign(headers, { 'content-type': type, 'content-length': Buffer.byteLength(body) });
  return new Promise((resolve) => {
    const req = httpRequest(`${esp.url}${path}`, {
      method, localAddress: WATCH_ADDR, agent: false, headers, timeout,
    }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (d) => { text += d; });
      res.on('end', () => resolve({ status: res.statusCode, ms: performance.now() - t0, body: text, headers: res.headers }));
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', (e) => resolve({ status: 0, ms: performance.now() - t0, error: e.message }));
    req.end(body);
  });
}
const get = (path, opts) => call('GET', path, opts);

// A password login over connections of their own. fetch's shared pool may
// hand a request a keep-alive socket that this espd's 4 s idle timeout is
// closing at that moment ("fetch failed"), more often on a busy machine.
async function freshLogin(username, password) {
  const page = await get('/login');
  const cookie = (page.headers?.['set-cookie'] || []).map((c) => c.split(';')[0]).join('; ');
  const csrf = ((page.body || '').match(/name="csrf" value="([^"]*)"/) || [])[1] || '';
  return call('POST', '/login', {
    cookie, type: 'application/x-www-form-urlencoded',
    body: new URLSearchParams({ csrf, username, password }).toString(),
  });
}

// A reviewer logged in from the innocent address (for the queue page).
async function reviewerCookie() {
  const c = new Client(esp.url);
  const res = await c.login('fj_reviewer', esp.account('fj_reviewer').password);
  assert.equal(res.status, 200);
  return [...c.cookies].map(([k, v]) => `${k}=${v}`).join('; ');
}

// Asks /healthz and /review every 200 ms until stopped; returns the worst.
function watch(cookie) {
  const samples = [];
  let stop = false;
  const done = (async () => {
    while (!stop) {
      const [h, q] = await Promise.all([get('/healthz'), get('/review', { cookie })]);
      samples.push({ h, q });
      await new Promise((r) => setTimeout(r, 200));
    }
  })();
  return {
    async stop() {
      stop = true;
      await done;
      return samples;
    },
  };
}

function assertAnswered(samples, what) {
  assert.ok(samples.length > 0, `${what}: the watcher took samples`);
  for (const { h, q } of samples) {
    assert.equal(h.status, 200, `${what}: /healthz answered (${h.error || h.status})`);
    assert.ok(h.ms < 1000, `${what}: /healthz within 1 s (took ${Math.round(h.ms)} ms)`);
    assert.equal(q.status, 200, `${what}: the reviewer's queue answered (${q.error || q.status})`);
    assert.ok(q.ms < 2000, `${what}: the queue within 2 s (took ${Math.round(q.ms)} ms)`);
    assert.match(q.body, /初审/);
  }
}

// A raw request from the attacker's address; resolves with what came back
// (or '' when the server closed without a word).
function raw(bytes, { wait = 5000 } = {}) {
  return new Promise((resolve) => {
    const s = connect({ host: '127.0.0.1', port: esp.httpPort });
    let out = '';
    s.setEncoding('latin1');
    s.on('data', (d) => { out += d; });
    s.on('connect', () => s.end(bytes));
    const t = setTimeout(() => { s.destroy(); resolve(out); }, wait);
    s.on('close', () => { clearTimeout(t); resolve(out); });
    s.on('error', () => {});
  });
}

function rssKb() {
  const m = readFileSync(`/proc/${esp.proc.pid}/status`, 'utf8').match(/VmRSS:\s+(\d+) kB/);
  return Number(m[1]);
}

test(`[${ENGINE}] a multipart part without a name is refused with 400, and espd lives on`, async () => {
  const body = '------b\r\nContent-Disposition: form-data\r\n\r\nv\r\n------b--\r\n';
  const withFile = '------b\r\nContent-Disposition: form-data; filename="a.pdf"\r\n\r\nv\r\n------b--\r\n';
  for (const b of [body, withFile]) {
    for (const path of ['/login', '/register/enterprise', '/api/v1/login/certificate']) {
      const res = await raw(`POST ${path} HTTP/1.1\r\nHost: x\r\nContent-Type: multipart/form-data; boundary=----b\r\n` +
        `Content-Length: ${Buffer.byteLength(b)}\r\nConnection: close\r\n\r\n${b}`);
      // The pages refuse the part; the JSON API never parses forms and
      // answers in JSON.
      if (path.startsWith('/api/')) {
        assert.match(res, /^HTTP\/1\.1 4(00|15) /, `${path}: refused`);
        assert.match(res, /Content-Type: application\/json/i);
      } else {
        assert.match(res, /^HTTP\/1\.1 400 /, `${path}: refused`);
      }
    }
  }
  assert.equal((await get('/healthz')).status, 200);
  assert.equal(esp.proc.exitCode, null, 'espd is still running');
});

test(`[${ENGINE}] nested multipart/mixed parts are refused with 400 before libmicrohttpd leaks their boundaries`, async () => {
  // libmicrohttpd's post processor leaks the boundary of every
  // multipart/mixed part after the first (found by tests/fuzz/fuzz_form.c):
  // 100 such parts with 8 KB boundaries leaked 800 KB per request.
  const parts = (n, blen) => Array.from({ length: n }, (_, i) => {
    const inner = `${i}`.padEnd(blen, 'B');
    return `------b\r\nContent-Disposition: form-data; name="f${i}"\r\n` +
      `Content-Type: multipart/mixed; boundary=${inner}\r\n\r\n--${inner}--\r\n`;
  }).join('') + '------b--\r\n';
  const send = (b, path = '/login') => raw(`POST ${path} HTTP/1.1\r\nHost: x\r\n` +
    `Content-Type: multipart/form-data; boundary=----b\r\nContent-Length: ${Buffer.byteLength(b)}\r\n` +
    `Connection: close\r\n\r\n${b}`, { wait: 10000 });
  // The smallest body that leaked, with bare LF line ends, any case.
  const small = '------b\nContent-TYPE: Multipart/Mixed; boundary=IN\n\n--IN--\n' +
    '------b\ncontent-type: multipart/mixed\n\nx\n------b--\n';
  for (const path of ['/login', '/register/enterprise']) {
    const res = await send(small, path);
    assert.match(res, /^HTTP\/1\.1 400 /, `${path}: refused`);
    assert.match(Buffer.from(res, 'latin1').toString('utf8'), /multipart\/mixed/);
  }
  const big = parts(100, 8000);
  const rss0 = rssKb();
  for (let i = 0; i < 20; i++) assert.match(await send(big), /^HTTP\/1\.1 400 /);
  if (!SANITIZED) assert.ok(rssKb() - rss0 < 8 * 1024, `RSS grew by ${Math.round((rssKb() - rss0) / 1024)} MB`);
  // An ordinary multipart form still parses (and fails only its CSRF check).
  const plain = '------b\r\nContent-Disposition: form-data; name="username"\r\nContent-Type: text/plain\r\n\r\nu\r\n------b--\r\n';
  assert.match(await send(plain), /^HTTP\/1\.1 403 /);
  assert.equal(esp.proc.exitCode, null, 'espd is still running');
});

test(`[${ENGINE}] a form of 80,000 fields is refused at once, without quadratic work`, async () => {
  const body = Array.from({ length: 80000 }, (_, i) => `f${i}=x`).join('&');
  const t0 = performance.now();
  const res = await raw(`POST /login HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\n` +
    `Content-Length: ${body.length}\r\nConnection: close\r\n\r\n${body}`, { wait: 20000 });
  const ms = performance.now() - t0;
  assert.match(res, /^HTTP\/1\.1 413 /);
  assert.match(Buffer.from(res, 'latin1').toString('utf8'), /表单字段过多/);
  assert.ok(ms < 3000, `answered in ${Math.round(ms)} ms`);
  // A form within the limit still works: the login page's own form.
  const c = new Client(esp.url);
  assert.equal((await c.login('fj_reviewer', esp.account('fj_reviewer').password)).status, 200);
});

test(`[${ENGINE}] stalled downloads hold no store connection: pages keep answering`, async () => {
  const admin = new Client(esp.url);
  await admin.login('admin', esp.account('admin').password);
  await admin.get('/admin/drivers');
  const data = Buffer.alloc(9 * 1024 * 1024, 0x5a);
  const up = await admin.postMultipart('/admin/drivers', { name: '大驱动', version: '9.9', os: 'Linux' },
    { file: { data, filename: 'big.bin' } });
  assert.equal(up.status, 200);
  const href = up.text.match(/href="(\/drivers\/\d+\/download)"/)?.[1]
    ?? (await new Client(esp.url).get('/drivers')).text.match(/href="(\/drivers\/\d+\/download)"/)[1];
  const cookie = await reviewerCookie();
  const stalled = [];
  const stall = () => {
    const s = connect({ host: '127.0.0.1', port: esp.httpPort });
    s.on('error', () => {});
    s.on('connect', () => { s.write(`GET ${href} HTTP/1.1\r\nHost: x\r\n\r\n`); s.pause(); });
    stalled.push(s);
  };
  // One client first: the package is now in memory once.
  stall();
  await new Promise((r) => setTimeout(r, 1000));
  const rss1 = rssKb();
  // Seven more (eight: twice the store pool) ask for it and never read.
  for (let i = 0; i < 7; i++) stall();
  await new Promise((r) => setTimeout(r, 1000));
  const w = watch(cookie);
  await new Promise((r) => setTimeout(r, 3000));
  assertAnswered(await w.stop(), 'during stalled downloads');
  // One shared copy of the package, not one per client (9 MB each).
  if (!SANITIZED) assert.ok(rssKb() - rss1 < 9 * 1024, `RSS grew by ${Math.round((rssKb() - rss1) / 1024)} MB for 7 more downloads`);
  // The send deadline ends them; the server stays answering afterwards.
  await new Promise((r) => setTimeout(r, 9000));
  stalled.forEach((s) => s.destroy());
  assertAnswered([{ h: await get('/healthz'), q: await get('/review', { cookie }) }], 'after the stalled downloads');
});

test(`[${ENGINE}] a connection flood from one address leaves the listener to everyone else`, async () => {
  const cookie = await reviewerCookie();
  const flood = [];
  for (let i = 0; i < 1100; i++) {
    const s = connect({ host: '127.0.0.1', port: esp.httpPort });
    s.on('error', () => {});
    flood.push(s);
  }
  await new Promise((r) => setTimeout(r, 1500));
  const w = watch(cookie);
  await new Promise((r) => setTimeout(r, 2000));
  assertAnswered(await w.stop(), 'during a flood of 1,100 connections');
  // Idle and slow connections are closed by the header deadline (3 s here).
  await new Promise((r) => setTimeout(r, 4000));
  const open = flood.filter((s) => !s.destroyed && !s.closed).length;
  flood.forEach((s) => s.destroy());
  assert.equal(open, 0, `${open} flood connections still open after the header deadline`);
});

test(`[${ENGINE}] a header sent one byte at a time is cut at the header deadline`, async () => {
  const s = connect({ host: '127.0.0.1', port: esp.httpPort });
  s.on('error', () => {});
  const line = 'GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n';
  const closed = new Promise((r) => s.on('close', () => r(performance.now())));
  const t0 = performance.now();
  let i = 0;
  // One byte every 500 ms: the idle timeout (4 s) never fires on its own.
  const timer = setInterval(() => { if (!s.destroyed) s.write(line[i++ % line.length]); }, 500);
  const end = await Promise.race([closed, new Promise((r) => setTimeout(() => r(null), 12000))]);
  clearInterval(timer);
  s.destroy();
  assert.ok(end !== null, 'the trickling connection was closed');
  assert.ok(end - t0 < 6000, `closed after ${Math.round(end - t0)} ms`);
});

test(`[${ENGINE}] half-sent uploads are bounded together and cut once they stall`, async () => {
  const cookie = await reviewerCookie();
  const rss0 = rssKb();
  // Each announces 5 MB and sends 3 MB, then waits: 16 MB in all may be in
  // flight, so three hold 15 MB and the others are refused.
  const part = Buffer.alloc(3 * 1024 * 1024, 0x41);
  const answers = [];
  const socks = [];
  for (let i = 0; i < 6; i++) {
    const s = connect({ host: '127.0.0.1', port: esp.httpPort });
    let out = '';
    s.setEncoding('latin1');
    s.on('data', (d) => { out += d; });
    s.on('error', () => {});
    answers.push(new Promise((r) => s.on('close', () => r(out))));
    s.on('connect', () => {
      s.write('POST /login HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\n' +
        `Content-Length: ${5 * 1024 * 1024}\r\n\r\nusername=`);
      s.write(part);
    });
    socks.push(s);
    await new Promise((r) => setTimeout(r, 150));
  }
  await new Promise((r) => setTimeout(r, 1000));
  // While they hold the budget, a whole form that needs more of it is told
  // to come back later: 503 with Retry-After, once its body is in. (Asked
  // first: the idle timeout, 4 s, cuts the first upload from about 4 s on
  // and gives its share back.)
  const full = `username=${'x'.repeat(2 * 1024 * 1024)}&password=y`;
  const late = await raw(`POST /login HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\n` +
    `Content-Length: ${full.length}\r\nConnection: close\r\n\r\n${full}`);
  assert.match(late, /^HTTP\/1\.1 503 /);
  assert.match(late, /Retry-After: 30/i);
  const w = watch(cookie);
  await new Promise((r) => setTimeout(r, 2000));
  assertAnswered(await w.stop(), 'during half-sent uploads');
  if (!SANITIZED) assert.ok(rssKb() - rss0 < 60 * 1024, `RSS grew by ${Math.round((rssKb() - rss0) / 1024)} MB`);
  // The idle timeout (4 s) or the body deadline (6 s) closes them all.
  const outs = await Promise.race([Promise.all(answers), new Promise((r) => setTimeout(() => r(null), 15000))]);
  socks.forEach((s) => s.destroy());
  assert.ok(outs, 'every half-sent upload was closed by the idle timeout or the body deadline');
  // Their reservations were given back: the same form now goes through.
  const again = await raw(`POST /login HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\n` +
    `Content-Length: ${full.length}\r\nConnection: close\r\n\r\n${full}`);
  assert.match(again, /^HTTP\/1\.1 (403|200|303|400|422) /);
});

test(`[${ENGINE}] the access log escapes control characters from the URL`, async () => {
  const before = esp.log.length;
  await raw('GET /nothing%0areq=1%20GET%20/forged%20200 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
  await new Promise((r) => setTimeout(r, 200));
  const lines = esp.log.slice(before).split('\n').filter((l) => l.includes('/nothing'));
  assert.equal(lines.length, 1);
  assert.match(lines[0], /\/nothing\\x0areq=1 GET \/forged 200 404/);
  assert.ok(!esp.log.slice(before).split('\n').some((l) => /^\S*\s*req=1 GET \/forged/.test(l)));
});

test(`[${ENGINE}] espd stops on SIGTERM while clients stall, and exits 0`, async () => {
  const stalled = [];
  for (let i = 0; i < 20; i++) {
    const s = connect({ host: '127.0.0.1', port: esp.httpPort });
    s.on('error', () => {});
    s.on('connect', () => s.write('GET /healthz HTTP/1.1\r\nHost: x\r\n'));
    stalled.push(s);
  }
  await new Promise((r) => setTimeout(r, 500));
  const t0 = performance.now();
  const { code } = await esp.stop();
  stalled.forEach((s) => s.destroy());
  assert.equal(code, 0, esp.log.slice(-3000));
  assert.ok(performance.now() - t0 < 10000, 'stopped within 10 s');
  await esp.start();
});

test(`[${ENGINE}] a store locked by another process answers 503 with Retry-After, quickly`, { skip: ENGINE !== 'sqlite' }, async () => {
  const { spawn } = await import('node:child_process');
  // sqlite3 holds the write lock for 12 s, as a long espctl job or backup might.
  const locker = spawn('sqlite3', [esp.database], { stdio: ['pipe', 'ignore', 'ignore'] });
  locker.stdin.write('BEGIN IMMEDIATE;\nINSERT INTO settings(key, value) SELECT \'lock-test\', \'1\' WHERE 0;\n.shell sleep 12\nCOMMIT;\n');
  locker.stdin.end();
  await new Promise((r) => setTimeout(r, 500));
  const c = new Client(esp.url);
  await c.get('/login');
  const t0 = performance.now();
  const res = await c.post('/login', { username: 'fj_reviewer', password: esp.account('fj_reviewer').password }, { redirect: false });
  const ms = performance.now() - t0;
  assert.equal(res.status, 503, `status ${res.status}`);
  assert.equal(res.headers.get('retry-after'), '5');
  assert.match(res.text, /系统繁忙/);
  assert.ok(ms < 6000, `answered in ${Math.round(ms)} ms`);
  // A request limited per address (the login challenge) reserves its count
  // in the store first: busy there is 503 too, never 500. (After the login,
  // not beside it: a handler waiting for the store holds its thread, and
  // this espd's 4 s idle timeout would cut the other's connection.)
  const challenge = await fetch(`${esp.url}/api/v1/login/challenge`);
  assert.ok(performance.now() - t0 < 11000, 'the lock still held');
  assert.equal(challenge.status, 503, `challenge: status ${challenge.status}`);
  assert.equal(challenge.headers.get('retry-after'), '1');
  assert.equal((await challenge.json()).error, 'busy');
  // Reading pages never waits for the lock.
  assert.equal((await get('/healthz')).status, 200);
  await new Promise((r) => locker.on('exit', r));
  const ok = await freshLogin('fj_reviewer', esp.account('fj_reviewer').password);
  assert.equal(ok.status, 303, `login after the lock: ${ok.status} ${ok.error || ''}`);
  assert.ok((ok.headers['set-cookie'] || []).some((c) => c.startsWith('esp_session=')), 'a session after the lock');
});
