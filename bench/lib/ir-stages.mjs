// ir-stages.mjs: instructions per request of each gate stage, from a callgrind
// profile of bench/gate_stages.
//
//   node ir-stages.mjs run GATE_STAGES_BIN OUT.json [--alg RS256] [--policies 20] [--requests 1000]
//                          [--fresh-tokens 1]
//       runs gate_stages under callgrind (only RunMeasured() is collected),
//       then writes the per-stage figures to OUT.json and prints a table;
//       --fresh-tokens 1: a new token per request (verify = a full RS256 check)
//   node ir-stages.mjs parse CALLGRIND_OUT REQUESTS
//       only the parsing step: prints the JSON of an existing profile
//
// A stage's cost is the inclusive Ir (instructions executed, the function and
// everything it calls) of the functions that implement it, divided by the
// number of measured requests:
//   route    NormalizePathInto, policy::Route, FleetSnapshot::RuntimeFor
//   verify   FindBearer, AuthenticateBearer (the thread's last token remembered:
//            BearerMemo; else IsToken68 and TokenAuthenticator::Authenticate)
//   decide   DecisionMemo::Decide (the thread's last decision, else policy::Decide),
//            IsBrowserNavigation, MakeDecision
//   headers  StripClientHeaders, ForwardingLineCache::AddTo, AssertionCache::Get,
//            IdentityLineCache::AddTo (the gate's Add* follow the strip; the Set*
//            forms, which look for copies first, are not on the gate's path)
//   audit    AuditLog::Write (format the line, queue it; the writer thread is
//            not counted)
//   metrics  RequestGate::Finish minus AuditLog::Write and RequestGate::Recycle
//            (decision counter, gate and upstream histograms, the audit record)
//   other    everything else in the loop: request id, per-request context
//            (taken and given back: RequestGate::Recycle), the verdict,
//            copying the request head
// Ir counts do not depend on the machine's load, which is why the CI guard
// compares them rather than times.
import {execFileSync} from 'node:child_process';
import {mkdtempSync, rmSync, writeFileSync} from 'node:fs';
import {tmpdir} from 'node:os';
import {join} from 'node:path';

export const kStages = {
  route: ['gatehouse::policy::NormalizePathInto', 'gatehouse::policy::Route',
          'gatehouse::server::FleetSnapshot::RuntimeFor'],
  verify: ['gatehouse::server::FindBearer', 'gatehouse::server::AuthenticateBearer'],
  decide: ['gatehouse::server::DecisionMemo::Decide', 'gatehouse::server::IsBrowserNavigation',
           'gatehouse::policy::MakeDecision'],
  headers: ['gatehouse::server::StripClientHeaders', 'gatehouse::server::ForwardingLineCache::AddTo',
            'gatehouse::server::AssertionCache::Get', 'gatehouse::server::IdentityLineCache::AddTo'],
  audit: ['gatehouse::server::AuditLog::Write'],
};
const kFinish = 'gatehouse::server::RequestGate::Finish';
const kRecycle = 'gatehouse::server::RequestGate::Recycle';  // in Finish, counted as other
const kLoop = 'RunMeasured';

// Inclusive Ir per function name (the part before the argument list).
function InclusiveCosts(callgrindOut) {
  const text = execFileSync('callgrind_annotate', ['--inclusive=yes', '--threshold=100',
                                                   callgrindOut],
                            {encoding: 'utf8', maxBuffer: 256 << 20});
  const costs = new Map();
  for (const line of text.split('\n')) {
    const m = /^\s*([\d,]+)\s+\(\s*[\d.]+%\)\s+[^:]*:(.*?)\s+\[[^\]]*\]\s*$/.exec(line);
    if (!m) continue;
    const ir = Number(m[1].replaceAll(',', ''));
    // "ns::Fn[abi:cxx11](args) const" -> "ns::Fn"; anonymous namespaces kept.
    const name = m[2].replace(/\[abi:[^\]]*\]/g, '').replace(/\(anonymous namespace\)/g, '')
                     .replace(/\(.*$/, '');
    if (!name) continue;
    costs.set(name, (costs.get(name) ?? 0) + ir);
  }
  return costs;
}

export function StagesFromProfile(callgrindOut, requests) {
  const costs = InclusiveCosts(callgrindOut);
  const find = (suffix) => {
    let total = 0;
    for (const [name, ir] of costs) {
      if (name === suffix || name.endsWith('::' + suffix) || name.endsWith(suffix)) total += ir;
    }
    return total;
  };
  const loop = find(kLoop);
  if (loop === 0) throw new Error(`${callgrindOut}: no ${kLoop} in the profile`);
  const stages = {};
  let accounted = 0;
  for (const [stage, functions] of Object.entries(kStages)) {
    const ir = functions.reduce((sum, f) => sum + find(f), 0);
    stages[stage] = Math.round(ir / requests);
    accounted += ir;
  }
  const metrics = find(kFinish) - find(kStages.audit[0]) - find(kRecycle);
  stages.metrics = Math.round(metrics / requests);
  accounted += metrics;
  stages.other = Math.round((loop - accounted) / requests);
  for (const [stage, ir] of Object.entries(stages)) {
    if (stage !== 'other' && ir <= 0) {
      throw new Error(`stage ${stage}: no cost found (was a function renamed or inlined?)`);
    }
  }
  return {total: Math.round(loop / requests), stages};
}

export function RunProfile(bin, {alg = 'RS256', policies = 20, requests = 1000,
                                 freshTokens = false} = {}) {
  const dir = mkdtempSync(join(tmpdir(), 'gatehouse-ir-'));
  try {
    const out = join(dir, 'callgrind.out');
    execFileSync('valgrind', ['--tool=callgrind', '--collect-atstart=no',
                              '--toggle-collect=*RunMeasured*', `--callgrind-out-file=${out}`,
                              bin, '--alg', alg, '--policies', String(policies), '--requests',
                              String(requests), ...(freshTokens ? ['--fresh-tokens', '1'] : [])],
                 {stdio: ['ignore', 'ignore', 'pipe'], maxBuffer: 64 << 20});
    return {alg, policies, requests, ...(freshTokens ? {fresh_tokens: true} : {}),
            ...StagesFromProfile(out, requests)};
  } finally {
    rmSync(dir, {recursive: true, force: true});
  }
}

export function FormatTable(result) {
  const rows = Object.entries(result.stages)
                   .map(([stage, ir]) => `  ${stage.padEnd(8)} ${String(ir).padStart(8)} Ir`);
  return `Ir per request, ${result.alg}, ${result.policies} policies, ` +
         `${result.requests} requests (${result.fresh_tokens ? 'fresh' : 'cached'} token):\n` +
         `${rows.join('\n')}\n` +
         `  ${'total'.padEnd(8)} ${String(result.total).padStart(8)} Ir`;
}

function Flag(args, name, fallback) {
  const i = args.indexOf(name);
  return i >= 0 && i + 1 < args.length ? args[i + 1] : fallback;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const [mode, ...args] = process.argv.slice(2);
  if (mode === 'parse' && args.length === 2) {
    console.log(JSON.stringify(StagesFromProfile(args[0], Number(args[1])), null, 2));
  } else if (mode === 'run' && args.length >= 2) {
    const result = RunProfile(args[0], {alg: Flag(args, '--alg', 'RS256'),
                                        policies: Number(Flag(args, '--policies', 20)),
                                        requests: Number(Flag(args, '--requests', 1000)),
                                        freshTokens: Flag(args, '--fresh-tokens', '0') === '1'});
    writeFileSync(args[1], JSON.stringify(result, null, 2) + '\n');
    console.log(FormatTable(result));
  } else {
    console.error('usage: node ir-stages.mjs run GATE_STAGES_BIN OUT.json [--alg A] ' +
                  '[--policies N] [--requests N] [--fresh-tokens 1]\n       node ir-stages.mjs parse CALLGRIND_OUT ' +
                  'REQUESTS');
    process.exit(2);
  }
}
