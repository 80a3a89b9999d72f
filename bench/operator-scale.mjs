// operator-scale.mjs: initial sync of N AccessPolicies (default 5,000).
//
//   node bench/operator-scale.mjs [COUNT]
//   GATEHOUSE_OPERATOR_BIN=build-net-rel/operator/gatehouse-operator \
//   GATEHOUSE_PROXY_BIN=build/proxy/cli/gatehouse-proxy node bench/operator-scale.mjs
//
// Pre-creates COUNT policies (spread over 20 namespaces, each with an issuer,
// a public rule and a group rule) in the Kubernetes API test server, starts one
// real proxy with no config, then starts the operator and measures:
//   - start -> pushed: the proxy holds a config (PUT answered), and
//   - start -> enforcing: a request to the last policy's host is routed;
//   - the operator's peak RSS (VmHWM of /proc/PID/status) once pushed, and
//     again once every policy's status has been written (the heavier phase);
//   - start -> all statuses written (observedGeneration set on every policy);
//   - the operator's own breakdown of its first round ("initial sync in ...":
//     caches synced (list), parsed, rendered, pushed, bootstrap Secret, statuses).
// Targets (issue 4): pushed < 2 s, VmHWM < 64 MB. Prints one line per figure.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  crdFile, httpGet, metricValue, startKube, startOperatorWithAdmin, waitFor,
} from '../e2e/lib/operator-harness.mjs';
import { rawRequest, startEcho, startJoseIdp, startProxy } from '../e2e/lib/proxy-harness.mjs';

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const count = Number(process.argv[2] ?? 5000);
const kNamespaces = 20;
process.env.GATEHOUSE_OPERATOR_BIN ??= path.join(repo, 'build-net-rel/operator/gatehouse-operator');
process.env.GATEHOUSE_PROXY_BIN ??= path.join(repo, 'build/proxy/cli/gatehouse-proxy');

const statusMb = (pid, field) => {
  const m = readFileSync(`/proc/${pid}/status`, 'utf8').match(new RegExp(`${field}:\\s+(\\d+) kB`));
  return Number(m[1]) / 1024;
};
const vmHwmMb = (pid) => statusMb(pid, 'VmHWM');
// Resident now, split into heap and stacks (anonymous) and mapped code and libraries (file).
const rssText = (pid) => `${statusMb(pid, 'VmRSS').toFixed(1)} MB (anonymous ${statusMb(pid, 'RssAnon').toFixed(1)}, file ${statusMb(pid, 'RssFile').toFixed(1)})`;

function policy(i, issuer, upstream) {
  const ns = `team-${i % kNamespaces}`;
  return {
    ns,
    body: {
      apiVersion: 'gatehouse.dev/v1alpha1', kind: 'AccessPolicy', metadata: { name: `app-${i}`, namespace: ns },
      spec: {
        hosts: [`app-${i}.${ns}.example.com`], upstream: { url: upstream, timeoutSeconds: 30 },
        authentication: { issuers: [{ issuer, audiences: ['gatehouse'] }] },
        rules: [
          { name: 'health', action: 'Allow', paths: ['/health'], from: { public: true } },
          { name: 'readers', action: 'Allow', methods: ['GET'], paths: ['/api/**'], from: { groups: ['readers'], emailDomains: ['example.com'] } },
        ],
      },
    },
  };
}

// BENCH_SMAPS=1: where the anonymous resident memory sits (heap, thread
// stacks and their guard-less arenas, other mappings), largest first.
function anonymousMappings(pid) {
  const groups = new Map();
  let name = '';
  let size = 0;
  for (const line of readFileSync(`/proc/${pid}/smaps`, 'utf8').split('\n')) {
    const head = /^[0-9a-f]+-[0-9a-f]+ \S+ \S+ \S+ \S+\s*(.*)$/.exec(line);
    if (head) {
      name = head[1] || '[anonymous]';
      size = 0;
      continue;
    }
    const anon = /^Anonymous:\s+(\d+) kB/.exec(line);
    if (anon && Number(anon[1]) > 0) {
      const g = groups.get(name) ?? { kb: 0, count: 0 };
      g.kb += Number(anon[1]);
      g.count += 1;
      groups.set(name, g);
    }
  }
  return [...groups.entries()].sort((a, b) => b[1].kb - a[1].kb).slice(0, 8)
    .map(([n, g]) => `  ${(g.kb / 1024).toFixed(1)} MB in ${g.count} mapping(s): ${n}`).join('\n');
}

async function main() {
  const [kube, idp, echo] = await Promise.all([startKube(), startJoseIdp(), startEcho()]);
  const cleanup = [];
  try {
    await kube.kubectl('apply', '-f', crdFile);
    for (const ns of ['gatehouse', ...Array.from({ length: kNamespaces }, (_, i) => `team-${i}`)]) {
      await kube.request('POST', '/api/v1/namespaces', { apiVersion: 'v1', kind: 'Namespace', metadata: { name: ns } });
    }
    const createStart = performance.now();
    for (let next = 0; next < count;) {
      const batch = [];
      for (let k = 0; k < 32 && next < count; k++, next++) {
        const { ns, body } = policy(next, idp.issuer, echo.url);
        batch.push(kube.request('POST', `/apis/gatehouse.dev/v1alpha1/namespaces/${ns}/accesspolicies`, body).then((r) => {
          if (r.status !== 201) throw new Error(`create ${body.metadata.name}: ${r.status} ${JSON.stringify(r.body)}`);
        }));
      }
      await Promise.all(batch);
    }
    console.log(`created ${count} AccessPolicies in the test server in ${((performance.now() - createStart) / 1000).toFixed(1)} s`);

    const proxy = await startProxy({ bootstrap: path.join(kube.dir, 'missing.json') });
    cleanup.push(() => proxy.stop('SIGKILL'));
    await kube.request('POST', '/apis/discovery.k8s.io/v1/namespaces/gatehouse/endpointslices', {
      apiVersion: 'discovery.k8s.io/v1', kind: 'EndpointSlice', addressType: 'IPv4',
      metadata: { name: 'proxy-0', namespace: 'gatehouse', labels: { 'kubernetes.io/service-name': 'gatehouse-proxy-admin' } },
      ports: [{ name: 'admin', port: proxy.admin, protocol: 'TCP' }],
      endpoints: [{ addresses: ['127.0.0.1'], conditions: { ready: false } }],
    });

    const connectionsBefore = kube.server.connectionsAccepted();
    const start = performance.now();
    // --admin 127.0.0.1:0: the operator binds a free port and logs it.
    const operator = await startOperatorWithAdmin(['--kubeconfig', kube.kubeconfig, '--proxy-namespace', 'gatehouse',
      '--identity', 'bench']);
    const { admin } = operator;
    cleanup.push(() => operator.stop('SIGTERM'));
    const elapsed = () => (performance.now() - start) / 1000;

    await waitFor(async () => (await httpGet(proxy.admin, '/v1/config')).status === 200, { timeoutMs: 120000, intervalMs: 5 });
    const pushed = elapsed();
    const hwmPushed = vmHwmMb(operator.pid);
    const rssPushed = rssText(operator.pid);
    const lastHost = policy(count - 1, idp.issuer, echo.url).body.spec.hosts[0];
    await waitFor(async () => (await rawRequest(proxy.port, { host: lastHost, path: '/health' })).status === 200, { timeoutMs: 30000, intervalMs: 5 });
    const enforcing = elapsed();
    const metrics = (await httpGet(admin, '/metrics')).body;
    const pushSeconds = metricValue(metrics, 'gatehouse_operator_push_duration_seconds_sum');
    const accepted = metricValue(metrics, 'gatehouse_operator_policies{state="accepted"}');

    if (process.env.BENCH_PUSH_ONLY) {
      console.log(`start -> pushed ${pushed.toFixed(2)} s, VmHWM ${hwmPushed.toFixed(1)} MB (BENCH_PUSH_ONLY)`);
      return;
    }
    // Every status written: observedGeneration on each policy.
    await waitFor(async () => {
      const list = (await kube.request('GET', '/apis/gatehouse.dev/v1alpha1/accesspolicies')).body;
      return list.items.filter((p) => p.status?.observedGeneration === p.metadata.generation).length === count;
    }, { timeoutMs: 600000, intervalMs: 500 });
    const statuses = elapsed();
    const hwmEnd = vmHwmMb(operator.pid);
    const rssEnd = rssText(operator.pid);
    // Steady state: the last status echoes handled, nothing left to do.
    await new Promise((r) => setTimeout(r, 2000));
    const rssSteady = rssText(operator.pid);
    const anonTop = process.env.BENCH_SMAPS ? anonymousMappings(operator.pid) : '';

    console.log(`operator: ${process.env.GATEHOUSE_OPERATOR_BIN}`);
    console.log(`policies accepted by the operator: ${accepted} of ${count}`);
    console.log(`start -> config pushed to the proxy: ${pushed.toFixed(2)} s (of which the PUT, proxy compiling ${count} policies: ${pushSeconds?.toFixed(2)} s) [target < 2 s]`);
    console.log(`start -> proxy enforcing the last policy: ${enforcing.toFixed(2)} s`);
    console.log(`operator VmHWM when pushed: ${hwmPushed.toFixed(1)} MB [target < 64 MB]; RSS then ${rssPushed}`);
    console.log(`start -> all ${count} statuses written: ${statuses.toFixed(1)} s; operator VmHWM then: ${hwmEnd.toFixed(1)} MB [target < 64 MB]`);
    console.log(`API connections the operator opened: ${kube.server.connectionsAccepted() - connectionsBefore}`);
    console.log(`operator RSS when all statuses were written: ${rssEnd}; 2 s later: ${rssSteady}`);
    if (anonTop) console.log(`operator anonymous memory by mapping:\n${anonTop}`);
    // The operator's own breakdown of the first round (list, parse, render, push, ...).
    const breakdown = operator.output.split('\n').find((l) => l.includes('initial sync in'));
    if (breakdown) console.log(`operator: ${breakdown.replace(/^.*\] /, '')}`);
    if (process.env.BENCH_LOG) console.log(operator.output.split('\n').filter((l) => !/policy \S+ accepted/.test(l)).join('\n'));
  } finally {
    for (const f of cleanup.reverse()) await f();
    await kube.server.close();
    await echo.close();
    await idp.close();
  }
}

main().catch((e) => { console.error(e); process.exit(1); });
