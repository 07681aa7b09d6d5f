// A TLS handshake waiting for the client costs espd no CPU. With
// libmicrohttpd 0.9.75 and epoll, a worker spun on recv() = EAGAIN and
// epoll_wait(0) until the client's second flight came (src/httpd/main.c now
// gives the TLS listeners poll()): a client that stops after its ClientHello
// kept a CPU busy until the connection timed out.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import tls from 'node:tls';
import { Duplex } from 'node:stream';
import { readFileSync } from 'node:fs';
import { startEsp, ENGINE } from './lib/esp.mjs';

let esp;
before(async () => { esp = await startEsp({ login: true }); });
after(async () => { await esp?.cleanup(); });

// espd's CPU time so far, in seconds (user + system, all threads).
function cpuSeconds(pid) {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100; // utime, stime: fields 14 and 15
}

// Starts a TLS handshake with port and never answers the server's flight:
// the ClientHello goes out, whatever the server sends is dropped. Resolves
// once the server has answered (its flight is in), with the socket.
function stalledHandshake(port) {
  return new Promise((resolve, reject) => {
    const sock = net.connect(port, '127.0.0.1');
    const wire = new Duplex({
      read() {},
      write(chunk, _enc, done) { sock.write(chunk, done); },
    });
    const client = tls.connect({ socket: wire, rejectUnauthorized: false, servername: 'localhost' });
    client.on('error', () => {});
    sock.once('data', () => resolve({ sock, client }));
    sock.on('error', reject);
  });
}

test(`[${ENGINE}] a TLS handshake left waiting by the client does not keep a CPU busy (HTTPS and login listeners)`, async () => {
  const pending = [];
  for (const port of [esp.httpsPort, esp.loginPort, esp.httpsPort, esp.loginPort]) pending.push(await stalledHandshake(port));
  const start = cpuSeconds(esp.proc.pid);
  await new Promise((r) => setTimeout(r, 2000));
  const used = cpuSeconds(esp.proc.pid) - start;
  for (const { sock, client } of pending) { client.destroy(); sock.destroy(); }
  // Spinning, the workers holding these handshakes burnt about 2 s each.
  assert.ok(used < 0.5, `espd used ${used.toFixed(2)} s of CPU in 2 s with 4 handshakes waiting`);
  // And the listeners still serve.
  assert.equal((await fetch(`${esp.url}/healthz`)).status, 200);
});
