// Helpers for the operator end-to-end suites: the Kubernetes API test server,
// kubectl, the operator binary, the push PKI (openssl), and HTTPS calls to a
// proxy's mTLS admin port. The proxies themselves are the real binary
// (proxy-harness.mjs startProxy).
//
//   const pki = makePushPki(dir);                // push CA, proxy + operator certs, a rogue CA
//   const proxy = await startProxy({ bootstrap: missing, args: proxyPushArgs(pki) });
//   const op = startOperator([...operatorPushArgs(pki), '--policies', d, '--proxy', `https://127.0.0.1:${proxy.admin}`]);
//   const op2 = await startOperatorWithAdmin([...args]);   // --admin 127.0.0.1:0, bound port read back: op2.admin
//   await adminCall(proxy.admin, pki, { path: '/v1/config' });         // server verified, no client cert
//   await adminCall(proxy.admin, pki, { method: 'PUT', body, client: 'operator' });
import { spawn, execFile, execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import https from 'node:https';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { startKubeApiServer } from '../kube-apiserver/server.mjs';
import { freePort, retryOnAddressInUse } from './ports.mjs';

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

// --- push PKI -----------------------------------------------------------------

// Certificates for the mTLS push, made with the openssl command line (EC P-256,
// valid two days). The proxy's certificate names 127.0.0.1 and the admin
// Service ("gatehouse-proxy-admin.gatehouse.svc", what the cluster-mode
// operator checks); the operator's is for client authentication only.
export function makePushPki(dir) {
  const ossl = (...args) => execFileSync('openssl', args, { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] });
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes'];
  for (const ca of ['ca', 'rogue-ca']) ossl('req', '-x509', ...ec, '-keyout', `${ca}.key`, '-out', `${ca}.crt`, '-subj', `/CN=${ca}`, '-days', '2');
  const leaf = (ca, name, ext) => {
    writeFileSync(path.join(dir, `${name}.ext`), `${ext}\n`);
    ossl('req', ...ec, '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', `/CN=${name}`);
    ossl('x509', '-req', '-in', `${name}.csr`, '-CA', `${ca}.crt`, '-CAkey', `${ca}.key`, '-CAcreateserial',
      '-days', '2', '-out', `${name}.crt`, '-extfile', `${name}.ext`);
  };
  leaf('ca', 'proxy', 'subjectAltName=IP:127.0.0.1,DNS:gatehouse-proxy-admin.gatehouse.svc\nextendedKeyUsage=serverAuth');
  leaf('ca', 'operator', 'extendedKeyUsage=clientAuth');
  leaf('rogue-ca', 'rogue', 'extendedKeyUsage=clientAuth');
  const file = (name) => path.join(dir, name);
  return { dir, file, ca: file('ca.crt') };
}

export const proxyPushArgs = (pki) => ['--push-ca', pki.ca, '--push-cert', pki.file('proxy.crt'), '--push-key', pki.file('proxy.key')];
export const operatorPushArgs = (pki) => ['--push-ca', pki.ca, '--push-cert', pki.file('operator.crt'), '--push-key', pki.file('operator.key')];

// One HTTPS request to a proxy's admin port on 127.0.0.1. The proxy is
// verified against the push CA; `client` names the certificate to present
// ('operator', 'rogue', 'proxy', or none). Resolves {status, body} or rejects
// when TLS fails.
export function adminCall(port, pki, { method = 'GET', path: p = '/v1/config', body, client } = {}) {
  return new Promise((resolve, reject) => {
    const tls = client ? { cert: readFileSync(pki.file(`${client}.crt`)), key: readFileSync(pki.file(`${client}.key`)) } : {};
    const req = https.request({ host: '127.0.0.1', port, method, path: p, ca: readFileSync(pki.ca), agent: false, ...tls }, (res) => {
      let text = '';
      res.on('data', (d) => { text += d; });
      res.on('end', () => resolve({ status: res.statusCode, body: text }));
      res.on('error', reject);
    });
    req.setTimeout(10000, () => req.destroy(new Error('timeout')));
    req.on('error', reject);
    req.end(body);
  });
}

// A fleet config envelope (proxy/policy/fleet_config.h) with no policies.
export function emptyFleetConfig(version) {
  const content = '{"policies":[],"secrets":{}}';
  const sha256 = createHash('sha256').update(content).digest('hex');
  return `${JSON.stringify({ sha256, version })}\n${content}`;
}

// Prometheus text -> value of one sample (exact name with labels), or undefined.
export function metricValue(text, sample) {
  const line = text.split('\n').find((l) => l.startsWith(`${sample} `));
  return line === undefined ? undefined : Number(line.slice(sample.length + 1));
}

export { freePort };

// startOperator(args) plus `--admin 127.0.0.1:PORT`, resolved once the admin
// port is bound (the operator logs "admin on HOST:PORT" with the port it
// bound, then the "local mode:" / "cluster mode:" line). Without `port`: port
// 0, the operator picks a free one and the harness reads it from that line
// (no reservation, no race). With `port` (a restart on the port it had):
// retried on that port while it is in use. The child has .admin = PORT.
export async function startOperatorWithAdmin(args, { port, ...options } = {}) {
  if (port === undefined) return startOperatorBound(args, 0, options);
  return retryOnAddressInUse(() => startOperatorBound(args, port, options));
}

async function startOperatorBound(args, port, options) {
  const child = startOperator([...args, '--admin', `127.0.0.1:${port}`], options);
  const end = Date.now() + 15000;
  while (!/(?:local|cluster) mode:/.test(child.output)) {
    if (child.exitCode !== null || child.signalCode !== null) {
      await child.stopped;
      throw new Error(`operator exited ${child.exitCode}:\n${child.output}`);
    }
    if (Date.now() > end) {
      await child.stop('SIGKILL');
      throw new Error(`operator did not start in 15 s:\n${child.output}`);
    }
    await new Promise((r) => setTimeout(r, 10));
  }
  const bound = /admin on 127\.0\.0\.1:(\d+)/.exec(child.output);
  if (!bound || Number(bound[1]) === 0 || (port !== 0 && Number(bound[1]) !== port)) {
    await child.stop('SIGKILL');
    throw new Error(`operator did not report its admin port:\n${child.output}`);
  }
  child.admin = Number(bound[1]);
  return child;
}

// GET http://127.0.0.1:PORT/PATH -> {status, body}; rejects when nothing listens.
export async function httpGet(port, p) {
  const r = await fetch(`http://127.0.0.1:${port}${p}`);
  return { status: r.status, body: await r.text() };
}
