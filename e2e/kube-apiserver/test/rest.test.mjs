// REST semantics over raw HTTP: authentication, Status bodies, optimistic
// concurrency, the /status subresource, generation, selectors, finalizers,
// pagination, Table output and the /_test/ controls.

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import YAML from 'yaml';
import { configMap, kFixtures, startServer } from './helpers.mjs';

const apRoot = '/apis/gatehouse.dev/v1alpha1/namespaces/default/accesspolicies';
const cmPath = '/api/v1/namespaces/default/configmaps';
const policy = (name) => ({
  apiVersion: 'gatehouse.dev/v1alpha1',
  kind: 'AccessPolicy',
  metadata: { name },
  spec: { hosts: [`${name}.example.com`], upstream: { url: 'http://127.0.0.1:1' }, rules: [{ name: 'r', action: 'Allow' }] },
});

describe('REST semantics', () => {
  let srv;
  before(async () => {
    srv = await startServer();
    const crd = YAML.parse(readFileSync(join(kFixtures, 'accesspolicy-crd.yaml'), 'utf8'));
    const res = await srv.request('POST', '/apis/apiextensions.k8s.io/v1/customresourcedefinitions', { body: crd });
    assert.equal(res.status, 201, JSON.stringify(res.body));
  });
  after(async () => srv?.close());

  it('answers 401 with a Status body without the right bearer token', async () => {
    for (const token of [null, 'wrong', 'test-token-7f3a-extra']) {
      for (const path of ['/api/v1/namespaces', '/version', '/_test/requests']) {
        const res = await srv.request('GET', path, { token });
        assert.equal(res.status, 401, `${path} with ${token}`);
        assert.deepEqual(res.body, { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message: 'Unauthorized', reason: 'Unauthorized', code: 401 });
      }
    }
  });

  it('returns NotFound and AlreadyExists as metav1.Status', async () => {
    const missing = await srv.request('GET', `${apRoot}/nope`);
    assert.equal(missing.status, 404);
    assert.deepEqual(missing.body, {
      kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure',
      message: 'accesspolicies.gatehouse.dev "nope" not found', reason: 'NotFound',
      details: { name: 'nope', group: 'gatehouse.dev', kind: 'accesspolicies' }, code: 404,
    });
    assert.equal((await srv.request('POST', apRoot, { body: policy('dup') })).status, 201);
    const again = await srv.request('POST', apRoot, { body: policy('dup') });
    assert.equal(again.status, 409);
    assert.equal(again.body.reason, 'AlreadyExists');
    assert.equal(again.body.message, 'accesspolicies.gatehouse.dev "dup" already exists');
    const noNs = await srv.request('POST', '/api/v1/namespaces/ghost/configmaps', { body: configMap('x', {}, {}, 'ghost') });
    assert.equal(noNs.status, 404);
    assert.equal(noNs.body.message, 'namespaces "ghost" not found');
  });

  it('prunes unknown fields with a Warning unless fieldValidation=Strict', async () => {
    const body = policy('warn');
    body.spec.bogus = true;
    const warned = await srv.request('POST', `${apRoot}?fieldValidation=Warn`, { body });
    assert.equal(warned.status, 201);
    assert.equal(warned.headers.warning, '299 - "unknown field \\"spec.bogus\\""');
    assert.equal(warned.body.spec.bogus, undefined);
    const strict = await srv.request('POST', `${apRoot}?fieldValidation=Strict`, { body: { ...body, metadata: { name: 'strict' } } });
    assert.equal(strict.status, 400);
    assert.equal(strict.body.message, 'AccessPolicy in version "v1alpha1" cannot be handled as a AccessPolicy: strict decoding error: unknown field "spec.bogus"');
  });

  it('sets uid, creationTimestamp, generation and a global resourceVersion', async () => {
    const a = (await srv.request('POST', apRoot, { body: policy('meta-a') })).body;
    const b = (await srv.request('POST', cmPath, { body: configMap('meta-b') })).body;
    assert.match(a.metadata.uid, /^[0-9a-f-]{36}$/);
    assert.match(a.metadata.creationTimestamp, /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$/);
    assert.equal(a.metadata.generation, 1);
    assert.equal(b.metadata.generation, undefined, 'ConfigMaps have no generation');
    assert.equal(Number(b.metadata.resourceVersion), Number(a.metadata.resourceVersion) + 1);
    const list = (await srv.request('GET', '/apis/gatehouse.dev/v1alpha1/accesspolicies')).body;
    assert.equal(list.kind, 'AccessPolicyList');
    assert.equal(list.metadata.resourceVersion, b.metadata.resourceVersion);
    assert.equal(list.items[0].kind, 'AccessPolicy');
  });

  it('rejects a stale update with 409 Conflict and a missing resourceVersion with 422', async () => {
    const created = (await srv.request('POST', apRoot, { body: policy('cas') })).body;
    const first = await srv.request('PUT', `${apRoot}/cas`, { body: { ...created, spec: { ...created.spec, mode: 'Audit' } } });
    assert.equal(first.status, 200);
    assert.equal(first.body.metadata.generation, 2);
    const stale = await srv.request('PUT', `${apRoot}/cas`, { body: { ...created, spec: { ...created.spec, mode: 'Enforce' } } });
    assert.equal(stale.status, 409);
    assert.equal(stale.body.reason, 'Conflict');
    assert.equal(stale.body.message, 'Operation cannot be fulfilled on accesspolicies.gatehouse.dev "cas": the object has been modified; please apply your changes to the latest version and try again');
    const { resourceVersion, ...noRv } = first.body.metadata;
    const unconditional = await srv.request('PUT', `${apRoot}/cas`, { body: { ...first.body, metadata: noRv } });
    assert.equal(unconditional.status, 422);
    assert.match(unconditional.body.message, /metadata.resourceVersion: Invalid value: "0x0": must be specified for an update/);
    const stalePatch = await srv.request('PATCH', `${apRoot}/cas`, {
      body: { metadata: { resourceVersion: created.metadata.resourceVersion }, spec: { mode: 'Enforce' } },
      headers: { 'Content-Type': 'application/merge-patch+json' },
    });
    assert.equal(stalePatch.status, 409);
  });

  it('keeps status and spec apart with the /status subresource', async () => {
    const created = (await srv.request('POST', apRoot, { body: { ...policy('st'), status: { configVersion: 9 } } })).body;
    assert.equal(created.status, undefined, 'status is dropped on create');
    const status = { observedGeneration: 1, configVersion: 42, conditions: [{ type: 'Ready', status: 'True', reason: 'Enforced' }] };
    const put = await srv.request('PUT', `${apRoot}/st/status`, {
      body: { ...created, spec: { ...created.spec, mode: 'Audit' }, metadata: { ...created.metadata, labels: { x: 'y' } }, status },
    });
    assert.equal(put.status, 200, JSON.stringify(put.body));
    assert.deepEqual(put.body.status, status);
    assert.equal(put.body.spec.mode, 'Enforce', 'a status write ignores spec');
    assert.equal(put.body.metadata.labels, undefined, 'a status write ignores metadata');
    assert.equal(put.body.metadata.generation, 1, 'a status write does not bump generation');

    const main = await srv.request('PUT', `${apRoot}/st`, { body: { ...put.body, status: { configVersion: 1 } } });
    assert.equal(main.status, 200);
    assert.equal(main.body.status.configVersion, 42, 'the main resource ignores status');
    assert.equal(main.body.metadata.resourceVersion, put.body.metadata.resourceVersion, 'nothing changed: no write');

    const badStatus = await srv.request('PATCH', `${apRoot}/st/status`, {
      body: { status: { conditions: [{ type: 'Ready', status: 'Maybe' }] } },
      headers: { 'Content-Type': 'application/merge-patch+json' },
    });
    assert.equal(badStatus.status, 422);
    assert.match(badStatus.body.message, /status.conditions\[0\].status: Unsupported value: "Maybe"/);

    const table = await srv.request('GET', `${apRoot}/st`, { headers: { Accept: 'application/json;as=Table;v=v1;g=meta.k8s.io' } });
    assert.equal(table.body.kind, 'Table');
    const names = table.body.columnDefinitions.map((c) => c.name);
    assert.deepEqual(names, ['Name', 'Hosts', 'Accepted', 'Ready', 'Version', 'Age']);
    const cells = table.body.rows[0].cells;
    assert.deepEqual(cells.slice(0, 5), ['st', '["st.example.com"]', null, 'True', 42]);
    assert.equal(table.body.rows[0].object.kind, 'PartialObjectMetadata');
  });

  const selectorCases = [
    { name: 'equality', selector: 'app=web', want: ['sel-1', 'sel-2'] },
    { name: 'double equals', selector: 'app==web,tier=front', want: ['sel-1'] },
    { name: 'inequality includes unlabeled', selector: 'app!=web', want: ['sel-3', 'sel-4'] },
    { name: 'in', selector: 'tier in (back, db)', want: ['sel-2', 'sel-3'] },
    { name: 'notin includes unlabeled', selector: 'tier notin (front)', want: ['sel-2', 'sel-3', 'sel-4'] },
    { name: 'exists', selector: 'tier', want: ['sel-1', 'sel-2', 'sel-3'] },
    { name: 'not exists', selector: '!tier', want: ['sel-4'] },
    { name: 'combined', selector: 'app=web,!legacy,tier in (front,back)', want: ['sel-1', 'sel-2'] },
  ];

  describe('label selectors', () => {
    before(async () => {
      const objs = [
        configMap('sel-1', { app: 'web', tier: 'front' }),
        configMap('sel-2', { app: 'web', tier: 'back' }),
        configMap('sel-3', { app: 'db', tier: 'db' }),
        configMap('sel-4', {}),
      ];
      for (const o of objs) assert.equal((await srv.request('POST', cmPath, { body: o })).status, 201);
    });
    const check = async ({ selector, want }) => {
      const res = await srv.request('GET', `${cmPath}?labelSelector=${encodeURIComponent(selector)}`);
      assert.equal(res.status, 200, JSON.stringify(res.body));
      assert.deepEqual(res.body.items.map((i) => i.metadata.name).filter((n) => n.startsWith('sel-')), want);
    };
    for (const c of selectorCases) it(c.name, () => check(c));
    it('rejects a malformed selector with 400', async () => {
      const res = await srv.request('GET', `${cmPath}?labelSelector=${encodeURIComponent('app in (web')}`);
      assert.equal(res.status, 400);
      assert.equal(res.body.reason, 'BadRequest');
    });
    it('supports metadata.name field selectors and rejects unknown fields', async () => {
      const res = await srv.request('GET', `${cmPath}?fieldSelector=metadata.name%3Dsel-3`);
      assert.deepEqual(res.body.items.map((i) => i.metadata.name), ['sel-3']);
      const bad = await srv.request('GET', `${apRoot}?fieldSelector=spec.mode%3DAudit`);
      assert.equal(bad.status, 400);
      assert.match(bad.body.message, /field label not supported: spec.mode/);
    });
    it('pages with limit and continue', async () => {
      const first = await srv.request('GET', `${cmPath}?labelSelector=app&limit=2`);
      assert.equal(first.body.items.length, 2);
      assert.ok(first.body.metadata.continue);
      const second = await srv.request('GET', `${cmPath}?labelSelector=app&limit=2&continue=${first.body.metadata.continue}`);
      assert.deepEqual(second.body.items.map((i) => i.metadata.name), ['sel-3']);
      assert.equal(second.body.metadata.continue, undefined);
    });
  });

  it('holds deletion until the last finalizer is removed', async () => {
    const body = policy('fin');
    body.metadata.finalizers = ['gatehouse.dev/cleanup'];
    assert.equal((await srv.request('POST', apRoot, { body })).status, 201);
    const del = await srv.request('DELETE', `${apRoot}/fin`);
    assert.equal(del.status, 200);
    assert.ok(del.body.metadata.deletionTimestamp);
    const add = await srv.request('PATCH', `${apRoot}/fin`, { body: { metadata: { finalizers: ['gatehouse.dev/cleanup', 'x.io/new'] } }, headers: { 'Content-Type': 'application/merge-patch+json' } });
    assert.equal(add.status, 422, 'no new finalizers while deleting');
    const done = await srv.request('PATCH', `${apRoot}/fin`, { body: [{ op: 'remove', path: '/metadata/finalizers' }], headers: { 'Content-Type': 'application/json-patch+json' } });
    assert.equal(done.status, 200);
    assert.equal((await srv.request('GET', `${apRoot}/fin`)).status, 404);
  });

  it('counts requests per path and injects faults', async () => {
    await srv.request('DELETE', '/_test/requests');
    await srv.request('GET', `${apRoot}/dup`);
    await srv.request('GET', `${apRoot}/dup`);
    const counts = (await srv.request('GET', '/_test/requests')).body.counts;
    assert.deepEqual(counts, { [`GET ${apRoot}/dup`]: 2 });
    const fault = await srv.request('POST', '/_test/faults', { body: { method: 'GET', pathPrefix: apRoot, status: 503, times: 1 } });
    assert.equal(fault.status, 201);
    const failed = await srv.request('GET', `${apRoot}/dup`);
    assert.equal(failed.status, 503);
    assert.equal(failed.headers['retry-after'], '1');
    assert.equal((await srv.request('GET', `${apRoot}/dup`)).status, 200, 'the fault fired once');
  });

  it('records the commit time of every write, in order, from a resourceVersion on', async () => {
    const since = (await srv.request('GET', '/_test/state')).body.resourceVersion;
    const before = performance.timeOrigin + performance.now();
    const created = await srv.request('POST', apRoot, { body: policy('timed') });
    assert.equal(created.status, 201);
    const afterCreate = performance.timeOrigin + performance.now();
    const status = await srv.request('PUT', `${apRoot}/timed/status`, { body: { ...created.body, status: { observedGeneration: 1 } } });
    assert.equal(status.status, 200, JSON.stringify(status.body));
    assert.equal((await srv.request('GET', `${apRoot}/timed`)).status, 200);  // reads commit nothing
    const { commits } = (await srv.request('GET', `/_test/commits?since=${since}`)).body;
    assert.deepEqual(commits.map((c) => [c.type, c.resource, c.namespace, c.name, c.generation]), [
      ['ADDED', 'gatehouse.dev/accesspolicies', 'default', 'timed', 1],
      ['MODIFIED', 'gatehouse.dev/accesspolicies', 'default', 'timed', 1],
    ]);
    assert.equal(commits[0].resourceVersion, created.body.metadata.resourceVersion);
    assert.equal(commits[1].resourceVersion, status.body.metadata.resourceVersion);
    // Committed while the create was in flight: after it was sent, before it was answered.
    assert.ok(commits[0].committedAtMs >= before && commits[0].committedAtMs <= afterCreate, JSON.stringify(commits[0]));
    assert.ok(commits[1].committedAtMs >= commits[0].committedAtMs);
    const later = (await srv.request('GET', `/_test/commits?since=${commits[0].resourceVersion}`)).body.commits;
    assert.deepEqual(later.map((c) => c.resourceVersion), [commits[1].resourceVersion]);
    assert.equal((await srv.request('GET', '/_test/commits?since=x')).status, 400);
  });

  it('serves discovery for built-ins and the CRD group', async () => {
    const groups = (await srv.request('GET', '/apis')).body;
    assert.equal(groups.kind, 'APIGroupList');
    const names = groups.groups.map((g) => g.name);
    for (const g of ['apps', 'coordination.k8s.io', 'discovery.k8s.io', 'rbac.authorization.k8s.io', 'policy', 'autoscaling', 'apiextensions.k8s.io', 'gatehouse.dev']) {
      assert.ok(names.includes(g), g);
    }
    const gv = (await srv.request('GET', '/apis/gatehouse.dev/v1alpha1')).body;
    assert.deepEqual(gv.resources.map((r) => r.name), ['accesspolicies', 'accesspolicies/status']);
    const lease = (await srv.request('GET', '/apis/coordination.k8s.io/v1')).body.resources[0];
    assert.deepEqual([lease.name, lease.namespaced, lease.kind], ['leases', true, 'Lease']);
    const idx = (await srv.request('GET', '/openapi/v3')).body;
    assert.ok(idx.paths['apis/gatehouse.dev/v1alpha1'].serverRelativeURL.startsWith('/openapi/v3/apis/gatehouse.dev/v1alpha1?hash='));
  });
});
