// propagation.mjs: how long a policy change takes from `kubectl apply` to
// every proxy enforcing it (benchmark scenario 5).
//
//   node bench/propagation.mjs [--proxies 10] [--changes 50]
//       [--proxy-bin build/proxy/cli/gatehouse-proxy] [--operator-bin build/operator/gatehouse-operator]
//
// Starts the Kubernetes API test server (e2e/kube-apiserver), an upstream,
// N real `gatehouse-proxy serve --bootstrap <missing file>` processes (each
// waits for its first push) listed by one EndpointSlice each, and the
// operator in cluster mode (--kubeconfig). Then, --changes times: `kubectl
// apply` of the same AccessPolicy with a new public path /c<i>, and polls
// every proxy's listener (GET /c<i>, every 5 ms per proxy) until each one
// answers 200 (before the change that path is a 401). The time of one change
// runs from starting kubectl to the last proxy answering 200, so it includes
// kubectl's own start-up and request (reported on its own as kubectl_p50_ms;
// after_apply_* count from kubectl's exit, when the API server has stored the
// change, and can be negative when a proxy enforces before kubectl exits).
// Prints progress on stderr and one JSON line on stdout:
//   {"proxies", "changes", "p50_ms", "p99_ms", "max_ms", "kubectl_p50_ms",
//    "after_apply_p50_ms", "after_apply_p99_ms"}
// Every process it starts is stopped before it exits.
import {execFile, spawn} from 'node:child_process';
import {writeFileSync} from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import {fileURLToPath} from 'node:url';
import {promisify} from 'node:util';

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const args = process.argv.slice(2);
const flag = (name, fallback) => {
  const i = args.indexOf(name);
  return i >= 0 && i + 1 < args.length ? args[i + 1] : fallback;
};
const proxies = Number(flag('--proxies', 10));
const changes = Number(flag('--changes', 50));
const proxyBin = path.resolve(flag('--proxy-bin', path.join(repo, 'build/proxy/cli/gatehouse-proxy')));
process.env.GATEHOUSE_OPERATOR_BIN =
    path.resolve(flag('--operator-bin', path.join(repo, 'build/operator/gatehouse-operator')));
if (!(proxies >= 1) || !(changes >= 1)) {
  console.error('usage: node propagation.mjs [--proxies N] [--changes N] [--proxy-bin F] [--operator-bin F]');
  process.exit(2);
}
// After GATEHOUSE_OPERATOR_BIN is set: the harness reads it when loaded.
const {crdFile, endpointSlice, freePort, percentile, startKube, startOperator} =
    await import('../e2e/lib/operator-harness.mjs');
const run = promisify(execFile);
const kHost = 'prop.bench.test';
const agent = new http.Agent({keepAlive: true, maxSockets: 1});

function Policy(upstream, change) {
  return {
    apiVersion: 'gatehouse.dev/v1alpha1', kind: 'AccessPolicy',
    metadata: {name: 'propagation', namespace: 'bench'},
    spec: {hosts: [kHost], upstream: {url: upstream},
           rules: [{name: `change-${change}`, action: 'Allow', paths: [`/c${change}`], from: {public: true}}]},
  };
}

function Status(port, target) {
  return new Promise((resolve) => {
    const req = http.get({host: '127.0.0.1', port, path: target, agent, headers: {host: kHost}}, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode));
    });
    req.setTimeout(2000, () => req.destroy());
    req.on('error', () => resolve(0));
  });
}

// Resolves when every proxy answers 200 on `target`; polls each every 5 ms.
async function AllEnforce(ports, target, timeoutMs) {
  const deadline = performance.now() + timeoutMs;
  await Promise.all(ports.map(async (port) => {
    while ((await Status(port, target)) !== 200) {
      if (performance.now() > deadline) throw new Error(`proxy :${port} never served ${target}`);
      await new Promise((r) => setTimeout(r, 5));
    }
  }));
  return performance.now();
}

function StartProxy(listen, admin) {
  const child = spawn(proxyBin, ['serve', '--bootstrap', '/nonexistent/gatehouse-bootstrap.json',
                                 '--listen', `127.0.0.1:${listen}`, '--admin', `127.0.0.1:${admin}`,
                                 '--threads', '1', '--drain-seconds', '0'],
                      {stdio: ['ignore', 'ignore', 'pipe']});
  child.log = '';
  child.stderr.on('data', (d) => { child.log = (child.log + d).slice(-4000); });
  child.exited = new Promise((r) => child.on('exit', r));
  return child;
}

async function Main() {
  const children = [];
  const upstream = http.createServer((req, res) => res.end('ok'));
  await new Promise((r) => upstream.listen(0, '127.0.0.1', r));
  const kube = await startKube();
  try {
    await kube.kubectl('apply', '-f', crdFile);
    for (const ns of ['gatehouse', 'bench']) {
      await kube.request('POST', '/api/v1/namespaces', {apiVersion: 'v1', kind: 'Namespace', metadata: {name: ns}});
    }
    const ports = [];
    for (let i = 0; i < proxies; i++) {
      const [listen, admin] = [await freePort(), await freePort()];
      children.push(StartProxy(listen, admin));
      ports.push(listen);
      const r = await kube.request('POST', '/apis/discovery.k8s.io/v1/namespaces/gatehouse/endpointslices',
                                   endpointSlice(`proxy-${i}`, admin));
      if (r.status !== 201) throw new Error(`EndpointSlice: ${r.status} ${JSON.stringify(r.body)}`);
    }
    const operator = startOperator(['--kubeconfig', kube.kubeconfig, '--proxy-namespace', 'gatehouse',
                                    '--admin', '127.0.0.1:0', '--identity', 'bench']);
    children.push(operator);
    const upstreamUrl = `http://127.0.0.1:${upstream.address().port}`;
    const file = path.join(kube.dir, 'propagation.json');
    writeFileSync(file, JSON.stringify(Policy(upstreamUrl, 0)));
    await run('/usr/bin/kubectl', ['--kubeconfig', kube.kubeconfig, 'apply', '-f', file]);
    await AllEnforce(ports, '/c0', 60000);
    console.error(`propagation: ${proxies} proxies enforce the first policy; ${changes} changes follow`);

    const times = [];
    const kubectlTimes = [];
    const afterApply = [];  // from kubectl's exit (the API server stored the change)
    for (let i = 1; i <= changes; i++) {
      writeFileSync(file, JSON.stringify(Policy(upstreamUrl, i)));
      const start = performance.now();
      const applied = run('/usr/bin/kubectl', ['--kubeconfig', kube.kubeconfig, 'apply', '-f', file])
                          .then(() => performance.now());
      const done = await AllEnforce(ports, `/c${i}`, 30000);
      const appliedAt = await applied;
      kubectlTimes.push(appliedAt - start);
      afterApply.push(done - appliedAt);
      times.push(done - start);
      // The old path must be refused again everywhere (the change replaced the rule).
      const old = await Promise.all(ports.map((p) => Status(p, `/c${i - 1}`)));
      if (old.some((s) => s === 200)) throw new Error(`change ${i}: /c${i - 1} still allowed`);
    }
    const result = {proxies, changes, p50_ms: Number(percentile(times, 50).toFixed(1)),
                    p99_ms: Number(percentile(times, 99).toFixed(1)),
                    max_ms: Number(Math.max(...times).toFixed(1)),
                    kubectl_p50_ms: Number(percentile(kubectlTimes, 50).toFixed(1)),
                    after_apply_p50_ms: Number(percentile(afterApply, 50).toFixed(1)),
                    after_apply_p99_ms: Number(percentile(afterApply, 99).toFixed(1))};
    console.error(`propagation: ${JSON.stringify(result)}`);
    console.log(JSON.stringify(result));
  } catch (e) {
    for (const c of children.slice(0, 3)) if (c.log) console.error(`process log: ${c.log.slice(-800)}`);
    throw e;
  } finally {
    for (const c of children) {
      if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
      await (c.exited ?? c.stopped);
    }
    agent.destroy();
    upstream.close();
    await kube.server.close();
  }
}

await Main();
