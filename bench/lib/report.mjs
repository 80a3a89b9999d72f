// report.mjs: turn the raw results of run-proxy-bench.sh into the table,
// the targets (PASS/MISS), and the JSON and Markdown result files.
//
//   node report.mjs RESULTS.tsv META.json OUT.json OUT.md
//
// RESULTS.tsv has one line per scenario:
//   name  label  rps  p50_ms  p99_ms  non2xx  socket_errors  "load1 load5 load15"
// META.json carries the run's settings, versions and Gatehouse RSS figures.
// The Markdown is also printed on stdout.
import {readFileSync, writeFileSync} from 'node:fs';

const [tsvFile, metaFile, jsonOut, mdOut] = process.argv.slice(2);
const meta = JSON.parse(readFileSync(metaFile, 'utf8'));
const rows = readFileSync(tsvFile, 'utf8').trim().split('\n').map((line) => {
  const [name, label, rps, p50, p99, non2xx, errors, load] = line.split('\t');
  return {name, label, rps: Number(rps), p50_ms: Number(p50), p99_ms: Number(p99),
          non2xx: Number(non2xx), socket_errors: Number(errors), load_before: load};
});
const byName = Object.fromEntries(rows.map((r) => [r.name, r]));
const gh = byName.gatehouse;
for (const r of rows) {
  if (!gh || r === gh) continue;
  r.gatehouse_rps_ratio = gh.rps / r.rps;
  r.gatehouse_p99_ratio = gh.p99_ms / r.p99_ms;
}

const kMiB = 1024;
const rss = meta.rss_kb;
function Target(name, value, ok, goal) {
  return {target: name, value, goal, result: ok ? 'PASS' : 'MISS'};
}
const targets = [];
if (gh && byName.nginx) {
  const ratio = gh.rps / byName.nginx.rps;
  targets.push(Target('throughput vs nginx plain proxy', `${ratio.toFixed(2)}x`, ratio >= 1.0,
                      '>= 1.0x'));
}
if (gh && byName['haproxy-jwt']) {
  const ratio = gh.rps / byName['haproxy-jwt'].rps;
  targets.push(Target('throughput vs HAProxy jwt_verify RS256', `${ratio.toFixed(2)}x`,
                      ratio >= 2.5, '>= 2.5x'));
}
if (gh && byName.nginx) {
  targets.push(Target('p99 vs nginx plain proxy',
                      `${gh.p99_ms.toFixed(2)} ms vs ${byName.nginx.p99_ms.toFixed(2)} ms`,
                      gh.p99_ms <= byName.nginx.p99_ms, 'no worse'));
}
targets.push(Target('RSS idle', `${(rss.idle / kMiB).toFixed(1)} MiB`, rss.idle < 32 * kMiB,
                    '< 32 MiB'));
const idle = meta.idle_connections;
const allHeld = idle.established_at_proxy >= idle.requested;
targets.push(Target(`RSS with ${idle.requested} idle keep-alive connections`,
                    `${(rss.idle_connections / kMiB).toFixed(1)} MiB` +
                        (allHeld ? '' : ` (only ${idle.established_at_proxy} held open)`),
                    rss.idle_connections < 96 * kMiB && allHeld, '< 96 MiB'));

const f = (n, d = 2) => (n === undefined || Number.isNaN(n) ? '' : n.toFixed(d));
const md = [];
md.push(`# Gatehouse proxy benchmark ${meta.date}`);
md.push('');
md.push(`wrk -t1 -c${meta.connections} -d${meta.duration_s}s --latency (keep-alive, after a ` +
        `${meta.warmup_s}s warm-up), 100-byte upstream response. System under test pinned to ` +
        `CPU ${meta.sut_cpu}; wrk and the upstream nginx share CPU ${meta.load_cpu}. ` +
        `${meta.nproc} CPUs: ${meta.cpu_model}; kernel ${meta.kernel}. ` +
        `nginx ${meta.versions.nginx}, HAProxy ${meta.versions.haproxy}, wrk ` +
        `${meta.versions.wrk}, Gatehouse ${meta.versions.gatehouse_git}. Gatehouse: ` +
        `--threads 1, ${meta.policies} policies, audit log to a file ` +
        `(${meta.gatehouse_audit_lines} lines), metrics on.`);
md.push('');
md.push('| scenario | req/s | p50 ms | p99 ms | non-2xx | load avg before | ' +
        'Gatehouse req/s ratio | Gatehouse p99 ratio |');
md.push('| --- | ---: | ---: | ---: | ---: | --- | ---: | ---: |');
for (const r of rows) {
  md.push(`| ${r.label} | ${f(r.rps, 0)} | ${f(r.p50_ms, 3)} | ${f(r.p99_ms, 3)} | ${r.non2xx} | ` +
          `${r.load_before} | ${r.gatehouse_rps_ratio ? f(r.gatehouse_rps_ratio) + 'x' : ''} | ` +
          `${r.gatehouse_p99_ratio ? f(r.gatehouse_p99_ratio) + 'x' : ''} |`);
}
md.push('');
md.push('req/s ratio: Gatehouse / peer (higher is better). p99 ratio: Gatehouse / peer ' +
        '(lower is better).');
md.push('');
md.push('| target | goal | measured | result |');
md.push('| --- | --- | --- | --- |');
for (const t of targets) md.push(`| ${t.target} | ${t.goal} | ${t.value} | ${t.result} |`);
md.push('');
md.push(`Gatehouse RSS: ${(rss.idle / kMiB).toFixed(1)} MiB idle after start, ` +
        `${(rss.after_load / kMiB).toFixed(1)} MiB after the load run, ` +
        `${(rss.idle_connections / kMiB).toFixed(1)} MiB with idle connections ` +
        `(client: ${idle.client}; established at the proxy: ${idle.established_at_proxy}).`);
md.push('');
const markdown = md.join('\n');

writeFileSync(jsonOut, JSON.stringify({...meta, scenarios: rows, targets}, null, 2) + '\n');
writeFileSync(mdOut, markdown);
console.log(markdown);
