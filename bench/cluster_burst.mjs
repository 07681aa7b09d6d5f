// Registration bursts over two espd on one PostgreSQL database: how many
// are accepted, how long the burst takes, how many transactions the store
// rolled back (serialization failures retried). Production password hash.
//   ESP_PG_CLUSTER=/tmp/pg ESP_ENGINE=postgresql ESP_BUILD=build N=50 RUNS=3 \
//     node bench/cluster_burst.mjs
import { execFileSync } from 'node:child_process';
import { startEsp, Client, registrationFields, authorityIdByName } from '../tests/integration/lib/esp.mjs';
import { startPeer } from '../tests/cluster/lib.mjs';

const N = Number(process.env.N || 50), RUNS = Number(process.env.RUNS || 3);
const args = ['--password_hash=interactive'];
const esp = await startEsp({ args });
const peer = await startPeer(esp, { args });
const db = esp.database.split('/').pop();
const rollbacks = () => Number(execFileSync('psql', [esp.database.replace(/\/[^/]*$/, '/postgres'), '-Atc',
  `SELECT xact_rollback FROM pg_stat_database WHERE datname = '${db}'`], { encoding: 'utf8' }));
try {
  for (let run = 0; run < RUNS; run++) {
    const prepared = [];
    for (let i = 0; i < N; i++) {
      const c = new Client([esp.url, peer.url][i % 2]);
      const id = await authorityIdByName(c, 'enterprise', '福建省交通运输厅');
      prepared.push({ c, f: registrationFields('enterprise', { authorityId: id }) });
    }
    const rb0 = rollbacks(), t0 = Date.now();
    const res = await Promise.all(prepared.map(({ c, f }) => c.post('/register/enterprise', f)));
    const ms = Date.now() - t0;
    await new Promise((r) => setTimeout(r, 700)); // the statistics collector lags
    const by = {};
    for (const r of res) by[r.status] = (by[r.status] || 0) + 1;
    console.log(`burst ${N}: ${JSON.stringify(by)} in ${ms} ms, ${rollbacks() - rb0} rollbacks`);
  }
} catch (e) {
  console.log(`failed: ${e.cause || e}; espd exits: ${esp.proc.exitCode}/${esp.proc.signalCode}, ${peer.proc.exitCode}/${peer.proc.signalCode}`);
  console.log((esp.log + peer.log).split('\n').filter((l) => !/ 200 /.test(l)).slice(-15).join('\n'));
} finally {
  await peer.stop();
  await esp.cleanup();
}
