#!/usr/bin/env node
// Kubernetes API test server for the Gatehouse end-to-end suite.
//
// CLI:
//   node e2e/kube-apiserver/server.mjs --port 0 --token TOKEN \
//        [--host 127.0.0.1] [--tls-cert FILE --tls-key FILE | --tls-self-signed] \
//        [--kubeconfig-out FILE] [--bookmark-interval-ms 60000] [--history-limit 1000]
//   prints one JSON line {"url":..., "port":...} on stdout once listening; SIGTERM/SIGINT stop it.
//
// In-process:
//   import { startKubeApiServer } from './server.mjs';
//   const srv = await startKubeApiServer({ token: 't', bookmarkIntervalMs: 1000 });
//   srv.url; srv.port; srv.kubeconfigPath (when kubeconfigOut given); await srv.close();
//   srv.connectionsAccepted();  // TCP connections accepted so far (clients that reuse none show here)

import http from 'node:http';
import https from 'node:https';
import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { KubeApi } from './lib/http_api.mjs';
import { kubeconfigYaml } from './lib/kubeconfig.mjs';
import { makeSelfSignedCert } from './lib/self_signed.mjs';

export async function startKubeApiServer(options = {}) {
  const {
    token, port = 0, host = '127.0.0.1', tls, tlsSelfSigned = false, kubeconfigOut,
    bookmarkIntervalMs, historyLimit, clock, defaultWatchTimeoutSeconds,
  } = options;
  const api = new KubeApi({ token, bookmarkIntervalMs, historyLimit, clock, defaultWatchTimeoutSeconds });
  await api.init();
  let tlsMaterial = tls;
  if (!tlsMaterial && tlsSelfSigned) {
    const { certPem, keyPem } = makeSelfSignedCert();
    tlsMaterial = { cert: certPem, key: keyPem, ca: certPem };
  }
  const handler = (req, res) => void api.handle(req, res);
  const server = tlsMaterial ? https.createServer({ cert: tlsMaterial.cert, key: tlsMaterial.key }, handler) : http.createServer(handler);
  server.keepAliveTimeout = 5000;
  let connectionsAccepted = 0;
  server.on('connection', () => { connectionsAccepted += 1; });
  await new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, resolve);
  });
  const actualPort = server.address().port;
  const url = `${tlsMaterial ? 'https' : 'http'}://${host}:${actualPort}`;
  api.serverAddress = `${host}:${actualPort}`;
  const caPem = tlsMaterial ? (tlsMaterial.ca ?? tlsMaterial.cert) : undefined;
  if (kubeconfigOut) writeFileSync(kubeconfigOut, kubeconfigYaml({ url, token, caPem }), { mode: 0o600 });
  let closed = false;
  return {
    url,
    port: actualPort,
    api,
    caPem,
    kubeconfigPath: kubeconfigOut,
    kubeconfig: () => kubeconfigYaml({ url, token, caPem }),
    connectionsAccepted: () => connectionsAccepted,
    async close() {
      if (closed) return;
      closed = true;
      api.closeWatches();
      await new Promise((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
    },
  };
}

function parseArgs(argv) {
  const flags = {};
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (!arg.startsWith('--')) throw new Error(`unexpected argument ${arg}`);
    const [name, inline] = arg.slice(2).split('=', 2);
    if (name === 'tls-self-signed') flags[name] = true;
    else flags[name] = inline ?? argv[++i];
    if (flags[name] === undefined) throw new Error(`--${name} needs a value`);
  }
  return flags;
}

async function main() {
  const flags = parseArgs(process.argv.slice(2));
  if (!flags.token) throw new Error('--token is required');
  if (Boolean(flags['tls-cert']) !== Boolean(flags['tls-key'])) throw new Error('--tls-cert and --tls-key go together');
  const srv = await startKubeApiServer({
    token: flags.token,
    port: Number(flags.port ?? 0),
    host: flags.host ?? '127.0.0.1',
    tls: flags['tls-cert'] ? { cert: readFileSync(flags['tls-cert'], 'utf8'), key: readFileSync(flags['tls-key'], 'utf8') } : undefined,
    tlsSelfSigned: Boolean(flags['tls-self-signed']),
    kubeconfigOut: flags['kubeconfig-out'],
    bookmarkIntervalMs: flags['bookmark-interval-ms'] ? Number(flags['bookmark-interval-ms']) : undefined,
    historyLimit: flags['history-limit'] ? Number(flags['history-limit']) : undefined,
  });
  process.stdout.write(`${JSON.stringify({ url: srv.url, port: srv.port, kubeconfig: srv.kubeconfigPath ?? null })}\n`);
  const stop = async () => {
    await srv.close();
    process.exit(0);
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  main().catch((e) => {
    process.stderr.write(`kube-apiserver: ${e.message}\n`);
    process.exit(2);
  });
}
