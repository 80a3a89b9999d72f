// Helpers for the proxy data-plane end-to-end tests (proxy-dataplane.test.mjs):
// real upstream processes (the echo-upstream tool, Debian nginx), a policy
// writer that sets upstream.timeoutSeconds, a raw-socket exchange that tells
// who closed the connection, an RSS sampler and a minimal WebSocket client.
//
//   const up = await startEchoTool();                 // node e2e/tools/echo-upstream.mjs
//   const ng = await startNginx();                    // nginx -p TMP -g 'daemon off;'
//   const yaml = gatedPolicy({ name, host, issuer, upstream: up.url, timeoutSeconds: 1, rules });
//   const x = await rawExchange(port, 'GET / HTTP/1.1\r\n...');  // {status, head, body, closed}
//   const rss = sampleRss(proxy.child.pid, 100); ...; rss.stop() -> [kB, ...]
//   const ws = await openWebSocket(port, { host, path, headers }); ws.send('hi'); await ws.next();
//   await up.stop(); await ng.stop();
import { spawn } from 'node:child_process';
import crypto from 'node:crypto';
import { mkdtempSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { freePort, isAddressInUse, retryOnAddressInUse, withFreePort } from './ports.mjs';
import { repo } from './proxy-harness.mjs';

// --- processes -------------------------------------------------------------------

// A child process that is always reaped: stop() sends the signal and waits.
function tracked(child) {
  const exited = new Promise((resolve) => child.on('exit', (code, signal) => resolve({ code, signal })));
  return {
    child,
    exited,
    async stop(signal = 'SIGKILL') {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      return exited;
    },
  };
}

// e2e/tools/echo-upstream.mjs in its own process, so streaming a GB through it
// does not compete with the test's own event loop. stderr() holds its log
// ("closed /hang" when a /hang peer goes away).
export async function startEchoTool() {
  const child = spawn(process.execPath, [path.join(repo, 'e2e/tools/echo-upstream.mjs'), '--port', '0'],
    { stdio: ['ignore', 'pipe', 'pipe'] });
  const proc = tracked(child);
  let stderr = '';
  child.stderr.on('data', (d) => { stderr += d; });
  const port = await new Promise((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => reject(new Error(`echo upstream did not start: ${stderr}`)), 10000);
    child.stdout.on('data', (d) => {
      out += d;
      const m = out.match(/\{"port":(\d+)\}/);
      if (m) { clearTimeout(timer); resolve(Number(m[1])); }
    });
    proc.exited.then(({ code }) => { clearTimeout(timer); reject(new Error(`echo upstream exited ${code}`)); });
  });
  return { ...proc, port, url: `http://127.0.0.1:${port}`, stderr: () => stderr };
}

// A port nothing listens on (for upstreams that refuse connections).
export { freePort };

// Debian nginx as a second real upstream, its prefix, pid, logs and temp files
// in a fresh directory. Every answer is 200 with a body and a header that show
// the identity headers nginx received, so a test can see what got through.
// nginx cannot report a port it chose, so the port is reserved first, and a new
// one is tried when a parallel test bound it before nginx did. With `port`:
// that port, retried while another process holds it.
export async function startNginx({ port } = {}) {
  const prefix = mkdtempSync(path.join(tmpdir(), 'gh-nginx-'));
  mkdirSync(path.join(prefix, 'tmp'));
  try {
    const start = (p) => startNginxOn(prefix, p);
    return await (port === undefined ? withFreePort(start) : retryOnAddressInUse(() => start(port)));
  } catch (e) {
    rmSync(prefix, { recursive: true, force: true });
    throw e;
  }
}

function nginxConf(prefix, port) {
  return `worker_processes 1;
pid ${prefix}/nginx.pid;
error_log ${prefix}/error.log info;
events { worker_connections 128; }
http {
  access_log ${prefix}/access.log;
  client_body_temp_path ${prefix}/tmp/body;
  proxy_temp_path ${prefix}/tmp/proxy;
  fastcgi_temp_path ${prefix}/tmp/fastcgi;
  uwsgi_temp_path ${prefix}/tmp/uwsgi;
  scgi_temp_path ${prefix}/tmp/scgi;
  server {
    listen 127.0.0.1:${port};
    location / {
      default_type text/plain;
      add_header X-Nginx-Saw-User "$http_x_forwarded_user" always;
      return 200 "user=[$http_x_forwarded_user] groups=[$http_x_forwarded_groups] uri=[$uri]\\n";
    }
  }
}
`;
}

// One start on `port`; throws (nginx stopped) when it cannot bind, with nginx's
// own words, "Address already in use" among them when the port was taken.
async function startNginxOn(prefix, port) {
  writeFileSync(path.join(prefix, 'nginx.conf'), nginxConf(prefix, port));
  const errorLog = path.join(prefix, 'error.log');
  rmSync(errorLog, { force: true });
  const child = spawn('nginx', ['-p', prefix, '-c', path.join(prefix, 'nginx.conf'),
    '-e', errorLog, '-g', 'daemon off;'], { stdio: ['ignore', 'ignore', 'pipe'] });
  const proc = tracked(child);
  let stderr = '';
  child.stderr.on('data', (d) => { stderr += d; });
  const said = () => { try { return stderr + readFileSync(errorLog, 'utf8'); } catch { return stderr; } };
  const deadline = Date.now() + 10000;
  for (;;) {
    // nginx retries a taken port for 2.5 s before it gives up: fail at once.
    if (child.exitCode !== null || isAddressInUse(said())) {
      await proc.stop();
      throw new Error(`nginx could not start on ${port}: ${said()}`);
    }
    if (await nginxAnswers(port)) break;
    if (Date.now() > deadline) { await proc.stop(); throw new Error(`nginx did not start: ${said()}`); }
    await new Promise((r) => setTimeout(r, 50));
  }
  return {
    ...proc,
    port,
    url: `http://127.0.0.1:${port}`,
    accessLog: () => readFileSync(path.join(prefix, 'access.log'), 'utf8'),
    // SIGTERM is nginx's fast shutdown: master and worker exit together.
    async stop() {
      await proc.stop('SIGTERM');
      rmSync(prefix, { recursive: true, force: true });
    },
  };
}

// True once OUR nginx answers on `port` (its own body, not just any listener:
// the port may have been taken by another process).
async function nginxAnswers(port) {
  try {
    const r = await fetch(`http://127.0.0.1:${port}/`, { signal: AbortSignal.timeout(500) });
    return /^user=\[\] groups=\[\] uri=\[\/\]/.test(await r.text());
  } catch {
    return false;
  }
}

// --- policies ----------------------------------------------------------------------

// An AccessPolicy like the harness's policyYaml, with upstream.timeoutSeconds.
export function gatedPolicy({ name, host, issuer, upstream, timeoutSeconds, rules }) {
  const timeout = timeoutSeconds ? `, timeoutSeconds: ${timeoutSeconds}` : '';
  return `apiVersion: gatehouse.dev/v1alpha1
kind: AccessPolicy
metadata: {name: ${name}, namespace: e2e}
spec:
  hosts: ["${host}"]
  upstream: {url: "${upstream}"${timeout}}
  authentication:
    issuers:
      - issuer: ${issuer}
        audiences: [gatehouse]
  rules:
${rules}`;
}

// --- measurements ------------------------------------------------------------------

export function rssKb(pid) {
  const m = readFileSync(`/proc/${pid}/status`, 'utf8').match(/^VmRSS:\s+(\d+) kB/m);
  if (!m) throw new Error(`no VmRSS for ${pid}`);
  return Number(m[1]);
}

// Samples VmRSS every `intervalMs` until stop(), which returns the samples in kB.
export function sampleRss(pid, intervalMs = 100) {
  const samples = [];
  const timer = setInterval(() => samples.push(rssKb(pid)), intervalMs);
  return { stop() { clearInterval(timer); samples.push(rssKb(pid)); return samples; } };
}

// --- raw sockets ---------------------------------------------------------------------

// Writes `bytes` on a fresh connection and collects everything until the
// server closes it (or `timeoutMs` passes, which is reported, not thrown).
// closed: 'server' when the peer ended the connection, 'timeout' otherwise.
export function rawExchange(port, bytes, { timeoutMs = 5000 } = {}) {
  return new Promise((resolve) => {
    const socket = net.connect(port, '127.0.0.1');
    const chunks = [];
    let closed = 'server';
    const timer = setTimeout(() => { closed = 'timeout'; socket.destroy(); }, timeoutMs);
    socket.on('data', (d) => chunks.push(d));
    socket.on('error', () => {});
    socket.on('close', () => {
      clearTimeout(timer);
      const data = Buffer.concat(chunks).toString('latin1');
      const split = data.indexOf('\r\n\r\n');
      const head = split < 0 ? data : data.slice(0, split);
      const status = Number((head.match(/^HTTP\/1\.[01] (\d{3})/) ?? [])[1] ?? 0);
      resolve({ status, head, body: split < 0 ? '' : data.slice(split + 4), closed, data });
    });
    socket.write(bytes, 'latin1');
  });
}

// --- WebSocket client (RFC 6455, client side, unfragmented frames) -------------------

function encodeFrame(opcode, payload) {
  const mask = crypto.randomBytes(4);
  const length = payload.length;
  let header;
  if (length < 126) header = Buffer.from([0x80 | opcode, 0x80 | length]);
  else if (length < 65536) { header = Buffer.alloc(4); header[1] = 0x80 | 126; header.writeUInt16BE(length, 2); }
  else { header = Buffer.alloc(10); header[1] = 0x80 | 127; header.writeBigUInt64BE(BigInt(length), 2); }
  header[0] = 0x80 | opcode;
  const masked = Buffer.from(payload);
  for (let i = 0; i < masked.length; i += 1) masked[i] ^= mask[i % 4];
  return Buffer.concat([header, mask, masked]);
}

// Parses one server frame (never masked) from the front of `buffer`:
// {opcode, payload, rest} or null when incomplete.
function decodeFrame(buffer) {
  if (buffer.length < 2) return null;
  let length = buffer[1] & 0x7f;
  let offset = 2;
  if (length === 126) { if (buffer.length < 4) return null; length = buffer.readUInt16BE(2); offset = 4; }
  else if (length === 127) { if (buffer.length < 10) return null; length = Number(buffer.readBigUInt64BE(2)); offset = 10; }
  if (buffer.length < offset + length) return null;
  return { opcode: buffer[0] & 0x0f, payload: buffer.subarray(offset, offset + length), rest: buffer.subarray(offset + length) };
}

// Sends an upgrade request. On 101 resolves {status, head, accepted,
// expectedAccept, send(opcode, payload), next() -> {opcode, payload} | null,
// closed, destroy()}; on any other answer {status, head, body, closed}.
export function openWebSocket(port, { host, path: target = '/', headers = [] }) {
  return new Promise((resolve, reject) => {
    const key = crypto.randomBytes(16).toString('base64');
    const expectedAccept = crypto.createHash('sha1')
      .update(`${key}258EAFA5-E914-47DA-95CA-C5AB0DC85B11`).digest('base64');
    const socket = net.connect(port, '127.0.0.1');
    let buffer = Buffer.alloc(0);
    let opened = null;
    const frames = [];
    const waiters = [];
    let closedResolve;
    const closed = new Promise((r) => { closedResolve = r; });
    const pump = () => {
      for (let frame = decodeFrame(buffer); frame; frame = decodeFrame(buffer)) {
        buffer = frame.rest;
        frames.push({ opcode: frame.opcode, payload: Buffer.from(frame.payload) });
      }
      while (frames.length && waiters.length) waiters.shift()(frames.shift());
    };
    socket.setTimeout(15000, () => socket.destroy());
    socket.on('error', (e) => { if (!opened) reject(e); });
    socket.on('close', () => {
      closedResolve();
      while (waiters.length) waiters.shift()(null);
      if (!opened) {  // no-op when a refusal already resolved
        const text = buffer.toString('latin1');
        const split = text.indexOf('\r\n\r\n');
        resolve({ status: Number(text.split(' ')[1]), head: text.slice(0, split), body: text.slice(split + 4), closed });
      }
    });
    socket.on('data', (d) => {
      buffer = Buffer.concat([buffer, d]);
      if (opened) return pump();
      const split = buffer.indexOf('\r\n\r\n');
      if (split < 0) return undefined;
      const head = buffer.subarray(0, split).toString('latin1');
      const status = Number(head.split(' ')[1]);
      if (status !== 101) {
        // A refusal: resolve once its Content-Length body is in, then hang up
        // (the proxy may keep the connection alive for a next request).
        const length = Number((head.match(/^content-length:\s*(\d+)/im) ?? [])[1] ?? 0);
        if (buffer.length < split + 4 + length) return undefined;
        resolve({ status, head, body: buffer.subarray(split + 4, split + 4 + length).toString('latin1'), closed });
        return socket.destroy();
      }
      buffer = buffer.subarray(split + 4);
      const accepted = (head.match(/^sec-websocket-accept:\s*(\S+)/im) ?? [])[1];
      opened = {
        status, head, accepted, expectedAccept, closed,
        send: (opcode, payload) => socket.write(encodeFrame(opcode, Buffer.from(payload))),
        next: () => new Promise((r) => { if (frames.length) r(frames.shift()); else waiters.push(r); }),
        destroy: () => socket.destroy(),
      };
      resolve(opened);
      return pump();
    });
    let request = `GET ${target} HTTP/1.1\r\nHost: ${host}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
      `Sec-WebSocket-Key: ${key}\r\nSec-WebSocket-Version: 13\r\n`;
    for (const [n, v] of headers) request += `${n}: ${v}\r\n`;
    socket.write(`${request}\r\n`);
  });
}
