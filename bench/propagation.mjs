// propagation.mjs: how long a policy change takes from `kubectl apply` to
// every proxy enforcing it (benchmark scenario 5).
//
//   node bench/propagation.mjs [--proxies 10] [--changes 50] [--mtls] [--detect log|poll]
//       [--trace] [--trace-out FILE] [--proxy-bin build/proxy/cli/gatehouse-proxy]
//       [--operator-bin build/operator/gatehouse-operator]
//
// Starts the Kubernetes API test server (e2e/kube-apiserver) as a process of
// its own (as a real API server is: it must not share this process's event
// loop with the detection, nor the other way round), an upstream
// (e2e/tools/echo-upstream.mjs, also a process of its own),
// N real `gatehouse-proxy serve --bootstrap <missing file>`
// processes (each waits for its first push) listed by one EndpointSlice each,
// and the operator in cluster mode (--kubeconfig; --mtls: pushes over mTLS
// with a fresh push PKI, as in a cluster). Then, --changes times: `kubectl
// apply` of the same AccessPolicy with a new public path /c<i>, until every
// proxy's LISTENER answers 200 on /c<i> (before the change it is a 401; after
// it, the old path must be refused again).
//
// Two clocks per change, both ending when the last proxy answered 200:
//   p50_ms/p99_ms/max_ms  from the API server's commit of the write (its
//       /_test/commits record): the propagation the product controls.
//   from_kubectl_*        from starting kubectl: what a user's stopwatch sees,
//       kubectl's own start-up, discovery and PATCH included (kubectl_*:
//       kubectl start -> commit).
//
// Detection (--detect): `log` (default) probes a proxy's listener the moment
// its stderr says "config push: version N in force", with a slow backstop
// probe of every pending proxy every 200 ms (counted: backstop_detections).
// `poll` is the old way: every proxy's listener every 5 ms, which costs the
// two cores 10,000 requests a second at 50 proxies and slows what it measures.
// Either way a proxy counts only once a real request through its listener
// got 200, never on its log line alone.
//
// --trace adds the median breakdown (from the commit): operator render logged,
// first/last proxy "in force", operator "pushed" line, detection; plus CPU
// milliseconds per change of this process (detection), the API server, the
// operator and all proxies together. --trace-out FILE (implies --trace)
// writes every change's timestamps (epoch ms: kubectl start, commit, each
// proxy's "in force" line and detection) and the operator's log, for a
// closer look.
//
// Prints progress on stderr and one JSON line on stdout. Every process it
// starts is stopped before it exits.
import {execFile, spawn} from 'node:child_process';
import {mkdtempSync, readFileSync, rmSync, writeFileSync} from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import {tmpdir} from 'node:os';
import path from 'node:path';
import {fileURLToPath} from 'node:url';

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const args = process.argv.slice(2);
const flag = (name, fallback) => {
  const i = args.indexOf(name);
  return i >= 0 && i + 1 < args.length ? args[i + 1] : fallback;
};
const proxies = Number(flag('--proxies', 10));
const changes = Number(flag('--changes', 50));
const mtls = args.includes('--mtls');
const traceOut = flag('--trace-out', '');
const trace = args.includes('--trace') || traceOut !== '';
const detect = flag('--detect', 'log');
const proxyBin = path.resolve(flag('--proxy-bin', path.join(repo, 'build/proxy/cli/gatehouse-proxy')));
process.env.GATEHOUSE_OPERATOR_BIN =
    path.resolve(flag('--operator-bin', path.join(repo, 'build/operator/gatehouse-operator')));
if (!(proxies >= 1) || !(changes >= 1) || !['log', 'poll'].includes(detect)) {
  console.error('usage: node propagation.mjs [--proxies N] [--changes N] [--mtls] [--detect log|poll] ' +
                '[--trace] [--proxy-bin F] [--operator-bin F]');
  process.exit(2);
}
// After GATEHOUSE_OPERATOR_BIN is set: the harness reads it when loaded.
const {crdFile, endpointSlice, makePushPki, operatorPushArgs, percentile, proxyPushArgs, startOperator} =
    await import('../e2e/lib/operator-harness.mjs');
const kHost = 'prop.bench.test';
const kBackstopMs = 200;
const kPollMs = 5;
const agent = new http.Agent({keepAlive: true, maxSockets: 1});
const now = () => performance.timeOrigin + performance.now();  // the clock /_test/commits uses

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

// Calls onLine(line, arrivalMs) for every complete stderr line of `child`.
function OnLines(child, onLine) {
  let partial = '';
  child.stderr.on('data', (d) => {
    const at = now();
    const lines = (partial + d).split('\n');
    partial = lines.pop();
    for (const line of lines) onLine(line, at);
  });
}

// The time a log line was written, from its own timestamp (proxy:
// "2026-11-22T21:49:29.565Z ...", operator: "[2026-11-22 21:49:29.565] ...",
// both UTC), else when it arrived here. Millisecond resolution, but free of
// this process's event-loop delays.
function LogTime(line, arrival) {
  const m = line.match(/^\[?(\d{4}-\d\d-\d\d)[T ](\d\d:\d\d:\d\d\.\d{3})/);
  const t = m ? Date.parse(`${m[1]}T${m[2]}Z`) : NaN;
  return Number.isFinite(t) ? t : arrival;
}

// A proxy waiting for its first push; resolves once it prints its ports.
function StartProxy(extra) {
  const child = spawn(proxyBin, ['serve', '--bootstrap', '/nonexistent/gatehouse-bootstrap.json',
                                 '--listen', '127.0.0.1:0', '--admin', '127.0.0.1:0',
                                 '--threads', '1', '--drain-seconds', '0', ...extra],
                      {stdio: ['ignore', 'ignore', 'pipe']});
  const proxy = {child, log: '', onForce: null, forced: []};
  child.exited = new Promise((r) => child.on('exit', r));
  OnLines(child, (line, at) => {
    proxy.log = (proxy.log + line + '\n').slice(-4000);
    if (!/config push: version \d+ in force/.test(line)) return;
    proxy.forced.push(LogTime(line, at));
    proxy.onForce?.(at);
  });
  proxy.ready = new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`proxy did not start: ${proxy.log}`)), 20000);
    const check = () => setImmediate(() => {  // after OnLines has appended the line
      const m = proxy.log.match(/listening on [^:]+:(\d+), admin on [^:]+:(\d+)/);
      if (!m || proxy.port) return;
      clearTimeout(timer);
      child.stderr.off('data', check);
      [proxy.port, proxy.admin] = [Number(m[1]), Number(m[2])];
      resolve(proxy);
    });
    child.stderr.on('data', check);
    child.exited.then((code) => { clearTimeout(timer); reject(new Error(`proxy exited ${code}: ${proxy.log}`)); });
  });
  return proxy;
}

// Resolves with each proxy's detection time once every listener answers 200
// on `target`. See the header for the two detection modes.
function AllEnforce(fleet, target, timeoutMs) {
  return new Promise((resolve, reject) => {
    const done = new Array(fleet.length).fill(0);
    let left = fleet.length;
    let backstops = 0;
    const timers = [];
    const finish = (error) => {
      for (const t of timers) clearInterval(t);
      for (const p of fleet) p.onForce = null;
      if (error) reject(error);
      else resolve({done, backstops});
    };
    const probe = async (k, fromBackstop) => {
      if (done[k] || left === 0) return;
      // One request in flight per proxy; a log line during it asks for another after.
      if (fleet[k].probing) {
        if (!fromBackstop) fleet[k].again = true;
        return;
      }
      fleet[k].probing = true;
      fleet[k].again = false;
      const status = await Status(fleet[k].port, target);
      fleet[k].probing = false;
      if (status === 200 && !done[k] && left > 0) {
        done[k] = now();
        if (fromBackstop && !fleet[k].again) ++backstops;  // no log line came while it was out
        if (--left === 0) finish();
      } else if (fleet[k].again) {
        probe(k, false);
      }
    };
    const deadline = now() + timeoutMs;
    const every = (ms, fromBackstop) => timers.push(setInterval(() => {
      if (now() > deadline) return finish(new Error(`not every proxy served ${target} in ${timeoutMs} ms`));
      fleet.forEach((_, k) => probe(k, fromBackstop));
    }, ms));
    if (detect === 'poll') {
      every(kPollMs, false);
    } else {
      fleet.forEach((p, k) => { p.onForce = () => probe(k, false); });
      every(kBackstopMs, true);
    }
    if (detect === 'poll') fleet.forEach((_, k) => probe(k, false));
  });
}

// utime + stime of a process in ms (Linux /proc; clock ticks are 10 ms).
function CpuMs(pid) {
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
    return (Number(fields[11]) + Number(fields[12])) * 10;
  } catch {
    return 0;
  }
}
const SelfCpuMs = () => { const u = process.cpuUsage(); return (u.user + u.system) / 1000; };

function Kubectl(kubeconfig, file) {
  return new Promise((resolve, reject) => {
    execFile('/usr/bin/kubectl', ['--kubeconfig', kubeconfig, 'apply', '-f', file], (error) =>
      error ? reject(error) : resolve(now()));
  });
}

// The API test server as a child process; resolves {child, url, kubeconfig,
// request(method, path, body) -> {status, body}} once it listens.
async function StartKube(dir) {
  const token = 'propagation-bench-token';
  const kubeconfig = path.join(dir, 'kubeconfig');
  const child = spawn(process.execPath, [path.join(repo, 'e2e/kube-apiserver/server.mjs'), '--port', '0',
                                         '--token', token, '--tls-self-signed', '--kubeconfig-out', kubeconfig,
                                         '--bookmark-interval-ms', '1000'],
                      {stdio: ['ignore', 'pipe', 'pipe']});
  child.log = '';
  child.stderr.on('data', (d) => { child.log = (child.log + d).slice(-4000); });
  child.exited = new Promise((r) => child.on('exit', r));
  const {url} = await new Promise((resolve, reject) => {
    let out = '';
    child.stdout.on('data', (d) => {
      out += d;
      if (out.includes('\n')) resolve(JSON.parse(out.split('\n')[0]));
    });
    child.exited.then((code) => reject(new Error(`kube-apiserver exited ${code}: ${child.log}`)));
  });
  const ca = Buffer.from(readFileSync(kubeconfig, 'utf8').match(/certificate-authority-data: (\S+)/)[1], 'base64');
  const request = (method, p, body) => new Promise((resolve, reject) => {
    const req = https.request(url + p, {method, ca, headers: {authorization: `Bearer ${token}`,
                                                              'content-type': 'application/json'}}, (res) => {
      let text = '';
      res.on('data', (d) => { text += d; });
      res.on('end', () => resolve({status: res.statusCode, body: text ? JSON.parse(text) : null}));
    });
    req.on('error', reject);
    req.end(body === undefined ? undefined : JSON.stringify(body));
  });
  return {child, url, kubeconfig, request};
}

// e2e/tools/echo-upstream.mjs; resolves the child with its port.
async function StartUpstream() {
  const child = spawn(process.execPath, [path.join(repo, 'e2e/tools/echo-upstream.mjs'), '--port', '0'],
                      {stdio: ['ignore', 'pipe', 'ignore']});
  child.exited = new Promise((r) => child.on('exit', r));
  child.port = await new Promise((resolve, reject) => {
    let out = '';
    child.stdout.on('data', (d) => {
      out += d;
      if (out.includes('\n')) resolve(JSON.parse(out.split('\n')[0]).port);
    });
    child.exited.then((code) => reject(new Error(`echo-upstream exited ${code}`)));
  });
  return child;
}

// The commit of a change: the first write of the policy after resourceVersion
// `since` whose generation went past `generation` (kubectl's spec write; the
// operator's status writes keep the generation).
async function CommitOf(kube, since, generation) {
  const r = await kube.request('GET', `/_test/commits?since=${since}`);
  return r.body.commits.find((c) => c.resource === 'gatehouse.dev/accesspolicies' && c.name === 'propagation' &&
                                    c.type === 'MODIFIED' && c.generation > generation);
}

const Round = (x) => Number(x.toFixed(1));
function Stats(values, prefix) {
  return {[`${prefix}p50_ms`]: Round(percentile(values, 50)), [`${prefix}p99_ms`]: Round(percentile(values, 99)),
          [`${prefix}max_ms`]: Round(Math.max(...values))};
}

async function Main() {
  const children = [];
  const fleet = [];
  let operator = null;
  const dir = mkdtempSync(path.join(tmpdir(), 'gh-propagation-'));
  let kube = null;
  try {
    kube = await StartKube(dir);
    children.push(kube.child);
    const upstream = await StartUpstream();
    children.push(upstream);
    const pki = mtls ? makePushPki(dir) : null;
    await Kubectl(kube.kubeconfig, crdFile);
    for (const ns of ['gatehouse', 'bench']) {
      await kube.request('POST', '/api/v1/namespaces', {apiVersion: 'v1', kind: 'Namespace', metadata: {name: ns}});
    }
    for (let i = 0; i < proxies; i += 10) {  // ten at a time: 50 start-ups at once starve the cores
      const batch = [];
      for (let k = i; k < Math.min(proxies, i + 10); k++) batch.push(StartProxy(pki ? proxyPushArgs(pki) : []));
      children.push(...batch.map((p) => p.child));
      fleet.push(...await Promise.all(batch.map((p) => p.ready)));
    }
    for (const [i, p] of fleet.entries()) {
      const r = await kube.request('POST', '/apis/discovery.k8s.io/v1/namespaces/gatehouse/endpointslices',
                                   endpointSlice(`proxy-${i}`, p.admin));
      if (r.status !== 201) throw new Error(`EndpointSlice: ${r.status} ${JSON.stringify(r.body)}`);
    }
    operator = startOperator(['--kubeconfig', kube.kubeconfig, '--proxy-namespace', 'gatehouse',
                              '--admin', '127.0.0.1:0', '--identity', 'bench', ...(pki ? operatorPushArgs(pki) : [])]);
    children.push(operator);
    const marks = {render: [], pushed: []};  // operator log lines: [time, version]
    OnLines(operator, (line, at) => {
      const render = line.match(/fleet config version (\d+) sha256/);
      if (render) marks.render.push([LogTime(line, at), Number(render[1])]);
      const pushed = line.match(/pushed version (\d+) to \d+ proxies/);
      if (pushed) marks.pushed.push([LogTime(line, at), Number(pushed[1])]);
    });
    const forced = fleet.map((p) => p.forced);  // per proxy: time of each "in force" line
    const upstreamUrl = `http://127.0.0.1:${upstream.port}`;
    const file = path.join(dir, 'propagation.json');
    writeFileSync(file, JSON.stringify(Policy(upstreamUrl, 0)));
    await Kubectl(kube.kubeconfig, file);
    await AllEnforce(fleet, '/c0', 60000);
    console.error(`propagation: ${proxies} proxies enforce the first policy (${mtls ? 'mTLS' : 'loopback http'} ` +
                  `pushes, ${detect} detection); ${changes} changes follow`);

    const policyPath = '/apis/gatehouse.dev/v1alpha1/namespaces/bench/accesspolicies/propagation';
    let generation = (await kube.request('GET', policyPath)).body.metadata.generation;
    const fromCommit = [];
    const fromKubectl = [];
    const kubectlToCommit = [];
    const phases = {render: [], first_in_force: [], last_in_force: [], pushed_logged: [], detected: []};
    let backstops = 0;
    const records = [];
    const cpu0 = {self: SelfCpuMs(), kube: CpuMs(kube.child.pid), operator: CpuMs(operator.pid),
                  proxies: fleet.reduce((s, p) => s + CpuMs(p.child.pid), 0)};
    for (let i = 1; i <= changes; i++) {
      writeFileSync(file, JSON.stringify(Policy(upstreamUrl, i)));
      const since = (await kube.request('GET', '/_test/state')).body.resourceVersion;
      const marksFrom = {render: marks.render.length, pushed: marks.pushed.length,
                         forced: forced.map((f) => f.length)};
      const start = now();
      const applied = Kubectl(kube.kubeconfig, file);
      const {done, backstops: b} = await AllEnforce(fleet, `/c${i}`, 30000);
      await applied;
      backstops += b;
      const last = Math.max(...done);
      const commit = await CommitOf(kube, since, generation);
      if (!commit) throw new Error(`change ${i}: no commit of the policy recorded`);
      generation = commit.generation;
      const committed = commit.committedAtMs;
      fromCommit.push(last - committed);
      fromKubectl.push(last - start);
      kubectlToCommit.push(committed - start);
      if (trace) {
        const after = (list, from) => list.slice(from).map(([at]) => at - committed);
        phases.render.push(after(marks.render, marksFrom.render)[0] ?? NaN);
        phases.pushed_logged.push(after(marks.pushed, marksFrom.pushed)[0] ?? NaN);
        const firsts = forced.map((f, k) => (f[marksFrom.forced[k]] ?? NaN) - committed);
        phases.first_in_force.push(Math.min(...firsts));
        phases.last_in_force.push(Math.max(...firsts));
        phases.detected.push(last - committed);
        records.push({change: i, kubectl_start: start, commit: committed, detected: done,
                      in_force: forced.map((f, k) => f[marksFrom.forced[k]] ?? null),
                      render: marks.render[marksFrom.render]?.[0] ?? null,
                      pushed_logged: marks.pushed[marksFrom.pushed]?.[0] ?? null});
      }
      // The old path must be refused again everywhere (the change replaced the rule).
      const old = await Promise.all(fleet.map((p) => Status(p.port, `/c${i - 1}`)));
      if (old.some((s) => s === 200)) throw new Error(`change ${i}: /c${i - 1} still allowed`);
    }
    const result = {proxies, changes, mtls, detect, ...Stats(fromCommit, ''), ...Stats(fromKubectl, 'from_kubectl_'),
                    ...Stats(kubectlToCommit, 'kubectl_'), backstop_detections: backstops};
    if (trace) {
      const med = (v) => Round(percentile(v.filter(Number.isFinite), 50));
      result.trace_median_ms_from_commit = Object.fromEntries(Object.entries(phases).map(([k, v]) => [k, med(v)]));
      result.cpu_ms_per_change = {
        bench: Round((SelfCpuMs() - cpu0.self) / changes),
        api_server: Round((CpuMs(kube.child.pid) - cpu0.kube) / changes),
        operator: Round((CpuMs(operator.pid) - cpu0.operator) / changes),
        proxies: Round((fleet.reduce((s, p) => s + CpuMs(p.child.pid), 0) - cpu0.proxies) / changes)};
    }
    if (traceOut) writeFileSync(traceOut, JSON.stringify({result, changes: records, operator_log: operator.output}));
    console.error(`propagation: ${JSON.stringify(result)}`);
    console.log(JSON.stringify(result));
  } catch (e) {
    for (const p of fleet.slice(0, 3)) console.error(`proxy log: ${p.log.slice(-800)}`);
    if (operator) console.error(`operator log: ${operator.output.slice(-2000)}`);
    if (kube) console.error(`kube-apiserver log: ${kube.child.log.slice(-800)}`);
    throw e;
  } finally {
    for (const c of children) {
      if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
      await (c.exited ?? c.stopped);
    }
    agent.destroy();
    rmSync(dir, {recursive: true, force: true});
  }
}

await Main();
