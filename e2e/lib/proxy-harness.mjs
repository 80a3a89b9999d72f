// Test harness for the proxy end-to-end tests: starts the REAL gatehouse-proxy
// binary in local mode, an echo upstream, a JWKS-serving identity provider
// (jose keys) and the real oidc-provider, and speaks raw HTTP/1.1 so tests
// control every header byte (casing, repetition, Host).
//
//   const idp = await startJoseIdp();                 // http://127.0.0.1:P, RS256 key
//   const echo = await startEcho();                   // answers with the headers it got
//   const dir = policyDir({ 'app.yaml': appPolicy({ issuer: idp.issuer, upstream: echo.url }) });
//   const proxy = await startProxy({ policies: dir });
//   const r = await rawRequest(proxy.port, { host: 'app.test', path: '/x', headers: [['Authorization', `Bearer ${tok}`]] });
//   r.status, r.headers (lowercased name -> [values]), r.body
//   await proxy.stop();                               // SIGTERM; resolves with the exit code
import { spawn } from 'node:child_process';
import { createServer } from 'node:http';
import net from 'node:net';
import { mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { generateKeyPair, exportJWK, SignJWT } from 'jose';
import { startLocalIdp } from './local-idp.mjs';
import { parseProxyPorts } from './ports.mjs';

export const repo = path.resolve(import.meta.dirname, '../..');
export const proxyBin =
  process.env.GATEHOUSE_PROXY_BIN ?? path.join(repo, 'build/proxy/cli/gatehouse-proxy');

// --- upstream -------------------------------------------------------------

// Echoes {method, url, rawHeaders} as JSON. /slow/<ms> waits before answering.
export async function startEcho() {
  const requests = [];
  const server = createServer((req, res) => {
    const record = { method: req.method, url: req.url, rawHeaders: req.rawHeaders };
    requests.push(record);
    const body = JSON.stringify(record);
    const slow = req.url.match(/^\/(?:base\/)?slow\/(\d+)/);
    const answer = () => {
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
      res.end(body);
    };
    if (slow) setTimeout(answer, Number(slow[1]));
    else answer();
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = server.address().port;
  return {
    port,
    url: `http://127.0.0.1:${port}`,
    requests,
    close: () => new Promise((resolve) => { server.closeAllConnections?.(); server.close(resolve); }),
  };
}

// --- identity providers -----------------------------------------------------

// A minimal OIDC issuer: discovery + JWKS of one RS256 key; mints tokens with jose.
// jwksDelayMs: how long the JWKS endpoint takes to answer (a slow IdP).
export async function startJoseIdp({ jwksDelayMs = 0 } = {}) {
  const { publicKey, privateKey } = await generateKeyPair('RS256');
  const jwk = { ...(await exportJWK(publicKey)), kid: 'e2e-rs256', alg: 'RS256', use: 'sig' };
  let fetches = 0;
  const server = createServer((req, res) => {
    fetches += 1;
    if (req.url === '/.well-known/openid-configuration') {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({
        issuer, jwks_uri: `${issuer}/jwks`,
        authorization_endpoint: `${issuer}/authorize`, token_endpoint: `${issuer}/token`,
      }));
    } else if (req.url === '/jwks') {
      const timer = setTimeout(() => {
        if (res.destroyed) return;
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ keys: [jwk] }));
      }, jwksDelayMs);
      timer.unref();  // a slow answer never keeps the test process alive
    } else {
      res.writeHead(404).end();
    }
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const issuer = `http://127.0.0.1:${server.address().port}`;
  return {
    issuer,
    fetches: () => fetches,
    async token(claims = {}, { audience = 'gatehouse', lifetime = 300 } = {}) {
      const now = Math.floor(Date.now() / 1000);
      return new SignJWT({ email: `${claims.sub ?? 'alice'}@example.com`, groups: [], ...claims })
        .setProtectedHeader({ alg: 'RS256', kid: 'e2e-rs256', typ: 'JWT' })
        .setIssuer(issuer)
        .setAudience(audience)
        .setSubject(claims.sub ?? 'alice')
        .setJti(`jti-${Math.random().toString(36).slice(2)}`)
        .setIssuedAt(now)
        .setExpirationTime(now + lifetime)
        .sign(privateKey);
    },
    close: () => new Promise((resolve) => { server.closeAllConnections?.(); server.close(resolve); }),
  };
}

// The real oidc-provider (lib/local-idp.mjs): client_credentials grant with
// RS256 JWT access tokens carrying email and groups.
export async function startOidcProvider({ groups = ['readers'], email = 'svc@example.com' } = {}) {
  const idp = await startLocalIdp({ clients: { 'e2e-client': { email, groups } } });
  return { issuer: idp.issuer, token: () => idp.token('e2e-client'), close: idp.close };
}

// --- policies ----------------------------------------------------------------

export function policyDir(files) {
  const dir = mkdtempSync(path.join(tmpdir(), 'gh-proxy-'));
  for (const [name, text] of Object.entries(files)) writeFileSync(path.join(dir, name), text);
  return { dir, write: (name, text) => writeFileSync(path.join(dir, name), text), remove: () => rmSync(dir, { recursive: true, force: true }) };
}

export function policyYaml({ name, host, issuer, upstream, rules, audience = 'gatehouse', extra = '' }) {
  return `apiVersion: gatehouse.dev/v1alpha1
kind: AccessPolicy
metadata: {name: ${name}, namespace: e2e}
spec:
  hosts: ["${host}"]
  upstream: {url: "${upstream}"}
  authentication:
    issuers:
      - issuer: ${issuer}
        audiences: [${audience}]
${extra}  rules:
${rules}`;
}

// --- the proxy -----------------------------------------------------------------

// Local mode (`policies`: a folder) or cluster mode (`bootstrap`: a fleet config
// file, which may not exist yet: the proxy then waits for a push).
export async function startProxy({ policies, bootstrap, args = [] }) {
  const source = bootstrap ? ['--bootstrap', bootstrap] : ['--policies', policies];
  const child = spawn(proxyBin, ['serve', ...source, '--listen', '127.0.0.1:0',
    '--admin', '127.0.0.1:0', '--threads', '1', '--drain-seconds', '10', ...args],
  { stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  let stdout = '';
  child.stdout.on('data', (d) => { stdout += d; });
  const exited = new Promise((resolve) => child.on('exit', (code, signal) => resolve({ code, signal })));
  const ports = await new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');  // never left running behind a failed start
      reject(new Error(`proxy did not start:\n${stderr}`));
    }, 15000);
    child.stderr.on('data', (d) => {
      stderr += d;
      const bound = parseProxyPorts(stderr);  // both ports chosen at bind (port 0)
      if (bound) { clearTimeout(timer); resolve(bound); }
    });
    exited.then(({ code }) => { clearTimeout(timer); reject(new Error(`proxy exited ${code}:\n${stderr}`)); });
  });
  return {
    ...ports,
    child,
    exited,
    stderr: () => stderr,
    audit: () => stdout.split('\n').filter(Boolean).map((l) => JSON.parse(l)),
    async stop(signal = 'SIGTERM') {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      return exited;
    },
  };
}

// --- raw HTTP/1.1 client ------------------------------------------------------------

// One request on a fresh connection; headers is a list of [name, value] sent verbatim.
export function rawRequest(port, { method = 'GET', host, path: target = '/', headers = [], body = '' } = {}) {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1');
    const chunks = [];
    socket.setTimeout(20000, () => socket.destroy(new Error('timeout')));
    socket.on('data', (d) => chunks.push(d));
    socket.on('error', reject);
    socket.on('close', () => {
      try { resolve(parseResponse(Buffer.concat(chunks))); } catch (e) { reject(e); }
    });
    let head = `${method} ${target} HTTP/1.1\r\nHost: ${host}\r\nConnection: close\r\n`;
    for (const [n, v] of headers) head += `${n}: ${v}\r\n`;
    if (body) head += `Content-Length: ${Buffer.byteLength(body)}\r\n`;
    socket.write(`${head}\r\n${body}`);
  });
}

function parseResponse(buffer) {
  const split = buffer.indexOf('\r\n\r\n');
  if (split < 0) throw new Error(`no response head: ${buffer.toString()}`);
  const lines = buffer.subarray(0, split).toString('latin1').split('\r\n');
  const status = Number(lines[0].split(' ')[1]);
  const headers = {};
  for (const line of lines.slice(1)) {
    const i = line.indexOf(':');
    const name = line.slice(0, i).trim().toLowerCase();
    (headers[name] ??= []).push(line.slice(i + 1).trim());
  }
  let body = buffer.subarray(split + 4);
  if ((headers['transfer-encoding'] ?? []).some((v) => /chunked/i.test(v))) body = dechunk(body);
  return { status, headers, body: body.toString('utf8') };
}

function dechunk(buffer) {
  const out = [];
  let at = 0;
  while (at < buffer.length) {
    const eol = buffer.indexOf('\r\n', at);
    const size = parseInt(buffer.subarray(at, eol).toString(), 16);
    if (!size) break;
    out.push(buffer.subarray(eol + 2, eol + 2 + size));
    at = eol + 2 + size + 2;
  }
  return Buffer.concat(out);
}

// Echo body -> {name lowercased: [values]} of the headers the upstream received.
export function upstreamHeaders(response) {
  const record = JSON.parse(response.body);
  const out = {};
  for (let i = 0; i < record.rawHeaders.length; i += 2) {
    (out[record.rawHeaders[i].toLowerCase()] ??= []).push(record.rawHeaders[i + 1]);
  }
  return { url: record.url, headers: out };
}

export async function eventually(check, { timeout = 10000, interval = 100 } = {}) {
  const end = Date.now() + timeout;
  let last;
  while (Date.now() < end) {
    try { return await check(); } catch (e) { last = e; }
    await new Promise((r) => setTimeout(r, interval));
  }
  throw last ?? new Error('eventually: timed out');
}
