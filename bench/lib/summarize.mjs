// summarize.mjs: turn the samples of bench/run.sh into the results table.
//
//   node summarize.mjs SAMPLES.jsonl META.json OUT.json OUT.md
//
// SAMPLES.jsonl: one measurement per line, {scenario, name, label, round,
// load, m: {metric: number, ...}}. For every (scenario, name) and metric the
// summary has the median and the spread (min-max) over the rounds. Ratios to
// peers are ratios of medians measured in the same run; the targets of issue
// 7 are marked PASS or MISS. The Markdown is also printed on stdout.
import {readFileSync, writeFileSync} from 'node:fs';

const [samplesFile, metaFile, jsonOut, mdOut] = process.argv.slice(2);
const meta = JSON.parse(readFileSync(metaFile, 'utf8'));
const samples = readFileSync(samplesFile, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l));

function Median(values) {
  const s = [...values].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 ? s[mid] : (s[mid - 1] + s[mid]) / 2;
}

// (scenario, name) -> {label, rounds, metrics: {m: {median, min, max}}}
const groups = new Map();
for (const s of samples) {
  const key = `${s.scenario}/${s.name}`;
  if (!groups.has(key)) groups.set(key, {scenario: s.scenario, name: s.name, label: s.label, raw: {}, loads: []});
  const g = groups.get(key);
  g.loads.push(s.load);
  for (const [metric, value] of Object.entries(s.m)) {
    if (typeof value !== 'number') continue;
    (g.raw[metric] ??= []).push(value);
  }
}
const results = [...groups.values()].map((g) => ({
  scenario: g.scenario, name: g.name, label: g.label, rounds: g.loads.length, load_before: g.loads,
  metrics: Object.fromEntries(Object.entries(g.raw).map(([k, v]) => [k, {median: Median(v), min: Math.min(...v), max: Math.max(...v), values: v}])),
}));
const get = (scenario, name, metric) => results.find((r) => r.scenario === scenario && r.name === name)?.metrics[metric]?.median;

const fmt = (n, d = 0) => (n === undefined || Number.isNaN(n) ? '' : n.toLocaleString('en-US', {maximumFractionDigits: d, minimumFractionDigits: d}));
const cell = (m, d) => (m ? (m.min === m.max ? fmt(m.median, d) : `${fmt(m.median, d)} (${fmt(m.min, d)}-${fmt(m.max, d)})`) : '');

const md = [];
md.push(`# Gatehouse benchmark ${meta.date}${meta.status === 'partial' ? ' (PARTIAL: the run stopped early)' : ''}`, '');
for (const f of meta.failures ?? []) md.push(`- FAILED: ${f}`);
if (meta.failures?.length) md.push('');
md.push(`${meta.nproc} CPUs (${meta.cpu_model}), kernel ${meta.kernel}; load average before: ${meta.load_before}. ` +
        `System under test on CPU ${meta.sut_cpu}, load generator and upstream on CPU ${meta.load_cpu}. ` +
        `nginx ${meta.versions.nginx}, HAProxy ${meta.versions.haproxy}, wrk ${meta.versions.wrk}, node ${meta.versions.node}, ` +
        `Gatehouse ${meta.versions.gatehouse_git}. ${meta.repeat} round(s)${meta.quick ? ' (--quick)' : ''}; ` +
        `cells are median (min-max) over the rounds.`, '');

const targets = [];
const Target = (target, goal, value, ok) => targets.push({target, goal, value, result: ok === undefined ? 'n/a' : ok ? 'PASS' : 'MISS'});

function Scenario1() {
  const rows = results.filter((r) => r.scenario === 1);
  if (!rows.length) return;
  const nginx = get(1, 'nginx', 'rps');
  const haRs = get(1, 'haproxy-rs256', 'rps');
  md.push(`## 1. Throughput, one core, keep-alive, ${meta.connections} connections (wrk, ${meta.duration_s} s per run)`, '');
  md.push('| scenario | req/s | p50 ms | p99 ms | vs nginx | vs HAProxy RS256 | non-2xx |', '| --- | ---: | ---: | ---: | ---: | ---: | ---: |');
  for (const r of rows) {
    const rps = r.metrics.rps.median;
    md.push(`| ${r.label} | ${cell(r.metrics.rps)} | ${cell(r.metrics.p50_ms, 3)} | ${cell(r.metrics.p99_ms, 3)} | ` +
            `${nginx ? fmt(rps / nginx, 2) + 'x' : ''} | ${haRs ? fmt(rps / haRs, 2) + 'x' : ''} | ${r.metrics.non2xx?.max ?? ''} |`);
  }
  md.push('');
  const gh = get(1, 'gh-rs256', 'rps');
  if (gh && nginx) Target('Gatehouse JWT + policy vs nginx plain proxy (RS256, cached)', '>= 1.0x', `${fmt(gh / nginx, 2)}x`, gh / nginx >= 1.0);
  if (gh && haRs) Target('Gatehouse vs HAProxy jwt_verify RS256', '>= 2.5x', `${fmt(gh / haRs, 2)}x`, gh / haRs >= 2.5);
}

function Scenario2() {
  const rows = results.filter((r) => r.scenario === 2);
  if (!rows.length) return;
  const direct = results.find((r) => r.scenario === 2 && r.name === 'direct');
  md.push(`## 2. Latency at a fixed offered load of ${meta.rate} req/s (open loop, gatehouse-open-loop)`, '');
  md.push('| peer | achieved req/s | p50 ms | p99 ms | p99.9 ms | added p50 | added p99 | added p99.9 |', '| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |');
  const added = (r, k) => (direct ? r.metrics[k].median - direct.metrics[k].median : NaN);
  for (const r of rows) {
    md.push(`| ${r.name} | ${cell(r.metrics.achieved_rps)} | ${cell(r.metrics.p50_ms, 3)} | ${cell(r.metrics.p99_ms, 3)} | ${cell(r.metrics.p999_ms, 3)} | ` +
            `${r === direct ? '' : fmt(added(r, 'p50_ms'), 3)} | ${r === direct ? '' : fmt(added(r, 'p99_ms'), 3)} | ${r === direct ? '' : fmt(added(r, 'p999_ms'), 3)} |`);
  }
  md.push('');
  const gh = rows.find((r) => r.name === 'gh-rs256');
  const nginx = rows.find((r) => r.name === 'nginx');
  if (gh && nginx && direct) {
    Target('added p99 at fixed load vs nginx', 'no worse', `${fmt(added(gh, 'p99_ms'), 3)} ms vs ${fmt(added(nginx, 'p99_ms'), 3)} ms`,
           added(gh, 'p99_ms') <= added(nginx, 'p99_ms'));
  }
}

function Simple(scenario, title, columns) {
  const rows = results.filter((r) => r.scenario === scenario);
  if (!rows.length) return;
  md.push(`## ${title}`, '');
  md.push(`| scenario | ${columns.map((c) => c[1]).join(' | ')} |`, `| --- | ${columns.map(() => '---:').join(' | ')} |`);
  for (const r of rows) md.push(`| ${r.label} | ${columns.map(([k, , d]) => cell(r.metrics[k], d ?? 0)).join(' | ')} |`);
  md.push('');
}

Scenario1();
Scenario2();
Simple(3, '3. Scaling: Gatehouse 1 and 2 threads (2 threads share CPU 1 with wrk and the upstream)', [['rps', 'req/s'], ['p50_ms', 'p50 ms', 3], ['p99_ms', 'p99 ms', 3]]);
Simple(4, '4. New connections and TLS handshakes per second (wrk, Connection: close)', [['rps', 'connections/s'], ['p99_ms', 'p99 ms', 3], ['errors', 'socket errors']]);
Simple(5, '5. Propagation: a policy change -> every proxy enforcing (from the API server\'s commit of the write, and from starting kubectl)', [['changes', 'changes'], ['p50_ms', 'from commit p50 ms', 1], ['p99_ms', 'from commit p99 ms', 1], ['max_ms', 'from commit max ms', 1], ['from_kubectl_p50_ms', 'from kubectl start p50 ms', 1], ['from_kubectl_p99_ms', 'from kubectl start p99 ms', 1], ['kubectl_p50_ms', 'kubectl start -> commit p50 ms', 1]]);
Simple(6, '6. Scale', [['start_to_ready_ms', 'proxy start to ready ms'], ['sync_ms', 'operator start to pushed ms'], ['enforcing_ms', 'operator start to enforcing ms'], ['statuses_ms', 'all statuses written ms'], ['vmhwm_kb', 'VmHWM KiB'], ['vmrss_kb', 'VmRSS KiB'], ['established', 'connections held']]);
Simple(7, '7. Instructions per request of each gate stage (callgrind, cached token)', [['route', 'route'], ['verify', 'verify'], ['decide', 'decide'], ['headers', 'headers'], ['audit', 'audit'], ['metrics', 'metrics'], ['other', 'other'], ['total', 'total']]);

const p50 = results.find((r) => r.scenario === 5 && r.name === 'proxies-50');
if (p50) {
  Target('propagation p99 with 50 proxies, from the API commit', '< 250 ms', `${fmt(p50.metrics.p99_ms.median, 1)} ms`, p50.metrics.p99_ms.median < 250);
  const fromKubectl = p50.metrics.from_kubectl_p99_ms?.median;
  if (fromKubectl !== undefined) Target('propagation p99 with 50 proxies, from starting kubectl', '< 250 ms', `${fmt(fromKubectl, 1)} ms`, fromKubectl < 250);
}
const tenK = results.find((r) => r.scenario === 6 && r.name === 'proxy-10000');
if (tenK) {
  Target('10,000 policies: proxy start to ready (compile)', '< 1 s', `${fmt(tenK.metrics.start_to_ready_ms.median)} ms`, tenK.metrics.start_to_ready_ms.median < 1000);
  Target('10,000 policies: proxy memory (VmHWM)', '< 128 MB', `${fmt(tenK.metrics.vmhwm_kb.median / 1024, 1)} MiB`, tenK.metrics.vmhwm_kb.median < 128 * 1000 * 1000 / 1024);
}
const op10k = results.find((r) => r.scenario === 6 && r.name === 'operator-10000');
if (op10k?.metrics.sync_ms) Target('10,000 policies: operator initial sync', '< 2 s', `${fmt(op10k.metrics.sync_ms.median)} ms`, op10k.metrics.sync_ms.median < 2000);

if (targets.length) {
  md.push('## Targets (issue 7)', '', '| target | goal | measured | result |', '| --- | --- | --- | --- |');
  for (const t of targets) md.push(`| ${t.target} | ${t.goal} | ${t.value} | ${t.result} |`);
  md.push('');
}
const markdown = md.join('\n');
writeFileSync(jsonOut, JSON.stringify({...meta, results, targets}, null, 2) + '\n');
writeFileSync(mdOut, markdown);
console.log(markdown);
