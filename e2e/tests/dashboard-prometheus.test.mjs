// The Grafana dashboard (helm/gatehouse/dashboards/gatehouse.json) against a
// REAL Prometheus scraping REAL Gatehouse processes every second:
//   - proxy A in local mode (a policy folder), proxy B fed by the real
//     operator in local mode (pushes over loopback HTTP), the operator itself;
//   - traffic of every kind: allowed, 401 (no / invalid token), 403 (no rule,
//     deny rule), 404 (no route), 429 (rate limit), and an issuer whose JWKS
//     cannot be fetched; a policy change makes the operator push again;
//   - then EVERY expression of the dashboard returns data, and the numbers
//     are the ones this test caused (denials, rate-limited requests, fleet
//     sync, config versions).
// Written to grow into the full end-to-end suite: the fleet, the traffic and
// the expectations are plain data here.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import {
  startEcho, startJoseIdp, startProxy, policyDir, policyYaml, rawRequest, eventually, repo,
} from '../lib/proxy-harness.mjs';
import { startOperatorWithAdmin } from '../lib/operator-harness.mjs';
import { freePort } from '../lib/ports.mjs';
import { startPrometheus, dashboardQueries, grafanaExpr } from '../lib/prometheus.mjs';

const dashboard = JSON.parse(readFileSync(path.join(repo, 'helm/gatehouse/dashboards/gatehouse.json'), 'utf8'));
const kRanges = { rate: '1m', range: '5m', interval: '1s' };

let idp;
let echo;
let dir;
let proxyA;
let proxyB;
let operator;
let operatorAdmin;
let prom;
const sent = { total: 0, denied: 0, rateLimited: 0, byStatus: {} };

const shopRules = `    - name: staff-read
      action: Allow
      paths: ["/api/**"]
      from: {groups: [staff]}
    - name: no-admin
      action: Deny
      paths: ["/api/admin/**"]
`;

function shopPolicy(extraRule = '') {
  return policyYaml({ name: 'shop', host: 'shop.test', issuer: idp.issuer, upstream: echo.url,
    rules: shopRules + extraRule, extra: '  rateLimit: {requestsPerMinute: 60, burst: 3, key: identity}\n' });
}

// An issuer nobody answers for: every key fetch fails.
async function brokenIdpPolicy() {
  const dead = `http://127.0.0.1:${await freePort()}`;
  return policyYaml({ name: 'idp-down', host: 'idp-down.test', issuer: dead, upstream: echo.url,
    rules: '    - name: anyone\n      action: Allow\n' });
}

async function startOperator(proxyAdminPort) {
  const child = await startOperatorWithAdmin(['--policies', dir.dir, '--proxy', `http://127.0.0.1:${proxyAdminPort}`]);
  await eventually(async () => {
    assert.equal(child.exitCode, null, `operator exited:\n${child.output}`);
    assert.equal((await fetch(`http://127.0.0.1:${child.admin}/healthz`)).status, 200);
  }, { timeout: 15000 });
  return { adminPort: child.admin, stderr: () => child.output, stop: () => child.stop() };
}

// One request; records what it was answered with.
async function send(proxy, { host = 'shop.test', path: p = '/api/items', token, authorization } = {}) {
  const headers = [];
  if (token) headers.push(['Authorization', `Bearer ${token}`]);
  if (authorization) headers.push(['Authorization', authorization]);
  const r = await rawRequest(proxy.port, { host, path: p, headers });
  sent.total += 1;
  sent.byStatus[r.status] = (sent.byStatus[r.status] ?? 0) + 1;
  if (r.status >= 400) sent.denied += 1;  // every non-proxied answer is a deny decision
  if (r.status === 429) sent.rateLimited += 1;
  return r.status;
}

let userSeq = 0;
const freshStaff = () => idp.token({ sub: `staff-${(userSeq += 1)}`, groups: ['staff'] });

// One wave of traffic of every kind through a proxy.
async function wave(proxy) {
  for (let i = 0; i < 4; i += 1) assert.equal(await send(proxy, { token: await freshStaff() }), 200);
  assert.equal(await send(proxy, {}), 401);
  assert.equal(await send(proxy, { authorization: 'Bearer not.a.jwt' }), 401);
  assert.equal(await send(proxy, { token: await idp.token({ sub: `guest-${(userSeq += 1)}`, groups: [] }) }), 403);
  for (let i = 0; i < 2; i += 1) {
    assert.equal(await send(proxy, { path: '/api/admin/users', token: await freshStaff() }), 403);
  }
  assert.equal(await send(proxy, { host: 'nowhere.test' }), 404);
  // One identity over its burst of 3: the rest are refused with 429.
  const hammer = await idp.token({ sub: `hammer-${(userSeq += 1)}`, groups: ['staff'] });
  const statuses = [];
  for (let i = 0; i < 8; i += 1) statuses.push(await send(proxy, { token: hammer }));
  assert.ok(statuses.filter((s) => s === 429).length >= 4, `rate limit: ${statuses}`);
}

async function scalar(expr) {
  const result = await prom.query(expr);
  return result.length ? result[0].value : undefined;
}

before(async () => {
  idp = await startJoseIdp();
  echo = await startEcho();
  dir = policyDir({ 'shop.yaml': shopPolicy() });
  proxyA = await startProxy({ policies: dir.dir });
  proxyB = await startProxy({ bootstrap: path.join(dir.dir, 'no-bootstrap-yet.json') });
  operator = await startOperator(proxyB.admin);
  operatorAdmin = operator.adminPort;
  await eventually(async () => {
    assert.equal((await fetch(`http://127.0.0.1:${proxyB.admin}/readyz`)).status, 200);
  }, { timeout: 15000 });
  prom = await startPrometheus({ jobs: {
    proxy: [`127.0.0.1:${proxyA.admin}`, `127.0.0.1:${proxyB.admin}`],
    operator: [`127.0.0.1:${operatorAdmin}`],
  } });
  await prom.waitForTargets(3);
});

after(async () => {
  await prom?.stop();
  await operator?.stop();
  await proxyA?.stop();
  await proxyB?.stop();
  await echo?.close();
  await idp?.close();
  dir?.remove();
});

test('every dashboard query returns the data the fleet produced', async () => {
  // Wave 1, then wait until Prometheus has scraped it, so wave 2 shows up as a rate.
  await wave(proxyA);
  await wave(proxyB);
  await eventually(async () => assert.equal(await scalar('sum(gatehouse_decisions_total)'), sent.total),
    { timeout: 15000, interval: 250 });
  const pushesBefore = await scalar('sum(gatehouse_operator_push_duration_seconds_count)');

  // A policy change (new version pushed to B) and an issuer whose keys never come.
  dir.write('idp-down.yaml', await brokenIdpPolicy());
  await wave(proxyA);
  await wave(proxyB);

  await eventually(async () => {
    assert.equal(await scalar('sum(gatehouse_decisions_total)'), sent.total);
    assert.ok((await scalar('sum(gatehouse_operator_push_duration_seconds_count)')) > pushesBefore, 'no new push');
    // Two failures per proxy (the fetch is retried with backoff) make a rate.
    for (const job of [proxyA, proxyB]) {
      const failures = await scalar(
        `sum(gatehouse_jwks_fetches_total{result="error",instance="127.0.0.1:${job.admin}"})`);
      assert.ok(failures >= 2, `JWKS failures on ${job.admin}: ${failures}`);
    }
    assert.equal(await scalar('max(gatehouse_operator_proxies{state="in_sync"})'), 1);
  }, { timeout: 30000, interval: 500 });

  // Every expression of every panel answers with at least one real number.
  const queries = dashboardQueries(dashboard);
  assert.ok(queries.length >= 12, `only ${queries.length} queries`);
  const answers = {};
  for (const q of queries) {
    const expr = grafanaExpr(q.expr, kRanges);
    assert.doesNotMatch(expr, /\$/, `${q.panel}/${q.refId}: unsubstituted variable`);
    const result = await prom.query(expr);
    assert.ok(result.length > 0, `${q.panel}/${q.refId}: no series for ${expr}`);
    assert.ok(result.some((s) => Number.isFinite(s.value)), `${q.panel}/${q.refId}: only NaN for ${expr}`);
    answers[`${q.panel}/${q.refId}`] = result;
  }

  // The numbers are the ones this test caused.
  assert.equal(await scalar('sum(gatehouse_decisions_total{decision="deny"})'), sent.denied, JSON.stringify(sent));
  assert.equal(await scalar('sum(gatehouse_decisions_total{decision="allow"})'), sent.byStatus[200]);
  assert.equal(await scalar('sum(gatehouse_rate_limited_total)'), sent.rateLimited);
  const top = answers['Top denied policies and rules/A'];
  const row = (rule, reason) => top.find((s) => s.metric.policy === 'e2e/shop' && s.metric.rule === rule &&
    s.metric.reason === reason);
  assert.ok(row('no-admin', 'denied_by_rule')?.value > 0, JSON.stringify(top.map((s) => s.metric)));
  assert.ok(top.some((s) => s.metric.reason === 'rate_limited' && s.value > 0));
  assert.ok(top.some((s) => s.metric.reason === 'no_route' && s.value > 0));
  const reasons = new Set(answers['Decisions per second by decision and reason/A'].map((s) => s.metric.reason));
  for (const reason of ['allowed', 'no_credentials', 'invalid_token', 'no_matching_rule', 'denied_by_rule',
    'rate_limited', 'no_route']) {
    assert.ok(reasons.has(reason), `no decisions/s series for ${reason}`);
  }
  const limited = answers['Rate-limited requests per second by policy/A'].find((s) => s.metric.policy === 'e2e/shop');
  assert.ok(limited.value > 0);
  const jwks = answers['JWKS fetch failures per second by issuer/A'];
  assert.ok(jwks.some((s) => s.value > 0 && s.metric.issuer !== idp.issuer), JSON.stringify(jwks));
  assert.deepEqual(answers['Proxies in sync vs total/A'].map((s) => s.value), [1]);
  assert.deepEqual(answers['Proxies in sync vs total/B'].map((s) => s.value), [1]);
  const versions = answers['Config version per proxy/A'];
  assert.deepEqual(versions.map((s) => s.metric.instance).sort(),
    [`127.0.0.1:${proxyA.admin}`, `127.0.0.1:${proxyB.admin}`].sort());
  const rendered = answers['Config version per proxy/B'][0].value;
  const versionB = versions.find((s) => s.metric.instance === `127.0.0.1:${proxyB.admin}`).value;
  assert.equal(versionB, rendered, 'the pushed proxy runs the version the operator rendered');
  for (const key of ['Gate overhead p50 / p99/A', 'Gate overhead p50 / p99/B', 'Config push latency p50 / p99/B']) {
    const value = answers[key].find((s) => Number.isFinite(s.value)).value;
    assert.ok(value > 0 && value < 5, `${key}: ${value}`);
  }
  const upstream = answers['Upstream latency p99 by policy/A'].find((s) => s.metric.policy === 'e2e/shop');
  assert.ok(upstream.value > 0 && upstream.value < 5, `upstream p99 ${upstream.value}`);
  const first = (key) => answers[key].find((s) => Number.isFinite(s.value)).value;
  console.log(`# ${queries.length} dashboard queries answered; requests ${sent.total} ` +
    `(${JSON.stringify(sent.byStatus)}), denied ${sent.denied}, rate-limited ${sent.rateLimited}; ` +
    `gate p50 ${(first('Gate overhead p50 / p99/A') * 1e6).toFixed(0)} us, ` +
    `p99 ${(first('Gate overhead p50 / p99/B') * 1e6).toFixed(0)} us; ` +
    `push p99 ${(first('Config push latency p50 / p99/B') * 1e3).toFixed(1)} ms; config version ${rendered}`);
});
