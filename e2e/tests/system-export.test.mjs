// Metabase's big CSV exports through the whole system (lib/system-harness.mjs:
// the chart applied with kubectl, the operator, three proxies run from the
// Deployments, the real sign-in IdP, the Metabase stand-in):
//   - a 1 GiB streamed export passes through a proxy, every byte counted at the
//     client, with the proxy's resident memory (VmRSS, sampled during the
//     transfer) staying flat;
//   - a client that disconnects mid-export cancels the export at Metabase;
//   - no process is left behind.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { readFileSync } from 'node:fs';
import { eventually, rawRequest } from '../lib/proxy-harness.mjs';
import { startSystem, signIn, kMetabaseHost } from '../lib/system-harness.mjs';

const kMiB = 1024 * 1024;
const kRowBytes = 1026;  // the stand-in writes rowBytes - 2 bytes a row: 1 KiB rows
const kRssBudget = 32 * kMiB;

let sys; let session;

before(async () => {
  sys = await startSystem();
  session = await signIn(sys, 'ops', { proxy: 0 });  // admins may export
});

after(async () => {
  await sys?.stop();
});

const rssOf = (pid) => Number(/VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))[1]) * 1024;
const exportBytes = (rows) => 'id,value\n'.length + rows * (kRowBytes - 2);

// POST /api/dataset/csv through proxy 0 as ops. onData(bytesSoFar, req) may destroy the request.
function startExport(query, onData = () => {}) {
  const { port } = sys.proxies[0];
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, method: 'POST', path: `/api/dataset/csv?${query}`, agent: false,
      headers: { host: `${kMetabaseHost}:${port}`, cookie: `gatehouse_session=${session}`, 'content-length': 0 } }, (res) => {
      let bytes = 0;
      res.on('data', (d) => { bytes += d.length; onData(bytes, req); });
      res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, bytes }));
      res.on('aborted', () => resolve({ status: res.statusCode, bytes, aborted: true }));
      res.on('error', () => resolve({ status: res.statusCode, bytes, aborted: true }));
    });
    req.on('error', (e) => (req.destroyed ? resolve({ destroyed: true }) : reject(e)));
    req.end();
  });
}

test('a 1 GiB export streams through a proxy with its memory flat; every byte arrives', async () => {
  const { pid } = sys.proxies[0];
  // Warm up: buffers and pools the proxy keeps anyway.
  const warm = await startExport(`rows=20000&rowBytes=${kRowBytes}`);
  assert.equal(warm.bytes, exportBytes(20000));
  let baseline = 0;
  for (let i = 0; i < 5; i++) {
    baseline = Math.max(baseline, rssOf(pid));
    await new Promise((r) => setTimeout(r, 20));
  }
  const before = await sys.metabase.json('/_test/exports');
  const rows = 1024 * 1024;
  let peak = baseline;
  let samples = 0;
  const sampler = setInterval(() => { peak = Math.max(peak, rssOf(pid)); samples += 1; }, 25);
  const start = performance.now();
  let result;
  try {
    result = await startExport(`rows=${rows}&rowBytes=${kRowBytes}`);
  } finally {
    clearInterval(sampler);
  }
  const seconds = (performance.now() - start) / 1000;
  assert.equal(result.status, 200);
  assert.equal(result.headers['content-type'], 'text/csv');
  assert.equal(result.bytes, exportBytes(rows), 'every byte of the export arrived');
  assert.ok(result.bytes >= 1024 * kMiB);
  const after = await sys.metabase.json('/_test/exports');
  assert.equal(after.completed, before.completed + 1);
  assert.equal(after.cancelled, before.cancelled);
  const growth = peak - baseline;
  console.log(`# 1 GiB export: ${(result.bytes / kMiB).toFixed(0)} MiB in ${seconds.toFixed(1)} s ` +
    `(${(result.bytes / kMiB / seconds).toFixed(0)} MiB/s); proxy VmRSS ${(baseline / kMiB).toFixed(1)} MiB before, ` +
    `peak ${(peak / kMiB).toFixed(1)} MiB (+${(growth / kMiB).toFixed(1)} MiB) over ${samples} samples`);
  assert.ok(samples >= 10, `only ${samples} RSS samples during the transfer`);
  assert.ok(growth < kRssBudget, `proxy RSS grew ${(growth / kMiB).toFixed(1)} MiB during the transfer`);
});

test('a client that disconnects mid-export cancels it at Metabase', async () => {
  const before = await sys.metabase.json('/_test/exports');
  // A slow export (a batch of 1,000 rows every 20 ms): the client leaves after 2 MiB.
  const result = await startExport(`rows=10000000&delayMs=20&rowBytes=${kRowBytes}`, (bytes, req) => {
    if (bytes >= 2 * kMiB) req.destroy();
  });
  assert.ok(result.destroyed || result.aborted || result.bytes < exportBytes(10000000), JSON.stringify(result));
  await eventually(async () => {
    const now = await sys.metabase.json('/_test/exports');
    assert.equal(now.started, before.started + 1);
    assert.equal(now.cancelled, before.cancelled + 1, 'the stand-in saw its client go');
    assert.equal(now.completed, before.completed);
  }, { timeout: 10000, interval: 100 });
  // The proxy is fine and serves the next request.
  const { port } = sys.proxies[0];
  const next = await rawRequest(port, { host: `${kMetabaseHost}:${port}`, path: '/api/card/1',
    headers: [['Cookie', `gatehouse_session=${session}`]] });
  assert.equal(next.status, 200);
});

test('no process left behind: everything this suite started is gone after stop', async () => {
  assert.ok(sys.seenPids() >= 3 + 2 + 2, `tracked ${sys.seenPids()}`);
  await sys.stop();
  await eventually(() => assert.deepEqual(sys.leftovers(), []), { timeout: 10000 });
});
