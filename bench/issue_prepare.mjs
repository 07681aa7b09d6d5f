// Preparation for the issuance benchmark (bench/issue_bench.sh); not measured.
//
// Against a running espd (demo data), makes COUNT enterprise applications of
// SETS certificate keys each, all ready to issue, the way people would:
// an enterprise registers under 福建省交通运输厅 and fj_reviewer approves it
// (the test harness's approvedApplicant), the enterprise files an application
// through the wizard (submitApplication), and the RA officer fj_ra records the
// payment (the amount due, read from the page) and ticks every material.
// Then fj_ra creates an API token on /ra/tokens.
//
// Writes the application numbers, one a line, to APPS_FILE and prints the API
// token on stdout.
//
// Usage: node bench/issue_prepare.mjs BASE_URL ACCOUNTS_TSV COUNT SETS APPS_FILE
import { readFileSync, writeFileSync } from 'node:fs';
import { Client, approvedApplicant, submitApplication, decode } from '../tests/integration/lib/esp.mjs';

const [base, accountsFile, countArg, setsArg, appsFile] = process.argv.slice(2);
const count = Number(countArg), sets = Number(setsArg);
if (!base || !accountsFile || !appsFile || !Number.isInteger(count) || count < 1 ||
    !Number.isInteger(sets) || sets < 1) {
  console.error('usage: node bench/issue_prepare.mjs BASE_URL ACCOUNTS_TSV COUNT SETS APPS_FILE');
  process.exit(2);
}

const tsv = readFileSync(accountsFile, 'utf8').trim().split('\n');
const header = tsv.shift().split('\t');
const accounts = tsv.map((line) => Object.fromEntries(line.split('\t').map((v, i) => [header[i], v])));
// What approvedApplicant needs of the harness's esp object.
const esp = { url: base, account: (u) => accounts.find((a) => a.username === u) };

async function staff(username) {
  const c = new Client(base);
  const r = await c.login(username, esp.account(username).password);
  if (r.status !== 200) throw new Error(`login as ${username}: HTTP ${r.status}`);
  return c;
}

const today = new Date(Date.now() + 8 * 3600e3).toISOString().slice(0, 10);

async function readyToIssue(ra, number) {
  let page = await ra.get(`/ra/applications/${number}`);
  // The amount due, as the RA page shows it next to the payment form.
  const due = page.text.match(/name="amount"[^>]*value="(\d+)"/)?.[1];
  page = await ra.post(`/ra/applications/${number}/payment`, {
    amount: due ?? String(660 * sets), paid_on: today, payer: '基准测试付款单位', bank_ref: `BENCH-${number}`,
    note: due ? undefined : '基准测试',
  });
  if (page.status !== 200) throw new Error(`${number}: payment answered ${page.status}`);
  page = await ra.get(`/ra/applications/${number}`);
  const items = [...page.text.matchAll(/name="item" value="([^"]*)"/g)].map((m) => decode(m[1]));
  page = await ra.post(`/ra/applications/${number}/materials`, { item: items });
  if (!/id="app-state">待制证/.test(page.text)) throw new Error(`${number}: not ready to issue (HTTP ${page.status})`);
}

const numbers = [];
const CONCURRENCY = 6;
let next = 0;
async function worker() {
  const ra = await staff('fj_ra');
  for (;;) {
    const i = next++;
    if (i >= count) return;
    const { c } = await approvedApplicant(esp, 'enterprise');
    const number = await submitApplication(c, 'enterprise', sets);
    await readyToIssue(ra, number);
    numbers.push(number);
  }
}
await Promise.all(Array.from({ length: CONCURRENCY }, worker));

const ra = await staff('fj_ra');
await ra.get('/ra/tokens');
const r = await ra.post('/ra/tokens', { name: '基准测试制证工作站' });
const token = r.text.match(/id="new-token">([^<]+)</)?.[1];
if (!token) throw new Error(`no API token shown (HTTP ${r.status})`);
writeFileSync(appsFile, numbers.join('\n') + '\n');
console.log(token);
