// The real /usr/bin/kubectl against the test server: CRD lifecycle, apply,
// printer columns, get -w, generation, schema rejection, explain, delete.
// kubectl only sends bearer tokens over TLS, so this server runs HTTPS.

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import YAML from 'yaml';
import { kCrdPath, kFixtures, startServer } from './helpers.mjs';

const policyYaml = readFileSync(join(kFixtures, 'accesspolicy-metabase.yaml'), 'utf8');
const crdDoc = YAML.parse(readFileSync(kCrdPath, 'utf8'));
const printerColumns = crdDoc.spec.versions.find((v) => v.served).additionalPrinterColumns ?? [];

function policyWith(mutate) {
  const doc = YAML.parse(policyYaml);
  mutate(doc);
  return YAML.stringify(doc);
}

describe('kubectl against the test server', () => {
  let srv;
  before(async () => {
    srv = await startServer({ tls: true });
    const crd = await srv.kubectl(['apply', '-f', kCrdPath]);
    assert.equal(crd.code, 0, crd.stderr);
    const ns = await srv.kubectl(['create', 'namespace', 'analytics']);
    assert.equal(ns.code, 0, ns.stderr);
  });
  after(async () => srv?.close());

  const getPolicy = async () => {
    const out = await srv.kubectl(['get', 'ap', 'metabase', '-n', 'analytics', '-o', 'json']);
    assert.equal(out.code, 0, out.stderr);
    return JSON.parse(out.stdout);
  };

  it('registers the CRD in discovery (api-resources lists the short name)', async () => {
    const out = await srv.kubectl(['api-resources', '--api-group=gatehouse.dev']);
    assert.equal(out.code, 0, out.stderr);
    assert.match(out.stdout, /accesspolicies\s+ap\s+gatehouse\.dev\/v1alpha1\s+true\s+AccessPolicy/);
  });

  it('applies a policy, applies defaults and shows the printer columns', async () => {
    const out = await srv.kubectl(['apply', '-f', '-'], { input: policyYaml });
    assert.equal(out.code, 0, out.stderr);
    assert.match(out.stdout, /accesspolicy.gatehouse.dev\/metabase created/);
    const table = await srv.kubectl(['get', 'ap', '-n', 'analytics']);
    assert.equal(table.code, 0, table.stderr);
    const [header, row] = table.stdout.trim().split('\n');
    const expected = ['NAME', ...printerColumns.filter((c) => !c.priority).map((c) => c.name.toUpperCase())];
    assert.deepEqual(header.trim().split(/\s{2,}/), expected);
    assert.match(row, /^metabase\s+\["metabase\.example\.com"\]/);
    const obj = await getPolicy();
    assert.equal(obj.metadata.generation, 1);
    assert.equal(obj.spec.mode, 'Enforce', 'schema default applied');
  });

  it('bumps generation on a spec edit but not on a label-only change', async () => {
    const before = await getPolicy();
    const labelOnly = await srv.kubectl(['apply', '-f', '-'], { input: policyWith((d) => { d.metadata.labels.tier = 'gold'; }) });
    assert.equal(labelOnly.code, 0, labelOnly.stderr);
    const afterLabel = await getPolicy();
    assert.equal(afterLabel.metadata.labels.tier, 'gold');
    assert.equal(afterLabel.metadata.generation, before.metadata.generation);
    assert.notEqual(afterLabel.metadata.resourceVersion, before.metadata.resourceVersion);

    const specEdit = await srv.kubectl(['apply', '-f', '-'], {
      input: policyWith((d) => { d.metadata.labels.tier = 'gold'; d.spec.mode = 'Audit'; }),
    });
    assert.equal(specEdit.code, 0, specEdit.stderr);
    assert.match(specEdit.stdout, /configured/);
    const afterSpec = await getPolicy();
    assert.equal(afterSpec.spec.mode, 'Audit');
    assert.equal(afterSpec.metadata.generation, before.metadata.generation + 1);

    const again = await srv.kubectl(['apply', '-f', '-'], {
      input: policyWith((d) => { d.metadata.labels.tier = 'gold'; d.spec.mode = 'Audit'; }),
    });
    // kubectl may still send a patch (list items with server defaults differ from
    // the manifest), but a patch that changes nothing must not write.
    assert.equal(again.code, 0, again.stderr);
    assert.equal((await getPolicy()).metadata.resourceVersion, afterSpec.metadata.resourceVersion, 'no-op apply writes nothing');
  });

  it('streams a change to kubectl get -w', async () => {
    const stream = srv.kubectlStream(['get', 'ap', '-n', 'analytics', '-w']);
    try {
      await stream.waitFor(/metabase/);
      const patch = await srv.kubectl(['patch', 'ap', 'metabase', '-n', 'analytics', '--type', 'merge',
        '-p', '{"spec":{"hosts":["metabase.example.com","bi.example.com"]}}']);
      assert.equal(patch.code, 0, patch.stderr);
      await stream.waitFor(/bi\.example\.com/);
    } finally {
      stream.stop();
    }
  });

  it('rejects an invalid policy with an error naming the field', async () => {
    const badEnum = await srv.kubectl(['apply', '-f', '-'], { input: policyWith((d) => { d.metadata.name = 'bad'; d.spec.mode = 'Sometimes'; }) });
    assert.notEqual(badEnum.code, 0);
    assert.match(badEnum.stderr, /The AccessPolicy "bad" is invalid/);
    assert.match(badEnum.stderr, /spec\.mode: Unsupported value: "Sometimes": supported values: "Enforce", "Audit"/);

    const unknown = await srv.kubectl(['apply', '-f', '-'], { input: policyWith((d) => { d.metadata.name = 'bad'; d.spec.bogusField = 1; }) });
    assert.notEqual(unknown.code, 0);
    assert.match(unknown.stderr, /strict decoding error: unknown field "spec\.bogusField"/);

    const missing = await srv.kubectl(['apply', '-f', '-'], { input: policyWith((d) => { d.metadata.name = 'bad'; delete d.spec.hosts; }) });
    assert.notEqual(missing.code, 0);
    assert.match(missing.stderr, /spec\.hosts: Required value/);

    const none = await srv.kubectl(['get', 'ap', 'bad', '-n', 'analytics']);
    assert.match(none.stderr, /accesspolicies.gatehouse.dev "bad" not found/);
  });

  it('explains the CRD fields from OpenAPI v3', async () => {
    const out = await srv.kubectl(['explain', 'accesspolicy.spec.rules']);
    assert.equal(out.code, 0, out.stderr);
    assert.match(out.stdout, /KIND:\s+AccessPolicy/);
    assert.match(out.stdout, /FIELD: rules <\[\]Object>/);
    assert.match(out.stdout, /action\s+<string> -required-/);
  });

  it('rejects strategic merge patch on a custom resource as the real server does', async () => {
    const out = await srv.kubectl(['patch', 'ap', 'metabase', '-n', 'analytics', '-p', '{"spec":{"mode":"Enforce"}}']);
    assert.notEqual(out.code, 0);
    assert.match(out.stderr, /application\/strategic-merge-patch\+json is not supported/);
  });

  it('creates built-ins through protobuf (kubectl create) and JSON (apply)', async () => {
    const cm = await srv.kubectl(['create', 'configmap', 'settings', '-n', 'analytics', '--from-literal=mode=fast']);
    assert.equal(cm.code, 0, cm.stderr);
    const secret = await srv.kubectl(['create', 'secret', 'generic', 'oidc', '-n', 'analytics', '--from-literal=client-secret=s3cret']);
    assert.equal(secret.code, 0, secret.stderr);
    const got = JSON.parse((await srv.kubectl(['get', 'secret', 'oidc', '-n', 'analytics', '-o', 'json'])).stdout);
    assert.equal(got.type, 'Opaque');
    assert.equal(Buffer.from(got.data['client-secret'], 'base64').toString(), 's3cret');
    const table = await srv.kubectl(['get', 'cm', '-n', 'analytics']);
    assert.match(table.stdout, /NAME\s+DATA\s+AGE\n.*settings\s+1\s+/s);
  });

  it('deletes the policy, then the CRD removes the resource from discovery', async () => {
    const del = await srv.kubectl(['delete', 'ap', 'metabase', '-n', 'analytics']);
    assert.equal(del.code, 0, del.stderr);
    assert.match(del.stdout, /accesspolicy.gatehouse.dev "metabase" deleted/);
    const list = await srv.kubectl(['get', 'ap', '-A']);
    assert.match(list.stderr, /No resources found/);
    const crd = await srv.kubectl(['delete', 'crd', 'accesspolicies.gatehouse.dev']);
    assert.equal(crd.code, 0, crd.stderr);
    const gone = await srv.kubectl(['get', 'ap', '-A']);
    assert.notEqual(gone.code, 0);
    assert.match(gone.stderr, /the server doesn't have a resource type "ap"|the server could not find the requested resource/);
  });
});
