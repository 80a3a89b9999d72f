// An issuer's first keys: a request that arrives before the proxy has fetched
// them waits (off the event loop; the verdict comes back from another thread)
// instead of failing, while requests that need no keys are served meanwhile.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  startEcho, startJoseIdp, startProxy, policyDir, policyYaml, rawRequest,
} from '../lib/proxy-harness.mjs';

const cleanups = [];
after(async () => { for (const c of cleanups.reverse()) await c(); });

async function setUp(jwksDelayMs) {
  const idp = await startJoseIdp({ jwksDelayMs });
  const echo = await startEcho();
  const dir = policyDir({
    'app.yaml': policyYaml({
      name: 'app', host: 'app.test', issuer: idp.issuer, upstream: echo.url,
      rules: '    - {name: health, action: Allow, paths: ["/health"], from: {public: true}}\n'
        + '    - {name: users, action: Allow, from: {groups: [users]}}\n',
    }),
  });
  const proxy = await startProxy({ policies: dir.dir });
  cleanups.push(() => proxy.stop('SIGKILL'), () => echo.close(), () => idp.close(), () => dir.remove());
  return { idp, proxy };
}

const bearer = (t) => ['Authorization', `Bearer ${t}`];

test('a request that needs keys not fetched yet waits for them, then is decided', async () => {
  const { idp, proxy } = await setUp(1500);
  const token = await idp.token({ sub: 'ann', groups: ['users'] });
  const started = Date.now();
  const [waiting, health] = await Promise.all([
    rawRequest(proxy.port, { host: 'app.test', path: '/api', headers: [bearer(token)] }),
    rawRequest(proxy.port, { host: 'app.test', path: '/health' }),
  ]);
  assert.equal(health.status, 200, 'a public request is not held up by the fetch');
  assert.equal(waiting.status, 200, 'the waiting request was allowed once the keys came');
  assert.ok(Date.now() - started < 5000);
  // A second request finds the keys at once.
  const again = await rawRequest(proxy.port, { host: 'app.test', path: '/api', headers: [bearer(token)] });
  assert.equal(again.status, 200);
});

test('keys that never come give 503 after the bounded wait, not a hang', { timeout: 20000 }, async () => {
  const { idp, proxy } = await setUp(60000);
  const token = await idp.token({ sub: 'ann', groups: ['users'] });
  const started = Date.now();
  const r = await rawRequest(proxy.port, { host: 'app.test', path: '/api', headers: [bearer(token)] });
  assert.equal(r.status, 503);
  const waited = Date.now() - started;
  assert.ok(waited >= 4000 && waited < 9000, `waited ${waited} ms`);
});
