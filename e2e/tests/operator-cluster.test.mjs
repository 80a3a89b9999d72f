// gatehouse-operator in cluster mode against the Kubernetes API test server,
// pushing over mTLS to three REAL `gatehouse-proxy serve --bootstrap <missing>`
// processes found through EndpointSlices. Enforcement is checked by sending
// requests through each proxy's listener with jose tokens, never by reading
// what was pushed.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import {
  adminCall, crdFile, endpointSlice, httpGet, makePushPki, metricValue, operatorPushArgs,
  percentile, proxyPushArgs, startKube, startOperatorWithAdmin, waitFor,
} from '../lib/operator-harness.mjs';
import { rawRequest, startEcho, startJoseIdp, startProxy } from '../lib/proxy-harness.mjs';

let kube; let idp; let echo; let pki; let pkiDir; let operator; let operatorAdmin;
let reader; let writer;
const proxies = [];  // {proxy, slice}
const retired = [];
const missingBootstrap = () => path.join(pkiDir, 'no-such-bootstrap.json');
const kApplied = 'gatehouse_config_applies_total{result="success"}';

function appPolicy(ns, name, host, groups = ['readers']) {
  return {
    apiVersion: 'gatehouse.dev/v1alpha1', kind: 'AccessPolicy', metadata: { name, namespace: ns },
    spec: {
      hosts: [host], upstream: { url: echo.url },
      authentication: { issuers: [{ issuer: idp.issuer, audiences: ['gatehouse'] }] },
      rules: [{ name: 'members', action: 'Allow', from: { groups } }],
    },
  };
}

const call = (proxy, host, token) => rawRequest(proxy.port, {
  host, path: '/x', headers: token ? [['Authorization', `Bearer ${token}`]] : [],
});
// The proxy enforces `groups` on `host`: a member passes, no token is 401, another group 403.
async function enforces(proxy, host, member, outsider) {
  return (await call(proxy, host, member)).status === 200
    && (await call(proxy, host)).status === 401
    && (await call(proxy, host, outsider)).status === 403;
}
const allEnforce = async (host, member = reader, outsider = writer) => {
  for (const { proxy } of proxies) if (!await enforces(proxy, host, member, outsider)) return false;
  return true;
};
async function allUnrouted(host) {
  for (const { proxy } of proxies) if ((await call(proxy, host, reader)).status !== 404) return false;
  return true;
}

async function addProxy(name) {
  const proxy = await startProxy({ bootstrap: missingBootstrap(), args: proxyPushArgs(pki) });
  const r = await kube.request('POST', '/apis/discovery.k8s.io/v1/namespaces/gatehouse/endpointslices', endpointSlice(name, proxy.admin));
  assert.equal(r.status, 201, JSON.stringify(r.body));
  proxies.push({ proxy, slice: name });
  return proxy;
}

async function launchOperator(identity) {
  operator = await startOperatorWithAdmin(['--kubeconfig', kube.kubeconfig, '--proxy-namespace', 'gatehouse',
    '--identity', identity, ...operatorPushArgs(pki)]);
  operatorAdmin = operator.admin;
}
const operatorMetric = async (sample) => {
  try { return metricValue((await httpGet(operatorAdmin, '/metrics')).body, sample); } catch { return undefined; }
};
const applies = async (proxy) => metricValue((await adminCall(proxy.admin, pki, { path: '/metrics' })).body, kApplied);
const configOf = async (proxy) => JSON.parse((await adminCall(proxy.admin, pki)).body);

before(async () => {
  pkiDir = mkdtempSync(path.join(tmpdir(), 'gh-cluster-'));
  pki = makePushPki(pkiDir);
  [kube, idp, echo] = await Promise.all([startKube(), startJoseIdp(), startEcho()]);
  reader = await idp.token({ sub: 'rita', groups: ['readers'] });
  writer = await idp.token({ sub: 'will', groups: ['writers'] });
  await kube.kubectl('apply', '-f', crdFile);
  for (const ns of ['gatehouse', 'analytics', 'team']) await kube.request('POST', '/api/v1/namespaces', { apiVersion: 'v1', kind: 'Namespace', metadata: { name: ns } });
  for (let i = 0; i < 3; i++) await addProxy(`proxy-${i}`);
  await launchOperator('op-a');
});

after(async () => {
  await operator?.stop('SIGKILL');
  await Promise.all([...proxies.map((p) => p.proxy), ...retired].map((p) => p.stop('SIGKILL')));
  await kube?.server.close();
  await echo?.close();
  await idp?.close();
  if (pkiDir) rmSync(pkiDir, { recursive: true, force: true });
});

// A spec update with optimistic concurrency (the operator writes status concurrently).
async function updateSpec(ns, name, spec) {
  const p = `/apis/gatehouse.dev/v1alpha1/namespaces/${ns}/accesspolicies/${name}`;
  for (;;) {
    const current = (await kube.request('GET', p)).body;
    const r = await kube.request('PUT', p, { ...current, spec });
    if (r.status === 200) return;
    assert.equal(r.status, 409, JSON.stringify(r.body));
  }
}

async function status(ns, name) {
  const r = await kube.request('GET', `/apis/gatehouse.dev/v1alpha1/namespaces/${ns}/accesspolicies/${name}`);
  return r.body?.status;
}
const condition = (s, type) => s?.conditions?.find((c) => c.type === type);

test('kubectl apply -> all three proxies enforce; apply->enforcing p50/p99 over 50 changes', async () => {
  for (const { proxy } of proxies) assert.match(proxy.stderr(), /config pushes: mTLS/);
  await kube.apply(appPolicy('analytics', 'metabase', 'metabase.example.com'));
  await waitFor(() => allEnforce('metabase.example.com'), { timeoutMs: 20000 });
  const s = await waitFor(async () => { const st = await status('analytics', 'metabase'); return condition(st, 'Ready')?.status === 'True' && st; });
  assert.equal(condition(s, 'Accepted').reason, 'Valid');
  assert.deepEqual(s.proxies, { inSync: 3, total: 3 });
  const times = [];
  for (let i = 0; i < 50; i++) {
    const host = `m${i}.example.com`;
    const start = performance.now();
    await updateSpec('analytics', 'metabase', appPolicy('', '', host).spec);
    // Enforcing = a member gets through on every proxy.
    await waitFor(async () => {
      for (const { proxy } of proxies) if ((await call(proxy, host, reader)).status !== 200) return false;
      return true;
    });
    times.push(performance.now() - start);
  }
  const p50 = percentile(times, 50); const p99 = percentile(times, 99);
  const pushes = await operatorMetric('gatehouse_operator_push_duration_seconds_count');
  const pushSeconds = await operatorMetric('gatehouse_operator_push_duration_seconds_sum');
  console.log(`apply -> all 3 real proxies enforcing (mTLS push): p50 ${p50.toFixed(1)} ms, p99 ${p99.toFixed(1)} ms over 50 changes`
    + ` (mean push ${((1000 * pushSeconds) / pushes).toFixed(1)} ms over ${pushes} pushes)`);
  assert.ok(await allEnforce('m49.example.com'));
  assert.ok(await allUnrouted('m48.example.com'), 'the previous host is gone');
  assert.ok(p99 < 250, `p99 ${p99} ms`);
});

test('edit -> the new rule is enforced', async () => {
  await updateSpec('analytics', 'metabase', appPolicy('', '', 'm49.example.com', ['writers']).spec);
  await waitFor(() => allEnforce('m49.example.com', writer, reader));
});

test('invalid policy: Accepted=False with the field path, the others keep working', async () => {
  await kube.apply(appPolicy('team', 'api', 'api.example.com'));
  await waitFor(() => allEnforce('api.example.com'));
  const bad = appPolicy('team', 'api', 'api.example.com', ['writers']);
  // Valid for the CRD schema, refused by the policy core: the Secret does not exist.
  bad.spec.metabase = { sharedSecretRef: { name: 'nope', key: 'k' } };
  await kube.apply(bad);
  const s = await waitFor(async () => { const st = await status('team', 'api'); return condition(st, 'Accepted')?.status === 'False' && st; });
  assert.equal(condition(s, 'Accepted').reason, 'Invalid');
  assert.match(condition(s, 'Accepted').message, /^spec\.metabase\.sharedSecretRef: Secret team\/nope/);
  // The last accepted generation stays in force (readers, not writers); the other policy is untouched.
  assert.ok(await allEnforce('api.example.com', reader, writer));
  assert.ok(await allEnforce('m49.example.com', writer, reader));
});

test('delete -> 404 no_route on every proxy', async () => {
  await kube.kubectl('delete', 'accesspolicy', '-n', 'team', 'api');
  await waitFor(() => allUnrouted('api.example.com'));
  for (const { proxy } of proxies) {
    await waitFor(() => proxy.audit().some((l) => l.host === 'api.example.com' && l.reason === 'no_route' && l.status === 404));
  }
});

test('kill one proxy, start a new one: it gets the current config without a policy change', async () => {
  const victim = proxies.pop();
  await victim.proxy.stop('SIGKILL');
  retired.push(victim.proxy);
  await kube.request('DELETE', `/apis/discovery.k8s.io/v1/namespaces/gatehouse/endpointslices/${victim.slice}`);
  const fresh = await addProxy('proxy-new');
  await waitFor(() => enforces(fresh, 'm49.example.com', writer, reader), { timeoutMs: 15000 });
  assert.deepEqual(await configOf(fresh), await configOf(proxies[0].proxy));
});

test('operator stopped: proxies keep serving; restarted: nothing re-pushed', async () => {
  await operator.stop();
  assert.ok(await allEnforce('m49.example.com', writer, reader));
  const before = await Promise.all(proxies.map(({ proxy }) => applies(proxy)));
  const configs = await Promise.all(proxies.map(({ proxy }) => configOf(proxy)));
  await launchOperator('op-a2');
  // The new leader has checked every proxy once it reports them all in sync.
  await waitFor(async () => (await operatorMetric('gatehouse_operator_proxies{state="in_sync"}')) === 3, { timeoutMs: 25000 });
  assert.equal(await operatorMetric('gatehouse_operator_push_duration_seconds_count'), 0, 'no push needed');
  assert.deepEqual(await Promise.all(proxies.map(({ proxy }) => applies(proxy))), before);
  assert.deepEqual(await Promise.all(proxies.map(({ proxy }) => configOf(proxy))), configs);
});

test('forced 410 Gone: the operator relists and converges', async () => {
  await kube.request('POST', '/_test/compact');
  await kube.request('POST', '/_test/drop-watches');
  await kube.apply(appPolicy('analytics', 'after-410', 'after410.example.com'));
  await waitFor(() => allEnforce('after410.example.com'), { timeoutMs: 15000 });
});
