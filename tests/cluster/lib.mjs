// Cluster test helpers: several espd on one store (a PostgreSQL database
// shared by processes with their own ports), started and stopped here.
import { spawn } from 'node:child_process';
import { ESPD, freePort } from '../integration/lib/esp.mjs';

// Starts one more espd on esp's data directory and database (or on
// `database` when given), on ports of its own. Resolves when /healthz
// answers, or rejects with the log when the process exits first.
export async function startPeer(esp, { database = esp.database, args = [], wait = true } = {}) {
  const peer = { dir: esp.dir, database, accounts: esp.accounts, account: esp.account };
  peer.httpPort = await freePort();
  peer.url = `http://127.0.0.1:${peer.httpPort}`;
  peer.log = '';
  peer.proc = spawn(ESPD, [`--data_dir=${esp.dir}`, `--database=${database}`,
    `--http_listen=127.0.0.1:${peer.httpPort}`, '--https_listen=', '--login_listen=',
    `--public_url=${esp.url}`, '--password_hash=min', '--staff_password_login=true',
    '--registrations_per_address_hour=0', '--login_checks_per_second=0', ...args],
  { stdio: ['ignore', 'ignore', 'pipe'] });
  peer.proc.stderr.on('data', (d) => { peer.log += d; });
  peer.exited = new Promise((resolve) => peer.proc.on('exit', (code, sig) => resolve({ code, sig })));
  peer.stop = async () => {
    if (peer.proc.exitCode === null && !peer.proc.signalCode) peer.proc.kill('SIGTERM');
    return peer.exited;
  };
  if (wait) await waitHealthy(peer);
  return peer;
}

export async function waitHealthy(peer) {
  for (let i = 0; i < 1200; i++) {
    try {
      const r = await fetch(`${peer.url}/healthz`);
      if (r.ok) return;
    } catch { /* not yet */ }
    if (peer.proc.exitCode !== null) break;
    await new Promise((r) => setTimeout(r, 50));
  }
  peer.proc.kill('SIGKILL');
  const st = await peer.exited;
  throw new Error(`espd did not start (exit ${st.code}):\n${peer.log}`);
}

// An approved applicant with an application of `sets` keys, paid and with
// its materials received, and the RA's API token: ready for issuance
// (POST /api/v1/applications/{number}/certificates), done through `esp.url`.
export async function readyToIssue(esp, sets) {
  const { Client, approvedApplicant, submitApplication } = await import('../integration/lib/esp.mjs');
  const { c } = await approvedApplicant(esp, 'enterprise');
  const number = await submitApplication(c, 'enterprise', sets);
  const ra = new Client(esp.url);
  await ra.login('fj_ra', esp.account('fj_ra').password);
  const today = new Date(Date.now() + 8 * 3600e3).toISOString().slice(0, 10);
  const page = await ra.get(`/ra/applications/${number}`);
  const due = page.text.match(/id="amount-due">(\d+) 元/);
  await ra.post(`/ra/applications/${number}/payment`, { amount: due[1], paid_on: today, payer: 'x', bank_ref: 'R1' });
  await ra.get(`/ra/applications/${number}`);
  await ra.post(`/ra/applications/${number}/materials`, { item: ['0', '1'] });
  await ra.get('/ra/tokens');
  const t = await ra.post('/ra/tokens', { name: 'cluster' });
  const token = t.text.match(/id="new-token">([^<]+)</)[1];
  return { number, token };
}
