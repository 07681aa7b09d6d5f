// PostgreSQL only: espd's pooled connections whose server sessions ended
// while they sat idle (a failover, a restart, pg_terminate_backend) cost
// no request: the next statement finds the session gone, reconnects and
// runs (db_pg.c). Before, every such connection answered one 503.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startEsp, rawSql, Client, ENGINE } from './lib/esp.mjs';

const pg = ENGINE === 'postgresql';
let esp;
before(async () => { if (pg) esp = await startEsp({ args: ['--db_connections=4', '--threads=4'] }); });
after(async () => { await esp?.cleanup(); });

const terminate = () => Number(rawSql(esp,
  'SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()').trim());

test(`[${ENGINE}] every pooled connection's session ended by the server: the next requests are all 200`, { skip: !pg && 'PostgreSQL only' }, async () => {
  const clients = [];
  for (let i = 0; i < 8; i++) {
    const c = new Client(esp.url);
    await c.login('mot_reviewer', esp.account('mot_reviewer').password);
    clients.push(c);
  }
  for (let round = 0; round < 3; round++) {
    // Every connection of the pool in use at least once.
    const warm = await Promise.all(clients.map((c) => c.get('/review', { redirect: false })));
    assert.deepEqual(warm.map((r) => r.status), clients.map(() => 200));
    assert.ok(terminate() >= 1, 'espd had connections to end');
    await new Promise((r) => setTimeout(r, 200));
    // Anonymous first (their first statement is the page's own query),
    // then logged in.
    const anon = await Promise.all(clients.map(() => new Client(esp.url).get('/register/enterprise', { redirect: false })));
    assert.deepEqual(anon.map((r) => r.status), clients.map(() => 200), `round ${round}, anonymous`);
    for (const r of anon) assert.match(r.text, /福建省/, 'the page\'s list of provinces');
    assert.ok(terminate() >= 1, 'espd had connections to end');
    await new Promise((r) => setTimeout(r, 200));
    const after = await Promise.all(clients.map((c) => c.get('/review', { redirect: false })));
    assert.deepEqual(after.map((r) => r.status), clients.map(() => 200), `round ${round}`);
    for (const c of clients) assert.equal((await c.get('/review', { redirect: false })).status, 200);
  }
  // The ended sessions were seen before a statement was sent: none failed
  // (before, each one's first query failed, and a page could even come out
  // 200 with its list of provinces empty).
  assert.doesNotMatch(esp.log, /postgresql: \w+ failed/);
});
