// The gate end to end: the REAL gatehouse-proxy binary in local mode, an echo
// upstream, tokens from jose and from the real oidc-provider. Covers the
// PRODUCT.md section 3 decision table, header spoofing, the signed assertion,
// rate limiting, hot reload, IdP outage and SIGTERM draining.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createLocalJWKSet, jwtVerify } from 'jose';
import {
  startEcho, startJoseIdp, startOidcProvider, startProxy, policyDir, policyYaml,
  rawRequest, upstreamHeaders, eventually,
} from '../lib/proxy-harness.mjs';

let echo; let idp; let oidc; let dir; let proxy;

function policies() {
  const app = policyYaml({
    name: 'app', host: 'app.test', issuer: idp.issuer, upstream: echo.url,
    rules: `    - {name: health, action: Allow, paths: ["/health", "/slow/**"], from: {public: true}}
    - {name: no-exports, action: Deny, paths: ["/export/**"], from: {groups: [contractors]}}
    - {name: readers, action: Allow, methods: [GET, HEAD], paths: ["/api/**", "/export/**"], from: {groups: [readers]}}
`,
  });
  const audit = policyYaml({
    name: 'audit', host: 'audit.test', issuer: idp.issuer, upstream: echo.url, extra: '  mode: Audit\n',
    rules: '    - {name: admins, action: Allow, from: {groups: [admins]}}\n',
  });
  const limited = policyYaml({
    name: 'limited', host: 'limited.test', issuer: idp.issuer, upstream: echo.url,
    extra: '  rateLimit: {requestsPerMinute: 60, burst: 2, key: identity}\n',
    rules: '    - {name: anyone, action: Allow, from: {}}\n',
  });
  const login = policyYaml({
    name: 'login', host: 'login.test', issuer: idp.issuer, upstream: echo.url,
    extra: `    login: {issuer: "${idp.issuer}", clientID: gatehouse, clientSecretRef: {name: oidc, key: secret}}\n`,
    rules: '    - {name: readers, action: Allow, from: {groups: [readers]}}\n',
  });
  const secret = 'apiVersion: v1\nkind: Secret\nmetadata: {name: oidc, namespace: e2e}\nstringData: {secret: not-logged}\n';
  const viaOidc = policyYaml({
    name: 'oidc', host: 'oidc.test', issuer: oidc.issuer, upstream: echo.url,
    rules: '    - {name: readers, action: Allow, from: {groups: [readers]}}\n',
  });
  return {
    'app.yaml': app, 'audit.yaml': audit, 'limited.yaml': limited,
    'login.yaml': `${login}---\n${secret}`, 'oidc.yaml': viaOidc,
  };
}

before(async () => {
  echo = await startEcho();
  idp = await startJoseIdp();
  oidc = await startOidcProvider({ groups: ['readers'] });
  dir = policyDir(policies());
  proxy = await startProxy({ policies: dir.dir });
});

after(async () => {
  await proxy?.stop('SIGKILL');
  await echo?.close();
  await idp?.close();
  await oidc?.close();
  dir?.remove();
});

const get = (host, path, headers = []) => rawRequest(proxy.port, { host, path, headers });
const bearer = (token) => ['Authorization', `Bearer ${token}`];

test('every row of the decision table', async () => {
  const reader = await idp.token({ groups: ['readers'] });
  const stranger = await idp.token({ sub: 'sam', groups: ['others'] });
  const contractor = await idp.token({ sub: 'cat', groups: ['readers', 'contractors'] });
  const rows = [
    ['no route', 'nowhere.test', '/', [], 404, 'no_route'],
    ['no credentials, API client', 'app.test', '/api/x', [], 401, 'no_credentials'],
    ['bad token', 'app.test', '/api/x', [bearer('x.y.z')], 401, 'invalid_token'],
    ['token for another audience', 'app.test', '/api/x', [bearer(await idp.token({ groups: ['readers'] }, { audience: 'other' }))], 401, 'invalid_token'],
    ['browser, login configured', 'login.test', '/', [['Accept', 'text/html']], 302, 'login_required'],
    ['API client, login configured', 'login.test', '/', [], 401, 'no_credentials'],
    ['no rule allows', 'app.test', '/api/x', [bearer(stranger)], 403, 'no_matching_rule'],
    ['deny rule matches', 'app.test', '/export/csv', [bearer(contractor)], 403, 'denied_by_rule'],
    ['allowed', 'app.test', '/api/x?q=1', [bearer(reader)], 200, 'allowed'],
    ['public', 'app.test', '/health', [], 200, 'allowed'],
    ['audit mode would deny', 'audit.test', '/x', [], 200, 'audit_would_deny'],
    ['path that cannot be normalized', 'app.test', '/api/%2e%2e/%2e%2e/etc', [bearer(reader)], 400, 'bad_request'],
  ];
  for (const [name, host, path, headers, status, reason] of rows) {
    const r = await get(host, path, headers);
    assert.equal(r.status, status, `${name}: ${r.body}`);
    // Local answers carry X-Request-Id; forwarded ones carry it to the upstream
    // (copying it onto the upstream's response is the data path's job).
    const requestId = status === 200 ? upstreamHeaders(r).headers['x-request-id'][0] : r.headers['x-request-id']?.[0];
    assert.match(requestId ?? '', /^[0-9a-f]{32}$/, `${name}: X-Request-Id`);
    if (status === 401) {
      const challenge = r.headers['www-authenticate']?.[0] ?? '';
      assert.match(challenge, /^Bearer /, name);
      if (reason === 'invalid_token') assert.match(challenge, /error="invalid_token"/, name);
      else assert.doesNotMatch(challenge, /error=/, name);
    }
    if (status >= 400 && status !== 400) assert.match(r.body, new RegExp(reason), name);
    if (status === 302) {
      const to = new URL(r.headers.location?.[0] ?? '');
      assert.equal(to.pathname, '/authorize', `${name}: redirected to the IdP`);
      assert.equal(to.searchParams.get('code_challenge_method'), 'S256', name);
      assert.equal(to.searchParams.get('redirect_uri'), 'http://login.test/.gatehouse/callback', name);
    }
    const line = await eventually(() => {
      const found = proxy.audit().find((l) => l.request_id === requestId);
      assert.ok(found, `${name}: audit line`);
      return found;
    });
    assert.equal(line.reason, reason, name);
    assert.equal(line.status, status, name);
  }
});

test('spoofed identity headers never reach the upstream, public routes included', async () => {
  const reader = await idp.token({ sub: 'alice', groups: ['readers'] });
  const spoof = [];
  for (const name of ['X-Forwarded-User', 'x-forwarded-user', 'X-FORWARDED-EMAIL', 'x-Forwarded-Groups',
    'X-Gatehouse-Assertion', 'x-gatehouse-assertion', 'X-Gatehouse-Whatever', 'X-Forwarded-For',
    'X-Real-IP', 'Forwarded', 'X-Request-Id', 'X-Forwarded-Host', 'X-Forwarded-Proto']) {
    spoof.push([name, 'spoofed'], [name, 'spoofed-again']);
  }
  for (const [path, headers] of [['/api/x', [bearer(reader), ...spoof]], ['/health', spoof]]) {
    const r = await get('app.test', path, headers);
    assert.equal(r.status, 200, r.body);
    const { headers: got } = upstreamHeaders(r);
    for (const [name, values] of Object.entries(got)) {
      for (const v of values) assert.ok(!v.includes('spoofed'), `${path}: ${name}: ${v}`);
    }
    assert.deepEqual(got['x-forwarded-for'], ['127.0.0.1'], path);
    assert.deepEqual(got['x-forwarded-proto'], ['http'], path);
    assert.equal(got['x-request-id']?.length, 1, path);
    assert.equal(got.authorization, undefined, `${path}: token forwarded`);
    if (path === '/api/x') {
      assert.deepEqual(got['x-forwarded-user'], ['alice']);
      assert.deepEqual(got['x-forwarded-groups'], ['readers']);
      assert.equal(got['x-gatehouse-assertion']?.length, 1);
    } else {
      assert.equal(got['x-forwarded-user'], undefined);
      assert.equal(got['x-gatehouse-assertion'], undefined);
    }
  }
});

test('the assertion verifies with jose against /.well-known/gatehouse/jwks.json', async () => {
  const reader = await idp.token({ sub: 'alice', email: 'alice@example.com', groups: ['readers'] });
  const r = await get('app.test', '/api/x', [bearer(reader)]);
  assert.equal(r.status, 200, r.body);
  const assertion = upstreamHeaders(r).headers['x-gatehouse-assertion'][0];
  const jwksResponse = await get('app.test', '/.well-known/gatehouse/jwks.json');
  assert.equal(jwksResponse.status, 200);
  const jwks = JSON.parse(jwksResponse.body);
  assert.ok(jwks.keys.every((k) => k.d === undefined), 'no private key material');
  const { payload, protectedHeader } = await jwtVerify(assertion, createLocalJWKSet(jwks), {
    issuer: 'gatehouse', audience: 'app.test', algorithms: ['ES256'],
  });
  assert.equal(protectedHeader.alg, 'ES256');
  assert.equal(payload.sub, 'alice');
  assert.equal(payload.email, 'alice@example.com');
  assert.deepEqual(payload.groups, ['readers']);
  assert.equal(payload.policy, 'e2e/app');
  assert.equal(payload.exp - payload.iat, 60);
  // The same keys on every fronted host.
  const other = await get('audit.test', '/.well-known/gatehouse/jwks.json');
  assert.deepEqual(JSON.parse(other.body), jwks);
});

test('a token from the real oidc-provider (client_credentials, RS256 JWT) is accepted', async () => {
  const token = await oidc.token();
  const r = await eventually(async () => {
    const res = await get('oidc.test', '/anything', [bearer(token)]);
    assert.equal(res.status, 200, res.body);
    return res;
  });
  const { headers } = upstreamHeaders(r);
  assert.deepEqual(headers['x-forwarded-groups'], ['readers']);
  assert.deepEqual(headers['x-forwarded-email'], ['svc@example.com']);
});

test('rate limiting answers 429 with Retry-After', async () => {
  const token = await idp.token({ sub: 'rate-user' });
  const statuses = [];
  let retryAfter;
  for (let i = 0; i < 4; i += 1) {
    const r = await get('limited.test', '/x', [bearer(token)]);
    statuses.push(r.status);
    if (r.status === 429) retryAfter = r.headers['retry-after']?.[0];
  }
  assert.deepEqual(statuses.slice(0, 2), [200, 200]);
  assert.equal(statuses[3], 429);
  assert.match(retryAfter, /^[1-9]\d*$/);
  const metrics = await rawRequest(proxy.admin, { host: 'admin', path: '/metrics' });
  assert.match(metrics.body, /gatehouse_rate_limited_total\{policy="e2e\/limited"\} [1-9]/);
});

test('admin endpoints: ready, metrics, config version; pushes need loopback', async () => {
  assert.equal((await rawRequest(proxy.admin, { host: 'a', path: '/healthz' })).status, 200);
  assert.equal((await rawRequest(proxy.admin, { host: 'a', path: '/readyz' })).status, 200);
  const config = JSON.parse((await rawRequest(proxy.admin, { host: 'a', path: '/v1/config' })).body);
  assert.ok(config.version >= 1);
  assert.match(config.sha256, /^[0-9a-f]{64}$/);
  const metrics = (await rawRequest(proxy.admin, { host: 'a', path: '/metrics' })).body;
  assert.match(metrics, /gatehouse_decisions_total\{decision="allow",policy="e2e\/app",reason="allowed",rule="readers"\}/);
  assert.match(metrics, /gatehouse_config_version \d+/);
  assert.match(metrics, /gatehouse_jwks_fetches_total\{issuer="[^"]+",result="success"\}/);
  const older = await rawRequest(proxy.admin, {
    method: 'PUT', host: 'a', path: '/v1/config',
    body: JSON.stringify({ content: '{"policies":[],"secrets":{}}', sha256: '0'.repeat(64), version: 1 }),
  });
  assert.ok([400, 409].includes(older.status), older.body);
});

test('a policy edit takes effect without restart; a broken edit keeps the old config', async () => {
  const token = await idp.token({ sub: 'ed', groups: ['editors'] });
  assert.equal((await get('app.test', '/api/x', [bearer(token)])).status, 403);
  const edited = policies()['app.yaml'].replace('from: {groups: [readers]}', 'from: {groups: [readers, editors]}');
  dir.write('app.yaml', edited);
  await eventually(async () => assert.equal((await get('app.test', '/api/x', [bearer(token)])).status, 200));
  const before = JSON.parse((await rawRequest(proxy.admin, { host: 'a', path: '/v1/config' })).body);
  dir.write('app.yaml', `${edited}\n    - {name: broken, action: Sometimes}\n`);
  await eventually(() => assert.match(proxy.stderr(), /last good config stays/));
  assert.equal((await get('app.test', '/api/x', [bearer(token)])).status, 200);
  const afterBroken = JSON.parse((await rawRequest(proxy.admin, { host: 'a', path: '/v1/config' })).body);
  assert.equal(afterBroken.version, before.version);
  const metrics = (await rawRequest(proxy.admin, { host: 'a', path: '/metrics' })).body;
  assert.match(metrics, /gatehouse_config_applies_total\{result="error"\} [1-9]/);
  dir.write('app.yaml', policies()['app.yaml']);
  await eventually(async () => assert.equal((await get('app.test', '/api/x', [bearer(token)])).status, 403));
});

test('audit lines never hold tokens, cookies or query strings', async () => {
  const token = await idp.token({ groups: ['readers'] });
  await get('app.test', '/api/x?secret=hunter2', [bearer(token), ['Cookie', 'session=COOKIE-VALUE']]);
  await eventually(() => assert.ok(proxy.audit().some((l) => l.path === '/api/x')));
  const stdout = JSON.stringify(proxy.audit());
  assert.ok(!stdout.includes(token.split('.')[2]), 'token signature in audit');
  assert.ok(!stdout.includes('COOKIE-VALUE'));
  assert.ok(!stdout.includes('hunter2'));
  assert.ok(!proxy.stderr().includes(token.split('.')[2]), 'token in logs');
  assert.ok(!proxy.stderr().includes('not-logged'), 'secret in logs');
  const fields = Object.keys(proxy.audit()[0]).sort();
  assert.deepEqual(fields, ['client_ip', 'decision', 'email', 'gate_us', 'host', 'method', 'path', 'policy',
    'reason', 'request_id', 'rule', 'status', 'sub', 'token_id', 'ts', 'upstream_ms'].sort());
});

test('the IdP going down after keys are cached changes nothing', async () => {
  const token = await idp.token({ sub: 'outage', groups: ['readers'] });
  assert.equal((await get('app.test', '/api/x', [bearer(token)])).status, 200);
  await idp.close();
  const fresh = await idp.token({ sub: 'outage-2', groups: ['readers'] });
  for (const t of [token, fresh]) assert.equal((await get('app.test', '/api/x', [bearer(t)])).status, 200);
});

test('SIGTERM drains in-flight requests, then exits 0', async () => {
  const local = await startProxy({ policies: dir.dir });
  try {
    assert.equal((await rawRequest(local.port, { host: 'app.test', path: '/health' })).status, 200);
    const inFlight = rawRequest(local.port, {
      host: 'app.test', path: '/slow/1500', headers: [],
    });
    await new Promise((r) => setTimeout(r, 300));
    local.child.kill('SIGTERM');
    const r = await inFlight;
    assert.equal(r.status, 200, 'the in-flight request finished');
    await assert.rejects(rawRequest(local.port, { host: 'app.test', path: '/health' }));
    const { code } = await local.exited;
    assert.equal(code, 0);
  } finally {
    await local.stop('SIGKILL');
  }
});
