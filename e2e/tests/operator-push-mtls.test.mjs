// Authenticated pushes with real binaries: `gatehouse-operator run --policies
// DIR --proxy https://127.0.0.1:PORT --push-ca/--push-cert/--push-key` pushes
// over mTLS to `gatehouse-proxy serve --push-ca/--push-cert/--push-key`, and
// every way around the client certificate fails: none, another CA's, the
// proxy's own serverAuth certificate, plain HTTP, an older version, and a
// proxy without push flags whose admin port is not on loopback.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import http from 'node:http';
import { tmpdir } from 'node:os';
import path from 'node:path';
import {
  eventually, policyDir, policyYaml, rawRequest, startEcho, startJoseIdp, startProxy,
} from '../lib/proxy-harness.mjs';
import {
  adminCall, emptyFleetConfig, makePushPki, metricValue, operatorPushArgs, proxyPushArgs, startOperator,
} from '../lib/operator-harness.mjs';

let idp; let echo; let dir; let pkiDir; let pki; let operator;
let proxies = [];
const extra = [];  // proxies started by single tests

const rules = (apiGroups) => '    - {name: health, action: Allow, paths: ["/health"], from: {public: true}}\n'
  + `    - {name: api, action: Allow, paths: ["/api/**"], from: {groups: [${apiGroups}]}}\n`;
const appPolicy = (apiGroups) => policyYaml({ name: 'app', host: 'app.test', issuer: idp.issuer, upstream: echo.url, rules: rules(apiGroups) });

const version = async (proxy) => JSON.parse((await adminCall(proxy.admin, pki)).body).version;

before(async () => {
  idp = await startJoseIdp();
  echo = await startEcho();
  pkiDir = mkdtempSync(path.join(tmpdir(), 'gh-pki-'));
  pki = makePushPki(pkiDir);
  dir = policyDir({ 'app.yaml': appPolicy('readers') });
  const missing = path.join(dir.dir, 'no-such-bootstrap.json');
  proxies = await Promise.all([0, 1].map(() => startProxy({ bootstrap: missing, args: proxyPushArgs(pki) })));
  operator = startOperator(['--policies', dir.dir, '--admin', '127.0.0.1:0', ...operatorPushArgs(pki),
    ...proxies.flatMap((p) => ['--proxy', `https://127.0.0.1:${p.admin}`])]);
});

after(async () => {
  await operator?.stop('SIGKILL');
  await Promise.all([...proxies, ...extra].map((p) => p.stop('SIGKILL')));
  await echo?.close();
  await idp?.close();
  dir?.remove();
  if (pkiDir) rmSync(pkiDir, { recursive: true, force: true });
});

test('the operator pushes over mTLS and every proxy enforces the policy', async () => {
  const reader = await idp.token({ sub: 'rita', groups: ['readers'] });
  const writer = await idp.token({ sub: 'will', groups: ['writers'] });
  for (const p of proxies) {
    assert.match(p.stderr(), /config pushes: mTLS/);
    // Probes need no client certificate.
    await eventually(async () => assert.equal((await adminCall(p.admin, pki, { path: '/readyz' })).status, 200));
    assert.equal((await rawRequest(p.port, { host: 'app.test', path: '/health' })).status, 200);
    assert.equal((await rawRequest(p.port, { host: 'app.test', path: '/api/x' })).status, 401);
    assert.equal((await rawRequest(p.port, { host: 'app.test', path: '/api/x', headers: [['Authorization', `Bearer ${reader}`]] })).status, 200);
    assert.equal((await rawRequest(p.port, { host: 'app.test', path: '/api/x', headers: [['Authorization', `Bearer ${writer}`]] })).status, 403);
  }
  // An edit travels the same way: writers now, readers no more.
  const before = await version(proxies[0]);
  dir.write('app.yaml', appPolicy('writers'));
  for (const p of proxies) {
    await eventually(async () => assert.equal((await rawRequest(p.port, { host: 'app.test', path: '/api/x', headers: [['Authorization', `Bearer ${writer}`]] })).status, 200));
    assert.equal((await rawRequest(p.port, { host: 'app.test', path: '/api/x', headers: [['Authorization', `Bearer ${reader}`]] })).status, 403);
    assert.ok(await version(p) > before);
  }
});

test('attacks on the push: no certificate, another CA, a proxy certificate, plain HTTP', async () => {
  const target = proxies[0];
  const held = await version(target);
  const takeover = emptyFleetConfig(held + 1000);  // valid and newer: only authentication stands in the way
  const noCert = await adminCall(target.admin, pki, { method: 'PUT', body: takeover });
  assert.equal(noCert.status, 403);
  assert.match(JSON.parse(noCert.body).error, /client certificate issued by the push CA/);
  // Another CA's client certificate: the handshake fails (or, at worst, 403).
  const rogue = await adminCall(target.admin, pki, { method: 'PUT', body: takeover, client: 'rogue' }).catch((e) => e);
  assert.ok(rogue instanceof Error || rogue.status === 403, `rogue CA got ${rogue.status}`);
  // The proxy's own certificate is from the push CA but for serverAuth only.
  const proxyCert = await adminCall(target.admin, pki, { method: 'PUT', body: takeover, client: 'proxy' }).catch((e) => e);
  assert.ok(proxyCert instanceof Error || proxyCert.status === 403, `proxy certificate got ${proxyCert.status}`);
  // Plain HTTP to the TLS port never reaches the handler.
  const plain = await new Promise((resolve) => {
    const req = http.request({ host: '127.0.0.1', port: target.admin, method: 'PUT', path: '/v1/config', agent: false }, (res) => resolve(res.statusCode));
    req.setTimeout(10000, () => req.destroy(new Error('timeout')));
    req.on('error', (e) => resolve(e));
    req.end(takeover);
  });
  assert.ok(plain instanceof Error, `plain HTTP got an HTTP answer: ${plain}`);
  assert.equal(await version(target), held, 'no attack changed the config');
  assert.equal((await rawRequest(target.port, { host: 'app.test', path: '/health' })).status, 200);
});

test('an authenticated push of an older version gets 409', async () => {
  const target = proxies[1];
  const held = await version(target);
  assert.ok(held >= 2, `the edit above made version ${held}`);
  const older = await adminCall(target.admin, pki, { method: 'PUT', body: emptyFleetConfig(1), client: 'operator' });
  assert.equal(older.status, 409, older.body);
  assert.equal(JSON.parse(older.body).version, held);
  assert.equal(await version(target), held);
  const metrics = (await adminCall(target.admin, pki, { path: '/metrics' })).body;
  assert.ok(metricValue(metrics, 'gatehouse_config_version') === held);
});

test('a proxy without push flags on a non-loopback admin address refuses every push', async () => {
  const open = await startProxy({ bootstrap: path.join(dir.dir, 'no-such-bootstrap.json'), args: ['--admin', '0.0.0.0:0'] });
  extra.push(open);
  assert.match(open.stderr(), /config pushes: REFUSED/);
  const push = await rawRequest(open.admin, { method: 'PUT', host: 'admin', path: '/v1/config', body: emptyFleetConfig(1) });
  assert.equal(push.status, 403);
  assert.match(JSON.parse(push.body).error, /not bound to a loopback address/);
  // The real operator (plain HTTP to a loopback URL, which it allows) cannot push either.
  const op = startOperator(['--policies', dir.dir, '--admin', '127.0.0.1:0', '--proxy', `http://127.0.0.1:${open.admin}`]);
  try {
    await eventually(() => assert.match(open.stderr(), /config push refused: config pushes are refused/), { timeout: 15000 });
    assert.equal((await rawRequest(open.admin, { host: 'admin', path: '/readyz' })).status, 503);
  } finally {
    await op.stop('SIGKILL');
  }
  // Loopback-bound without flags: the plain-HTTP push is accepted (local mode's contract).
  const local = await startProxy({ bootstrap: path.join(dir.dir, 'no-such-bootstrap.json') });
  extra.push(local);
  assert.match(local.stderr(), /config pushes: plain HTTP from loopback only/);
  const ok = await rawRequest(local.admin, { method: 'PUT', host: 'admin', path: '/v1/config', body: emptyFleetConfig(1) });
  assert.equal(ok.status, 200, ok.body);
});
