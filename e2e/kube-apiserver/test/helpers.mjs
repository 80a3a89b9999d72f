// Shared helpers for the kube-apiserver tests: start a server, call the raw
// API, read watch streams, and run the real kubectl against the server.
//
// Usage:
//   const srv = await startServer({ tls: true });          // after(() => srv.close())
//   const { status, body } = await srv.request('GET', '/api/v1/namespaces');
//   const watch = srv.watch('/api/v1/namespaces/default/configmaps?watch=1&resourceVersion=5');
//   const events = await watch.next(2); watch.close();
//   const out = await srv.kubectl(['get', 'ap', '-A']);    // {code, stdout, stderr}

import { execFile, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startKubeApiServer } from '../server.mjs';

export const kToken = 'test-token-7f3a';
const here = dirname(fileURLToPath(import.meta.url));
export const kFixtures = join(here, 'fixtures');
const kRealCrd = join(here, '..', '..', '..', 'crds', 'gatehouse.dev_accesspolicies.yaml');
// Prefer the product CRD; fall back to the small fixture when it is absent.
export const kCrdPath = existsSync(kRealCrd) ? kRealCrd : join(kFixtures, 'accesspolicy-crd.yaml');

export async function startServer({ tls = false, ...options } = {}) {
  const dir = mkdtempSync(join(tmpdir(), 'kube-apiserver-test-'));
  const kubeconfigOut = join(dir, 'kubeconfig');
  const srv = await startKubeApiServer({ token: kToken, tlsSelfSigned: tls, kubeconfigOut, ...options });
  const children = new Set();
  const openWatches = new Set();
  const transport = tls ? https : http;

  function rawRequest(method, path, { body, headers = {}, token = kToken } = {}) {
    return new Promise((resolve, reject) => {
      const payload = body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body);
      const h = { Accept: 'application/json', ...headers };
      if (token) h.Authorization = `Bearer ${token}`;
      if (payload !== undefined) h['Content-Type'] ??= 'application/json';
      const req = transport.request(`${srv.url}${path}`, { method, headers: h, ca: srv.caPem }, (res) => {
        const chunks = [];
        res.on('data', (c) => chunks.push(c));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          let parsed = text;
          try {
            parsed = JSON.parse(text);
          } catch {}
          resolve({ status: res.statusCode, headers: res.headers, body: parsed });
        });
      });
      req.on('error', reject);
      if (payload !== undefined) req.write(payload);
      req.end();
    });
  }

  function watch(path, { headers = {} } = {}) {
    const events = [];
    const waiters = [];
    let ended = false;
    let buffer = '';
    let response;
    const notify = () => {
      for (const w of [...waiters]) w();
    };
    const req = transport.request(`${srv.url}${path}`, {
      headers: { Accept: 'application/json', Authorization: `Bearer ${kToken}`, ...headers }, ca: srv.caPem,
    }, (res) => {
      response = res;
      res.setEncoding('utf8');
      res.on('data', (chunk) => {
        buffer += chunk;
        let nl;
        while ((nl = buffer.indexOf('\n')) >= 0) {
          events.push(JSON.parse(buffer.slice(0, nl)));
          buffer = buffer.slice(nl + 1);
        }
        notify();
      });
      res.on('end', () => {
        ended = true;
        notify();
      });
      res.on('error', () => {});
    });
    req.on('error', () => {
      ended = true;
      notify();
    });
    req.end();
    const handle = {
      events,
      get ended() {
        return ended;
      },
      get statusCode() {
        return response?.statusCode;
      },
      // Resolves with the first `count` events (or fewer when the stream ends or times out).
      next(count, timeoutMs = 5000) {
        return new Promise((resolve) => {
          const timer = setTimeout(done, timeoutMs);
          function done() {
            clearTimeout(timer);
            waiters.splice(waiters.indexOf(check), 1);
            resolve(events.slice(0, count));
          }
          function check() {
            if (events.length >= count || ended) done();
          }
          waiters.push(check);
          check();
        });
      },
      untilEnd(timeoutMs = 5000) {
        return new Promise((resolve) => {
          const timer = setTimeout(() => resolve(false), timeoutMs);
          const check = () => {
            if (ended) {
              clearTimeout(timer);
              resolve(true);
            }
          };
          waiters.push(check);
          check();
        });
      },
      close() {
        req.destroy();
        openWatches.delete(handle);
      },
    };
    openWatches.add(handle);
    return handle;
  }

  const cacheDir = join(dir, 'kubectl-cache');
  const kubectlArgs = (args) => ['--kubeconfig', kubeconfigOut, '--cache-dir', cacheDir, ...args];

  function kubectl(args, { input, timeoutMs = 15000 } = {}) {
    return new Promise((resolve) => {
      const child = execFile('/usr/bin/kubectl', kubectlArgs(args), { timeout: timeoutMs, env: { ...process.env, HOME: dir } }, (err, stdout, stderr) => {
        children.delete(child);
        resolve({ code: err ? (err.code ?? 1) : 0, stdout, stderr });
      });
      children.add(child);
      if (input !== undefined) child.stdin.end(input);
    });
  }

  // A long-running kubectl (get -w): returns {lines, waitFor(re), stop()}.
  function kubectlStream(args) {
    const child = spawn('/usr/bin/kubectl', kubectlArgs(args), { env: { ...process.env, HOME: dir }, stdio: ['ignore', 'pipe', 'pipe'] });
    children.add(child);
    let out = '';
    const waiters = [];
    child.stdout.on('data', (d) => {
      out += d;
      for (const w of [...waiters]) w();
    });
    child.stderr.on('data', (d) => {
      out += d;
    });
    child.on('exit', () => children.delete(child));
    return {
      get output() {
        return out;
      },
      waitFor(re, timeoutMs = 8000) {
        return new Promise((resolve, reject) => {
          const timer = setTimeout(() => reject(new Error(`timed out waiting for ${re}; output:\n${out}`)), timeoutMs);
          const check = () => {
            if (re.test(out)) {
              clearTimeout(timer);
              waiters.splice(waiters.indexOf(check), 1);
              resolve(out);
            }
          };
          waiters.push(check);
          check();
        });
      },
      stop() {
        child.kill('SIGKILL');
      },
    };
  }

  return {
    ...srv,
    kubeconfigOut,
    request: rawRequest,
    watch,
    kubectl,
    kubectlStream,
    async close() {
      for (const w of [...openWatches]) w.close();
      for (const c of children) c.kill('SIGKILL');
      await srv.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export const configMap = (name, labels = {}, data = { a: '1' }, namespace = 'default') => ({
  apiVersion: 'v1', kind: 'ConfigMap', metadata: { name, namespace, labels }, data,
});
