// Two gatehouse-operator replicas (different --identity, one Lease) against
// the Kubernetes API test server and two real proxies: exactly one leads and
// pushes, the other never pushes; when the leader dies (SIGKILL, no release)
// the standby takes over within the lease duration and pushes.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import {
  crdFile, endpointSlice, httpGet, makePushPki, metricValue, operatorPushArgs,
  proxyPushArgs, startKube, startOperatorWithAdmin, waitFor,
} from '../lib/operator-harness.mjs';
import { rawRequest, startEcho, startProxy } from '../lib/proxy-harness.mjs';

const kLeaseSeconds = 15;  // LeaseOptions::lease_duration
const kRetrySeconds = 2;   // LeaseOptions::retry_period
const kPushes = 'gatehouse_operator_push_duration_seconds_count';

let kube; let echo; let pki; let pkiDir;
const proxies = [];
const operators = {};  // identity -> {child, admin}

const publicPolicy = (host) => ({
  apiVersion: 'gatehouse.dev/v1alpha1', kind: 'AccessPolicy', metadata: { name: 'app', namespace: 'team' },
  spec: { hosts: [host], upstream: { url: echo.url }, rules: [{ name: 'public', action: 'Allow', from: { public: true } }] },
});
const routedEverywhere = async (host) => {
  for (const p of proxies) if ((await rawRequest(p.port, { host, path: '/' })).status !== 200) return false;
  return true;
};
const pushesOf = async (identity) => {
  try { return metricValue((await httpGet(operators[identity].admin, '/metrics')).body, kPushes); } catch { return undefined; }
};
const leases = async () => (await kube.request('GET', '/apis/coordination.k8s.io/v1/namespaces/gatehouse/leases/gatehouse-operator')).body;

async function launch(identity) {
  const child = await startOperatorWithAdmin(['--kubeconfig', kube.kubeconfig, '--proxy-namespace', 'gatehouse',
    '--identity', identity, ...operatorPushArgs(pki)]);
  operators[identity] = { child, admin: child.admin };
}

before(async () => {
  pkiDir = mkdtempSync(path.join(tmpdir(), 'gh-leader-'));
  pki = makePushPki(pkiDir);
  [kube, echo] = await Promise.all([startKube(), startEcho()]);
  await kube.kubectl('apply', '-f', crdFile);
  for (const ns of ['gatehouse', 'team']) await kube.request('POST', '/api/v1/namespaces', { apiVersion: 'v1', kind: 'Namespace', metadata: { name: ns } });
  for (let i = 0; i < 2; i++) {
    const p = await startProxy({ bootstrap: path.join(pkiDir, 'missing.json'), args: proxyPushArgs(pki) });
    proxies.push(p);
    await kube.request('POST', '/apis/discovery.k8s.io/v1/namespaces/gatehouse/endpointslices', endpointSlice(`proxy-${i}`, p.admin));
  }
  await kube.apply(publicPolicy('v0.example.com'));
  // Both replicas start together and race for the Lease.
  await Promise.all([launch('op-a'), launch('op-b')]);
});

after(async () => {
  await Promise.all(Object.values(operators).map((o) => o.child.stop('SIGKILL')));
  await Promise.all(proxies.map((p) => p.stop('SIGKILL')));
  await kube?.server.close();
  await echo?.close();
  if (pkiDir) rmSync(pkiDir, { recursive: true, force: true });
});

let leader; let standby;

test('two replicas: exactly one leads and pushes, the other never pushes', async () => {
  await waitFor(() => routedEverywhere('v0.example.com'), { timeoutMs: 20000 });
  const holder = (await leases()).spec.holderIdentity;
  assert.ok(['op-a', 'op-b'].includes(holder), holder);
  leader = holder;
  standby = holder === 'op-a' ? 'op-b' : 'op-a';
  for (let i = 1; i <= 5; i++) {
    await kube.apply(publicPolicy(`v${i}.example.com`));
    await waitFor(() => routedEverywhere(`v${i}.example.com`));
  }
  // Both metrics endpoints answer (the standby is alive and synced), only one pushed.
  await waitFor(async () => (await pushesOf(standby)) !== undefined && (await pushesOf(leader)) !== undefined);
  assert.ok(await pushesOf(leader) >= 12, `leader pushed ${await pushesOf(leader)} times (6 configs x 2 proxies)`);
  assert.equal(await pushesOf(standby), 0, 'the standby never pushes');
  assert.match(operators[leader].child.output, /became leader/);
  assert.doesNotMatch(operators[standby].child.output, /became leader/);
  assert.equal((await leases()).spec.holderIdentity, leader);
});

test('the leader dies: the standby takes over within the lease duration and pushes', async () => {
  const killedAt = performance.now();
  await operators[leader].child.stop('SIGKILL');
  await waitFor(() => /became leader/.test(operators[standby].child.output), { timeoutMs: 30000, intervalMs: 50 });
  const takeover = (performance.now() - killedAt) / 1000;
  console.log(`standby took over ${takeover.toFixed(1)} s after the leader was killed (lease ${kLeaseSeconds} s, retry ${kRetrySeconds} s)`);
  // The standby times the lease from when it saw the last renewal (its own
  // clock, at most one retry period late) and notices expiry at its next
  // round (at most one more): client-go's bound, lease + 2 x retry. Plus 5 s
  // for a loaded 2-core CI machine (21.4 s was seen under a load average of 6).
  assert.ok(takeover <= kLeaseSeconds + 2 * kRetrySeconds + 5, `${takeover} s`);
  assert.equal((await leases()).spec.holderIdentity, standby);
  await kube.apply(publicPolicy('after-failover.example.com'));
  await waitFor(() => routedEverywhere('after-failover.example.com'), { timeoutMs: 10000 });
  assert.ok(await pushesOf(standby) >= 2, 'the new leader pushed');
});
