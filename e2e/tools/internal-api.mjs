#!/usr/bin/env node
// A small internal JSON API (an "orders" service) that stands in for the
// upstream of manifests/examples/internal-api.yaml in the end-to-end suite:
// it answers what it was asked and with which headers, and it can hang.
//
//   node e2e/tools/internal-api.mjs --port 0 [--host 127.0.0.1]
//   -> prints {"port":N} on stdout once listening
//
//   GET|POST /v1/orders[/...]   200 {"orders": [...], "method", "target", "headers": [[name, value], ...]}
//   any /v1/orders/hang         reads the request and never answers
//   any other path              404 {"error": "not found", "target"}
//   GET /_test/requests         every request seen (not the /_test/ ones): {method, target, headers}
//   GET /_test/hung             {"open": n, "closed": n}: hung requests whose client is still there / went away
import http from 'node:http';
import { toolArgs } from './tool-args.mjs';

const args = toolArgs('internal-api');
const seen = [];
const hung = { open: 0, closed: 0 };

function json(res, status, body) {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

const server = http.createServer((req, res) => {
  const url = new URL(req.url, 'http://internal-api.invalid');
  const headers = [];
  for (let i = 0; i < req.rawHeaders.length; i += 2) headers.push([req.rawHeaders[i], req.rawHeaders[i + 1]]);
  if (!url.pathname.startsWith('/_test/')) seen.push({ method: req.method, target: req.url, headers });
  req.resume();
  req.on('end', () => {
    const p = url.pathname;
    if (p === '/_test/requests') return json(res, 200, seen);
    if (p === '/_test/hung') return json(res, 200, hung);
    if (p === '/v1/orders/hang') {
      hung.open++;
      res.on('close', () => { hung.open--; hung.closed++; });
      return undefined;
    }
    if (p === '/v1/orders' || p.startsWith('/v1/orders/')) {
      return json(res, 200, { orders: [{ id: 42, total: '12.50' }], method: req.method, target: req.url, headers });
    }
    return json(res, 404, { error: 'not found', target: req.url });
  });
});
server.keepAliveTimeout = 60000;
server.requestTimeout = 0;
server.listen(args.port, args.host, () => {
  process.stdout.write(`${JSON.stringify({ port: server.address().port })}\n`);
});
for (const signal of ['SIGTERM', 'SIGINT']) {
  process.on(signal, () => {
    server.closeAllConnections();
    server.close(() => process.exit(0));
    setTimeout(() => process.exit(0), 200).unref();
  });
}
