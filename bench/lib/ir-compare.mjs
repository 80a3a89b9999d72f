// ir-compare.mjs: the instruction-count half of bench/guard.sh.
//
//   node ir-compare.mjs BASELINE.json CURRENT.json [TOLERANCE=0.10]
//
// Both files are lib/ir-stages.mjs results. Prints one line per stage
// (baseline, now, change) and exits 1 when any stage, or the total, grew by
// more than TOLERANCE over the baseline, or when the two were measured with
// different settings (algorithm, policies, requests). Shrinking never fails;
// it is reported so the baseline can be lowered (guard.sh --update-baseline).
import {readFileSync} from 'node:fs';

const [baselineFile, currentFile, toleranceArg] = process.argv.slice(2);
if (!baselineFile || !currentFile) {
  console.error('usage: node ir-compare.mjs BASELINE.json CURRENT.json [TOLERANCE]');
  process.exit(2);
}
const tolerance = Number(toleranceArg ?? 0.1);
const baseline = JSON.parse(readFileSync(baselineFile, 'utf8'));
const current = JSON.parse(readFileSync(currentFile, 'utf8'));

let failed = false;
for (const k of ['alg', 'policies', 'requests']) {
  if (baseline[k] !== current[k]) {
    console.error(`guard: FAIL Ir: ${k} differs (baseline ${baseline[k]}, now ${current[k]}); ` +
                  'update the baseline with bench/guard.sh --update-baseline');
    failed = true;
  }
}
const rows = [...Object.keys(baseline.stages).map((s) => [s, baseline.stages[s], current.stages[s]]),
              ['total', baseline.total, current.total]];
let lower = false;
for (const [stage, was, now] of rows) {
  const change = now === undefined ? NaN : (now - was) / was;
  const over = !(change <= tolerance);  // NaN (a missing stage) fails too
  if (change < -tolerance) lower = true;
  if (over) failed = true;
  console.error(`guard: ${over ? 'FAIL' : 'ok  '} Ir ${stage.padEnd(8)} baseline ${String(was).padStart(7)}` +
                `  now ${String(now).padStart(7)}  ${(change * 100).toFixed(1).padStart(6)}%`);
}
console.error(`guard: ${failed ? 'FAIL' : 'PASS'} Ir per request (limit +${(tolerance * 100).toFixed(0)}% per stage)` +
              (lower ? '; some stages are well below the baseline: consider --update-baseline' : ''));
process.exit(failed ? 1 : 0);
