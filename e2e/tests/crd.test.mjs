// The AccessPolicy CRD (crds/gatehouse.dev_accesspolicies.yaml) and the
// example policies (manifests/examples/).
//
// Run from e2e/:  node --test tests/crd.test.mjs
//
// No API server runs here. The CRD is checked for the structural-schema rules
// an API server enforces on creation (lib/crd-schema.mjs), and resources are
// validated with ajv against a JSON Schema converted from openAPIV3Schema
// (RE2 regexes, defaults applied, unknown fields rejected). CEL rules cannot
// run in ajv: each one is paired with a hand-written JS mirror of its intent
// (lib/crd-cel-intent.mjs); errors from those carry origin 'cel-intent'.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import YAML from 'yaml';
import { RE2 } from 're2-wasm';
import { CustomResourceDefinition } from 'kubernetes-models/apiextensions.k8s.io/v1/CustomResourceDefinition';
import {
  celRulesOf, createResourceValidator, defaultsOf, loadCrd, loadDocuments, newAjv,
  patternsOf, storageSchema, structuralProblems, toJsonSchema,
} from '../lib/crd-schema.mjs';
import { kManagedHeaderNames, mirroredRules, normalizeRule } from '../lib/crd-cel-intent.mjs';

const kRepo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const kCrdFile = path.join(kRepo, 'crds', 'gatehouse.dev_accesspolicies.yaml');
const kExamplesDir = path.join(kRepo, 'manifests', 'examples');

const crd = loadCrd(kCrdFile);
const schema = storageSchema(crd);
const validate = createResourceValidator(schema);

const exampleFiles = fs.readdirSync(kExamplesDir).filter((f) => /\.ya?ml$/.test(f)).sort();
const exampleDocs = exampleFiles.flatMap((f) =>
  loadDocuments(path.join(kExamplesDir, f)).map((doc) => ({ file: f, doc })));
const policies = exampleDocs.filter((e) => e.doc.kind === 'AccessPolicy');
const secrets = exampleDocs.filter((e) => e.doc.kind === 'Secret').map((e) => e.doc);
const metabaseExample = policies.find((e) => e.file === 'metabase.yaml').doc;
const internalApiExample = policies.find((e) => e.file === 'internal-api.yaml').doc;

// ---------------------------------------------------------------------------
// The CRD itself

test('CRD names, scope and version match PRODUCT.md', () => {
  assert.equal(crd.apiVersion, 'apiextensions.k8s.io/v1');
  assert.equal(crd.kind, 'CustomResourceDefinition');
  assert.equal(crd.metadata.name, 'accesspolicies.gatehouse.dev');
  assert.equal(crd.spec.group, 'gatehouse.dev');
  assert.equal(crd.spec.scope, 'Namespaced');
  assert.deepEqual(crd.spec.names, {
    kind: 'AccessPolicy', listKind: 'AccessPolicyList', plural: 'accesspolicies',
    singular: 'accesspolicy', shortNames: ['ap'], categories: ['gatehouse'],
  });
  assert.equal(crd.spec.versions.length, 1);
  const [v] = crd.spec.versions;
  assert.equal(v.name, 'v1alpha1');
  assert.equal(v.served, true);
  assert.equal(v.storage, true);
  assert.deepEqual(v.subresources, { status: {} });
});

test('the CRD object matches the Kubernetes CustomResourceDefinition model', () => {
  assert.doesNotThrow(() => new CustomResourceDefinition(crd).validate());
  // ...and the model does reject a mistyped CRD (so the line above can fail).
  const broken = structuredClone(crd);
  broken.spec.versions[0].served = 'yes';
  assert.throws(() => new CustomResourceDefinition(broken).validate());
});

test('printer columns: Hosts, Accepted, Ready, Version, Age', () => {
  const columns = crd.spec.versions[0].additionalPrinterColumns.map(
    (c) => [c.name, c.type, c.jsonPath]);
  assert.deepEqual(columns, [
    ['Hosts', 'string', '.spec.hosts'],
    ['Accepted', 'string', '.status.conditions[?(@.type=="Accepted")].status'],
    ['Ready', 'string', '.status.conditions[?(@.type=="Ready")].status'],
    ['Version', 'integer', '.status.configVersion'],
    ['Age', 'date', '.metadata.creationTimestamp'],
  ]);
});

test('schema is structural, described everywhere and size-bounded', () => {
  assert.deepEqual(structuralProblems(schema), []);
});

test('structural checker catches what it claims to (checker self-test)', () => {
  const broken = {
    type: 'object',
    properties: {
      spec: {
        type: 'object',
        description: 'x',
        properties: {
          untyped: { description: 'no type' },
          undescribed: { type: 'string', maxLength: 3 },
          both: { type: 'object', description: 'x', properties: {}, additionalProperties: { type: 'string', maxLength: 1 } },
          unbounded: { type: 'array', description: 'x', items: { type: 'string', maxLength: 1 } },
          badMap: { type: 'array', description: 'x', maxItems: 1, 'x-kubernetes-list-type': 'map', 'x-kubernetes-list-map-keys': ['k'], items: { type: 'object', properties: { k: { type: 'string', description: 'x', maxLength: 1 } } } },
          badCel: { type: 'string', description: 'x', maxLength: 1, 'x-kubernetes-validations': [{ rule: 'true', message: 'two\nlines', fieldPath: '.nope' }] },
        },
      },
    },
  };
  const problems = structuralProblems(broken).join('\n');
  for (const expected of [
    'spec.untyped: type is required', 'spec.undescribed: description is missing',
    'spec.both: properties and additionalProperties', 'spec.unbounded: array without maxItems',
    'spec.badMap: map key k must be required or defaulted', 'message must be one line',
    'fieldPath .nope does not name a field',
  ]) {
    assert.ok(problems.includes(expected), `expected "${expected}" in:\n${problems}`);
  }
});

test('every pattern compiles as RE2 (the API server uses Go regexp)', () => {
  const patterns = patternsOf(schema);
  assert.ok(patterns.length >= 15, `only ${patterns.length} patterns found`);
  for (const { path: where, pattern } of patterns) {
    assert.doesNotThrow(() => new RE2(pattern, 'u'), `${where}: ${pattern}`);
  }
});

test('every default validates against its own schema (the API server requires it)', () => {
  const ajv = newAjv();
  const defaults = defaultsOf(schema);
  assert.ok(defaults.length >= 12, `only ${defaults.length} defaults found`);
  for (const { path: where, node } of defaults) {
    const nodeSchema = toJsonSchema(node);
    delete nodeSchema.default;  // ajv (strict) refuses a default at its root
    const check = ajv.compile(nodeSchema);
    assert.ok(check(structuredClone(node.default)), `${where}: ${JSON.stringify(check.errors)}`);
  }
});

test('every CEL rule has a JS intent mirror, and every mirror a rule', () => {
  const rules = celRulesOf(schema);
  const inCrd = new Set(rules.map((r) => normalizeRule(r.rule)));
  for (const r of rules) {
    assert.ok(mirroredRules().includes(normalizeRule(r.rule)), `${r.path}: no JS mirror for ${r.rule}`);
    assert.ok(r.message.length <= 256, `${r.path}: message too long`);
  }
  for (const m of mirroredRules()) assert.ok(inCrd.has(m), `stale JS mirror: ${m}`);
  // The seven concerns of the brief, each present: exactly-one upstream, login
  // issuer listed, public exclusivity, issuers required, openid, distinct and
  // non-managed headers (x4), claim-name length.
  assert.equal(rules.length, 11);
});

// ---------------------------------------------------------------------------
// The examples

test('examples: only AccessPolicy and Secret documents, each file non-empty', () => {
  assert.deepEqual(exampleFiles, ['internal-api.yaml', 'metabase.yaml', 'secrets.example.yaml']);
  for (const f of exampleFiles) {
    assert.ok(exampleDocs.some((e) => e.file === f), `${f} has no documents`);
  }
  for (const { file, doc } of exampleDocs) {
    assert.ok(['AccessPolicy', 'Secret'].includes(doc.kind), `${file}: kind ${doc.kind}`);
  }
  assert.equal(policies.length, 2);
  assert.equal(metabaseExample.metadata.namespace, 'analytics');
  assert.equal(internalApiExample.metadata.namespace, 'platform');
});

for (const { file, doc } of policies) {
  test(`example ${file} (${doc.metadata.namespace}/${doc.metadata.name}) is valid`, () => {
    assert.equal(doc.apiVersion, 'gatehouse.dev/v1alpha1');
    const { errors } = validate(doc);
    assert.deepEqual(errors, []);
  });
}

test('example secret references resolve to a Secret of the same namespace', () => {
  const refs = [];
  for (const { doc } of policies) {
    const ns = doc.metadata.namespace;
    const login = doc.spec.authentication?.login;
    if (login) refs.push({ ns, ref: login.clientSecretRef, minBytes: 1 });
    if (doc.spec.metabase) refs.push({ ns, ref: doc.spec.metabase.sharedSecretRef, minBytes: 16 });
  }
  assert.equal(refs.length, 2);
  for (const { ns, ref, minBytes } of refs) {
    const secret = secrets.find((s) => s.metadata.name === ref.name && s.metadata.namespace === ns);
    assert.ok(secret, `Secret ${ns}/${ref.name} missing`);
    assert.equal(secret.apiVersion, 'v1');
    const value = secret.stringData?.[ref.key] ??
      (secret.data?.[ref.key] && Buffer.from(secret.data[ref.key], 'base64').toString());
    assert.ok(value, `Secret ${ns}/${ref.name} has no key ${ref.key}`);
    assert.ok(Buffer.byteLength(value) >= minBytes, `${ns}/${ref.name}/${ref.key} shorter than ${minBytes}`);
    assert.match(value, /FAKE/, 'example secret values must be obviously fake');
  }
});

test('the metabase example denies contractor exports on the export endpoints', () => {
  const deny = metabaseExample.spec.rules.find((r) => r.name === 'no-contractor-exports');
  assert.equal(deny.action, 'Deny');
  assert.equal(deny.methods, undefined, 'export deny must cover every method');
  assert.deepEqual(deny.from, { groups: ['contractors'] });
  for (const p of ['/api/card/*/query/*', '/api/dataset/csv', '/api/dataset/xlsx', '/api/dataset/json']) {
    assert.ok(deny.paths.includes(p), `missing ${p}`);
  }
  const health = metabaseExample.spec.rules.find((r) => r.name === 'health');
  assert.deepEqual(health.from, { public: true });
});

test('defaults are applied to a minimal policy as documented', () => {
  const minimal = {
    apiVersion: 'gatehouse.dev/v1alpha1', kind: 'AccessPolicy', metadata: { name: 'm' },
    spec: {
      hosts: ['a.example.com'],
      upstream: { url: 'http://127.0.0.1:3000' },
      authentication: {
        issuers: [{ issuer: 'https://idp.example.com', audiences: ['a'] }],
        login: { issuer: 'https://idp.example.com', clientID: 'c', clientSecretRef: { name: 's', key: 'k' } },
      },
      rules: [{ name: 'r', action: 'Allow', from: {} }],
      rateLimit: { requestsPerMinute: 10, burst: 5 },
    },
  };
  const { errors, value } = validate(minimal);
  assert.deepEqual(errors, []);
  const s = value.spec;
  assert.equal(s.pathPrefix, '/');
  assert.equal(s.upstream.timeoutSeconds, 600);
  assert.deepEqual(s.authentication.issuers[0],
    { issuer: 'https://idp.example.com', audiences: ['a'], groupsClaim: 'groups', emailClaim: 'email', userClaim: 'sub' });
  assert.deepEqual(s.authentication.login.scopes, ['openid', 'email', 'profile']);
  assert.deepEqual(s.rules[0].from, { public: false });
  assert.deepEqual(s.identityHeaders, {
    user: 'X-Forwarded-User', email: 'X-Forwarded-Email', groups: 'X-Forwarded-Groups',
    assertion: 'X-Gatehouse-Assertion', forwardToken: false,
  });
  assert.equal(s.rateLimit.key, 'identity');
  assert.equal(s.mode, 'Enforce');
});

test('a status in the PRODUCT.md shape validates', () => {
  const doc = structuredClone(metabaseExample);
  doc.status = {
    observedGeneration: 3, configVersion: 42, proxies: { inSync: 3, total: 3 },
    conditions: [
      { type: 'Accepted', status: 'True', reason: 'Valid', message: '', observedGeneration: 3, lastTransitionTime: '2024-05-01T10:00:00Z' },
      { type: 'Ready', status: 'True', reason: 'Enforced', message: '3/3 proxies', observedGeneration: 3, lastTransitionTime: '2024-05-01T10:00:05Z' },
    ],
  };
  assert.deepEqual(validate(doc).errors, []);
});

// ---------------------------------------------------------------------------
// Variants of the metabase example, valid and invalid. Each names the field
// path the error must carry (written like the proxy's: spec.rules[2].paths[0]).
// origin 'cel-intent' marks a rule that a real API server enforces with CEL and
// that this test can only check through the JS mirror of its intent.

const R = (name) => metabaseExample.spec.rules.findIndex((r) => r.name === name);
const rule = (s, name) => s.rules[R(name)];
const kAnalysts = R('analysts-read');
const kHealth = R('health');

const kInvalid = [
  // hosts
  { name: 'host with uppercase', path: 'spec.hosts[0]', edit: (s) => { s.hosts = ['Metabase.example.com']; } },
  { name: 'host with port', path: 'spec.hosts[0]', edit: (s) => { s.hosts = ['metabase.example.com:443']; } },
  { name: 'host with trailing dot', path: 'spec.hosts[0]', edit: (s) => { s.hosts = ['metabase.example.com.']; } },
  { name: 'wildcard not the first label', path: 'spec.hosts[0]', edit: (s) => { s.hosts = ['a.*.example.com']; } },
  { name: 'label starting with a hyphen', path: 'spec.hosts[0]', edit: (s) => { s.hosts = ['-a.example.com']; } },
  { name: 'label of 64 characters', path: 'spec.hosts[0]', edit: (s) => { s.hosts = [`${'a'.repeat(64)}.example.com`]; } },
  { name: 'duplicate host', path: 'spec.hosts', edit: (s) => { s.hosts = ['a.example.com', 'a.example.com']; } },
  { name: 'no hosts', path: 'spec.hosts', edit: (s) => { s.hosts = []; } },
  { name: '65 hosts', path: 'spec.hosts', edit: (s) => { s.hosts = Array.from({ length: 65 }, (_, i) => `h${i}.example.com`); } },
  // pathPrefix
  { name: 'prefix with trailing slash', path: 'spec.pathPrefix', edit: (s) => { s.pathPrefix = '/v1/'; } },
  { name: 'prefix with wildcard', path: 'spec.pathPrefix', edit: (s) => { s.pathPrefix = '/v1/*'; } },
  { name: 'prefix not rooted', path: 'spec.pathPrefix', edit: (s) => { s.pathPrefix = 'v1'; } },
  { name: 'prefix with dot-dot', path: 'spec.pathPrefix', edit: (s) => { s.pathPrefix = '/v1/../admin'; } },
  // upstream
  { name: 'port 0', path: 'spec.upstream.service.port', edit: (s) => { s.upstream.service.port = 0; } },
  { name: 'port 65536', path: 'spec.upstream.service.port', edit: (s) => { s.upstream.service.port = 65536; } },
  { name: 'port as a string', path: 'spec.upstream.service.port', edit: (s) => { s.upstream.service.port = '3000'; } },
  { name: 'service name with uppercase', path: 'spec.upstream.service.name', edit: (s) => { s.upstream.service.name = 'Metabase'; } },
  { name: 'service and url both', path: 'spec.upstream', origin: 'cel-intent', edit: (s) => { s.upstream.url = 'http://127.0.0.1:3000'; } },
  { name: 'neither service nor url', path: 'spec.upstream', origin: 'cel-intent', edit: (s) => { delete s.upstream.service; } },
  { name: 'url with userinfo', path: 'spec.upstream.url', edit: (s) => { delete s.upstream.service; s.upstream.url = 'http://u:p@127.0.0.1:3000'; } },
  { name: 'url with query', path: 'spec.upstream.url', edit: (s) => { delete s.upstream.service; s.upstream.url = 'http://127.0.0.1:3000/?a=b'; } },
  { name: 'url with fragment', path: 'spec.upstream.url', edit: (s) => { delete s.upstream.service; s.upstream.url = 'http://127.0.0.1:3000/#x'; } },
  { name: 'url with backslash', path: 'spec.upstream.url', edit: (s) => { delete s.upstream.service; s.upstream.url = 'http://127.0.0.1:3000/a\\b'; } },
  { name: 'url with non-ASCII path', path: 'spec.upstream.url', edit: (s) => { delete s.upstream.service; s.upstream.url = 'http://127.0.0.1:3000/caf\u00e9'; } },
  { name: 'url with empty port', path: 'spec.upstream.url', edit: (s) => { delete s.upstream.service; s.upstream.url = 'http://127.0.0.1:/'; } },
  { name: 'url with ftp scheme', path: 'spec.upstream.url', edit: (s) => { delete s.upstream.service; s.upstream.url = 'ftp://127.0.0.1/'; } },
  { name: 'url port 70000', path: 'spec.upstream.url', edit: (s) => { delete s.upstream.service; s.upstream.url = 'http://127.0.0.1:70000'; } },
  { name: 'timeout 0', path: 'spec.upstream.timeoutSeconds', edit: (s) => { s.upstream.timeoutSeconds = 0; } },
  { name: 'timeout over a day', path: 'spec.upstream.timeoutSeconds', edit: (s) => { s.upstream.timeoutSeconds = 86401; } },
  { name: 'timeout fractional', path: 'spec.upstream.timeoutSeconds', edit: (s) => { s.upstream.timeoutSeconds = 1.5; } },
  // issuers
  { name: 'missing audiences', path: 'spec.authentication.issuers[0].audiences', edit: (s) => { delete s.authentication.issuers[0].audiences; } },
  { name: 'empty audiences', path: 'spec.authentication.issuers[0].audiences', edit: (s) => { s.authentication.issuers[0].audiences = []; } },
  { name: 'empty audience string', path: 'spec.authentication.issuers[0].audiences[0]', edit: (s) => { s.authentication.issuers[0].audiences = ['']; } },
  { name: 'plain-http issuer off loopback', path: 'spec.authentication.issuers[0].issuer', edit: (s) => { s.authentication.issuers[0].issuer = 'http://idp.example.com'; } },
  { name: 'issuer with query', path: 'spec.authentication.issuers[0].issuer', edit: (s) => { s.authentication.issuers[0].issuer = 'https://idp.example.com/?x=1'; } },
  { name: 'HS256 algorithm', path: 'spec.authentication.issuers[0].algorithms[0]', edit: (s) => { s.authentication.issuers[0].algorithms = ['HS256']; } },
  { name: 'alg none', path: 'spec.authentication.issuers[0].algorithms[0]', edit: (s) => { s.authentication.issuers[0].algorithms = ['none']; } },
  { name: 'jwksUri over plain http', path: 'spec.authentication.issuers[0].jwksUri', edit: (s) => { s.authentication.issuers[0].jwksUri = 'http://idp.example.com/keys'; } },
  { name: 'empty groupsClaim', path: 'spec.authentication.issuers[0].groupsClaim', edit: (s) => { s.authentication.issuers[0].groupsClaim = ''; } },
  { name: 'duplicate issuer', path: 'spec.authentication.issuers[1]', origin: 'list-type', edit: (s) => { s.authentication.issuers.push(structuredClone(s.authentication.issuers[0])); } },
  { name: '9 issuers', path: 'spec.authentication.issuers', edit: (s) => { s.authentication.issuers = Array.from({ length: 9 }, (_, i) => ({ issuer: `https://idp${i}.example.com`, audiences: ['a'] })); } },
  { name: 'no issuers with non-public rules', path: 'spec.authentication.issuers', origin: 'cel-intent', edit: (s) => { delete s.authentication; } },
  { name: 'empty issuers with non-public rules', path: 'spec.authentication.issuers', origin: 'cel-intent', edit: (s) => { s.authentication.issuers = []; delete s.authentication.login; } },
  // login
  { name: 'login issuer not listed', path: 'spec.authentication.login.issuer', origin: 'cel-intent', edit: (s) => { s.authentication.login.issuer = 'https://other.example.com'; } },
  { name: 'duplicate scope', path: 'spec.authentication.login.scopes', edit: (s) => { s.authentication.login.scopes = ['openid', 'openid']; } },
  { name: 'scope with a space', path: 'spec.authentication.login.scopes[1]', edit: (s) => { s.authentication.login.scopes = ['openid', 'a b']; } },
  { name: 'scope with a quote', path: 'spec.authentication.login.scopes[1]', edit: (s) => { s.authentication.login.scopes = ['openid', 'a"b']; } },
  { name: 'login without any issuer on an all-public policy', path: 'spec.authentication.issuers', origin: 'cel-intent', edit: (s) => { s.rules = [rule(s, 'health')]; s.authentication.issuers = []; } },
  { name: 'scopes without openid', path: 'spec.authentication.login.scopes', origin: 'cel-intent', edit: (s) => { s.authentication.login.scopes = ['email', 'profile']; } },
  { name: 'login without clientSecretRef', path: 'spec.authentication.login.clientSecretRef', edit: (s) => { delete s.authentication.login.clientSecretRef; } },
  { name: 'secret key dot-dot', path: 'spec.authentication.login.clientSecretRef.key', edit: (s) => { s.authentication.login.clientSecretRef.key = '..'; } },
  { name: 'secret key with a slash', path: 'spec.authentication.login.clientSecretRef.key', edit: (s) => { s.authentication.login.clientSecretRef.key = 'a/b'; } },
  // rules
  { name: 'no rules', path: 'spec.rules', edit: (s) => { s.rules = []; } },
  { name: 'action in lowercase', path: `spec.rules[${kAnalysts}].action`, edit: (s) => { rule(s, 'analysts-read').action = 'allow'; } },
  { name: 'missing action', path: `spec.rules[${kAnalysts}].action`, edit: (s) => { delete rule(s, 'analysts-read').action; } },
  { name: 'unknown method', path: `spec.rules[${kAnalysts}].methods[0]`, edit: (s) => { rule(s, 'analysts-read').methods = ['FETCH']; } },
  { name: 'lowercase method', path: `spec.rules[${kAnalysts}].methods[0]`, edit: (s) => { rule(s, 'analysts-read').methods = ['get']; } },
  { name: 'duplicate method', path: `spec.rules[${kAnalysts}].methods`, edit: (s) => { rule(s, 'analysts-read').methods = ['GET', 'GET']; } },
  { name: 'duplicate rule name', path: `spec.rules[${kAnalysts}]`, origin: 'list-type', edit: (s) => { rule(s, 'analysts-read').name = 'health'; } },
  { name: 'rule name with uppercase', path: `spec.rules[${kHealth}].name`, edit: (s) => { rule(s, 'health').name = 'Health'; } },
  { name: 'path without leading slash', path: `spec.rules[${kHealth}].paths[0]`, edit: (s) => { rule(s, 'health').paths = ['api/health']; } },
  { name: '** not last', path: `spec.rules[${kHealth}].paths[0]`, edit: (s) => { rule(s, 'health').paths = ['/api/**/health']; } },
  { name: '* inside a segment', path: `spec.rules[${kHealth}].paths[0]`, edit: (s) => { rule(s, 'health').paths = ['/api/heal*']; } },
  { name: 'dot-dot segment', path: `spec.rules[${kHealth}].paths[0]`, edit: (s) => { rule(s, 'health').paths = ['/api/../admin']; } },
  { name: 'double slash', path: `spec.rules[${kHealth}].paths[0]`, edit: (s) => { rule(s, 'health').paths = ['/api//health']; } },
  { name: 'semicolon path parameter', path: `spec.rules[${kHealth}].paths[0]`, edit: (s) => { rule(s, 'health').paths = ['/api/health;x']; } },
  { name: 'backslash', path: `spec.rules[${kHealth}].paths[0]`, edit: (s) => { rule(s, 'health').paths = ['/api\\health']; } },
  { name: 'trailing slash in path', path: `spec.rules[${kHealth}].paths[0]`, edit: (s) => { rule(s, 'health').paths = ['/api/health/']; } },
  { name: 'duplicate path', path: `spec.rules[${kHealth}].paths`, edit: (s) => { rule(s, 'health').paths = ['/a', '/a']; } },
  { name: 'query in path', path: `spec.rules[${kHealth}].paths[0]`, edit: (s) => { rule(s, 'health').paths = ['/api/health?x=1']; } },
  { name: 'unknown field (typo)', path: `spec.rules[${kHealth}].form`, edit: (s) => { const r = rule(s, 'health'); r.form = r.from; delete r.from; } },
  // from
  { name: 'public with groups', path: `spec.rules[${kHealth}].from.public`, origin: 'cel-intent', edit: (s) => { rule(s, 'health').from.groups = ['analysts']; } },
  { name: 'public with emails', path: `spec.rules[${kHealth}].from.public`, origin: 'cel-intent', edit: (s) => { rule(s, 'health').from.emails = ['a@example.com']; } },
  { name: 'public with emailDomains', path: `spec.rules[${kHealth}].from.public`, origin: 'cel-intent', edit: (s) => { rule(s, 'health').from.emailDomains = ['example.com']; } },
  { name: 'public with subjects', path: `spec.rules[${kHealth}].from.public`, origin: 'cel-intent', edit: (s) => { rule(s, 'health').from.subjects = ['svc']; } },
  { name: 'public with claims', path: `spec.rules[${kHealth}].from.public`, origin: 'cel-intent', edit: (s) => { rule(s, 'health').from.claims = { dept: ['x'] }; } },
  { name: 'email without @', path: `spec.rules[${kAnalysts}].from.emails[0]`, edit: (s) => { rule(s, 'analysts-read').from.emails = ['ada.example.com']; } },
  { name: 'email with a space', path: `spec.rules[${kAnalysts}].from.emails[0]`, edit: (s) => { rule(s, 'analysts-read').from.emails = ['ada lovelace@example.com']; } },
  { name: 'email with two @', path: `spec.rules[${kAnalysts}].from.emails[0]`, edit: (s) => { rule(s, 'analysts-read').from.emails = ['a@b@example.com']; } },
  { name: 'emailDomain with @', path: `spec.rules[${kAnalysts}].from.emailDomains[0]`, edit: (s) => { rule(s, 'analysts-read').from.emailDomains = ['@example.com']; } },
  { name: 'emailDomain uppercase', path: `spec.rules[${kAnalysts}].from.emailDomains[0]`, edit: (s) => { rule(s, 'analysts-read').from.emailDomains = ['Example.com']; } },
  { name: 'empty group name', path: `spec.rules[${kAnalysts}].from.groups[0]`, edit: (s) => { rule(s, 'analysts-read').from.groups = ['']; } },
  { name: 'claim with no values', path: `spec.rules[${kAnalysts}].from.claims[department]`, edit: (s) => { rule(s, 'analysts-read').from.claims = { department: [] }; } },
  { name: 'claim value not a string', path: `spec.rules[${kAnalysts}].from.claims[department][0]`, edit: (s) => { rule(s, 'analysts-read').from.claims = { department: [7] }; } },
  { name: 'claim name of 129 characters', path: `spec.rules[${kAnalysts}].from.claims`, origin: 'cel-intent', edit: (s) => { rule(s, 'analysts-read').from.claims = { ['c'.repeat(129)]: ['x'] }; } },
  { name: 'ipBlock octet with leading zero', path: `spec.rules[${kAnalysts}].from.ipBlocks[0]`, edit: (s) => { rule(s, 'analysts-read').from.ipBlocks = ['010.0.0.0/8']; } },
  { name: 'ipBlock octet 256', path: `spec.rules[${kAnalysts}].from.ipBlocks[0]`, edit: (s) => { rule(s, 'analysts-read').from.ipBlocks = ['256.0.0.0/8']; } },
  { name: 'ipBlock prefix with leading zero', path: `spec.rules[${kAnalysts}].from.ipBlocks[0]`, edit: (s) => { rule(s, 'analysts-read').from.ipBlocks = ['10.0.0.0/08']; } },
  { name: 'ipBlock /33', path: `spec.rules[${kAnalysts}].from.ipBlocks[0]`, edit: (s) => { rule(s, 'analysts-read').from.ipBlocks = ['10.0.0.0/33']; } },
  { name: 'ipv6 block /129', path: `spec.rules[${kAnalysts}].from.ipBlocks[0]`, edit: (s) => { rule(s, 'analysts-read').from.ipBlocks = ['fd00::/129']; } },
  // identityHeaders
  { name: 'header name with a space', path: 'spec.identityHeaders.user', edit: (s) => { s.identityHeaders.user = 'X Forwarded User'; } },
  { name: 'header name with a colon', path: 'spec.identityHeaders.email', edit: (s) => { s.identityHeaders.email = 'X-Email:'; } },
  { name: 'empty header name', path: 'spec.identityHeaders.groups', edit: (s) => { s.identityHeaders.groups = ''; } },
  { name: 'same header twice, other case', path: 'spec.identityHeaders', origin: 'cel-intent', edit: (s) => { s.identityHeaders.email = 'x-forwarded-user'; } },
  { name: 'forwardToken as a string', path: 'spec.identityHeaders.forwardToken', edit: (s) => { s.identityHeaders.forwardToken = 'false'; } },
  ...kManagedHeaderNames.map((h, i) => {
    const field = ['user', 'email', 'groups', 'assertion'][i % 4];
    // Alternate the case so the check is shown to be case-insensitive.
    const name = i % 2 === 0 ? h.toUpperCase() : h.replace(/(^|-)([a-z])/g, (_, d, c) => d + c.toUpperCase());
    return { name: `forbidden header ${name} as ${field}`, path: `spec.identityHeaders.${field}`, origin: 'cel-intent', edit: (s) => { s.identityHeaders[field] = name; } };
  }),
  // metabase, rateLimit, mode, status
  { name: 'metabase without sharedSecretRef', path: 'spec.metabase.sharedSecretRef', edit: (s) => { s.metabase = {}; } },
  { name: 'secret name with uppercase', path: 'spec.metabase.sharedSecretRef.name', edit: (s) => { s.metabase.sharedSecretRef.name = 'Metabase'; } },
  { name: 'requestsPerMinute 0', path: 'spec.rateLimit.requestsPerMinute', edit: (s) => { s.rateLimit.requestsPerMinute = 0; } },
  { name: 'burst over a million', path: 'spec.rateLimit.burst', edit: (s) => { s.rateLimit.burst = 1000001; } },
  { name: 'rateLimit without burst', path: 'spec.rateLimit.burst', edit: (s) => { delete s.rateLimit.burst; } },
  { name: 'rateLimit key user', path: 'spec.rateLimit.key', edit: (s) => { s.rateLimit.key = 'user'; } },
  { name: 'mode in lowercase', path: 'spec.mode', edit: (s) => { s.mode = 'enforce'; } },
  { name: 'unknown spec field', path: 'spec.upstreams', edit: (s) => { s.upstreams = s.upstream; } },
];

const kValid = [
  { name: 'wildcard host', edit: (s) => { s.hosts = ['*.example.com']; } },
  { name: 'single-label host', edit: (s) => { s.hosts = ['localhost']; } },
  { name: 'url upstream instead of service', edit: (s) => { delete s.upstream.service; s.upstream.url = 'https://metabase.internal:8443/base'; } },
  { name: 'ipv6 url upstream', edit: (s) => { delete s.upstream.service; s.upstream.url = 'http://[::1]:3000'; } },
  { name: 'plain-http issuer on loopback', edit: (s) => { s.authentication.issuers[0].issuer = 'http://127.0.0.1:5556/dex'; s.authentication.login.issuer = 'http://127.0.0.1:5556/dex'; } },
  { name: 'plain-http issuer on localhost', edit: (s) => { s.authentication.issuers[0].issuer = 'http://localhost:5556'; s.authentication.login.issuer = 'http://localhost:5556'; } },
  { name: 'issuer with trailing slash', edit: (s) => { s.authentication.issuers[0].issuer = 'https://tenant.auth0.com/'; s.authentication.login.issuer = 'https://tenant.auth0.com/'; } },
  { name: 'empty jwksUri means discovery', edit: (s) => { s.authentication.issuers[0].jwksUri = ''; } },
  { name: 'all-public policy without authentication', edit: (s) => { delete s.authentication; s.rules = [rule(s, 'health')]; } },
  { name: 'public with ipBlocks', edit: (s) => { rule(s, 'health').from.ipBlocks = ['10.0.0.0/8', '::1/128']; } },
  { name: 'public with empty groups list', edit: (s) => { rule(s, 'health').from.groups = []; } },
  { name: 'rule without from (any identity)', edit: (s) => { delete rule(s, 'admins').from; } },
  { name: 'path prefix /api', edit: (s) => { s.pathPrefix = '/api'; } },
  { name: 'path patterns of every form', edit: (s) => { rule(s, 'health').paths = ['/', '/**', '/a/*/b', '/*', '/a/**', '/a.b/...', '/%20x', '/.well-known/x']; } },
  { name: 'bare IP addresses as blocks', edit: (s) => { rule(s, 'admins').from.ipBlocks = ['192.0.2.7', '2001:db8::1', '::ffff:10.0.0.0/104']; } },
  { name: 'url host with underscore and port with leading zeros', edit: (s) => { delete s.upstream.service; s.upstream.url = 'http://my_host:08080/x'; } },
  { name: 'secret key with dots', edit: (s) => { s.metabase.sharedSecretRef.key = '.secret.v2'; } },
  { name: 'custom header names', edit: (s) => { s.identityHeaders = { user: 'X-User', email: 'X-Email', groups: 'X-Groups', assertion: 'X-Assert', forwardToken: true }; } },
  { name: 'Audit mode', edit: (s) => { s.mode = 'Audit'; } },
  { name: 'rate limit by ip', edit: (s) => { s.rateLimit.key = 'ip'; } },
];

function variantOf(edit) {
  const doc = structuredClone(metabaseExample);
  edit(doc.spec);
  return doc;
}

function checkInvalid({ name, path: want, origin = 'schema', edit }) {
  const { errors } = validate(variantOf(edit));
  const hit = errors.find((e) => e.path === want && e.origin === origin);
  assert.ok(hit, `${name}: want a ${origin} error at ${want}, got ${JSON.stringify(errors, null, 1)}`);
}

test('invalid variants fail at the expected field', async (t) => {
  assert.ok(kInvalid.length >= 80);
  for (const v of kInvalid) await t.test(v.name, () => checkInvalid(v));
});

test('valid variants pass', async (t) => {
  for (const v of kValid) {
    await t.test(v.name, () => assert.deepEqual(validate(variantOf(v.edit)).errors, []));
  }
});

test('YAML typing traps are type errors, as with kubectl', async (t) => {
  // YAML 1.2 core schema, as Kubernetes reads it: `yes` is a string, a quoted
  // number is a string.
  const traps = [
    { name: 'public: yes', yaml: 'from: {public: yes}', path: `spec.rules[${kHealth}].from.public`, target: 'health' },
    { name: 'quoted port', yaml: 'port: "3000"', path: 'spec.upstream.service.port' },
    { name: 'forwardToken: off', yaml: 'forwardToken: off', path: 'spec.identityHeaders.forwardToken' },
  ];
  for (const trap of traps) {
    await t.test(trap.name, () => {
      const parsed = YAML.parse(trap.yaml);
      const doc = variantOf((s) => {
        if (parsed.from) rule(s, trap.target).from = parsed.from;
        if (parsed.port !== undefined) s.upstream.service.port = parsed.port;
        if (parsed.forwardToken !== undefined) s.identityHeaders.forwardToken = parsed.forwardToken;
      });
      const { errors } = validate(doc);
      assert.ok(errors.some((e) => e.path === trap.path && e.keyword === 'type'),
        `${trap.name}: ${JSON.stringify(errors)}`);
    });
  }
});

test('a wrong status is rejected', () => {
  const doc = structuredClone(metabaseExample);
  doc.status = { conditions: [{ type: 'Ready', status: 'true', reason: 'Enforced', message: '', lastTransitionTime: 'yesterday' }] };
  const paths = validate(doc).errors.map((e) => e.path);
  assert.ok(paths.includes('status.conditions[0].status'), paths.join());
  assert.ok(paths.includes('status.conditions[0].lastTransitionTime'), paths.join());
});
