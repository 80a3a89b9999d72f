#!/usr/bin/env node
// Test upstream for the proxy's integration tests and benchmarks.
//
//   node e2e/tools/echo-upstream.mjs --port 0 [--host 127.0.0.1]
//   -> prints {"port":N} on stdout once listening
//
// Every request is answered by path:
//   any path            200 JSON {method, target, headers: [[name, value], ...], bodyBytes}
//                       (headers exactly as received, in order, original case)
//   /stream?bytes=N&chunk=C&delayMs=D[&length=1]
//                       N bytes of 'x' in C-byte writes, D ms apart (chunked unless length=1)
//   /hang               reads the request, never answers (logs "closed" on stderr when the peer goes)
//   /close-mid?bytes=N  promises 2N bytes (Content-Length), sends N, then destroys the socket
//   /status?code=C      empty answer with that status
//   Upgrade: websocket  101, then echoes every text/binary frame; answers ping; closes on close
import http from 'node:http';
import crypto from 'node:crypto';
import { toolArgs } from './tool-args.mjs';

function headerPairs(req) {
  const pairs = [];
  for (let i = 0; i < req.rawHeaders.length; i += 2) pairs.push([req.rawHeaders[i], req.rawHeaders[i + 1]]);
  return pairs;
}

function stream(res, query) {
  const total = Number(query.get('bytes') ?? 0);
  const chunk = Math.max(1, Number(query.get('chunk') ?? 65536));
  const delayMs = Number(query.get('delayMs') ?? 0);
  const headers = { 'content-type': 'application/octet-stream' };
  if (query.get('length') === '1') headers['content-length'] = String(total);
  res.writeHead(200, headers);
  const block = Buffer.alloc(chunk, 'x');
  let sent = 0;
  const next = () => {
    while (sent < total) {
      const size = Math.min(chunk, total - sent);
      sent += size;
      const ok = res.write(size === chunk ? block : block.subarray(0, size));
      if (delayMs > 0) return setTimeout(next, delayMs);
      if (!ok) return res.once('drain', next);
    }
    res.end();
  };
  res.on('close', () => { sent = total; });
  next();
}

// Minimal RFC 6455 server side: unfragmented frames, masked from the client.
function webSocketEcho(req, socket, head) {
  const key = req.headers['sec-websocket-key'];
  const accept = crypto.createHash('sha1').update(key + '258EAFA5-E914-47DA-95CA-C5AB0DC85B11').digest('base64');
  socket.write('HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n' +
               `Sec-WebSocket-Accept: ${accept}\r\n\r\n`);
  let pending = head && head.length ? Buffer.from(head) : Buffer.alloc(0);
  const send = (opcode, payload) => {
    const length = payload.length;
    let header;
    if (length < 126) header = Buffer.from([0x80 | opcode, length]);
    else if (length < 65536) { header = Buffer.alloc(4); header[0] = 0x80 | opcode; header[1] = 126; header.writeUInt16BE(length, 2); }
    else { header = Buffer.alloc(10); header[0] = 0x80 | opcode; header[1] = 127; header.writeBigUInt64BE(BigInt(length), 2); }
    socket.write(Buffer.concat([header, payload]));
  };
  const drain = () => {
    for (;;) {
      if (pending.length < 2) return;
      const opcode = pending[0] & 0x0f;
      let length = pending[1] & 0x7f;
      let offset = 2;
      if (length === 126) { if (pending.length < 4) return; length = pending.readUInt16BE(2); offset = 4; }
      else if (length === 127) { if (pending.length < 10) return; length = Number(pending.readBigUInt64BE(2)); offset = 10; }
      const masked = (pending[1] & 0x80) !== 0;
      const maskOffset = offset;
      if (masked) offset += 4;
      if (pending.length < offset + length) return;
      const payload = Buffer.from(pending.subarray(offset, offset + length));
      if (masked) for (let i = 0; i < payload.length; i++) payload[i] ^= pending[maskOffset + (i % 4)];
      pending = pending.subarray(offset + length);
      if (opcode === 0x8) { send(0x8, payload.subarray(0, 2)); socket.end(); return; }
      if (opcode === 0x9) send(0xa, payload);
      else if (opcode === 0x1 || opcode === 0x2) send(opcode, payload);
    }
  };
  socket.on('data', (data) => { pending = Buffer.concat([pending, data]); drain(); });
  socket.on('error', () => {});
  drain();
}

const args = toolArgs('echo-upstream');
const server = http.createServer((req, res) => {
  const url = new URL(req.url, 'http://upstream.invalid');
  let bodyBytes = 0;
  req.on('data', (data) => { bodyBytes += data.length; });
  req.on('end', () => {
    switch (url.pathname) {
      case '/stream': return stream(res, url.searchParams);
      case '/hang':
        res.socket.on('close', () => process.stderr.write('closed /hang\n'));
        return;
      case '/close-mid': {
        const bytes = Number(url.searchParams.get('bytes') ?? 1024);
        res.writeHead(200, { 'content-length': String(2 * bytes) });
        res.write(Buffer.alloc(bytes, 'x'), () => res.socket.destroy());
        return;
      }
      case '/status':
        res.writeHead(Number(url.searchParams.get('code') ?? 200));
        return res.end();
      default: {
        const body = JSON.stringify({ method: req.method, target: req.url, headers: headerPairs(req), bodyBytes });
        res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
        return res.end(body);
      }
    }
  });
});
server.keepAliveTimeout = 120000;
server.headersTimeout = 130000;
server.requestTimeout = 0;
server.on('upgrade', (req, socket, head) => {
  if ((req.headers.upgrade ?? '').toLowerCase() !== 'websocket') return socket.destroy();
  webSocketEcho(req, socket, head);
});
server.listen(args.port, args.host, () => {
  process.stdout.write(JSON.stringify({ port: server.address().port }) + '\n');
});
for (const signal of ['SIGTERM', 'SIGINT']) process.on(signal, () => server.close(() => process.exit(0)) && setTimeout(() => process.exit(0), 200).unref());
