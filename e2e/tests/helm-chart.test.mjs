// The Helm chart helm/gatehouse with the real helm (v3.17) and kubectl
// (v1.31) from .tools/bin (scripts/setup.sh puts them there):
//   - `helm lint --strict` is clean;
//   - default and all-features renders validate against the Kubernetes
//     schemas (kubernetes-models), the ServiceMonitor has the expected shape;
//   - values.schema.json rejects wrong types, with a message naming the value;
//   - security context, probes, labels and RBAC (least privilege, no wildcard);
//   - generated keys are usable (P-256 signing key accepted by the real proxy,
//     session keys, push certificates chained to the push CA), the same for
//     scripts/gen-secrets.sh;
//   - crds/ copy and manifests/gatehouse.yaml are in sync;
//   - `helm install` / `helm upgrade` against the Kubernetes API test server:
//     generated Secrets survive the upgrade; the plain manifests apply with kubectl.
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { X509Certificate, createPrivateKey } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import YAML from 'yaml';
import { startKube } from '../lib/operator-harness.mjs';
import { startProxy, repo } from '../lib/proxy-harness.mjs';

const chart = path.join(repo, 'helm/gatehouse');
const tools = path.join(repo, '.tools/bin');
const helmBin = path.join(tools, 'helm');
const kubectlBin = path.join(tools, 'kubectl');
const helmEnv = {
  ...process.env,
  HELM_CACHE_HOME: path.join(repo, '.tools/helm/cache'),
  HELM_CONFIG_HOME: path.join(repo, '.tools/helm/config'),
  HELM_DATA_HOME: path.join(repo, '.tools/helm/data'),
};
const kAllFeatures = ['serviceMonitor.enabled=true', 'networkPolicy.enabled=true',
  'proxy.autoscaling.enabled=true'];

// Runs a command; resolves {code, stdout, stderr} (never rejects on exit status).
function run(bin, args, { input, env = helmEnv } = {}) {
  return new Promise((resolve) => {
    const child = execFile(bin, args, { env, maxBuffer: 64 << 20, encoding: 'utf8' },
      (error, stdout, stderr) => resolve({ code: error ? (error.code ?? 1) : 0, stdout, stderr }));
    if (input !== undefined) child.stdin.end(input);
  });
}

async function template(sets = [], extra = []) {
  const args = ['template', 'gatehouse', chart, '--namespace', 'gatehouse', ...extra];
  for (const s of sets) args.push('--set', s);
  const r = await run(helmBin, args);
  assert.equal(r.code, 0, `helm template ${sets.join(' ')} failed:\n${r.stderr}`);
  return YAML.parseAllDocuments(r.stdout).map((d) => d.toJSON()).filter(Boolean);
}

const byKind = (docs, kind) => docs.filter((d) => d.kind === kind);
const one = (docs, kind, name) => {
  const found = docs.filter((d) => d.kind === kind && d.metadata.name === name);
  assert.equal(found.length, 1, `expected one ${kind} ${name}`);
  return found[0];
};
const podSpecs = (docs) => byKind(docs, 'Deployment').map((d) => ({ name: d.metadata.name, spec: d.spec.template.spec }));

// Validates a built-in kind with kubernetes-models; returns the problems.
async function schemaProblems(doc) {
  const [group, version] = doc.apiVersion.includes('/') ? doc.apiVersion.split('/') : ['', doc.apiVersion];
  const modulePath = `kubernetes-models/${group ? `${group}/` : ''}${version}/${doc.kind}`;
  const Model = (await import(modulePath))[doc.kind];
  try {
    new Model(structuredClone(doc)).validate();
    return [];
  } catch (e) {
    return (e.errors ?? [e]).map((x) => `${doc.kind}/${doc.metadata?.name}${x.instancePath ?? ''}: ${x.message}`);
  }
}

before(() => {
  assert.ok(existsSync(helmBin) && existsSync(kubectlBin),
    `${helmBin} and ${kubectlBin} are missing: run scripts/setup.sh`);
});

test('helm lint --strict is clean', async () => {
  for (const sets of [[], kAllFeatures]) {
    const args = ['lint', '--strict', chart];
    for (const s of sets) args.push('--set', s);
    const r = await run(helmBin, args);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.match(r.stdout, /1 chart\(s\) linted, 0 chart\(s\) failed/);
    assert.doesNotMatch(r.stdout, /\[(WARNING|ERROR)\]/);
  }
});

test('renders validate against the Kubernetes schemas, with the expected objects', async () => {
  const scenarios = [
    { name: 'defaults', sets: [], kinds: { Deployment: 2, Service: 3, ServiceAccount: 2, Secret: 3,
      ConfigMap: 1, PodDisruptionBudget: 1, ClusterRole: 1, ClusterRoleBinding: 1, Role: 1, RoleBinding: 1,
      HorizontalPodAutoscaler: 0, NetworkPolicy: 0, ServiceMonitor: 0 } },
    { name: 'every optional feature', sets: kAllFeatures, kinds: { Deployment: 2, Service: 3,
      HorizontalPodAutoscaler: 1, NetworkPolicy: 1, ServiceMonitor: 2, Secret: 3 } },
    { name: 'secrets not generated', sets: ['secrets.generate=false'], kinds: { Secret: 0, Deployment: 2 } },
    { name: 'one watched namespace', sets: ['operator.watchNamespace=analytics'],
      kinds: { ClusterRole: 0, ClusterRoleBinding: 0, Role: 2, RoleBinding: 2 } },
  ];
  for (const s of scenarios) {
    const docs = await template(s.sets);
    for (const [kind, count] of Object.entries(s.kinds)) {
      assert.equal(byKind(docs, kind).length, count, `${s.name}: ${kind}`);
    }
    const problems = [];
    for (const doc of docs.filter((d) => !d.apiVersion.startsWith('monitoring.coreos.com'))) {
      problems.push(...(await schemaProblems(doc)));
    }
    assert.deepEqual(problems, [], s.name);
  }
  const crds = await template([], ['--include-crds']);
  assert.deepEqual(await schemaProblems(one(crds, 'CustomResourceDefinition', 'accesspolicies.gatehouse.dev')), []);
});

test('the ServiceMonitors scrape the proxies over TLS and the operator', async () => {
  const docs = await template(kAllFeatures);
  const proxy = one(docs, 'ServiceMonitor', 'gatehouse-proxy');
  assert.equal(proxy.apiVersion, 'monitoring.coreos.com/v1');
  assert.deepEqual(proxy.spec.namespaceSelector, { matchNames: ['gatehouse'] });
  const admin = one(docs, 'Service', 'gatehouse-proxy-admin');
  for (const [k, v] of Object.entries(proxy.spec.selector.matchLabels)) {
    assert.equal(admin.metadata.labels[k], v, `admin Service lacks selector label ${k}`);
  }
  assert.equal(one(docs, 'Service', 'gatehouse-proxy').metadata.labels['gatehouse.dev/admin'], undefined,
    'the traffic Service must not be selected (it has no admin port)');
  assert.deepEqual(proxy.spec.endpoints, [{ port: 'admin', path: '/metrics', scheme: 'https', interval: '30s',
    tlsConfig: { serverName: 'gatehouse-proxy-admin.gatehouse.svc',
      ca: { secret: { name: 'gatehouse-push-proxy', key: 'ca.crt' } } } }]);
  assert.ok(admin.spec.ports.some((p) => p.name === 'admin'));
  const operator = one(docs, 'ServiceMonitor', 'gatehouse-operator');
  assert.deepEqual(operator.spec.endpoints, [{ port: 'metrics', path: '/metrics', scheme: 'http', interval: '30s' }]);
  const metricsSvc = one(docs, 'Service', 'gatehouse-operator-metrics');
  for (const [k, v] of Object.entries(operator.spec.selector.matchLabels)) assert.equal(metricsSvc.metadata.labels[k], v);
});

test('values.schema.json rejects wrong types and unknown values, naming the value', async () => {
  const cases = [
    { name: 'replicas not a number', set: 'proxy.replicas=three', field: 'proxy.replicas' },
    { name: 'boolean as a word', set: 'secrets.generate=yes', field: 'secrets.generate' },
    { name: 'negative drain', set: 'proxy.drainSeconds=-1', field: 'proxy.drainSeconds' },
    { name: 'port out of range', set: 'proxy.adminPort=70000', field: 'proxy.adminPort' },
    { name: 'unknown pull policy', set: 'proxy.image.pullPolicy=Sometimes', field: 'proxy.image.pullPolicy' },
    { name: 'interval as a number', set: 'serviceMonitor.interval=30', field: 'serviceMonitor.interval' },
    { name: 'misspelt top-level value', set: 'serviceMonitr.enabled=true', field: 'serviceMonitr' },
    { name: 'misspelt nested value', set: 'proxy.replica=3', field: 'replica' },
    { name: 'resources as a string', set: 'operator.resources=big', field: 'operator.resources' },
  ];
  for (const c of cases) {
    const r = await run(helmBin, ['template', 'gatehouse', chart, '--set', c.set]);
    assert.notEqual(r.code, 0, `${c.name}: accepted`);
    assert.match(r.stderr, /values don't meet the specifications of the schema/, c.name);
    assert.ok(r.stderr.includes(c.field), `${c.name}: message does not name ${c.field}:\n${r.stderr}`);
  }
  const grace = await run(helmBin, ['template', 'gatehouse', chart, '--set', 'proxy.drainSeconds=60']);
  assert.notEqual(grace.code, 0, 'a grace period shorter than the drain was accepted');
  assert.match(grace.stderr, /terminationGracePeriodSeconds must be greater than proxy.drainSeconds/);
});

test('every container is locked down, probed on its admin port and limited', async () => {
  const docs = await template(kAllFeatures);
  for (const { name, spec } of podSpecs(docs)) {
    assert.equal(spec.securityContext.runAsNonRoot, true, name);
    assert.equal(spec.securityContext.seccompProfile.type, 'RuntimeDefault', name);
    assert.ok(spec.securityContext.runAsUser > 0, name);
    for (const c of [...spec.containers, ...(spec.initContainers ?? [])]) {
      const sc = c.securityContext;
      assert.equal(sc.runAsNonRoot, true, `${name}/${c.name}`);
      assert.equal(sc.readOnlyRootFilesystem, true, `${name}/${c.name}`);
      assert.equal(sc.allowPrivilegeEscalation, false, `${name}/${c.name}`);
      assert.equal(sc.privileged, false, `${name}/${c.name}`);
      assert.deepEqual(sc.capabilities, { drop: ['ALL'] }, `${name}/${c.name}`);
      assert.equal(sc.seccompProfile.type, 'RuntimeDefault', `${name}/${c.name}`);
      for (const kind of ['requests', 'limits']) {
        assert.ok(c.resources[kind].cpu && c.resources[kind].memory, `${name}/${c.name} ${kind}`);
      }
      const adminPort = c.ports.find((p) => p.name === (name.endsWith('proxy') ? 'admin' : 'metrics'));
      assert.ok(adminPort, `${name}: admin port`);
      assert.deepEqual([c.livenessProbe.httpGet.path, c.livenessProbe.httpGet.port], ['/healthz', adminPort.name]);
      assert.deepEqual([c.readinessProbe.httpGet.path, c.readinessProbe.httpGet.port], ['/readyz', adminPort.name]);
      for (const m of c.volumeMounts ?? []) assert.equal(m.readOnly, true, `${name}: ${m.mountPath} writable`);
    }
  }
  const proxy = one(docs, 'Deployment', 'gatehouse-proxy').spec.template.spec;
  const drain = Number(proxy.containers[0].args.find((a) => a.startsWith('--drain-seconds=')).split('=')[1]);
  assert.ok(proxy.terminationGracePeriodSeconds > drain, 'grace period must exceed the drain');
  assert.equal(proxy.automountServiceAccountToken, false, 'the proxy needs no API token');
  assert.equal(one(docs, 'Deployment', 'gatehouse-proxy').spec.replicas, undefined, 'HPA owns replicas');
  const defaults = await template();
  assert.equal(one(defaults, 'Deployment', 'gatehouse-proxy').spec.replicas, 3);
  assert.equal(one(defaults, 'Deployment', 'gatehouse-operator').spec.replicas, 2);
  assert.equal(one(defaults, 'Service', 'gatehouse-proxy-admin').spec.publishNotReadyAddresses, true);
  assert.deepEqual(proxy.topologySpreadConstraints.map((t) => t.topologyKey),
    ['topology.kubernetes.io/zone', 'kubernetes.io/hostname']);
});

test('the operator and proxies are wired to the same names', async () => {
  const docs = await template();
  const op = one(docs, 'Deployment', 'gatehouse-operator').spec.template.spec.containers[0].args;
  for (const flag of ['--proxy-namespace=gatehouse', '--proxy-service=gatehouse-proxy-admin',
    '--config-map=gatehouse-fleet-config', '--lease-name=gatehouse-operator', '--admin=0.0.0.0:8081',
    '--push-ca=/etc/gatehouse/push/ca.crt', '--push-cert=/etc/gatehouse/push/tls.crt',
    '--push-key=/etc/gatehouse/push/tls.key']) {
    assert.ok(op.includes(flag), `operator lacks ${flag}`);
  }
  const proxy = one(docs, 'Deployment', 'gatehouse-proxy').spec.template.spec;
  assert.ok(proxy.containers[0].args.includes('--bootstrap=/etc/gatehouse/bootstrap/config.json'));
  const bootstrap = proxy.volumes.find((v) => v.name === 'bootstrap').secret;
  assert.deepEqual([bootstrap.secretName, bootstrap.optional], ['gatehouse-fleet-config', true]);
  const secrets = new Set(byKind(docs, 'Secret').map((s) => s.metadata.name));
  for (const spec of podSpecs(docs).map((p) => p.spec)) {
    for (const v of spec.volumes.filter((x) => x.secret && !x.secret.optional)) {
      assert.ok(secrets.has(v.secret.secretName), `volume ${v.name}: no Secret ${v.secret.secretName}`);
    }
  }
});

test('every object carries the app.kubernetes.io labels', async () => {
  for (const doc of await template(kAllFeatures)) {
    const labels = doc.metadata.labels ?? {};
    for (const key of ['name', 'instance', 'version', 'component', 'managed-by']) {
      assert.ok(labels[`app.kubernetes.io/${key}`], `${doc.kind}/${doc.metadata.name} lacks app.kubernetes.io/${key}`);
    }
    assert.equal(labels['helm.sh/chart'], 'gatehouse-0.1.0', `${doc.kind}/${doc.metadata.name}`);
  }
  const cm = one(await template(), 'ConfigMap', 'gatehouse-dashboard');
  assert.equal(cm.metadata.labels.grafana_dashboard, '1');
  assert.deepEqual(JSON.parse(cm.data['gatehouse.json']),
    JSON.parse(readFileSync(path.join(chart, 'dashboards/gatehouse.json'), 'utf8')));
});

test('RBAC grants exactly what the operator uses, no wildcards', async () => {
  const rules = (doc) => doc.rules.map((r) => ({ groups: r.apiGroups.join(','), resources: r.resources.join(','),
    names: (r.resourceNames ?? []).join(','), verbs: [...r.verbs].sort().join(',') }));
  const docs = await template();
  for (const doc of [...byKind(docs, 'ClusterRole'), ...byKind(docs, 'Role')]) {
    for (const r of doc.rules) {
      for (const field of ['apiGroups', 'resources', 'verbs', 'resourceNames']) {
        assert.ok(!(r[field] ?? []).includes('*'), `${doc.kind}/${doc.metadata.name}: wildcard in ${field}`);
      }
      assert.ok(!r.verbs.some((v) => ['delete', 'deletecollection', 'patch', 'escalate', 'bind', 'impersonate'].includes(v)),
        `${doc.kind}/${doc.metadata.name}: ${r.verbs}`);
    }
  }
  assert.deepEqual(rules(one(docs, 'ClusterRole', 'gatehouse-operator-gatehouse')), [
    { groups: 'gatehouse.dev', resources: 'accesspolicies', names: '', verbs: 'get,list,watch' },
    { groups: 'gatehouse.dev', resources: 'accesspolicies/status', names: '', verbs: 'update' },
    { groups: '', resources: 'secrets', names: '', verbs: 'list,watch' },
  ]);
  const fleet = one(docs, 'Role', 'gatehouse-operator-fleet');
  assert.equal(fleet.metadata.namespace, 'gatehouse');
  assert.deepEqual(rules(fleet), [
    { groups: 'coordination.k8s.io', resources: 'leases', names: 'gatehouse-operator', verbs: 'get,update' },
    { groups: 'coordination.k8s.io', resources: 'leases', names: '', verbs: 'create' },
    { groups: '', resources: 'secrets', names: 'gatehouse-fleet-config', verbs: 'get,update' },
    { groups: '', resources: 'secrets', names: '', verbs: 'create' },
    { groups: 'discovery.k8s.io', resources: 'endpointslices', names: '', verbs: 'list,watch' },
  ]);
  for (const binding of [...byKind(docs, 'ClusterRoleBinding'), ...byKind(docs, 'RoleBinding')]) {
    assert.deepEqual(binding.subjects, [{ kind: 'ServiceAccount', name: 'gatehouse-operator', namespace: 'gatehouse' }]);
  }
});

// Checks one set of key Secrets (from the chart or from gen-secrets.sh).
function checkKeySecrets(secrets, label) {
  const data = (name, key) => Buffer.from(one(secrets, 'Secret', name).data[key], 'base64');
  const signing = createPrivateKey(data('gatehouse-keys', 'signing-key.pem'));
  assert.equal(signing.asymmetricKeyDetails.namedCurve, 'prime256v1', `${label}: signing key curve`);
  const sessionLines = data('gatehouse-keys', 'session-keys').toString().split('\n').filter(Boolean);
  assert.ok(sessionLines.length >= 1, label);
  for (const line of sessionLines) {
    assert.match(line, /^[A-Za-z0-9_-]{43}$/, `${label}: session key line`);
    assert.equal(Buffer.from(line, 'base64url').length, 32, label);
  }
  const ca = new X509Certificate(data('gatehouse-push-proxy', 'ca.crt'));
  assert.ok(ca.ca, `${label}: push CA is a CA`);
  assert.deepEqual(data('gatehouse-push-operator', 'ca.crt'), data('gatehouse-push-proxy', 'ca.crt'), label);
  const server = new X509Certificate(data('gatehouse-push-proxy', 'tls.crt'));
  const client = new X509Certificate(data('gatehouse-push-operator', 'tls.crt'));
  const clientCa = new X509Certificate(data('gatehouse-push-proxy', 'client-ca.crt'));
  assert.ok(clientCa.ca, `${label}: push client CA is a CA`);
  // Proxies trust only the client CA for pushes: a proxy certificate must not chain to it.
  assert.ok(!(server.checkIssued(clientCa) && server.verify(clientCa.publicKey)),
    `${label}: a proxy certificate must not be able to push`);
  for (const [cert, key, issuer] of [[server, 'gatehouse-push-proxy', ca], [client, 'gatehouse-push-operator', clientCa]]) {
    assert.ok(cert.checkIssued(issuer) && cert.verify(issuer.publicKey), `${label}: ${key} not signed by its push CA`);
    assert.ok(cert.checkPrivateKey(createPrivateKey(data(key, 'tls.key'))), `${label}: ${key} key mismatch`);
    assert.ok(!cert.ca, label);
  }
  assert.ok(server.checkHost('gatehouse-proxy-admin.gatehouse.svc'), `${label}: server SAN`);
  assert.ok(!server.checkHost('evil.example.com'), label);
  assert.equal(one(secrets, 'Secret', 'gatehouse-push-proxy').type, 'kubernetes.io/tls');
  return data('gatehouse-keys', 'signing-key.pem');
}

test('generated keys and certificates are usable, from the chart and from gen-secrets.sh', async () => {
  const fromChart = byKind(await template(), 'Secret');
  const chartKey = checkKeySecrets(fromChart, 'chart');
  const again = byKind(await template(), 'Secret');
  assert.notDeepEqual(checkKeySecrets(again, 'chart again'), chartKey, 'keys must be random per install');
  const script = await run(path.join(repo, 'scripts/gen-secrets.sh'), ['gatehouse']);
  assert.equal(script.code, 0, script.stderr);
  const fromScript = YAML.parseAllDocuments(script.stdout).map((d) => d.toJSON());
  for (const doc of fromScript) assert.deepEqual(await schemaProblems(doc), []);
  const scriptKey = checkKeySecrets(fromScript, 'gen-secrets.sh');

  // The real proxy accepts both signing keys and both session key files.
  const sessionKeys = (secrets) => Buffer.from(one(secrets, 'Secret', 'gatehouse-keys').data['session-keys'], 'base64');
  const dir = mkdtempSync(path.join(tmpdir(), 'gh-helm-'));
  try {
    for (const [name, pem, sessions] of [['chart', chartKey, sessionKeys(fromChart)], ['script', scriptKey, sessionKeys(fromScript)]]) {
      writeFileSync(path.join(dir, `${name}.pem`), pem, { mode: 0o600 });
      writeFileSync(path.join(dir, `${name}.sessions`), sessions, { mode: 0o600 });
      const proxy = await startProxy({ policies: dir, args: ['--signing-key', path.join(dir, `${name}.pem`),
        '--session-keys', path.join(dir, `${name}.sessions`)] });
      assert.doesNotMatch(proxy.stderr(), /EPHEMERAL/);
      assert.equal((await proxy.stop()).code, 0);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('the chart CRD is the same file as crds/', () => {
  const top = readFileSync(path.join(repo, 'crds/gatehouse.dev_accesspolicies.yaml'));
  const copy = readFileSync(path.join(chart, 'crds/gatehouse.dev_accesspolicies.yaml'));
  assert.ok(top.equals(copy), 'helm/gatehouse/crds/ differs from crds/: run scripts/render-manifests.sh');
});

test('manifests/gatehouse.yaml is the current render (scripts/render-manifests.sh)', async () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'gh-helm-'));
  try {
    const out = path.join(dir, 'gatehouse.yaml');
    const r = await run(path.join(repo, 'scripts/render-manifests.sh'), [out]);
    assert.equal(r.code, 0, r.stderr);
    assert.ok(readFileSync(out).equals(readFileSync(path.join(repo, 'manifests/gatehouse.yaml'))),
      'manifests/gatehouse.yaml is stale: run scripts/render-manifests.sh');
    const docs = YAML.parseAllDocuments(readFileSync(out, 'utf8')).map((d) => d.toJSON()).filter(Boolean);
    assert.equal(byKind(docs, 'Secret').length, 0, 'plain manifests must carry no key material');
    assert.equal(byKind(docs, 'CustomResourceDefinition').length, 1);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('against the Kubernetes API test server', async (t) => {
  const kube = await startKube();
  const kubectl = (...args) => run(kubectlBin, ['--kubeconfig', kube.kubeconfig, ...args]);
  const helm = (...args) => run(helmBin, ['--kubeconfig', kube.kubeconfig, ...args]);
  t.after(() => kube.server.close());
  const ok = (r, what) => assert.equal(r.code, 0, `${what}:\n${r.stderr}${r.stdout}`);

  await t.test('plain manifests + gen-secrets.sh + example policies apply with kubectl', async () => {
    for (const ns of ['gatehouse', 'analytics', 'platform']) ok(await kubectl('create', 'namespace', ns), ns);
    const secrets = await run(path.join(repo, 'scripts/gen-secrets.sh'), ['gatehouse']);
    ok(await run(kubectlBin, ['--kubeconfig', kube.kubeconfig, 'apply', '-f', '-'], { input: secrets.stdout }), 'secrets');
    ok(await kubectl('apply', '-f', path.join(repo, 'manifests/gatehouse.yaml')), 'manifests');
    ok(await kubectl('apply', '-f', path.join(repo, 'manifests/examples/')), 'examples');
    const got = await kubectl('get', 'deploy,svc,pdb,sa,secret,cm', '-n', 'gatehouse', '-o', 'name');
    ok(got, 'get');
    for (const name of ['deployment.apps/gatehouse-operator', 'deployment.apps/gatehouse-proxy',
      'service/gatehouse-proxy', 'service/gatehouse-proxy-admin', 'poddisruptionbudget.policy/gatehouse-proxy',
      'secret/gatehouse-keys', 'configmap/gatehouse-dashboard']) {
      assert.ok(got.stdout.split('\n').includes(name), `${name} missing:\n${got.stdout}`);
    }
    const policies = await kubectl('get', 'accesspolicies', '-A', '-o', 'name');
    ok(policies, 'policies');
    assert.ok(policies.stdout.trim().split('\n').length >= 2, policies.stdout);
  });

  await t.test('helm install with every feature the server serves, then upgrade keeps the keys', async () => {
    ok(await kubectl('create', 'namespace', 'gh-helm'), 'ns');
    const sets = ['networkPolicy.enabled=true', 'proxy.autoscaling.enabled=true'];
    const install = await helm('install', 'gatehouse', chart, '-n', 'gh-helm', '--skip-crds', '--set', sets.join(','));
    ok(install, 'helm install');
    assert.match(install.stdout, /STATUS: deployed/);
    const read = async () => (await kubectl('get', 'secret', '-n', 'gh-helm', '-l', 'app.kubernetes.io/instance=gatehouse',
      '-o', 'json')).stdout;
    const secretsOf = (text) => Object.fromEntries(JSON.parse(text).items
      .filter((s) => !s.metadata.name.startsWith('sh.helm.'))
      .map((s) => [s.metadata.name, s.data]));
    const first = secretsOf(await read());
    assert.deepEqual(Object.keys(first).sort(), ['gatehouse-keys', 'gatehouse-push-operator', 'gatehouse-push-proxy']);
    ok(await kubectl('get', 'networkpolicy/gatehouse-proxy', 'hpa/gatehouse-proxy', '-n', 'gh-helm'), 'optional kinds');
    const upgrade = await helm('upgrade', 'gatehouse', chart, '-n', 'gh-helm', '--set', 'proxy.replicas=4');
    ok(upgrade, 'helm upgrade');
    assert.deepEqual(secretsOf(await read()), first, 'helm upgrade changed generated keys');
    const replicas = await kubectl('get', 'deploy/gatehouse-proxy', '-n', 'gh-helm', '-o', 'jsonpath={.spec.replicas}');
    assert.equal(replicas.stdout, '4');
  });
});
