// The gatehouse-proxy command line: `validate` and `explain`, run as a user
// would, on the shipped examples and on hostile or broken input.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { generateKeyPair, exportJWK, SignJWT } from 'jose';

const repo = path.resolve(import.meta.dirname, '../..');
const bin = process.env.GATEHOUSE_PROXY_BIN ?? path.join(repo, 'build/proxy/cli/gatehouse-proxy');
const examples = path.join(repo, 'manifests/examples');

function run(...args) {
  const r = spawnSync(bin, args, { encoding: 'utf8', timeout: 20000 });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

function explain(claims, method, url, ...extra) {
  const args = ['explain', '--policies', examples, '-o', 'json', ...extra];
  if (claims) args.push('--claims', JSON.stringify(claims));
  const r = run(...args, method, url);
  assert.equal(r.code, 0, `explain failed: ${r.err}`);
  return JSON.parse(r.out);
}

test('validate accepts the shipped examples', () => {
  const r = run('validate', examples);
  assert.equal(r.code, 0, r.err);
  assert.match(r.out, /^2 policies valid in 3 files$/m);
});

test('validate reports every error with file, document, policy and field path', (t) => {
  const dir = mkdtempSync(path.join(tmpdir(), 'gh-cli-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  writeFileSync(path.join(dir, 'bad.yaml'), `
apiVersion: gatehouse.dev/v1alpha1
kind: AccessPolicy
metadata: {name: ok, namespace: team}
spec:
  hosts: [ok.example.com]
  upstream: {url: "http://127.0.0.1:9000"}
  rules: [{name: open, action: Allow, from: {public: true}}]
---
apiVersion: gatehouse.dev/v1alpha1
kind: AccessPolicy
metadata: {name: broken, namespace: team}
spec:
  hosts: [Bad.Example.com]
  upstream: {url: "http://127.0.0.1:9000"}
  authentication:
    issuers: [{issuer: "https://idp.example.com", audiences: [x]}]
  rules:
    - {name: r1, action: Allow, paths: ["/a/**/b"]}
    - {name: r2, action: allow}
`);
  const r = run('validate', dir);
  assert.equal(r.code, 1);
  const lines = r.err.trim().split('\n');
  const where = `${path.join(dir, 'bad.yaml')}: document 2 (team/broken): `;
  assert.ok(lines.some((l) => l.startsWith(where + 'spec.hosts[0]: ')), r.err);
  assert.ok(lines.some((l) => l.startsWith(where + 'spec.rules[0].paths[0]: ') && l.includes('**')), r.err);
  assert.ok(lines.some((l) => l.startsWith(where + 'spec.rules[1].action: ')), r.err);
  assert.match(lines.at(-1), /3 errors; 1 policy valid/);
});

test('validate names a missing file and a non-policy document', (t) => {
  assert.equal(run('validate', '/nonexistent/policies').code, 1);
  const dir = mkdtempSync(path.join(tmpdir(), 'gh-cli-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  writeFileSync(path.join(dir, 'cm.yaml'), 'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\n');
  const r = run('validate', dir);
  assert.equal(r.code, 1);
  assert.match(r.err, /kind/);
});

// Decisions on the Metabase example, one per row of the PRODUCT.md table it can show.
const analyst = { iss: 'https://idp.example.com', sub: 'u1', email: 'ann@example.com', groups: ['analysts'] };
const contractor = { iss: 'https://idp.example.com', sub: 'u2', email: 'cy@example.com', groups: ['contractors', 'analysts'] };
const metabase = 'https://metabase.example.com';

const scenarios = [
  ['analyst reads a card', analyst, 'GET', `${metabase}/api/card/12`, { decision: 'allow', reason: 'allowed', rule: 'analysts-read', status: 200 }],
  ['analyst cannot export', analyst, 'POST', `${metabase}/api/card/12/query/csv`, { decision: 'deny', reason: 'no_matching_rule', status: 403 }],
  ['contractor export denied by rule', contractor, 'POST', `${metabase}/api/dataset/csv`, { decision: 'deny', reason: 'denied_by_rule', rule: 'no-contractor-exports', status: 403 }],
  ['health is public', null, 'GET', `${metabase}/api/health`, { decision: 'allow', reason: 'allowed', rule: 'health' }],
  ['anonymous API call', null, 'GET', `${metabase}/api/card/12`, { decision: 'deny', reason: 'no_credentials', status: 401 }],
  ['unknown host', analyst, 'GET', 'https://other.example.com/', { decision: 'deny', reason: 'no_route', status: 404 }],
  ['dot-dot cannot escape the public path', null, 'GET', `${metabase}/api/health/../card/1`, { decision: 'deny', reason: 'no_credentials', path: '/api/card/1' }],
  ['encoded slash is refused', analyst, 'GET', `${metabase}/api/card%2F12`, { decision: 'deny', reason: 'bad_request', status: 400 }],
  ['path parameter trick is refused', contractor, 'POST', `${metabase}/api/dataset/csv;x=1`, { decision: 'deny', reason: 'bad_request', status: 400 }],
  ['unverified email does not satisfy emailDomains', { ...analyst, email_verified: false }, 'GET', `${metabase}/api/card/12`, { decision: 'deny', reason: 'no_matching_rule' }],
];

for (const [name, claims, method, url, want] of scenarios) {
  test(`explain: ${name}`, () => {
    const got = explain(claims, method, url);
    for (const [k, v] of Object.entries(want)) assert.equal(got[k], v, `${k} in ${JSON.stringify(got)}`);
  });
}

test('explain: a browser without a session is sent to sign in', () => {
  const got = explain(null, 'GET', `${metabase}/dashboard/3`, '--browser');
  assert.equal(got.reason, 'login_required');
  assert.equal(got.status, 302);
});

test('explain --token verifies signature, issuer, audience and expiry', async (t) => {
  const dir = mkdtempSync(path.join(tmpdir(), 'gh-cli-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const { privateKey, publicKey } = await generateKeyPair('ES256');
  const jwk = { ...(await exportJWK(publicKey)), kid: 'k1', alg: 'ES256', use: 'sig' };
  writeFileSync(path.join(dir, 'jwks.json'), JSON.stringify({ keys: [jwk] }));
  writeFileSync(path.join(dir, 'api.yaml'), `
apiVersion: gatehouse.dev/v1alpha1
kind: AccessPolicy
metadata: {name: api, namespace: platform}
spec:
  hosts: [api.example.com]
  upstream: {url: "http://127.0.0.1:9000"}
  authentication:
    issuers: [{issuer: "https://idp.example.com", audiences: [api], algorithms: [ES256]}]
  rules: [{name: svc, action: Allow, from: {subjects: [svc-reporting]}}]
`);
  const mint = (claims, exp = '5m') => new SignJWT(claims).setProtectedHeader({ alg: 'ES256', kid: 'k1' })
    .setIssuer('https://idp.example.com').setAudience('api').setSubject('svc-reporting')
    .setIssuedAt().setExpirationTime(exp).sign(privateKey);
  const ask = async (token) => {
    const r = run('explain', '--policies', path.join(dir, 'api.yaml'), '--token', token,
      '--jwks', path.join(dir, 'jwks.json'), '-o', 'json', 'GET', 'https://api.example.com/v1/x');
    assert.equal(r.code, 0, r.err);
    return JSON.parse(r.out);
  };
  assert.equal((await ask(await mint({}))).reason, 'allowed');
  const expired = await ask(await mint({}, Math.floor(Date.now() / 1000) - 3600));
  assert.equal(expired.reason, 'invalid_token');
  assert.equal(expired.status, 401);
  const good = await mint({});
  const [h, p, s] = good.split('.');
  const flipped = s[5] === 'A' ? 'B' : 'A';
  const tampered = await ask(`${h}.${p}.${s.slice(0, 5)}${flipped}${s.slice(6)}`);
  assert.equal(tampered.reason, 'invalid_token');
  // The token never appears in what explain prints.
  const r = run('explain', '--policies', dir, '--token', good, '--jwks', path.join(dir, 'jwks.json'), 'GET', 'https://api.example.com/v1/x');
  assert.ok(!r.out.includes(s) && !r.err.includes(s));
});
