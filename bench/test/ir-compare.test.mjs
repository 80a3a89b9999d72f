// The instruction-count half of the CI guard must fail on a regression and
// pass otherwise: bench/lib/ir-compare.mjs on made-up baselines.
//   node --test bench/test/ir-compare.test.mjs     (ctest: bench_ir_compare)
import assert from 'node:assert/strict';
import {spawnSync} from 'node:child_process';
import {mkdtempSync, rmSync, writeFileSync} from 'node:fs';
import {tmpdir} from 'node:os';
import path from 'node:path';
import {after, test} from 'node:test';
import {fileURLToPath} from 'node:url';

const compare = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', 'lib', 'ir-compare.mjs');
const dir = mkdtempSync(path.join(tmpdir(), 'ir-compare-'));
after(() => rmSync(dir, {recursive: true, force: true}));

const kBaseline = {alg: 'RS256', policies: 20, requests: 1000, total: 10000,
                   stages: {route: 1000, verify: 2000, decide: 1000, headers: 2000, audit: 3000, metrics: 500, other: 500}};
let n = 0;
function Run(current, tolerance) {
  const b = path.join(dir, `b${n}.json`);
  const c = path.join(dir, `c${n++}.json`);
  writeFileSync(b, JSON.stringify(kBaseline));
  writeFileSync(c, JSON.stringify(current));
  const args = [compare, b, c];
  if (tolerance !== undefined) args.push(String(tolerance));
  return spawnSync(process.execPath, args, {encoding: 'utf8'});
}
const With = (changes) => ({...kBaseline, ...changes, stages: {...kBaseline.stages, ...(changes.stages ?? {})}});

const kScenarios = [
  {name: 'identical counts pass', current: With({}), code: 0},
  {name: 'a stage 10% up passes (the limit is inclusive)', current: With({stages: {route: 1100}}), code: 0},
  {name: 'a stage 11% up fails', current: With({stages: {audit: 3330}}), code: 1, says: /FAIL Ir audit/},
  {name: 'a small stage growing fails even when the total does not', current: With({stages: {metrics: 600}}), code: 1, says: /FAIL Ir metrics/},
  {name: 'the total 11% up fails', current: With({total: 11100}), code: 1, says: /FAIL Ir total/},
  {name: 'a stage that disappeared fails', current: {...kBaseline, stages: {route: 1000}}, code: 1, says: /FAIL Ir verify/},
  {name: 'other settings than the baseline fail', current: With({policies: 1000}), code: 1, says: /policies differs/},
  {name: 'shrinking passes and suggests a new baseline', current: With({stages: {headers: 1000}}), code: 0, says: /update-baseline/},
  {name: 'a looser tolerance lets 15% through', current: With({stages: {decide: 1150}}), tolerance: 0.2, code: 0},
];
for (const s of kScenarios) {
  test(s.name, () => {
    const r = Run(s.current, s.tolerance);
    assert.equal(r.status, s.code, r.stderr);
    if (s.says) assert.match(r.stderr, s.says);
  });
}
