#!/usr/bin/env node
// A small HTTP service that stands in for Metabase behind Gatehouse in the
// end-to-end suite and in local mode: the same paths Metabase serves for the
// things Gatehouse must get right (pages, the card API, long CSV exports that
// stream and are cancelled when the client goes away, JWT SSO).
//
//   node e2e/tools/metabase-standin.mjs --port 0 [--host 127.0.0.1] [--jwt-secret S]
//   -> prints {"port":N} on stdout once listening
//
//   GET  /api/health                    {"status":"ok"}
//   GET  /  and  /dashboard/<id>        an HTML page naming the signed-in user
//                                       (X-Forwarded-User / -Email / -Groups as received)
//   GET  /api/card/<id>                 a JSON card
//   POST /api/dataset/csv               CSV export, streamed as it is "computed":
//   POST /api/card/<id>/query/csv       ?rows=N (default 1000) &delayMs=D between 1,000-row
//                                       batches &rowBytes=B (row width, default 64)
//   GET  /auth/sso?jwt=T&return_to=P    Metabase's JWT SSO entry: verifies T as Metabase
//                                       does (HS256 with --jwt-secret, iat at most 180 s old),
//                                       then sets metabase.SESSION and redirects to P
//   GET  /_test/requests                every request seen: {method, target, headers}
//   GET  /_test/exports                 {started, completed, cancelled}: a cancelled export
//                                       is one whose client went away before the last row
import http from 'node:http';
import crypto from 'node:crypto';
import { toolArgs } from './tool-args.mjs';

const args = toolArgs('metabase-standin', { 'jwt-secret': { type: 'string', default: '' } });
const seen = [];
const exports = { started: 0, completed: 0, cancelled: 0 };
const sessions = new Map();  // metabase.SESSION -> email

const escapeHtml = (s) => String(s ?? '').replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

function json(res, status, body) {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify(body));
}

function page(req, res, title) {
  const h = req.headers;
  res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
  res.end(`<!doctype html><title>${escapeHtml(title)}</title><h1>${escapeHtml(title)}</h1>` +
    `<p id="user">${escapeHtml(h['x-forwarded-user'])}</p>` +
    `<p id="email">${escapeHtml(h['x-forwarded-email'])}</p>` +
    `<p id="groups">${escapeHtml(h['x-forwarded-groups'])}</p>`);
}

// Streams rows in batches so a 1 GB export never sits in this process either,
// and stops computing as soon as the client is gone (Metabase cancels the query).
function csvExport(req, res, query) {
  const rows = Number(query.get('rows') ?? 1000);
  const delayMs = Number(query.get('delayMs') ?? 0);
  const rowBytes = Math.max(16, Number(query.get('rowBytes') ?? 64));
  exports.started++;
  res.writeHead(200, { 'content-type': 'text/csv', 'content-disposition': 'attachment; filename="export.csv"' });
  let sent = 0;
  let gone = false;
  res.on('close', () => {
    if (sent < rows && !gone) { gone = true; exports.cancelled++; }
  });
  const pad = 'x'.repeat(rowBytes - 16);
  const batch = () => {
    if (gone) return;
    const n = Math.min(1000, rows - sent);
    let text = sent === 0 ? 'id,value\n' : '';
    for (let i = 0; i < n; i++) text += `${String(sent + i).padStart(12, '0')},${pad}\n`;
    sent += n;
    const more = res.write(text);
    if (sent >= rows) { exports.completed++; res.end(); return; }
    const next = () => setTimeout(batch, delayMs);
    if (more) next(); else res.once('drain', next);
  };
  batch();
}

// Verifies a Metabase SSO JWT the way Metabase does: HS256 with the shared
// secret, and no older than 180 s.
function verifySsoToken(token) {
  const parts = String(token).split('.');
  if (parts.length !== 3 || !args['jwt-secret']) return null;
  const header = JSON.parse(Buffer.from(parts[0], 'base64url').toString());
  if (header.alg !== 'HS256') return null;
  const mac = crypto.createHmac('sha256', args['jwt-secret']).update(`${parts[0]}.${parts[1]}`).digest();
  const given = Buffer.from(parts[2], 'base64url');
  if (given.length !== mac.length || !crypto.timingSafeEqual(given, mac)) return null;
  const claims = JSON.parse(Buffer.from(parts[1], 'base64url').toString());
  const age = Date.now() / 1000 - Number(claims.iat);
  if (!(age >= -5 && age <= 180) || !claims.email) return null;
  return claims;
}

function sso(res, query) {
  let claims = null;
  try { claims = verifySsoToken(query.get('jwt')); } catch { claims = null; }
  if (!claims) return json(res, 401, { error: 'invalid SSO token' });
  const id = crypto.randomBytes(16).toString('hex');
  sessions.set(id, claims.email);
  const to = query.get('return_to') ?? '/';
  res.writeHead(302, { location: to.startsWith('/') && !to.startsWith('//') ? to : '/', 'set-cookie': `metabase.SESSION=${id}; Path=/; HttpOnly` });
  res.end();
}

const server = http.createServer((req, res) => {
  const url = new URL(req.url, 'http://standin');
  const headers = [];
  for (let i = 0; i < req.rawHeaders.length; i += 2) headers.push([req.rawHeaders[i], req.rawHeaders[i + 1]]);
  if (!url.pathname.startsWith('/_test/')) seen.push({ method: req.method, target: req.url, headers });
  req.resume();
  const p = url.pathname;
  if (p === '/_test/requests') return json(res, 200, seen);
  if (p === '/_test/exports') return json(res, 200, exports);
  if (p === '/api/health') return json(res, 200, { status: 'ok' });
  if (p === '/auth/sso') return sso(res, url.searchParams);
  if (req.method === 'POST' && (p === '/api/dataset/csv' || /^\/api\/card\/\d+\/query\/csv$/.test(p))) {
    return csvExport(req, res, url.searchParams);
  }
  const card = /^\/api\/card\/(\d+)$/.exec(p);
  if (card) return json(res, 200, { id: Number(card[1]), name: `Card ${card[1]}`, display: 'table' });
  if (p === '/' || p.startsWith('/dashboard/')) return page(req, res, p === '/' ? 'Metabase' : `Dashboard ${p.slice(11)}`);
  return json(res, 404, { error: 'not found' });
});

server.listen(args.port, args.host, () => {
  process.stdout.write(`${JSON.stringify({ port: server.address().port })}\n`);
});
