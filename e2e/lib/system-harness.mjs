// The whole Gatehouse system on one machine, for the system-*.test.mjs suites:
// the Helm chart rendered by the real helm and applied with the real kubectl to
// the Kubernetes API test server, then every Deployment run as local processes
// the way a kubelet would (container args from the applied Deployment, Secret
// volumes written to files, only listen addresses moved to loopback ports
// (chosen at bind where the binary reports them), POD_NAME set, a kubeconfig
// instead of the service account), the proxies registered in the admin
// Service's EndpointSlices as the endpoint controller would, the example
// policies adapted to local upstreams, the real oidc-provider twice (browser
// sign-in: login-idp.mjs; client credentials for a service account:
// local-idp.mjs), the Metabase stand-in and the internal
// API stand-in as upstreams, optionally a real Prometheus and real Chromium.
//
//   const sys = await startSystem({ prometheus: true, browser: true });
//   sys.proxies[0].port / .admin / .pid / .audit() / .restart() / .stop()
//   sys.operators[i].stop() / .start();  sys.idp (sign-in) / sys.sa (client credentials)
//   await sys.kubectl(['get', 'ap', '-A', '-o', 'json']);
//   await signIn(sys, 'ops', { proxy: 1 })        // -> gatehouse_session value (by hand, no browser)
//   await sys.stop();                              // in after(); kills everything it started
//   sys.leftovers()                                // pids of this system still alive (expect [])
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import crypto from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import https from 'node:https';
import { tmpdir } from 'node:os';
import path from 'node:path';
import YAML from 'yaml';
import { launchBrowser } from './browser.mjs';
import { startLocalIdp } from './local-idp.mjs';
import { beginLogin, deliverCallback, setCookies, startLoginIdp } from './login-idp.mjs';
import { operatorBin, startKube } from './operator-harness.mjs';
import { parseProxyPorts, retryOnAddressInUse, withFreePort } from './ports.mjs';
import { eventually, proxyBin, repo } from './proxy-harness.mjs';
import { spawnTracked, trackDescendants, waitOutput } from './system-processes.mjs';

export const kNamespace = 'gatehouse';
export const kMetabaseHost = 'metabase.example.com';
export const kApiHost = 'api.internal.example.com';
// Service accounts (OAuth clients of the client-credentials IdP).
export const kWriterClient = 'checkout-service@clients';
export const kStrangerClient = 'reporting-job@clients';
// The internal API's rate limit in this suite: small, so a test reaches it.
export const kApiRateLimit = { requestsPerMinute: 60, burst: 10, key: 'identity' };
export const kApiTimeoutSeconds = 2;

const tools = path.join(repo, '.tools/bin');
const helmEnv = {
  ...process.env,
  HELM_CACHE_HOME: path.join(repo, '.tools/helm/cache'),
  HELM_CONFIG_HOME: path.join(repo, '.tools/helm/config'),
  HELM_DATA_HOME: path.join(repo, '.tools/helm/data'),
};

// A node tool of e2e/tools that prints {"port":N} once listening.
// restart() kills it and starts it again on the same port (retried while a
// parallel test holds that port).
async function startTool(registry, name, script, args = ['--port', '0']) {
  const proc = spawnTracked(registry, name, process.execPath, [path.join(repo, 'e2e/tools', script), ...args]);
  const m = await waitOutput(proc, 'stdout', /\{"port":(\d+)\}/, 15000);
  proc.port = Number(m[1]);
  proc.url = `http://127.0.0.1:${proc.port}`;
  proc.json = async (p) => (await fetch(`${proc.url}${p}`)).json();
  proc.restart = async () => {
    await proc.stop('SIGKILL');
    const samePort = args.map((a, i) => (args[i - 1] === '--port' ? String(proc.port) : a));
    const again = await retryOnAddressInUse(() => startTool(registry, name, script, samePort));
    Object.assign(proc, again);
    return proc;
  };
  return proc;
}

// --- commands ----------------------------------------------------------------------

function run(bin, args, { input, env } = {}) {
  return new Promise((resolve, reject) => {
    const child = execFile(bin, args, { env: env ?? process.env, maxBuffer: 64 << 20, encoding: 'utf8' },
      (error, stdout, stderr) => {
        if (error) reject(new Error(`${path.basename(bin)} ${args.join(' ')}: ${stderr || error.message}`));
        else resolve(stdout);
      });
    if (input !== undefined) child.stdin.end(input);
  });
}

export const helm = (args) => run(path.join(tools, 'helm'), args, { env: helmEnv });

// The chart as plain YAML for release "gatehouse": keys made by gen-secrets.sh.
export async function renderChart(sets = []) {
  const args = ['template', 'gatehouse', path.join(repo, 'helm/gatehouse'), '--namespace', kNamespace,
    '--include-crds', '--set', 'secrets.generate=false'];
  for (const s of sets) args.push('--set', s);
  return helm(args);
}

// --- the example policies, pointed at this machine -----------------------------------

function exampleDocs(file) {
  return YAML.parseAllDocuments(readFileSync(path.join(repo, 'manifests/examples', file), 'utf8'))
    .map((d) => d.toJSON()).filter(Boolean);
}

// manifests/examples/metabase.yaml with: the Metabase stand-in as upstream, the
// sign-in IdP as issuer, the admins' group and address range of this machine.
function metabasePolicy({ upstream, issuer }) {
  const [doc] = exampleDocs('metabase.yaml');
  const spec = doc.spec;
  spec.upstream = { url: upstream, timeoutSeconds: spec.upstream.timeoutSeconds };
  for (const i of spec.authentication.issuers) i.issuer = issuer;
  spec.authentication.login.issuer = issuer;
  const admins = spec.rules.find((r) => r.name === 'admins');
  admins.from.groups = ['admins'];  // the sign-in IdP's group for ops
  admins.from.ipBlocks = ['127.0.0.0/8'];  // "the office": this machine
  return doc;
}

// manifests/examples/internal-api.yaml with: the internal API stand-in as
// upstream (a short timeout), the client-credentials IdP as issuer (its
// audience, its JWKS), this machine's address range and a small rate limit.
function internalApiPolicy({ upstream, issuer }) {
  const [doc] = exampleDocs('internal-api.yaml');
  const spec = doc.spec;
  spec.upstream = { url: upstream, timeoutSeconds: kApiTimeoutSeconds };
  const [idp] = spec.authentication.issuers;
  Object.assign(idp, { issuer, jwksUri: `${issuer}/jwks`, audiences: ['gatehouse'] });
  spec.rules.find((r) => r.name === 'scoped-readers').from.ipBlocks = ['127.0.0.0/8'];
  spec.rateLimit = { ...kApiRateLimit };
  return doc;
}

// The example Secrets with this run's values.
function exampleSecrets({ clientSecret, metabaseSecret }) {
  const docs = exampleDocs('secrets.example.yaml');
  docs.find((d) => d.metadata.name === 'corp-oidc').stringData = { 'client-secret': clientSecret };
  docs.find((d) => d.metadata.name === 'metabase-jwt').stringData = { secret: metabaseSecret };
  return docs;
}

// --- kubelet and endpoint controller, by hand -----------------------------------------

// Writes the Secret volumes `container` mounts into root/<volume>/<key>, as a
// kubelet would; a missing optional Secret is an empty folder.
async function mountSecrets(kube, podSpec, container, root) {
  const mounts = [];
  for (const m of container.volumeMounts ?? []) {
    const volume = podSpec.volumes.find((v) => v.name === m.name);
    assert.ok(volume?.secret, `volume ${m.name}: only Secret volumes are emulated`);
    const dir = path.join(root, volume.name);
    rmSync(dir, { recursive: true, force: true });
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    const r = await kube.request('GET', `/api/v1/namespaces/${kNamespace}/secrets/${volume.secret.secretName}`);
    if (r.status === 404) assert.ok(volume.secret.optional, `Secret ${volume.secret.secretName} is missing`);
    else assert.equal(r.status, 200, JSON.stringify(r.body));
    for (const [key, value] of Object.entries(r.body?.data ?? {})) {
      writeFileSync(path.join(dir, key), Buffer.from(value, 'base64'), { mode: volume.secret.defaultMode ?? 0o644 });
    }
    mounts.push({ mountPath: m.mountPath, dir });
  }
  return mounts;
}

// The container's args with mounted paths mapped to the files written above
// and `overrides` ({'--listen': 'ADDR'}) replacing flags that must be present.
// Both spellings are kept as written: "--flag=value" and "--flag", "value".
function localArgs(container, mounts, overrides) {
  const used = new Set();
  const mapValue = (flag, value) => {
    if (flag in overrides) { used.add(flag); return overrides[flag]; }
    const mount = mounts.find((x) => value.startsWith(`${x.mountPath}/`));
    return mount ? path.join(mount.dir, value.slice(mount.mountPath.length + 1)) : value;
  };
  const args = container.args ?? [];
  const out = [];
  for (let i = 0; i < args.length; i++) {
    const joined = /^(--[a-z0-9-]+)=(.*)$/s.exec(args[i]);
    if (joined) {
      out.push(`${joined[1]}=${mapValue(joined[1], joined[2])}`);
    } else if (/^--[a-z0-9-]+$/.test(args[i]) && i + 1 < args.length && !args[i + 1].startsWith('--')) {
      out.push(args[i], mapValue(args[i], args[i + 1]));
      i += 1;
    } else {
      out.push(args[i]);
    }
  }
  for (const flag of Object.keys(overrides)) assert.ok(used.has(flag), `the Deployment has no ${flag}`);
  return out;
}

function endpointSliceFor(pod) {
  return {
    apiVersion: 'discovery.k8s.io/v1', kind: 'EndpointSlice', addressType: 'IPv4',
    metadata: {
      name: `gatehouse-proxy-admin-${pod.name.slice(-5)}`, namespace: kNamespace,
      labels: { 'kubernetes.io/service-name': 'gatehouse-proxy-admin',
        'endpointslice.kubernetes.io/managed-by': 'endpointslice-controller.k8s.io' },
    },
    ports: [{ name: 'admin', port: pod.admin, protocol: 'TCP' }],
    // publishNotReadyAddresses: the controller lists the pod as ready from the start.
    endpoints: [{ addresses: ['127.0.0.1'], conditions: { ready: true, serving: true, terminating: false },
      targetRef: { kind: 'Pod', namespace: kNamespace, name: pod.name } }],
  };
}

const podSuffix = () => crypto.randomBytes(4).toString('hex').slice(0, 5);

// --- Prometheus, scraping as the chart's ServiceMonitors say -----------------------------

async function startPrometheusFor(registry, dir, { proxyTargets, operatorTargets, monitor, caFile }) {
  const endpoint = monitor.spec.endpoints[0];
  const config = {
    global: { scrape_interval: '1s', scrape_timeout: '1s', evaluation_interval: '1s' },
    scrape_configs: [
      { job_name: 'proxy', scheme: endpoint.scheme, metrics_path: endpoint.path,
        tls_config: { ca_file: caFile, server_name: endpoint.tlsConfig.serverName },
        static_configs: [{ targets: proxyTargets }] },
      { job_name: 'operator', static_configs: [{ targets: operatorTargets }] },
    ],
  };
  writeFileSync(path.join(dir, 'prometheus.yml'), YAML.stringify(config));
  // Prometheus cannot report a port it chose: a reserved one, and a new one
  // when a parallel test bound it first.
  const proc = await withFreePort(async (port) => {
    const p = spawnTracked(registry, 'prometheus', process.env.PROMETHEUS_BIN ?? '/usr/bin/prometheus', [
      `--config.file=${path.join(dir, 'prometheus.yml')}`, `--storage.tsdb.path=${path.join(dir, `tsdb-${port}`)}`,
      `--web.listen-address=127.0.0.1:${port}`, '--log.level=warn']);
    p.url = `http://127.0.0.1:${port}`;
    await untilServing(p, `${p.url}/-/ready`, 20000);
    return p;
  });
  const api = async (p, params) => {
    const body = await (await fetch(`${proc.url}${p}?${new URLSearchParams(params)}`)).json();
    if (body.status !== 'success') throw new Error(`${p} ${JSON.stringify(params)}: ${body.error}`);
    return body.data;
  };
  proc.query = async (expr) => {
    const data = await api('/api/v1/query', { query: expr });
    if (data.resultType === 'scalar') return [{ metric: {}, value: Number(data.result[1]) }];
    return data.result.map((s) => ({ metric: s.metric, value: Number(s.value[1]) }));
  };
  proc.scalar = async (expr) => (await proc.query(expr))[0]?.value;
  proc.waitForTargets = (count) => eventually(async () => {
    const { activeTargets } = await api('/api/v1/targets', { state: 'active' });
    assert.equal(activeTargets.length, count);
    for (const t of activeTargets) assert.equal(t.health, 'up', `${t.scrapeUrl}: ${t.lastError}`);
  }, { timeout: 30000, interval: 250 });
  return proc;
}

// Polls `url` until it answers 200 while `proc` runs; throws at once (with the
// process's stderr, "address already in use" among it when the port was taken)
// if the process exits first, or after timeoutMs (the process stopped).
async function untilServing(proc, url, timeoutMs) {
  const end = Date.now() + timeoutMs;
  for (;;) {
    if (!proc.running()) {
      await proc.stop('SIGKILL');
      throw new Error(`${proc.name} exited:\n${proc.stderr.slice(-2000)}`);
    }
    try {
      if ((await fetch(url, { signal: AbortSignal.timeout(2000) })).status === 200 && proc.running()) return;
    } catch { /* not listening yet */ }
    if (Date.now() > end) {
      await proc.stop('SIGKILL');
      throw new Error(`${proc.name}: ${url} not serving in ${timeoutMs} ms:\n${proc.stderr.slice(-2000)}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
}

// --- the system --------------------------------------------------------------------------

export async function startSystem({ prometheus = false, browser = false, proxies = 3 } = {}) {
  const registry = [];
  const sys = { registry, proxies: [], operators: [], cleanups: [] };
  sys.dir = mkdtempSync(path.join(tmpdir(), 'gh-system-'));
  trackDescendants(sys);
  try {
    await boot(sys, { prometheus, browser, proxies });
  } catch (e) {
    await stopSystem(sys);
    throw e;
  }
  sys.stop = () => stopSystem(sys);
  return sys;
}

async function boot(sys, { prometheus, browser, proxies }) {
  const { registry } = sys;
  const kube = await startKube();
  sys.kube = kube;
  sys.cleanups.push(() => kube.server.close());
  sys.kubectl = (args, input) => run('/usr/bin/kubectl', ['--kubeconfig', kube.kubeconfig, ...args], { input });

  // Upstreams and identity providers. The sign-in IdP registers each proxy's
  // callback URL exactly, once the proxies have bound their ports.
  const metabaseSecret = crypto.randomBytes(32).toString('hex');
  const clientSecret = crypto.randomBytes(24).toString('base64url');
  sys.metabaseSecret = metabaseSecret;
  sys.metabase = await startTool(registry, 'metabase-standin', 'metabase-standin.mjs',
    ['--port', '0', '--jwt-secret', metabaseSecret]);
  sys.api = await startTool(registry, 'internal-api', 'internal-api.mjs');
  const pods = [];
  for (let i = 0; i < proxies; i++) pods.push({ name: `gatehouse-proxy-7d9f8c6b5-${podSuffix()}` });
  sys.idp = await startLoginIdp({ clients: [{ id: 'gatehouse', secret: clientSecret, redirectUris: [] }] });
  sys.cleanups.push(() => sys.idp.close());
  sys.sa = await startLocalIdp({ clients: {
    [kWriterClient]: { email: 'checkout@clients.example.com', groups: ['services'] },
    [kStrangerClient]: { email: 'reporting@clients.example.com', groups: ['services'] },
  } });
  sys.cleanups.push(() => sys.sa.close());

  // The chart, its keys and the example policies, with the real helm and kubectl.
  sys.manifest = await renderChart();
  const docs = YAML.parseAllDocuments(sys.manifest).map((d) => d.toJSON()).filter(Boolean);
  for (const ns of [kNamespace, 'analytics', 'platform']) await sys.kubectl(['create', 'namespace', ns]);
  await sys.kubectl(['apply', '-f', '-'], await run(path.join(repo, 'scripts/gen-secrets.sh'), [kNamespace]));
  await sys.kubectl(['apply', '-f', '-'], sys.manifest);
  const examples = [...exampleSecrets({ clientSecret, metabaseSecret }),
    metabasePolicy({ upstream: sys.metabase.url, issuer: sys.idp.issuer }),
    internalApiPolicy({ upstream: sys.api.url, issuer: sys.sa.issuer })];
  await sys.kubectl(['apply', '-f', '-'], examples.map((d) => YAML.stringify(d)).join('---\n'));

  // What a kubelet would run, read back from the API server.
  const deployment = async (name) => JSON.parse(await sys.kubectl(['get', 'deployment', '-n', kNamespace, name, '-o', 'json']));
  sys.proxyDeployment = await deployment('gatehouse-proxy');
  sys.operatorDeployment = await deployment('gatehouse-operator');
  assert.equal(sys.proxyDeployment.spec.replicas, proxies, 'the chart runs this many proxies');
  const pushSecret = (await kube.request('GET', `/api/v1/namespaces/${kNamespace}/secrets/gatehouse-push-proxy`)).body;
  sys.pushCa = Buffer.from(pushSecret.data['ca.crt'], 'base64');
  sys.pushCaFile = path.join(sys.dir, 'push-ca.crt');
  writeFileSync(sys.pushCaFile, sys.pushCa);
  sys.pushServerName = `gatehouse-proxy-admin.${kNamespace}.svc`;

  for (const pod of pods) sys.proxies.push(await startProxyPod(sys, pod));
  sys.idp.allowRedirectUris('gatehouse', sys.proxies.map((p) => `${p.origin}/.gatehouse/callback`));
  const operatorPods = sys.operatorDeployment.spec.replicas;
  for (let i = 0; i < operatorPods; i++) {
    sys.operators.push(await startOperatorPod(sys, { name: `gatehouse-operator-5c4b7f9d8-${podSuffix()}` }));
  }
  for (const p of sys.proxies) await p.waitReady();

  if (prometheus) {
    const monitors = YAML.parseAllDocuments(await renderChart(['serviceMonitor.enabled=true']))
      .map((d) => d.toJSON()).filter((d) => d?.kind === 'ServiceMonitor');
    const monitor = monitors.find((m) => m.metadata.name === 'gatehouse-proxy');
    assert.equal(monitor.spec.endpoints[0].tlsConfig.ca.secret.name, 'gatehouse-push-proxy');
    sys.prom = await startPrometheusFor(registry, sys.dir, {
      proxyTargets: sys.proxies.map((p) => `127.0.0.1:${p.admin}`),
      operatorTargets: sys.operators.map((o) => `127.0.0.1:${o.admin}`),
      monitor, caFile: sys.pushCaFile,
    });
    await sys.prom.waitForTargets(sys.proxies.length + sys.operators.length);
  }
  if (browser) {
    sys.browser = await launchBrowser({ hostMap: [kMetabaseHost, kApiHost] });
    sys.cleanups.push(() => sys.browser.close());
  }
  sys.docs = docs;
  sys.snapshotPids();
}

// One proxy pod: Secret volumes written, args from the Deployment, listen and
// admin on loopback, registered in an EndpointSlice. The first start binds
// port 0 for both and reads the ports from the proxy's start line; a restart
// keeps them, as a restarted container keeps its pod's address.
async function startProxyPod(sys, pod) {
  const spec = sys.proxyDeployment.spec.template.spec;
  const [container] = spec.containers;
  const handle = { ...pod, restarts: 0 };
  const startOnce = async () => {
    const mounts = await mountSecrets(sys.kube, spec, container, path.join(sys.dir, pod.name));
    const args = localArgs(container, mounts,
      { '--listen': `127.0.0.1:${pod.port ?? 0}`, '--admin': `127.0.0.1:${pod.admin ?? 0}` });
    handle.args = args;
    handle.proc = spawnTracked(sys.registry, pod.name, proxyBin, args);
    handle.pid = handle.proc.pid;
    await waitOutput(handle.proc, 'stderr', /listening on /);
    Object.assign(pod, parseProxyPorts(handle.proc.stderr));
    Object.assign(handle, { port: pod.port, admin: pod.admin, origin: `http://${kMetabaseHost}:${pod.port}` });
    sys.snapshotPids?.();
  };
  handle.start = () => retryOnAddressInUse(startOnce);
  handle.stop = (signal = 'SIGTERM') => handle.proc?.stop(signal);
  handle.restart = async (signal = 'SIGKILL') => {
    await handle.stop(signal);
    handle.restarts += 1;
    await handle.start();
  };
  handle.audit = () => (handle.proc?.stdout ?? '').split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l));
  handle.stderr = () => handle.proc?.stderr ?? '';
  handle.adminGet = (p) => adminGet(sys, pod.admin, p);
  handle.config = async () => JSON.parse((await handle.adminGet('/v1/config')).body);
  handle.waitReady = () => eventually(async () => {
    assert.ok(handle.proc.running(), `${pod.name} exited:\n${handle.stderr().slice(-2000)}`);
    assert.equal((await handle.adminGet('/readyz')).status, 200);
  }, { timeout: 30000, interval: 100 });
  await handle.start();
  const r = await sys.kube.request('POST', `/apis/discovery.k8s.io/v1/namespaces/${kNamespace}/endpointslices`, endpointSliceFor(pod));
  assert.equal(r.status, 201, JSON.stringify(r.body));
  return handle;
}

// One operator pod: its Deployment's args, push certificates from its Secret,
// a kubeconfig in place of the in-cluster service account, POD_NAME set.
async function startOperatorPod(sys, pod) {
  const spec = sys.operatorDeployment.spec.template.spec;
  const [container] = spec.containers;
  const handle = { ...pod };
  const startOn = async (port) => {
    const mounts = await mountSecrets(sys.kube, spec, container, path.join(sys.dir, pod.name));
    const args = [...localArgs(container, mounts, { '--admin': `127.0.0.1:${port}` }), `--kubeconfig=${sys.kube.kubeconfig}`];
    handle.proc = spawnTracked(sys.registry, pod.name, operatorBin, args, { env: { ...process.env, POD_NAME: pod.name } });
    handle.pid = handle.proc.pid;
    // Logged right after the admin port is bound; a bind failure exits first.
    await waitOutput(handle.proc, 'stderr', /cluster mode:/);
    await untilServing(handle.proc, `http://127.0.0.1:${port}/healthz`, 20000);
    handle.admin = port;
    sys.snapshotPids?.();
  };
  // The operator's admin server cannot report a port 0 choice: the first start
  // reserves one (a new one if a parallel test took it); a restart keeps it.
  handle.start = () => (handle.admin === undefined
    ? withFreePort(startOn) : retryOnAddressInUse(() => startOn(handle.admin)));
  handle.stop = (signal = 'SIGTERM') => handle.proc?.stop(signal);
  handle.metrics = async () => (await fetch(`http://127.0.0.1:${handle.admin}/metrics`)).text();
  await handle.start();
  return handle;
}

// HTTPS GET on a proxy's admin port, verifying its certificate as the
// operator does (the push CA, the admin Service's name).
export function adminGet(sys, port, p) {
  return new Promise((resolve, reject) => {
    const req = https.request({ host: '127.0.0.1', port, path: p, ca: sys.pushCa, servername: sys.pushServerName,
      agent: false }, (res) => {
      let body = '';
      res.on('data', (d) => { body += d; });
      res.on('end', () => resolve({ status: res.statusCode, body }));
      res.on('error', reject);
    });
    req.setTimeout(10000, () => req.destroy(new Error('timeout')));
    req.on('error', reject);
    req.end();
  });
}

// A browser-less sign-in through proxy `proxy` as `user`: the proxy's 302, the
// IdP's form, the callback. Returns the gatehouse_session cookie value.
export async function signIn(sys, user, { proxy = 0 } = {}) {
  const { port } = sys.proxies[proxy];
  const begin = await beginLogin(port, kMetabaseHost, '/');
  const callbackUrl = await sys.idp.signIn(begin.authorize.href, user);
  const callback = await deliverCallback(port, callbackUrl, { gatehouse_login: begin.loginCookie });
  const session = setCookies(callback).gatehouse_session?.value;
  assert.ok(session, `no session for ${user}: ${callback.status} ${callback.body.slice(0, 200)}`);
  return session;
}

// AccessPolicy status as `kubectl get -o json` shows it.
export async function policyStatus(sys, ns, name) {
  return JSON.parse(await sys.kubectl(['get', 'accesspolicy', '-n', ns, name, '-o', 'json']));
}
export const condition = (obj, type) => obj?.status?.conditions?.find((c) => c.type === type);

// Ready as PRODUCT.md defines it: Accepted and Ready True for the current
// generation, every proxy in sync.
export async function waitPoliciesReady(sys, names, { timeout = 30000 } = {}) {
  const total = sys.proxies.length;
  return eventually(async () => {
    const out = {};
    for (const [ns, name] of names) {
      const p = await policyStatus(sys, ns, name);
      const accepted = condition(p, 'Accepted');
      const ready = condition(p, 'Ready');
      assert.equal(accepted?.status, 'True', `${ns}/${name} Accepted: ${JSON.stringify(accepted)}`);
      assert.equal(ready?.status, 'True', `${ns}/${name} Ready: ${JSON.stringify(ready)}`);
      assert.equal(p.status.observedGeneration, p.metadata.generation, `${ns}/${name} observedGeneration`);
      assert.deepEqual(p.status.proxies, { inSync: total, total }, `${ns}/${name} proxies`);
      out[`${ns}/${name}`] = p;
    }
    return out;
  }, { timeout, interval: 250 });
}

async function stopSystem(sys) {
  sys.snapshotPids();
  const procs = [...sys.proxies.map((p) => p.proc), ...sys.operators.map((o) => o.proc), sys.prom, sys.metabase, sys.api];
  await Promise.all(procs.filter(Boolean).map((p) => p.stop('SIGKILL')));
  for (const cleanup of sys.cleanups.reverse()) {
    try { await cleanup(); } catch { /* best effort: the rest must still stop */ }
  }
  sys.cleanups = [];
  if (sys.dir && existsSync(sys.dir)) rmSync(sys.dir, { recursive: true, force: true });
}
