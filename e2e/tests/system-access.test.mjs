// The whole system with real parts (lib/system-harness.mjs): the Helm chart
// rendered by helm and applied with kubectl to the Kubernetes API test server,
// the operator and three proxies run from the applied Deployments, the example
// policies (Metabase, internal API), the real oidc-provider for browser users
// and for a service account, Chromium, and a Prometheus scraping everything.
//   - every policy becomes Ready (kubectl get -o json: Accepted, Ready, 3/3);
//   - ann (analysts) signs in with Chromium and sees Metabase as herself, reads
//     a card, and cannot export (403 page); ops (admins) exports and is signed
//     into Metabase by JWT SSO; cy (contractors) is denied the export;
//   - a service account's client-credentials token opens the internal API and
//     is rate limited past its budget (429 + Retry-After);
//   - identity headers a client sends (any casing, repeated, X-Gatehouse-*)
//     never reach either upstream, and the assertion that does is the fleet's;
//   - Prometheus answers the dashboard's queries with this suite's numbers;
//   - no process is left behind.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { gunzipSync } from 'node:zlib';
import path from 'node:path';
import { createLocalJWKSet, jwtVerify } from 'jose';
import { dashboardQueries, grafanaExpr } from '../lib/prometheus.mjs';
import { rawRequest, eventually, repo } from '../lib/proxy-harness.mjs';
import {
  startSystem, signIn, waitPoliciesReady, condition, kMetabaseHost, kApiHost, kWriterClient, kStrangerClient,
  kApiRateLimit,
} from '../lib/system-harness.mjs';

const dashboard = JSON.parse(readFileSync(path.join(repo, 'helm/gatehouse/dashboards/gatehouse.json'), 'utf8'));

let sys; let page;
// Every answer a proxy gave this suite, by what it means: the denials the suite caused.
const tally = { status: {}, loginRedirects: 0, callbacks: 0, ruleDenials: 0, total: 0 };

function count(status, { toIdp = false } = {}) {
  tally.total += 1;
  tally.status[status] = (tally.status[status] ?? 0) + 1;
  if (toIdp) tally.loginRedirects += 1;
}
const expectedDenials = () => ['401', '403', '404', '429'].reduce((n, s) => n + (tally.status[s] ?? 0), 0)
  + tally.loginRedirects;

// A raw request through proxy i, counted.
async function send(i, { host = kMetabaseHost, path: target = '/', method = 'GET', headers = [] } = {}) {
  const port = sys.proxies[i].port;
  const r = await rawRequest(port, { method, host: `${host}:${port}`, path: target, headers });
  count(r.status);
  return r;
}
const bearer = (token) => [['Authorization', `Bearer ${token}`]];
const sessionCookie = (session) => [['Cookie', `gatehouse_session=${session}`]];

before(async () => {
  sys = await startSystem({ prometheus: true, browser: true });
  page = await sys.browser.context.newPage();
  page.setDefaultTimeout(20000);
  const origins = new Set(sys.proxies.map((p) => p.origin));
  // Everything the browser got from a proxy, redirects included.
  sys.browser.context.on('response', (r) => {
    const url = new URL(r.url());
    if (!origins.has(url.origin)) return;
    const location = r.headers().location;
    const toIdp = r.status() === 302 && location !== undefined && new URL(location, url).origin === new URL(sys.idp.issuer).origin;
    if (url.pathname === '/.gatehouse/callback') tally.callbacks += 1;
    count(r.status(), { toIdp });
  });
});

after(async () => {
  await sys?.stop();
});

// Opens url in Chromium, signs in on the IdP's form as user, and returns the
// response of the page the proxy sends the browser back to.
async function browserSignIn(url, user) {
  await sys.browser.context.clearCookies();
  await page.goto(url);
  assert.ok(page.url().startsWith(`${sys.idp.issuer}/interaction/`), `on the IdP form, not ${page.url()}`);
  await page.fill('#username', user);
  const origin = new URL(url).origin;
  const [response] = await Promise.all([
    page.waitForResponse((r) => r.url().startsWith(`${origin}/`) && r.status() !== 302 && r.request().isNavigationRequest()),
    page.click('#submit'),
  ]);
  await page.waitForLoadState();
  return response;
}

// Metabase downloads results with a form POST; the browser navigates to the answer.
async function formPostExport(rows = 100) {
  const [response] = await Promise.all([
    page.waitForNavigation(),
    page.evaluate((n) => {
      const form = document.createElement('form');
      form.method = 'post';
      form.action = `/api/dataset/csv?rows=${n}`;
      document.body.append(form);
      form.submit();
    }, rows),
  ]);
  return response;
}

// The audit line of a request, by predicate, on proxy i.
const auditLine = (i, predicate) => eventually(() => {
  const line = sys.proxies[i].audit().find(predicate);
  assert.ok(line, 'audit line');
  return line;
});

test('helm template + kubectl apply: chart, keys and example policies; every policy Ready on 3/3 proxies', async () => {
  const ready = await waitPoliciesReady(sys, [['analytics', 'metabase'], ['platform', 'orders-api']]);
  const list = JSON.parse(await sys.kubectl(['get', 'accesspolicies', '-A', '-o', 'json']));
  assert.deepEqual(list.items.map((p) => `${p.metadata.namespace}/${p.metadata.name}`).sort(),
    ['analytics/metabase', 'platform/orders-api']);
  const versions = await Promise.all(sys.proxies.map(async (p) => (await p.config()).version));
  assert.equal(new Set(versions).size, 1, `one config version on every proxy: ${versions}`);
  for (const p of Object.values(ready)) {
    assert.equal(condition(p, 'Accepted').reason, 'Valid');
    assert.equal(condition(p, 'Ready').reason, 'Enforced');
    assert.equal(condition(p, 'Ready').message, '3/3 proxies');
    assert.ok(p.status.configVersion <= versions[0], `configVersion ${p.status.configVersion}`);
  }
  // The printer columns kubectl users see.
  const table = await sys.kubectl(['get', 'ap', '-A']);
  assert.match(table, /analytics\s+metabase\s+\S*metabase\.example\.com\S*\s+True\s+True/);
  assert.match(table, /platform\s+orders-api\s+\S*api\.internal\.example\.com\S*\s+True\s+True/);
  // The operator keeps the last rendered config in the bootstrap Secret the proxies mount.
  const bootstrap = JSON.parse(await sys.kubectl(['get', 'secret', '-n', 'gatehouse', 'gatehouse-fleet-config', '-o', 'json']));
  // Stored gzipped: the API caps a Secret at 1 MiB, which a few thousand policies exceed.
  const stored = Buffer.from(bootstrap.data['config.json'], 'base64');
  assert.deepEqual([...stored.subarray(0, 2)], [0x1f, 0x8b], 'the bootstrap is gzipped');
  const header = JSON.parse(gunzipSync(stored).toString().split('\n')[0]);
  assert.equal(header.version, versions[0]);
  // Every process runs what the Deployment says (only addresses moved).
  for (const p of sys.proxies) {
    assert.equal(p.args[0], 'serve');
    assert.ok(p.args.some((a) => a.includes('--session-keys')) && p.args.some((a) => a.includes('--push-ca')));
  }
});

test('ann signs in with Chromium through proxy #1 and sees Metabase as herself; reads a card; cannot export', async () => {
  const origin = sys.proxies[0].origin;
  const response = await browserSignIn(`${origin}/`, 'ann');
  assert.equal(response.status(), 200);
  assert.equal(page.url(), `${origin}/`);
  assert.equal(await page.locator('#user').innerText(), 'ann@example.com', 'userClaim: email');
  assert.equal(await page.locator('#email').innerText(), 'ann@example.com');
  assert.equal(await page.locator('#groups').innerText(), 'analysts');

  const card = await page.goto(`${origin}/api/card/7`);
  assert.equal(card.status(), 200);
  assert.deepEqual(JSON.parse(await card.text()), { id: 7, name: 'Card 7', display: 'table' });

  await page.goto(`${origin}/`);
  const before = await sys.metabase.json('/_test/exports');
  const denied = await formPostExport();
  assert.equal(denied.status(), 403);
  const line = await auditLine(0, (l) => l.email === 'ann@example.com' && l.path === '/api/dataset/csv');
  assert.equal(line.reason, 'no_matching_rule');
  assert.equal(line.decision, 'deny');
  const text = await page.locator('body').innerText();
  assert.ok(text.includes(line.request_id), `the 403 page names ${line.request_id}: ${text}`);
  assert.deepEqual(await sys.metabase.json('/_test/exports'), before, 'no export started upstream');
});

test('ops signs in through proxy #2, exports a CSV and is signed into Metabase by JWT SSO', async () => {
  const origin = sys.proxies[1].origin;
  const response = await browserSignIn(`${origin}/dashboard/4`, 'ops');
  assert.equal(response.status(), 200);
  assert.equal(await page.locator('#user').innerText(), 'ops@example.com');
  const exported = await page.evaluate(async () => {
    const r = await fetch('/api/dataset/csv?rows=5000', { method: 'POST' });
    const body = await r.text();
    return { status: r.status, type: r.headers.get('content-type'), lines: body.split('\n').filter(Boolean).length };
  });
  assert.deepEqual(exported, { status: 200, type: 'text/csv', lines: 5001 });

  const sso = await page.goto(`${origin}/auth/sso?return_to=${encodeURIComponent('/dashboard/3')}`);
  assert.equal(sso.status(), 200);
  assert.equal(page.url(), `${origin}/dashboard/3`);
  const cookies = await sys.browser.context.cookies(origin);
  assert.ok(cookies.some((c) => c.name === 'metabase.SESSION'), 'Metabase accepted the SSO token and set its session');
  const seen = await sys.metabase.json('/_test/requests');
  assert.ok(seen.some((r) => r.target.startsWith('/auth/sso?jwt=')), 'the token reached Metabase');
});

test('cy signs in through proxy #3 and is denied the export with the 403 page', async () => {
  const origin = sys.proxies[2].origin;
  const landing = await browserSignIn(`${origin}/`, 'cy');
  assert.equal(landing.status(), 403, 'contractors have no allow rule of their own');
  const before = await sys.metabase.json('/_test/exports');
  const denied = await formPostExport();
  assert.equal(denied.status(), 403);
  tally.ruleDenials += 1;
  const line = await auditLine(2, (l) => l.email === 'cy@example.com' && l.path === '/api/dataset/csv');
  assert.deepEqual([line.decision, line.rule, line.reason, line.policy],
    ['deny', 'no-contractor-exports', 'denied_by_rule', 'analytics/metabase']);
  const text = await page.locator('body').innerText();
  assert.ok(text.includes(line.request_id), `the 403 page names ${line.request_id}: ${text}`);
  assert.deepEqual(await sys.metabase.json('/_test/exports'), before);
  const cookie = (await sys.browser.context.cookies(origin)).find((c) => c.name === 'gatehouse_session');
  assert.ok(cookie && !text.includes(cookie.value), 'the page does not echo the session');
});

test('a service account calls the internal API with a client-credentials token; 429 + Retry-After past its budget', async () => {
  const writer = await sys.sa.token(kWriterClient);
  const ok = await send(0, { host: kApiHost, path: '/v1/orders/42', headers: bearer(writer) });
  assert.equal(ok.status, 200, ok.body);
  const echoed = JSON.parse(ok.body);
  const got = Object.fromEntries(echoed.headers.map(([n, v]) => [n.toLowerCase(), v]));
  assert.equal(got['x-forwarded-user'], kWriterClient);
  assert.equal(got.authorization, undefined, 'forwardToken: false');

  const stranger = await send(0, { host: kApiHost, path: '/v1/orders/42', headers: bearer(await sys.sa.token(kStrangerClient)) });
  assert.equal(stranger.status, 403);
  const anonymous = await send(0, { host: kApiHost, path: '/v1/orders/42' });
  assert.equal(anonymous.status, 401);
  assert.match(anonymous.headers['www-authenticate'][0], /^Bearer/);
  const admin = await send(0, { host: kApiHost, path: '/v1/admin/users', headers: bearer(writer) });
  assert.equal(admin.status, 403, 'no-admin-through-gate');
  tally.ruleDenials += 1;

  // The budget: burst 10, then 1 a second. 20 at once: the rest are refused.
  const upstreamBefore = (await sys.api.json('/_test/requests')).length;
  const start = Date.now();
  const statuses = [];
  const retryAfter = [];
  for (let i = 0; i < 20; i++) {
    const r = await send(0, { host: kApiHost, path: `/v1/orders/${i}`, headers: bearer(writer) });
    statuses.push(r.status);
    if (r.status === 429) retryAfter.push(r.headers['retry-after']?.[0]);
  }
  const seconds = (Date.now() - start) / 1000;
  const allowed = statuses.filter((s) => s === 200).length;
  assert.deepEqual([...new Set(statuses)].sort(), [200, 429], `statuses ${statuses}`);
  assert.ok(allowed <= kApiRateLimit.burst + Math.ceil(seconds) + 1, `${allowed} allowed in ${seconds} s`);
  for (const v of retryAfter) assert.match(v ?? '', /^[1-9][0-9]*$/, `Retry-After ${v}`);
  const upstreamAfter = (await sys.api.json('/_test/requests')).length;
  assert.equal(upstreamAfter - upstreamBefore, allowed, 'a refused request never reaches the API');
});

const kSpoofed = [
  ['X-Forwarded-User', 'mallory'], ['x-forwarded-user', 'mallory2'], ['X-FORWARDED-USER', 'mallory3'],
  ['X-Forwarded-Email', 'mallory@evil.example'], ['x-fOrWaRdEd-eMaIl', 'm2@evil.example'],
  ['X-Forwarded-Groups', 'admins'], ['x-forwarded-groups', 'metabase-admins'],
  ['X-Gatehouse-Assertion', 'eyJhbGciOiJub25lIn0.eyJzdWIiOiJtYWxsb3J5In0.'], ['x-gatehouse-assertion', 'forged'],
  ['X-Gatehouse-Policy', 'spoof'], ['x-gatehouse-user', 'mallory'], ['X-GATEHOUSE-ANYTHING', 'spoof'],
];

test('spoofed identity headers never reach either upstream; the assertion that does is the fleet\'s', async () => {
  const marker = `spoof-${Date.now()}`;
  const headers = [...kSpoofed, ['X-Test-Marker', marker]];
  const ann = await signIn(sys, 'ann', { proxy: 1 });
  tally.loginRedirects += 1;  // the sign-in's 302 to the IdP ...
  tally.callbacks += 1;       // ... and its callback
  tally.total += 2;
  const sent = [
    await send(1, { path: '/dashboard/9', headers: [...headers, ...sessionCookie(ann)] }),
    await send(1, { path: '/api/health', headers }),  // public: no identity at all
    await send(1, { host: kApiHost, path: '/v1/orders/7', headers: [...headers, ...bearer(await sys.sa.token(kWriterClient))] }),
  ];
  assert.deepEqual(sent.map((r) => r.status), [200, 200, 200]);

  const spoofedValues = new Set(kSpoofed.map(([, v]) => v));
  const received = [...await sys.metabase.json('/_test/requests'), ...await sys.api.json('/_test/requests')]
    .filter((r) => r.headers.some(([n, v]) => n.toLowerCase() === 'x-test-marker' && v === marker));
  assert.equal(received.length, 3, 'every request was forwarded');
  const jwks = createLocalJWKSet(JSON.parse((await send(1, { path: '/.well-known/gatehouse/jwks.json' })).body));
  for (const r of received) {
    const names = r.headers.map(([n]) => n.toLowerCase());
    for (const [n, v] of r.headers) assert.ok(!spoofedValues.has(v), `${r.target}: ${n}: ${v} reached the upstream`);
    assert.deepEqual(names.filter((n) => n.startsWith('x-gatehouse-') && n !== 'x-gatehouse-assertion'), [], r.target);
    const one = (n) => r.headers.filter(([h]) => h.toLowerCase() === n).map(([, v]) => v);
    if (r.target === '/api/health') {
      for (const n of ['x-forwarded-user', 'x-forwarded-email', 'x-forwarded-groups', 'x-gatehouse-assertion']) {
        assert.deepEqual(one(n), [], `public route: no ${n}`);
      }
      continue;
    }
    const user = r.target.startsWith('/v1/') ? kWriterClient : 'ann@example.com';
    assert.deepEqual(one('x-forwarded-user'), [user], r.target);
    assert.equal(one('x-gatehouse-assertion').length, 1, r.target);
    const host = r.target.startsWith('/v1/') ? kApiHost : kMetabaseHost;
    const { payload } = await jwtVerify(one('x-gatehouse-assertion')[0], jwks, { issuer: 'gatehouse' });
    assert.ok(String(payload.aud).startsWith(host), `aud ${payload.aud}`);
    assert.ok(payload.exp - payload.iat <= 60);
  }
});

test('Prometheus answers the dashboard\'s queries with this suite\'s numbers', async () => {
  const { prom } = sys;
  const auditByReason = () => {
    const out = {};
    for (const p of sys.proxies) {
      for (const l of p.audit()) {
        // The fleet's own key endpoint is a decision without a policy: "" in
        // the audit line, an empty (so absent) label in Prometheus.
        const k = `${l.policy ?? ''} ${l.decision} ${l.reason}`;
        out[k] = (out[k] ?? 0) + 1;
      }
    }
    return out;
  };
  // Settled: every decision the proxies logged has been scraped, reason by reason.
  await eventually(async () => {
    const scraped = {};
    for (const s of await prom.query('sum by (policy, decision, reason) (gatehouse_decisions_total)')) {
      if (s.value > 0) scraped[`${s.metric.policy ?? ''} ${s.metric.decision} ${s.metric.reason}`] = s.value;
    }
    assert.deepEqual(scraped, auditByReason());
  }, { timeout: 20000, interval: 250 });
  // Chromium fetches /favicon.ico on its own and Playwright does not report
  // those requests: they are the only ones taken from the audit log.
  const favicons = sys.proxies.flatMap((p) => p.audit()).filter((l) => l.path === '/favicon.ico' && l.decision === 'deny');
  const faviconDenials = favicons.length;
  assert.ok(favicons.every((l) => l.reason === 'no_matching_rule' || l.reason === 'login_required'), JSON.stringify(favicons));
  const deny = await prom.scalar('sum(gatehouse_decisions_total{decision="deny"})');
  assert.equal(deny, expectedDenials() + faviconDenials, `denials: ${JSON.stringify(tally)}, favicons ${faviconDenials}`);
  assert.equal(await prom.scalar('sum(gatehouse_rate_limited_total)'), tally.status['429']);
  assert.equal(await prom.scalar('sum(gatehouse_decisions_total{reason="rate_limited"})'), tally.status['429']);
  assert.equal(await prom.scalar('sum(gatehouse_decisions_total{reason="denied_by_rule"})'), tally.ruleDenials);
  assert.equal(await prom.scalar('sum(gatehouse_decisions_total{reason=~"no_credentials|invalid_token"})'), tally.status['401']);

  // The latency panels are rates over histograms, so they need an increase
  // between two scrapes of one proxy's series. A series is born with its
  // first count, and the suite's requests through one proxy can all fall
  // between two scrapes (CI once saw these panels empty). The counts above
  // are settled and scraped: one more forwarded request per policy now shows
  // up as an increase in a later scrape.
  assert.equal((await send(1, { path: '/api/health' })).status, 200);
  const writer = await sys.sa.token(kWriterClient);
  let more = await send(0, { host: kApiHost, path: '/v1/orders/1', headers: bearer(writer) });
  for (let tries = 0; more.status === 429 && tries < 3; tries++) {
    // The budget (1 a second after the burst) may still be spent: wait as told.
    await new Promise((r) => setTimeout(r, 1000 * Number(more.headers['retry-after']?.[0] ?? 1)));
    more = await send(0, { host: kApiHost, path: '/v1/orders/1', headers: bearer(writer) });
  }
  assert.equal(more.status, 200, more.body);
  const answers = {};
  await eventually(async () => {
    for (const q of dashboardQueries(dashboard)) {
      answers[`${q.panel}/${q.refId}`] = await prom.query(grafanaExpr(q.expr, { rate: '1m', range: '10m' }));
    }
    for (const key of ['Gate overhead p50 / p99/A', 'Gate overhead p50 / p99/B']) {
      const v = answers[key][0]?.value;
      assert.ok(v > 0 && v < 1, `${key}: ${v}`);
    }
    for (const policy of ['analytics/metabase', 'platform/orders-api']) {
      const s = answers['Upstream latency p99 by policy/A'].find((x) => x.metric.policy === policy);
      assert.ok(s?.value > 0, `${policy}: ${JSON.stringify(answers['Upstream latency p99 by policy/A'])}`);
    }
  }, { timeout: 10000, interval: 250 });
  // increase()/rate() panels cannot show a counter's first samples exactly
  // (a label set is born with its first count), so the exact numbers are
  // the counters' above; these panels may only name what this suite caused.
  const caused = new Set(['login_required', 'no_matching_rule', 'denied_by_rule', 'no_credentials', 'rate_limited']);
  for (const s of answers['Top denied policies and rules/A']) {
    assert.ok(caused.has(s.metric.reason) && ['analytics/metabase', 'platform/orders-api'].includes(s.metric.policy),
      JSON.stringify(s.metric));
  }
  for (const s of answers['Rate-limited requests per second by policy/A'].filter((x) => x.value > 0)) {
    assert.equal(s.metric.policy, 'platform/orders-api');
  }
  assert.deepEqual(answers['Proxies in sync vs total/A'].map((s) => s.value), [3]);
  assert.deepEqual(answers['Proxies in sync vs total/B'].map((s) => s.value), [3]);
  const versions = answers['Config version per proxy/A'];
  assert.deepEqual(versions.map((s) => s.metric.instance).sort(), sys.proxies.map((p) => `127.0.0.1:${p.admin}`).sort());
  const rendered = answers['Config version per proxy/B'][0].value;
  for (const s of versions) assert.equal(s.value, rendered, `${s.metric.instance} runs the rendered version`);
  const policies = Object.fromEntries(answers['Policies by state/A'].map((s) => [s.metric.state, s.value]));
  assert.equal(policies.accepted, 2);
  console.log(`# decisions ${await prom.scalar('sum(gatehouse_decisions_total)')}, denied ${deny} (${JSON.stringify(tally.status)}, ` +
    `login redirects ${tally.loginRedirects}, favicons ${faviconDenials}), rate-limited ${tally.status['429']}, ` +
    `config version ${rendered}`);
});

test('no process left behind: everything this suite started is gone after stop', async () => {
  const seen = sys.seenPids();
  assert.ok(seen >= 3 + 2 + 3, `tracked ${seen} processes (proxies, operators, tools, Prometheus, Chromium)`);
  await sys.stop();
  await eventually(() => assert.deepEqual(sys.leftovers(), []), { timeout: 10000 });
});
