// The operator's push path with real binaries and no cluster: `gatehouse-operator
// run --policies DIR --proxy URL...` renders the folder and pushes it to real
// `gatehouse-proxy serve` processes that started with no config at all.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
// eventually() retries until the check stops throwing: checks assert.
import {
  repo, startEcho, startJoseIdp, startProxy, policyDir, policyYaml, rawRequest, eventually,
} from '../lib/proxy-harness.mjs';
import { retryOnAddressInUse } from '../lib/ports.mjs';

const operatorBin = process.env.GATEHOUSE_OPERATOR_BIN ?? path.join(repo, 'build/operator/gatehouse-operator');

let idp; let echo; let dir; let proxies = []; let operator;

function policy(rules) {
  return policyYaml({
    name: 'app', host: 'app.test', issuer: idp.issuer, upstream: echo.url, rules,
  });
}

async function getJson(port, p) {
  const r = await fetch(`http://127.0.0.1:${port}${p}`);
  return { status: r.status, body: await r.json().catch(() => null) };
}

before(async () => {
  idp = await startJoseIdp();
  echo = await startEcho();
  dir = policyDir({ 'app.yaml': policy('    - {name: health, action: Allow, paths: ["/health"], from: {public: true}}\n') });
  proxies = await Promise.all([0, 1].map(() => startProxy({ bootstrap: path.join(dir.dir, 'no-such-bootstrap.json') })));
  operator = spawn(operatorBin, ['run', '--policies', dir.dir, '--admin', '127.0.0.1:0',
    ...proxies.flatMap((p) => ['--proxy', `http://127.0.0.1:${p.admin}`])], { stdio: ['ignore', 'ignore', 'pipe'] });
  operator.stderr.on('data', (d) => { if (process.env.DEBUG_OPERATOR) process.stderr.write(d); });
});

after(async () => {
  operator?.kill('SIGKILL');
  await Promise.all(proxies.map((p) => p.stop('SIGKILL')));
  await echo?.close?.();
  await idp?.close?.();
  dir?.remove();
});

test('proxies with no config become ready once the operator pushes', async () => {
  for (const p of proxies) {
    await eventually(async () => assert.equal((await getJson(p.admin, '/readyz')).status, 200));
    const config = await getJson(p.admin, '/v1/config');
    assert.equal(config.status, 200);
    assert.ok(config.body.version >= 1);
    assert.match(config.body.sha256, /^[0-9a-f]{64}$/);
  }
  const [a, b] = await Promise.all(proxies.map((p) => getJson(p.admin, '/v1/config')));
  assert.deepEqual(a.body, b.body, 'every proxy runs the same config');
  for (const p of proxies) {
    const r = await rawRequest(p.port, { host: 'app.test', path: '/health' });
    assert.equal(r.status, 200);
  }
});

test('a policy edit reaches every proxy; a broken edit changes nothing', async () => {
  const before = (await getJson(proxies[0].admin, '/v1/config')).body;
  writeFileSync(path.join(dir.dir, 'app.yaml'), policy('    - {name: none, action: Allow, paths: ["/other"], from: {public: true}}\n'));
  for (const p of proxies) {
    await eventually(async () => assert.equal((await rawRequest(p.port, { host: 'app.test', path: '/health' })).status, 401));
    const now = (await getJson(p.admin, '/v1/config')).body;
    assert.ok(now.version > before.version, `the version grew with the content: ${before.version} -> ${now.version}`);
  }
  const good = (await getJson(proxies[0].admin, '/v1/config')).body;
  writeFileSync(path.join(dir.dir, 'app.yaml'), 'apiVersion: gatehouse.dev/v1alpha1\nkind: AccessPolicy\nmetadata: {name: app, namespace: e2e}\nspec: {hosts: [BAD]}\n');
  await new Promise((r) => setTimeout(r, 1500));  // three polls of the folder
  for (const p of proxies) {
    assert.deepEqual((await getJson(p.admin, '/v1/config')).body, good, 'the last good config stays');
    assert.equal((await rawRequest(p.port, { host: 'app.test', path: '/other' })).status, 200);
  }
});

test('a proxy that restarts empty gets the current config again', async () => {
  const current = (await getJson(proxies[0].admin, '/v1/config')).body;
  await proxies[1].stop('SIGKILL');
  // A new process on new ports is a new pod; the operator only knows the old URL,
  // so start it on the same admin port (retried while something else holds it).
  const admin = proxies[1].admin;
  proxies[1] = await retryOnAddressInUse(() => startProxy({
    bootstrap: path.join(dir.dir, 'no-such-bootstrap.json'),
    args: ['--admin', `127.0.0.1:${admin}`],
  }));
  await eventually(async () => {
    const r = await getJson(proxies[1].admin, '/v1/config');
    assert.equal(r.status, 200);
    assert.equal(r.body.sha256, current.sha256);
  });
});
