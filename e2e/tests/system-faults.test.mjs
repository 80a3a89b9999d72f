// Faults in the whole system (lib/system-harness.mjs: the chart applied with
// kubectl to the Kubernetes API test server, two operators with leader
// election and three proxies run from the Deployments, the real IdPs, the
// Metabase and internal API stand-ins). Every wait is bounded; nothing hangs.
//   - an upstream hangs: 504 after the policy's timeout; an upstream dies: 502 at once;
//   - the operators stop: the proxies keep serving; a policy change lands when they return;
//   - the API server drops every watch and forgets its history (410 Gone):
//     the operator relists and converges on the next change;
//   - a proxy restarts while the operators are down: it serves the current
//     config from the bootstrap Secret (and the sessions, with the keys Secret);
//   - the IdPs stop: sessions and cached keys keep working, a new sign-in
//     fails cleanly with a 5xx page, never a hang;
//   - no process is left behind.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import YAML from 'yaml';
import { beginLogin } from '../lib/login-idp.mjs';
import { eventually, rawRequest } from '../lib/proxy-harness.mjs';
import {
  startSystem, signIn, waitPoliciesReady, kApiHost, kMetabaseHost, kWriterClient, kStrangerClient,
  kApiTimeoutSeconds,
} from '../lib/system-harness.mjs';

let sys; let annSession; let writer; let stranger;
const kAll = [['analytics', 'metabase'], ['platform', 'orders-api']];

before(async () => {
  sys = await startSystem();
  await waitPoliciesReady(sys, kAll);
  annSession = await signIn(sys, 'ann', { proxy: 0 });
  writer = await sys.sa.token(kWriterClient);
  stranger = await sys.sa.token(kStrangerClient);
});

after(async () => {
  await sys?.stop();
});

// One request through proxy i -> {status, ms, body}.
async function timed(i, { host, path: target, headers = [] }) {
  const { port } = sys.proxies[i];
  const start = performance.now();
  const r = await rawRequest(port, { host: `${host}:${port}`, path: target, headers });
  return { ...r, ms: performance.now() - start };
}
const asAnn = (i, target) => timed(i, { host: kMetabaseHost, path: target, headers: [['Cookie', `gatehouse_session=${annSession}`]] });
const asClient = (i, token, target = '/v1/orders/1') => timed(i, { host: kApiHost, path: target,
  headers: [['Authorization', `Bearer ${token}`]] });

// Every proxy serves both policies as configured; `strangerStatus`: what the
// client with no rule of its own gets on the internal API.
async function everyProxyServes(strangerStatus = 403) {
  for (let i = 0; i < sys.proxies.length; i++) {
    assert.equal((await asAnn(i, '/dashboard/1')).status, 200, `proxy ${i}: ann`);
    assert.equal((await asAnn(i, '/admin/settings')).status, 403, `proxy ${i}: ann off her paths`);
    assert.equal((await asClient(i, writer)).status, 200, `proxy ${i}: writer`);
    assert.equal((await asClient(i, stranger)).status, strangerStatus, `proxy ${i}: stranger`);
  }
}

// The internal API policy with `subjects` as its order writers, applied with kubectl.
async function applyWriters(subjects) {
  const policy = JSON.parse(await sys.kubectl(['get', 'accesspolicy', '-n', 'platform', 'orders-api', '-o', 'json']));
  policy.spec.rules.find((r) => r.name === 'order-writers').from.subjects = subjects;
  delete policy.status;
  for (const k of ['managedFields', 'resourceVersion', 'uid', 'generation', 'creationTimestamp']) delete policy.metadata[k];
  await sys.kubectl(['apply', '-f', '-'], YAML.stringify(policy));
}

const stopOperators = () => Promise.all(sys.operators.map((o) => o.stop()));
const startOperators = async () => { for (const o of sys.operators) await o.start(); };

test('a hung upstream answers 504 after the policy timeout; a dead one 502 at once; never a hang', async () => {
  const hung = await asClient(0, writer, '/v1/orders/hang');
  assert.equal(hung.status, 504, hung.body);
  assert.ok(hung.ms >= kApiTimeoutSeconds * 1000 - 200 && hung.ms < kApiTimeoutSeconds * 1000 + 3000,
    `504 after ${hung.ms.toFixed(0)} ms (timeoutSeconds ${kApiTimeoutSeconds})`);
  const released = performance.now();
  await eventually(async () => assert.deepEqual(await sys.api.json('/_test/hung'), { open: 0, closed: 1 },
    'the proxy let go of the hung upstream request'), { timeout: 5000, interval: 50 });
  const releaseMs = performance.now() - released;

  await sys.api.stop('SIGKILL');
  const dead = await asClient(0, writer);
  assert.equal(dead.status, 502, dead.body);
  assert.ok(dead.ms < 2000, `502 after ${dead.ms.toFixed(0)} ms`);
  assert.equal((await asAnn(0, '/dashboard/1')).status, 200, 'the other upstream is unaffected');
  const restarted = performance.now();
  await sys.api.restart();
  await eventually(async () => assert.equal((await asClient(0, writer)).status, 200));
  console.log(`# upstream back: served again ${(performance.now() - restarted).toFixed(0)} ms after its restart began`);
  console.log(`# hung upstream: 504 after ${hung.ms.toFixed(0)} ms, upstream request closed ${releaseMs.toFixed(0)} ms later; ` +
    `dead upstream: 502 after ${dead.ms.toFixed(0)} ms`);
});

test('the operators stop: every proxy keeps serving; a policy change lands once they are back', async () => {
  await stopOperators();
  await everyProxyServes();
  await applyWriters([kWriterClient, kStrangerClient]);
  await new Promise((r) => setTimeout(r, 1500));  // nobody renders it: nothing may change
  await everyProxyServes(403);
  await startOperators();
  await eventually(() => everyProxyServes(200), { timeout: 30000, interval: 250 });
  await waitPoliciesReady(sys, kAll);
});

test('the API server drops every watch and forgets its history: the operator converges on the next change', async () => {
  await applyWriters([kWriterClient, kStrangerClient]);
  await eventually(() => everyProxyServes(200), { timeout: 30000, interval: 250 });
  const compact = await sys.kube.request('POST', '/_test/compact');
  assert.equal(compact.status, 200);
  const dropped = await sys.kube.request('POST', '/_test/drop-watches');
  assert.ok(dropped.body.dropped >= 1, `dropped ${JSON.stringify(dropped.body)}`);
  await applyWriters([kWriterClient]);
  await eventually(() => everyProxyServes(403), { timeout: 30000, interval: 250 });
  await waitPoliciesReady(sys, kAll);
  const state = await sys.kube.request('GET', '/_test/state');
  assert.ok(state.body.watches >= 1, 'the operator watches again');
});

test('a proxy restarts while the operators are down: current config from the bootstrap Secret, sessions intact', async () => {
  await waitPoliciesReady(sys, kAll);
  const current = await sys.proxies[0].config();
  await stopOperators();
  const victim = sys.proxies[2];
  const oldPid = victim.pid;
  await victim.restart('SIGKILL');
  assert.notEqual(victim.pid, oldPid);
  await victim.waitReady();
  assert.deepEqual(await victim.config(), current, 'the restarted proxy runs the current config');
  await everyProxyServes(403);
  // With the operators back, the fleet is in sync and nothing is lost.
  await startOperators();
  await waitPoliciesReady(sys, kAll);
  assert.deepEqual(await victim.config(), current);
});

test('the IdPs stop: sessions and cached keys keep working; a new sign-in fails cleanly, never hangs', async () => {
  // A sign-in half done: the IdP issued a code, the browser has not brought it back yet.
  await everyProxyServes(403);  // every proxy holds both issuers' keys now
  const { port } = sys.proxies[1];
  const begin = await beginLogin(port, kMetabaseHost, '/dashboard/2');
  const callbackUrl = await sys.idp.signIn(begin.authorize.href, 'cy');
  await sys.idp.close();
  await sys.sa.close();

  await everyProxyServes(403);
  const late = await timed(1, {
    host: kMetabaseHost,
    path: `${new URL(callbackUrl).pathname}${new URL(callbackUrl).search}`,
    headers: [['Cookie', `gatehouse_login=${begin.loginCookie}`], ['Accept', 'text/html']],
  });
  assert.ok(late.status >= 500 && late.status <= 504, `callback with the IdP down: ${late.status} ${late.body.slice(0, 200)}`);
  assert.match(late.headers['content-type']?.[0] ?? '', /text\/html/);
  assert.ok(late.ms < 15000, `answered in ${late.ms.toFixed(0)} ms`);
  assert.equal(late.headers['set-cookie']?.some((c) => /^gatehouse_session=[^;]+/.test(c) && !/Max-Age=0/i.test(c)) ?? false, false,
    'no session from a failed sign-in');

  // A fresh visitor: sent to the (down) IdP from cached discovery, or a 5xx page.
  const fresh = await timed(2, { host: kMetabaseHost, path: '/', headers: [['Accept', 'text/html']] });
  assert.ok(fresh.status === 302 || (fresh.status >= 500 && fresh.status <= 504), `${fresh.status}`);
  assert.ok(fresh.ms < 15000);
  if (fresh.status === 302) assert.equal(new URL(fresh.headers.location[0]).origin, new URL(sys.idp.issuer).origin);
  console.log(`# IdP down: callback -> ${late.status} in ${late.ms.toFixed(0)} ms; ` +
    `new visitor -> ${fresh.status} in ${fresh.ms.toFixed(0)} ms`);
});

test('no process left behind: everything this suite started is gone after stop', async () => {
  assert.ok(sys.seenPids() >= 3 + 2 + 2, `tracked ${sys.seenPids()}`);
  await sys.stop();
  await eventually(() => assert.deepEqual(sys.leftovers(), []), { timeout: 10000 });
});
