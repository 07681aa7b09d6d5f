// The hostile mix: four attacks at once against one espd for DURATION
// seconds (a benchmark, never a test), loopback only, every loop bounded in
// count and time.  Meanwhile an innocent client on another loopback address
// asks /healthz and a reviewer's 初审 queue page every 100 ms.  Prints the
// latency of both (median, p99, worst), how many of them failed, espd's
// largest resident size, and how much each attack sent.
//
//   node bench/hostile_mix.mjs   (ESP_BUILD, ESP_ENGINE, DURATION=60, ADDRS=1,
//                                 STALLED=16, FLOOD=1100, TRICKLE=50)
//
// The attacks, from 127.0.0.1 (or ADDRS addresses):
//   1. nameless multipart parts POSTed to /login, one after another;
//   2. stalled downloads: clients that ask for a 9 MB driver package and
//      never read, kept at STALLED open (re-opened when espd closes them);
//   3. 80,000-field forms (709 KB) POSTed to /login, two at a time;
//   4. a connection flood (FLOOD connections kept open, re-opened when
//      closed) and TRICKLE clients sending one header byte every 2 s.
import { connect } from 'node:net';
import { request as httpRequest } from 'node:http';
import { readFileSync } from 'node:fs';
import { startEsp, Client, ENGINE } from '../tests/integration/lib/esp.mjs';

const DURATION = Number(process.env.DURATION || 60) * 1000;
const STALLED = Number(process.env.STALLED || 16);
const FLOOD = Number(process.env.FLOOD || 1100);
const TRICKLE = Number(process.env.TRICKLE || 50);
const WATCH_ADDR = '127.0.0.2';
// Attackers come from ADDRS loopback addresses (127.0.1.1 …), so that the
// per-address connection limit is not the only thing that holds them.
const ADDRS = Number(process.env.ADDRS || 1);
let nextAddr = 0;
const attacker = () => (ADDRS <= 1 ? '127.0.0.1' : `127.0.1.${(nextAddr++ % ADDRS) + 1}`);

const esp = await startEsp({ args: ['--log_requests=false'] });
const sent = { nameless: 0, nameless400: 0, fields: 0, fields413: 0, stalled: 0, flood: 0, trickle: 0 };
let stopping = false;
const until = Date.now() + DURATION;

function rssKb() {
  const m = readFileSync(`/proc/${esp.proc.pid}/status`, 'utf8').match(/VmRSS:\s+(\d+) kB/);
  return Number(m[1]);
}

function get(path, cookie) {
  const t0 = performance.now();
  return new Promise((resolve) => {
    const req = httpRequest(`${esp.url}${path}`, {
      localAddress: WATCH_ADDR, agent: false, headers: cookie ? { cookie } : {}, timeout: 10000,
    }, (res) => {
      res.resume();
      res.on('end', () => resolve({ ok: res.statusCode === 200, ms: performance.now() - t0 }));
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', () => resolve({ ok: false, ms: performance.now() - t0 }));
    req.end();
  });
}

function rawOnce(bytes) {
  return new Promise((resolve) => {
    const s = connect({ host: '127.0.0.1', port: esp.httpPort, localAddress: attacker() });
    let out = '';
    s.setEncoding('latin1');
    s.on('data', (d) => { out += d; });
    s.on('connect', () => s.end(bytes));
    s.on('error', () => {});
    const t = setTimeout(() => s.destroy(), 10000);
    s.on('close', () => { clearTimeout(t); resolve(out); });
  });
}

// Set-up: a reviewer session for the innocent client, a 9 MB driver package.
const reviewer = new Client(esp.url);
await reviewer.login('fj_reviewer', esp.account('fj_reviewer').password);
const cookie = [...reviewer.cookies].map(([k, v]) => `${k}=${v}`).join('; ');
const admin = new Client(esp.url);
await admin.login('admin', esp.account('admin').password);
await admin.get('/admin/drivers');
await admin.postMultipart('/admin/drivers', { name: '驱动', version: '1.0', os: 'Linux' },
  { file: { data: Buffer.alloc(9 * 1024 * 1024, 0x5a), filename: 'big.bin' } });
const href = (await new Client(esp.url).get('/drivers')).text.match(/href="(\/drivers\/\d+\/download)"/)[1];
const rssStart = rssKb();

const nameless = '------b\r\nContent-Disposition: form-data\r\n\r\nv\r\n------b--\r\n';
const namelessReq = `POST /login HTTP/1.1\r\nHost: x\r\nContent-Type: multipart/form-data; boundary=----b\r\n` +
  `Content-Length: ${nameless.length}\r\nConnection: close\r\n\r\n${nameless}`;
const fieldsBody = Array.from({ length: 80000 }, (_, i) => `f${i}=x`).join('&');
const fieldsReq = `POST /login HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\n` +
  `Content-Length: ${fieldsBody.length}\r\nConnection: close\r\n\r\n${fieldsBody}`;

const attacks = [
  (async () => {
    while (!stopping && Date.now() < until) {
      const out = await rawOnce(namelessReq);
      sent.nameless++;
      if (/^HTTP\/1\.1 400 /.test(out)) sent.nameless400++;
    }
  })(),
  ...[0, 1].map(async () => {
    while (!stopping && Date.now() < until) {
      const out = await rawOnce(fieldsReq);
      sent.fields++;
      if (/^HTTP\/1\.1 413 /.test(out)) sent.fields413++;
    }
  }),
];

// Kept-open connections: each re-opened when espd closes it, until the end.
const held = new Set();
function keep(kind, onConnect) {
  if (stopping || Date.now() >= until) return;
  const s = connect({ host: '127.0.0.1', port: esp.httpPort, localAddress: attacker() });
  held.add(s);
  sent[kind]++;
  s.on('error', () => {});
  s.on('connect', () => onConnect(s));
  s.on('close', () => {
    held.delete(s);
    setTimeout(() => keep(kind, onConnect), 200);
  });
}
for (let i = 0; i < STALLED; i++) {
  keep('stalled', (s) => { s.write(`GET ${href} HTTP/1.1\r\nHost: x\r\n\r\n`); s.pause(); });
}
for (let i = 0; i < FLOOD; i++) keep('flood', () => {});
const trickleLine = 'GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: ';
for (let i = 0; i < TRICKLE; i++) {
  keep('trickle', (s) => {
    let j = 0;
    const t = setInterval(() => { if (s.destroyed) clearInterval(t); else s.write(trickleLine[j++ % trickleLine.length]); }, 2000);
    s.on('close', () => clearInterval(t));
  });
}

// The innocent client, and espd's memory, every 100 ms until the end.
const health = [], queue = [];
let rssMax = rssStart, failures = 0;
while (Date.now() < until) {
  const [h, q] = await Promise.all([get('/healthz'), get('/review', cookie)]);
  health.push(h.ms);
  queue.push(q.ms);
  if (!h.ok || !q.ok) failures++;
  rssMax = Math.max(rssMax, rssKb());
  await new Promise((r) => setTimeout(r, 100));
}
stopping = true;
await Promise.all(attacks);
for (const s of held) s.destroy();

const after = await Promise.all([get('/healthz'), get('/review', cookie)]);
const t0 = performance.now();
const { code } = await esp.stop();
const stopMs = performance.now() - t0;
await esp.cleanup();

const q = (a, p) => { const s = [...a].sort((x, y) => x - y); return s[Math.min(s.length - 1, Math.floor(p * s.length))]; };
const f = (x) => `${x.toFixed(1)} ms`;
console.log(`hostile mix, ${ENGINE}, ${DURATION / 1000} s, attackers on ${ADDRS} address(es)`);
console.log(`attacks: ${sent.nameless} nameless parts (${sent.nameless400} answered 400), ` +
  `${sent.fields} 80,000-field forms (${sent.fields413} answered 413), ${sent.stalled} stalled downloads opened, ` +
  `${sent.flood} flood and ${sent.trickle} trickle connections opened`);
console.log(`/healthz      n=${health.length} median ${f(q(health, 0.5))} p99 ${f(q(health, 0.99))} worst ${f(Math.max(...health))}`);
console.log(`review queue  n=${queue.length} median ${f(q(queue, 0.5))} p99 ${f(q(queue, 0.99))} worst ${f(Math.max(...queue))}`);
console.log(`failed answers ${failures}; after the attacks: healthz ${after[0].ok ? 'ok' : 'FAILED'}, queue ${after[1].ok ? 'ok' : 'FAILED'}`);
console.log(`espd RSS: ${Math.round(rssStart / 1024)} MB at the start, ${Math.round(rssMax / 1024)} MB at most`);
console.log(`SIGTERM: exit ${code} after ${Math.round(stopMs)} ms`);
const pass = failures === 0 && q(health, 0.99) < 1000 && q(queue, 0.99) < 2000 && rssMax < 300 * 1024 && code === 0;
console.log(pass ? 'targets met: healthz p99 < 1 s, queue p99 < 2 s, RSS < 300 MB, clean stop'
  : 'TARGETS NOT MET');
process.exit(pass ? 0 : 1);
