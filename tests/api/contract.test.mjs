// The /api/v1 contract. docs/openapi.yaml must be a valid OpenAPI 3.1
// document, describe exactly the /api/v1 routes of src/httpd/routes.c, be what
// espd serves at /api/v1/openapi.json, and every answer a real espd gives to
// the calls below (successes and refusals) must be declared there with a body
// its schema accepts. An answer with an undeclared status fails the test.
import test, { after, before } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execFileSync } from 'node:child_process';
import { load as loadYaml } from 'js-yaml';
import Ajv2020 from 'ajv/dist/2020.js';
import { Validator } from '@seriousme/openapi-schema-validator';
import { ROOT, ENGINE, startEsp, holderWithKeys, makeCsr, Client } from '../integration/lib/esp.mjs';

const doc = loadYaml(readFileSync(join(ROOT, 'docs/openapi.yaml'), 'utf8'));
const DOC_ID = 'urn:esp:openapi';

// Response schemas point into the document ("#/components/..."): Ajv gets the
// whole document under one id and each schema's refs made absolute.
const ajv = new Ajv2020({ strict: false, allErrors: true });
ajv.addSchema({ $id: DOC_ID, components: doc.components });
const absolute = (s) => JSON.parse(JSON.stringify(s).replaceAll('"#/components/', `"${DOC_ID}#/components/`));
const resolve = (o) => (o && o.$ref ? o.$ref.split('/').slice(1).reduce((x, k) => x[k], doc) : o);

const seen = new Set(); // "METHOD template status" checked against the document

async function check(method, template, res) {
  const op = doc.paths[template]?.[method.toLowerCase()];
  assert.ok(op, `${method} ${template} is not in docs/openapi.yaml`);
  const declared = resolve(op.responses[String(res.status)]);
  const text = await res.text();
  assert.ok(declared, `${method} ${template} answered ${res.status}, which docs/openapi.yaml does not declare: ${text}`);
  const media = declared.content?.['application/json'];
  assert.ok(media, `${method} ${template} ${res.status}: no JSON body declared`);
  assert.match(res.headers.get('content-type') || '', /^application\/json/, `${method} ${template} ${res.status}: content type`);
  const body = JSON.parse(text);
  const validate = ajv.compile(absolute(media.schema));
  assert.ok(validate(body), `${method} ${template} ${res.status}: ${ajv.errorsText(validate.errors)}\n${text}`);
  for (const [name] of Object.entries(declared.headers || {}))
    assert.ok(res.headers.get(name) !== null, `${method} ${template} ${res.status}: header ${name} missing`);
  seen.add(`${method} ${template} ${res.status}`);
  return body;
}

test('docs/openapi.yaml is a valid OpenAPI 3.1 document', async () => {
  const v = new Validator();
  const r = await v.validate(doc);
  assert.equal(v.version, '3.1');
  assert.ok(r.valid, JSON.stringify(r.errors, null, 2));
});

test('docs/openapi.yaml describes exactly the /api/v1 routes of routes.c', () => {
  const routes = readFileSync(join(ROOT, 'src/httpd/routes.c'), 'utf8');
  const inCode = new Set([...routes.matchAll(/\{"(GET|POST|PUT|DELETE)", "(\/api\/v1\/[^"]*)"/g)].map((m) => `${m[1]} ${m[2]}`));
  const inDoc = new Set();
  for (const [path, ops] of Object.entries(doc.paths))
    for (const method of Object.keys(ops))
      if (['get', 'post', 'put', 'delete'].includes(method)) inDoc.add(`${method.toUpperCase()} ${path.replace(/\{[^}]+\}/g, '{}')}`);
  assert.deepEqual([...inCode].sort(), [...inDoc].sort());
});

let esp, dir, holder, second; // second: the key this file issues itself, still valid at the end
before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'esp-contract-'));
  esp = await startEsp();
  holder = await holderWithKeys(esp, 'enterprise', 2, dir, { issued: 1 });
});
after(async () => {
  await esp?.cleanup();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

const json = (token, body, type = 'application/json') => ({
  method: 'POST',
  headers: { ...(token ? { authorization: `Bearer ${token}` } : {}), 'content-type': type },
  body: typeof body === 'string' ? body : JSON.stringify(body),
});

test(`[${ENGINE}] espd serves docs/openapi.yaml at /api/v1/openapi.json`, async () => {
  const res = await fetch(`${esp.url}/api/v1/openapi.json`);
  assert.equal(res.status, 200);
  const served = await check('GET', '/api/v1/openapi.json', res.clone());
  assert.deepEqual(served, doc);
});

test(`[${ENGINE}] issuance answers match the contract`, async () => {
  const T = '/api/v1/applications/{number}/certificates';
  const url = `${esp.url}/api/v1/applications/${holder.number}/certificates`;
  const csr = makeCsr(dir, 'contract-1');
  const body = { csr: csr.pem, token_serial: `TK-${holder.number}-1` };
  const issued = await check('POST', T, await fetch(url, json(holder.token, body)));
  assert.equal(issued.application, holder.number);
  second = { pem: issued.certificate, key: csr.key };
  const again = await fetch(url, json(holder.token, body));
  assert.equal(again.status, 200, 'a retried request answers the same certificate');
  assert.equal((await check('POST', T, again)).serial, issued.serial);
  const more = await fetch(url, json(holder.token, { csr: makeCsr(dir, 'contract-2').pem, token_serial: 'TK-MORE' }));
  assert.equal(more.status, 409);
  assert.equal((await check('POST', T, more)).error, 'all_issued');

  const cases = [
    [401, 'unauthenticated', fetch(url, json(null, body))],
    [401, 'invalid_token', fetch(url, json('esp_not-a-token', body))],
    [415, 'unsupported_media_type', fetch(url, json(holder.token, 'csr=x', 'application/x-www-form-urlencoded'))],
    [400, 'bad_json', fetch(url, json(holder.token, '{"csr":'))],
    [400, 'bad_csr', fetch(url, json(holder.token, { csr: 'not a CSR', token_serial: 'TK-X' }))],
    [404, 'not_found', fetch(`${esp.url}/api/v1/applications/NO-SUCH/certificates`, json(holder.token, body))],
  ];
  for (const [status, code, pending] of cases) {
    const res = await pending;
    assert.equal(res.status, status, code);
    assert.equal((await check('POST', T, res)).error, code);
  }
});

test(`[${ENGINE}] revocation answers match the contract`, async () => {
  const T = '/api/v1/certificates/{serial}/revoke';
  const url = `${esp.url}/api/v1/certificates/${holder.certs[0].serial}/revoke`;
  const bad = await fetch(url, json(holder.token, { reason: 5 }));
  assert.equal(bad.status, 400);
  assert.equal((await check('POST', T, bad)).error, 'bad_reason');
  const ok = await fetch(url, json(holder.token, { reason: 'keyCompromise' }));
  assert.equal(ok.status, 200);
  assert.equal((await check('POST', T, ok)).reason, 'keyCompromise');
  const twice = await fetch(url, json(holder.token, {}));
  assert.equal(twice.status, 409);
  assert.equal((await check('POST', T, twice)).error, 'already_revoked');
  const none = await fetch(`${esp.url}/api/v1/certificates/00DEAD/revoke`, json(holder.token, {}));
  assert.equal(none.status, 404);
  await check('POST', T, none);
  const anon = await fetch(url, json(null, {}));
  assert.equal(anon.status, 401);
  await check('POST', T, anon);
});

test(`[${ENGINE}] signed-challenge login answers match the contract`, async () => {
  const ch = await check('GET', '/api/v1/login/challenge', await fetch(`${esp.url}/api/v1/login/challenge`));
  const T = '/api/v1/login/certificate';
  const post = (b) => fetch(`${esp.url}${T}`, json(null, b));
  const malformed = await post({ id: ch.id });
  assert.equal(malformed.status, 400);
  assert.equal((await check('POST', T, malformed)).error, 'bad_request');
  const c0 = holder.certs[0];
  writeFileSync(join(dir, 'ch.bin'), Buffer.from(ch.challenge, 'base64'));
  execFileSync('openssl', ['dgst', '-sha256', '-sign', c0.key, '-out', join(dir, 'sig.bin'), join(dir, 'ch.bin')]);
  const signed = { id: ch.id, challenge: ch.challenge, signature: readFileSync(join(dir, 'sig.bin')).toString('base64'), certificate: c0.pem };
  const revoked = await post(signed);
  assert.equal(revoked.status, 403);
  assert.equal((await check('POST', T, revoked)).error, 'revoked');
  const replay = await post(signed);
  assert.equal(replay.status, 401);
  assert.equal((await check('POST', T, replay)).error, 'bad_challenge');
});

test(`[${ENGINE}] a successful signed-challenge login matches the contract`, async () => {
  const ch = await (await fetch(`${esp.url}/api/v1/login/challenge`)).json();
  const key = second.key, pem = second.pem;
  writeFileSync(join(dir, 'ch-ok.bin'), Buffer.from(ch.challenge, 'base64'));
  execFileSync('openssl', ['dgst', '-sha256', '-sign', key, '-out', join(dir, 'sig-ok.bin'), join(dir, 'ch-ok.bin')]);
  const res = await fetch(`${esp.url}/api/v1/login/certificate`, json(null, {
    id: ch.id, challenge: ch.challenge, signature: readFileSync(join(dir, 'sig-ok.bin')).toString('base64'), certificate: pem,
  }));
  assert.equal(res.status, 200);
  const s = await check('POST', '/api/v1/login/certificate', res);
  assert.equal(s.cookie, 'esp_session');
});

test(`[${ENGINE}] renewal answers match the contract`, async () => {
  const h = await holderWithKeys(esp, 'enterprise', 1, dir);
  const old = h.certs[0];
  // 55 days before the end of the three years: the renewal window.
  await esp.stop();
  esp.env = { ESP_TIME_OFFSET: String(1040 * 86400) };
  await esp.start();
  try {
    const c = new Client(esp.url);
    await c.login(h.fields.username, h.fields.password);
    await c.get('/renewal');
    const applied = await c.post(`/renewal/${old.serial}`, {});
    const number = applied.text.match(/ESP-\d{4}-\d{6}/)[0];
    const ra = new Client(esp.url);
    await ra.login('fj_ra', esp.account('fj_ra').password);
    await ra.get(`/ra/applications/${number}`);
    await ra.post(`/ra/applications/${number}/payment`, { amount: 300, paid_on: '2029-10-01', payer: 'x', bank_ref: 'R' });

    const T = '/api/v1/renewals';
    const csr = makeCsr(dir, 'renewal-new');
    const sign = (key, data) => {
      const f = join(dir, 'to-sign');
      writeFileSync(f, data);
      return execFileSync('openssl', ['dgst', '-sha256', '-sign', key, f]).toString('base64');
    };
    const body = { certificate: old.pem, csr: csr.pem, signature: sign(old.key, csr.pem), token_serial: old.token };
    const post = (path, b) => fetch(`${esp.url}${path}`, json(null, b));
    for (const [status, code, res] of [
      [400, 'bad_request', post(T, { csr: csr.pem })],
      [403, 'bad_signature', post(T, { ...body, signature: sign(csr.key, csr.pem) })],
      [409, 'wrong_token', post(T, { ...body, token_serial: 'TK-OTHER' })],
    ]) {
      const r = await res;
      assert.equal(r.status, status);
      assert.equal((await check('POST', T, r)).error, code);
    }
    const issued = await check('POST', T, await post(T, body));
    const again = await post(T, body);
    assert.equal(again.status, 200);
    assert.equal((await check('POST', T, again)).serial, issued.serial);

    const C = '/api/v1/renewals/confirm';
    const pemFile = join(dir, 'renewed.pem');
    writeFileSync(pemFile, issued.certificate);
    const der = execFileSync('openssl', ['x509', '-in', pemFile, '-outform', 'DER']);
    const bad = await post(C, { certificate: issued.certificate, signature: sign(old.key, der) });
    assert.equal(bad.status, 403);
    assert.equal((await check('POST', C, bad)).error, 'bad_signature');
    const done = await check('POST', C, await post(C, { certificate: issued.certificate, signature: sign(csr.key, der) }));
    assert.equal(done.superseded, old.serial);
    assert.equal(done.status, 'renewed');
    const late = await post(T, body);
    assert.equal(late.status, 409);
    assert.equal((await check('POST', T, late)).error, 'not_valid');
  } finally {
    await esp.stop();
    esp.env = {};
    await esp.start();
  }
});

test(`[${ENGINE}] SO PIN custody and remote unlock answers match the contract`, async () => {
  const h = await holderWithKeys(esp, 'enterprise', 1, dir);
  const token = h.certs[0].token;
  const S = '/api/v1/tokens/{serial}/so-pin';
  const SC = '/api/v1/tokens/{serial}/so-pin/confirm';
  const post = (path, bearer, b) => fetch(`${esp.url}${path}`, json(bearer, b));
  // The RA workstation: nothing to confirm yet, then the SO PIN, again the same, confirmed.
  const early = await post(`/api/v1/tokens/${token}/so-pin/confirm`, h.token, {});
  assert.equal(early.status, 409);
  await check('POST', SC, early);
  const anon = await post(`/api/v1/tokens/${token}/so-pin`, null, {});
  assert.equal(anon.status, 401);
  await check('POST', S, anon);
  const none = await post('/api/v1/tokens/NO-SUCH-TOKEN/so-pin', h.token, {});
  assert.equal(none.status, 404);
  await check('POST', S, none);
  const first = await check('POST', S, await post(`/api/v1/tokens/${token}/so-pin`, h.token, {}));
  const second = await check('POST', S, await post(`/api/v1/tokens/${token}/so-pin`, h.token, {}));
  assert.equal(second.so_pin, first.so_pin);
  assert.equal((await check('POST', SC, await post(`/api/v1/tokens/${token}/so-pin/confirm`, h.token, {}))).status, 'in_custody');
  assert.equal((await check('POST', S, await post(`/api/v1/tokens/${token}/so-pin`, h.token, {}))).status, 'in_custody');

  // The holder applies, the RA approves, the tool releases and confirms.
  const c = h.c;
  await c.get('/unlock');
  const applied = await c.post(`/unlock/${token}`, {});
  const number = applied.text.match(/ESP-\d{4}-\d{6}/)[0];
  const R = '/api/v1/unlocks/{number}/release';
  const C = '/api/v1/unlocks/{number}/confirm';
  const notYet = await post(`/api/v1/unlocks/${number}/release`, null, { code: 'x', token_serial: token });
  assert.equal(notYet.status, 409);
  await check('POST', R, notYet);
  await h.ra.get(`/ra/applications/${number}`);
  await h.ra.post(`/ra/applications/${number}/approve`, {});
  const page = await c.get(`/applications/${number}`);
  const code = page.text.match(/id="unlock-code">([A-Za-z0-9]+)</)[1];
  for (const [status, body, path] of [
    [400, { token_serial: token }, R],
    [403, { code: 'wrong', token_serial: token }, R],
    [404, { code, token_serial: token }, '/api/v1/unlocks/ESP-1999-000001/release'],
  ]) {
    const res = await post(path.replace('{number}', number), null, body);
    assert.equal(res.status, status);
    await check('POST', R, res);
  }
  const pair = await check('POST', R, await post(`/api/v1/unlocks/${number}/release`, null, { code, token_serial: token }));
  assert.equal(pair.so_pin, first.so_pin, 'the SO PIN in custody is released');
  const bad = await post(`/api/v1/unlocks/${number}/confirm`, null, { code: 'wrong' });
  assert.equal(bad.status, 403);
  await check('POST', C, bad);
  assert.equal((await check('POST', C, await post(`/api/v1/unlocks/${number}/confirm`, null, { code }))).status, 'unlocked');
  const spent = await post(`/api/v1/unlocks/${number}/release`, null, { code, token_serial: token });
  assert.equal(spent.status, 409);
  await check('POST', R, spent);
});

test('every operation of the document was answered at least once', () => {
  for (const [path, ops] of Object.entries(doc.paths))
    for (const method of Object.keys(ops))
      assert.ok([...seen].some((s) => s.startsWith(`${method.toUpperCase()} ${path} 2`)), `${method} ${path}: no successful answer checked`);
});
