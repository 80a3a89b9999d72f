// lib/ports.mjs and its callers: servers we start get their port without the
// reserve-then-bind race, and where a port must be reserved first (the
// operator's --admin), a port another process holds makes the start retry
// instead of failing the suite. Uses the real gatehouse-operator.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { startNginx } from '../lib/dataplane-helpers.mjs';
import { startOperatorWithAdmin, httpGet } from '../lib/operator-harness.mjs';
import { freePort, isAddressInUse, parseProxyPorts, retryOnAddressInUse, withFreePort } from '../lib/ports.mjs';

const dir = mkdtempSync(path.join(tmpdir(), 'gh-ports-'));
const children = [];
after(async () => {
  await Promise.all(children.map((c) => c.stop('SIGKILL')));
  rmSync(dir, { recursive: true, force: true });
});

const inUse = () => new Error('cannot listen on 127.0.0.1:1: bind: Address already in use');

test('parseProxyPorts reads both ports of the proxy start line', () => {
  const cases = [
    ['IPv4', 'x\n2026 info listening on 127.0.0.1:41234, admin on 127.0.0.1:41235\n', { port: 41234, admin: 41235 }],
    ['IPv6', 'listening on [::1]:8080, admin on [::1]:9901', { port: 8080, admin: 9901 }],
    ['not yet', 'starting\n', null],
  ];
  for (const [name, text, want] of cases) assert.deepEqual(parseProxyPorts(text), want, name);
});

test('isAddressInUse knows the operator, proxy, nginx, Prometheus and Node wordings', () => {
  for (const text of ['bind: Address already in use', 'bind() to 127.0.0.1:80 failed (98: Address already in use)',
    'listen tcp 127.0.0.1:9090: bind: address already in use', 'listen EADDRINUSE: address already in use :::80']) {
    assert.ok(isAddressInUse(text), text);
  }
  for (const text of ['connection refused', '', undefined]) assert.equal(isAddressInUse(text), false, String(text));
});

test('withFreePort retries on a new port only when the port was taken', async () => {
  const seen = [];
  const value = await withFreePort(async (port) => {
    seen.push(port);
    if (seen.length < 3) throw inUse();
    return 'up';
  });
  assert.equal(value, 'up');
  assert.equal(seen.length, 3);
  await assert.rejects(withFreePort(async () => { throw new Error('config error'); }), /config error/);
  let calls = 0;
  await assert.rejects(withFreePort(async () => { calls += 1; throw inUse(); }, { attempts: 4 }), /no free port after 4 attempts/);
  assert.equal(calls, 4);
});

test('retryOnAddressInUse waits for a held port and gives up after its attempts', async () => {
  let calls = 0;
  assert.equal(await retryOnAddressInUse(async () => { calls += 1; if (calls < 3) throw inUse(); return calls; }, { delayMs: 1 }), 3);
  calls = 0;
  await assert.rejects(retryOnAddressInUse(async () => { calls += 1; throw inUse(); }, { attempts: 3, delayMs: 1 }), /already in use/);
  assert.equal(calls, 3);
});

// The race itself, against the real operator: its admin port is held by another
// listener when it starts; the start retries and succeeds once the port is free.
test('the operator starts on its admin port once another process lets go of it', async () => {
  const holder = net.createServer();
  await new Promise((r) => holder.listen(0, '127.0.0.1', r));
  const { port } = holder.address();
  let released = false;
  setTimeout(() => { holder.close(); released = true; }, 600);  // stops listening at once
  const op = await startOperatorWithAdmin(['--policies', dir, '--proxy', 'http://127.0.0.1:9'], { port });
  children.push(op);
  assert.ok(released, 'the operator cannot have bound the port while it was held');
  assert.equal(op.admin, port);
  assert.equal((await httpGet(port, '/healthz')).status, 200);
});

test('startOperatorWithAdmin without a port reserves one and serves on it', async () => {
  const op = await startOperatorWithAdmin(['--policies', dir, '--proxy', 'http://127.0.0.1:9']);
  children.push(op);
  assert.notEqual(op.admin, await freePort());
  assert.equal((await httpGet(op.admin, '/healthz')).status, 200);
});

// The same for nginx (which retries a taken port itself for 2.5 s, then exits):
// the harness sees "Address already in use" at once and starts it again.
test('nginx starts on its port once another process lets go of it', async () => {
  const holder = net.createServer();
  await new Promise((r) => holder.listen(0, '127.0.0.1', r));
  const { port } = holder.address();
  let released = false;
  setTimeout(() => { holder.close(); released = true; }, 600);  // stops listening at once
  const ng = await startNginx({ port });
  children.push(ng);
  assert.ok(released, 'nginx cannot have bound the port while it was held');
  assert.match(await (await fetch(ng.url)).text(), /^user=\[\]/);
});

test('startNginx without a port serves on one it reserved', async () => {
  const ng = await startNginx();
  children.push(ng);
  assert.match(await (await fetch(ng.url)).text(), /^user=\[\]/);
});
