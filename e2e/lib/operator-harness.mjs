// Helpers for the operator end-to-end suites: the Kubernetes API test server,
// kubectl, the operator binary, and a stand-in for a proxy's admin API.
//
// The stand-in (startAdminStandIn) implements the documented push contract of
// `gatehouse-proxy serve` (PUT /v1/config: sha256 checked, 409 on an older
// version; GET /v1/config: {version, sha256}) because `serve` does not exist
// yet; switch startProxy() to the real binary (GATEHOUSE_PROXY_BIN) once it does.
import { spawn, execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { startKubeApiServer } from '../kube-apiserver/server.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
export const repoRoot = path.resolve(here, '..', '..');
export const operatorBin = process.env.GATEHOUSE_OPERATOR_BIN ??
  path.join(process.env.GATEHOUSE_BUILD_DIR ?? path.join(repoRoot, 'build'), 'operator', 'gatehouse-operator');
export const crdFile = path.join(repoRoot, 'crds', 'gatehouse.dev_accesspolicies.yaml');
const run = promisify(execFile);

export async function startKube() {
  const dir = mkdtempSync(path.join(tmpdir(), 'gh-op-'));
  const token = 'operator-e2e-token';
  const server = await startKubeApiServer({ token, tlsSelfSigned: true, kubeconfigOut: path.join(dir, 'kubeconfig'), bookmarkIntervalMs: 1000 });
  // Trusts exactly the test server's self-signed CA.
  const request = (method, p, body) => new Promise((resolve, reject) => {
    const req = https.request(server.url + p, {
      method, ca: server.caPem,
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    }, (res) => {
      let text = '';
      res.on('data', (d) => { text += d; });
      res.on('end', () => resolve({ status: res.statusCode, body: text ? JSON.parse(text) : null }));
    });
    req.on('error', reject);
    req.end(body === undefined ? undefined : JSON.stringify(body));
  });
  const kubectl = async (...args) => (await run('/usr/bin/kubectl', ['--kubeconfig', server.kubeconfigPath, ...args], { encoding: 'utf8' })).stdout;
  const apply = async (obj) => {
    const f = path.join(dir, `apply-${Date.now()}-${Math.random()}.json`);
    writeFileSync(f, JSON.stringify(obj));
    return kubectl('apply', '-f', f);
  };
  return { server, dir, token, request, kubectl, apply, kubeconfig: server.kubeconfigPath };
}

// A stand-in for the proxy admin API (see the header comment).
export async function startAdminStandIn() {
  const state = { version: 0, sha256: '', content: '', puts: 0, gets: 0 };
  const server = http.createServer((req, res) => {
    const reply = (code, obj) => { res.writeHead(code, { 'content-type': 'application/json' }); res.end(JSON.stringify(obj)); };
    if (req.url === '/v1/config' && req.method === 'GET') {
      state.gets++;
      return reply(200, { version: state.version, sha256: state.sha256 });
    }
    if (req.url === '/readyz') return reply(state.version > 0 ? 200 : 503, {});
    if (req.url === '/v1/config' && req.method === 'PUT') {
      const chunks = [];
      req.on('data', (c) => chunks.push(c));
      req.on('end', () => {
        state.puts++;
        let env;
        // The wire format (proxy/policy/fleet_config.h): a header line
        // {"sha256","version"}, a newline, then the content bytes.
        const body = Buffer.concat(chunks).toString('utf8');
        const newline = body.indexOf('\n');
        try {
          env = { ...JSON.parse(body.slice(0, newline)), content: body.slice(newline + 1) };
        } catch { return reply(400, { errors: ['bad envelope'] }); }
        if (createHash('sha256').update(env.content ?? '').digest('hex') !== env.sha256) return reply(400, { errors: ['sha256 mismatch'] });
        if (env.version < state.version) return reply(409, { version: state.version, sha256: state.sha256 });
        Object.assign(state, { version: env.version, sha256: env.sha256, content: env.content });
        return reply(200, { version: state.version, sha256: state.sha256 });
      });
      return undefined;
    }
    return reply(404, {});
  });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  return {
    state, port: server.address().port, url: `http://127.0.0.1:${server.address().port}`,
    policies: () => (state.content ? JSON.parse(state.content).policies : []),
    close: () => new Promise((r) => { server.close(r); server.closeAllConnections(); }),
  };
}

export function endpointSlice(name, port, service = 'gatehouse-proxy-admin') {
  return {
    apiVersion: 'discovery.k8s.io/v1', kind: 'EndpointSlice', addressType: 'IPv4',
    metadata: { name, namespace: 'gatehouse', labels: { 'kubernetes.io/service-name': service } },
    ports: [{ name: 'admin', port, protocol: 'TCP' }],
    endpoints: [{ addresses: ['127.0.0.1'], conditions: { ready: false } }],
  };
}

export function startOperator(args, { log = false } = {}) {
  const child = spawn(operatorBin, ['run', ...args], { stdio: ['ignore', 'ignore', 'pipe'] });
  child.output = '';
  child.stderr.on('data', (d) => { child.output += d; if (log) process.stderr.write(d); });
  child.stopped = new Promise((r) => child.on('exit', r));
  child.stop = async (signal = 'SIGTERM') => { if (child.exitCode === null) child.kill(signal); await child.stopped; };
  return child;
}

export async function waitFor(check, { timeoutMs = 10000, intervalMs = 5 } = {}) {
  const start = Date.now();
  for (;;) {
    const value = await check();
    if (value) return value;
    if (Date.now() - start > timeoutMs) throw new Error('timed out waiting');
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}

export function policy(ns, name, host, extra = {}) {
  return {
    apiVersion: 'gatehouse.dev/v1alpha1', kind: 'AccessPolicy', metadata: { name, namespace: ns },
    spec: {
      hosts: [host], upstream: { url: 'http://127.0.0.1:9' },
      rules: [{ name: 'public', action: 'Allow', from: { public: true } }], ...extra,
    },
  };
}

export function percentile(values, p) {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];
}
