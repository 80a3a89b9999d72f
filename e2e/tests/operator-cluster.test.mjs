// gatehouse-operator against the Kubernetes API test server and three proxy
// admin stand-ins (lib/operator-harness.mjs explains why stand-ins).
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import {
  crdFile, endpointSlice, percentile, policy, startAdminStandIn, startKube, startOperator, waitFor,
} from '../lib/operator-harness.mjs';

let kube;
let proxies = [];
let operator;
const hostsOf = (p) => p.policies().flatMap((x) => x.spec.hosts);
const allHave = (host) => proxies.every((p) => hostsOf(p).includes(host));
const noneHave = (host) => proxies.every((p) => !hostsOf(p).includes(host));

before(async () => {
  kube = await startKube();
  await kube.kubectl('apply', '-f', crdFile);
  for (const ns of ['gatehouse', 'analytics', 'team']) await kube.request('POST', '/api/v1/namespaces', { apiVersion: 'v1', kind: 'Namespace', metadata: { name: ns } });
  for (let i = 0; i < 3; i++) {
    const p = await startAdminStandIn();
    proxies.push(p);
    const r = await kube.request('POST', '/apis/discovery.k8s.io/v1/namespaces/gatehouse/endpointslices', endpointSlice(`proxy-${i}`, p.port));
    assert.equal(r.status, 201, JSON.stringify(r.body));
  }
  operator = startOperator(['--kubeconfig', kube.kubeconfig, '--proxy-namespace', 'gatehouse', '--admin', '127.0.0.1:0', '--identity', 'op-a']);
});

after(async () => {
  await operator?.stop();
  for (const p of proxies) await p.close();
  await kube?.server.close();
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

test('kubectl apply -> every proxy enforces; p50/p99 over 50 changes', async () => {
  await kube.apply(policy('analytics', 'metabase', 'metabase.example.com'));
  await waitFor(() => allHave('metabase.example.com'), { timeoutMs: 15000 });
  const s = await waitFor(async () => { const st = await status('analytics', 'metabase'); return condition(st, 'Ready')?.status === 'True' && st; });
  assert.equal(condition(s, 'Accepted').reason, 'Valid');
  assert.deepEqual(s.proxies, { inSync: 3, total: 3 });
  const times = [];
  for (let i = 0; i < 50; i++) {
    const host = `m${i}.example.com`;
    const start = performance.now();
    await updateSpec('analytics', 'metabase', policy('', '', host).spec);
    await waitFor(() => allHave(host));
    times.push(performance.now() - start);
  }
  console.log(`apply -> all 3 proxies enforcing: p50 ${percentile(times, 50).toFixed(1)} ms, p99 ${percentile(times, 99).toFixed(1)} ms`);
  assert.ok(percentile(times, 99) < 250, `p99 ${percentile(times, 99)} ms`);
});

test('invalid policy: Accepted=False with the field path, others keep working', async () => {
  await kube.apply(policy('team', 'api', 'api.example.com'));
  await waitFor(() => allHave('api.example.com'));
  const bad = policy('team', 'api', 'api.example.com');
  // Valid for the CRD schema, refused by the policy core: the Secret does not exist.
  bad.spec.metabase = { sharedSecretRef: { name: 'nope', key: 'k' } };
  await kube.apply(bad);
  const s = await waitFor(async () => { const st = await status('team', 'api'); return condition(st, 'Accepted')?.status === 'False' && st; });
  assert.equal(condition(s, 'Accepted').reason, 'Invalid');
  assert.match(condition(s, 'Accepted').message, /^spec\.metabase\.sharedSecretRef: Secret team\/nope/);
  // The last accepted generation stays in force; the other policy is untouched.
  assert.ok(allHave('api.example.com'));
  assert.ok(proxies.every((p) => p.policies().some((x) => x.metadata.name === 'metabase')));
});

test('delete -> host no longer routed', async () => {
  await kube.kubectl('delete', 'accesspolicy', '-n', 'team', 'api');
  await waitFor(() => noneHave('api.example.com'));
});

test('a new proxy gets the current config without a policy change', async () => {
  const fresh = await startAdminStandIn();
  proxies.push(fresh);
  await kube.request('POST', '/apis/discovery.k8s.io/v1/namespaces/gatehouse/endpointslices', endpointSlice('proxy-new', fresh.port));
  await waitFor(() => fresh.state.version > 0 && fresh.state.sha256 === proxies[0].state.sha256);
});

test('restart: proxies keep serving, nothing re-pushed needlessly', async () => {
  await operator.stop();
  const before = proxies.map((p) => ({ version: p.state.version, puts: p.state.puts }));
  operator = startOperator(['--kubeconfig', kube.kubeconfig, '--proxy-namespace', 'gatehouse', '--admin', '127.0.0.1:0', '--identity', 'op-a2']);
  await waitFor(() => proxies.every((p, i) => p.state.gets > 0 && p.state.version === before[i].version), { timeoutMs: 25000 });
  await new Promise((r) => setTimeout(r, 1000));
  assert.deepEqual(proxies.map((p) => ({ version: p.state.version, puts: p.state.puts })), before);
});

test('forced 410: the operator relists and converges', async () => {
  await kube.request('POST', '/_test/compact');
  await kube.request('POST', '/_test/drop-watches');
  await kube.apply(policy('analytics', 'after-410', 'after410.example.com'));
  await waitFor(() => allHave('after410.example.com'), { timeoutMs: 15000 });
});
