// The mail tests' SMTP server: smtp_recorder.py (aiosmtpd) in a process of
// its own, stopped and started again on the same port as a test needs, and
// the messages it recorded, decoded (RFC 2047 subject, base64 body).
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort } from './esp.mjs';

const RECORDER = join(dirname(fileURLToPath(import.meta.url)), 'smtp_recorder.py');
// Debian's python3, which has python3-aiosmtpd (a python3 earlier on PATH may not).
const PYTHON = existsSync('/usr/bin/python3') ? '/usr/bin/python3' : 'python3';

export async function startSmtp(opts = {}) {
  const smtp = { dir: mkdtempSync(join(tmpdir(), 'esp-smtp-')), port: opts.port || await freePort(), opts };
  smtp.url = `smtp://127.0.0.1:${smtp.port}`;
  smtp.start = async (more = {}) => {
    const o = { ...smtp.opts, ...more };
    const ready = join(smtp.dir, `ready-${Date.now()}`);
    const args = [RECORDER, '--port', String(smtp.port), '--dir', smtp.dir, '--ready', ready];
    if (o.holdMs) args.push('--hold-ms', String(o.holdMs));
    if (o.reject) args.push('--reject', o.reject);
    if (o.tlsCert) args.push('--tls-cert', o.tlsCert, '--tls-key', o.tlsKey);
    if (o.auth) args.push('--auth', o.auth);
    smtp.log = '';
    smtp.proc = spawn(PYTHON, args, { stdio: ['ignore', 'ignore', 'pipe'] });
    smtp.proc.stderr.on('data', (d) => { smtp.log += d; });
    smtp.exited = new Promise((resolve) => smtp.proc.on('exit', resolve));
    for (let i = 0; i < 200 && !existsSync(ready); i++) {
      if (smtp.proc.exitCode !== null) break;
      await new Promise((r) => setTimeout(r, 50));
    }
    if (!existsSync(ready)) throw new Error(`SMTP recorder did not start:\n${smtp.log}`);
  };
  smtp.stop = async () => {
    if (!smtp.proc || smtp.proc.exitCode !== null || smtp.proc.signalCode) return;
    smtp.proc.kill('SIGKILL');
    await smtp.exited;
  };
  smtp.cleanup = async () => {
    await smtp.stop();
    rmSync(smtp.dir, { recursive: true, force: true });
  };
  smtp.messages = () => readdirSync(smtp.dir).filter((f) => f.endsWith('.json')).sort()
    .map((f) => parseMessage(JSON.parse(readFileSync(join(smtp.dir, f), 'utf8'))));
  // Waits until `pred(messages)` holds (default: at least n messages).
  smtp.waitFor = async (pred, timeoutMs = 30000) => {
    const test = typeof pred === 'number' ? (m) => m.length >= pred : pred;
    const end = Date.now() + timeoutMs;
    for (;;) {
      const m = smtp.messages();
      if (test(m)) return m;
      if (Date.now() > end) throw new Error(`timed out waiting for mail; have ${m.length}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  };
  if (!opts.down) await smtp.start();
  return smtp;
}

function decodeWords(v) {
  return v.replace(/=\?UTF-8\?B\?([^?]*)\?=\s*/gi, (_, b) => Buffer.from(b, 'base64').toString('utf8')).trim();
}

export function parseMessage(rec) {
  const raw = rec.data.replace(/\r\n/g, '\n');
  const cut = raw.indexOf('\n\n');
  const head = raw.slice(0, cut).replace(/\n[ \t]+/g, ' ');
  const headers = {};
  for (const line of head.split('\n')) {
    const i = line.indexOf(':');
    headers[line.slice(0, i).toLowerCase()] = line.slice(i + 1).trim();
  }
  const body = Buffer.from(raw.slice(cut + 2).replace(/\s+/g, ''), 'base64').toString('utf8').replace(/\r\n/g, '\n');
  return {
    to: rec.rcpt_tos, from: rec.mail_from, tls: rec.tls, login: rec.login, headers,
    subject: decodeWords(headers.subject || ''), body, outboxId: Number(headers['x-esp-outbox-id']),
  };
}
