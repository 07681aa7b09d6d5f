// Fills a running espd with COUNT pending enterprise registrations under one
// authority by driving the real registration form over HTTP, as an
// applicant would (GET the form for the CSRF cookie and token, POST it).
// Codes carry real check digits (the test harness's generators).
//
// Usage: node bench/portal_fill.mjs BASE_URL COUNT [AUTHORITY_NAME]
// Prints the number of registrations accepted; exits 1 if any failed.
import { Client, registrationFields, authorityIdByName } from '../tests/integration/lib/esp.mjs';

const [base, countArg, authorityName = '福建省交通运输厅'] = process.argv.slice(2);
const count = Number(countArg);
if (!base || !Number.isInteger(count) || count < 1) {
  console.error('usage: node bench/portal_fill.mjs BASE_URL COUNT [AUTHORITY_NAME]');
  process.exit(1);
}

const probe = new Client(base);
const authorityId = await authorityIdByName(probe, 'enterprise', authorityName);

// Distinct 8-digit serials per run: the codes and user names must be unique.
const start = 10000000 + (Date.now() % 80000000);
const CONCURRENCY = 8;
let next = 0;
let ok = 0;
const failures = [];

async function worker() {
  for (;;) {
    const i = next++;
    if (i >= count) return;
    const n = String(start + i).slice(-8);
    const c = new Client(base);
    await c.get('/register/enterprise');
    const fields = registrationFields('enterprise', { authorityId, n });
    const res = await c.post('/register/enterprise', fields);
    if (res.status === 200 && res.text.includes('待审核')) ok++;
    else failures.push(`#${i} (${fields.name}): HTTP ${res.status}`);
  }
}

await Promise.all(Array.from({ length: CONCURRENCY }, worker));
for (const f of failures.slice(0, 5)) console.error(`portal_fill: ${f}`);
console.log(ok);
process.exit(ok === count ? 0 : 1);
