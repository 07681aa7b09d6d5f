// Preparation for the certificate login benchmark (bench/login_bench.sh); not
// measured.
//
// Against a running espd (demo data), makes one enterprise holder with one
// certificate key, the way the integration tests do (holderWithKeys:
// registered, approved, applied, paid, materials received, issued through the
// RA's API with an OpenSSL P-256 key). Writes into DIR the key, the
// certificate and chain.pem (issuing CA + root), and prints three lines:
// the certificate file, the key file and the chain file.
//
// Usage: node bench/login_prepare.mjs BASE_URL ACCOUNTS_TSV DIR
import { readFileSync } from 'node:fs';
import { holderWithKeys } from '../tests/integration/lib/esp.mjs';

const [base, accountsFile, dir] = process.argv.slice(2);
if (!base || !accountsFile || !dir) {
  console.error('usage: node bench/login_prepare.mjs BASE_URL ACCOUNTS_TSV DIR');
  process.exit(2);
}
const tsv = readFileSync(accountsFile, 'utf8').trim().split('\n');
const header = tsv.shift().split('\t');
const accounts = tsv.map((line) => Object.fromEntries(line.split('\t').map((v, i) => [header[i], v])));
// What holderWithKeys needs of the harness's esp object.
const esp = { url: base, account: (u) => accounts.find((a) => a.username === u) };

const holder = await holderWithKeys(esp, 'enterprise', 1, dir);
console.log(holder.certs[0].cert);
console.log(holder.certs[0].key);
console.log(holder.chain);
