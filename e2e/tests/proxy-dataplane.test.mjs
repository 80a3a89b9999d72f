// The data plane end to end: the REAL gatehouse-proxy binary in front of real
// upstreams (e2e/tools/echo-upstream.mjs in its own process, Debian nginx, and
// small in-test servers that count what reaches them). Covers what
// proxy-gate.test.mjs does not: 1 GB streamed each way with flat RSS, the
// slowloris header timeout, request smuggling refused before any upstream
// sees a byte, nginx as an upstream seeing only the verified identity,
// WebSocket upgrades through the gate, client disconnects propagating
// upstream, and 502 / 504 on a down or silent upstream.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import net from 'node:net';
import {
  startEcho, startJoseIdp, startProxy, policyDir, rawRequest, eventually,
} from '../lib/proxy-harness.mjs';
import {
  startEchoTool, startNginx, freePort, gatedPolicy, rssKb, sampleRss, rawExchange, openWebSocket,
} from '../lib/dataplane-helpers.mjs';

const kGigabyte = 1024 * 1024 * 1024;
const kRssLimitKb = 64 * 1024;
// "Flat": RSS while the bytes move may not grow by more than this over the
// RSS the proxy had just before the transfer started.
const kRssGrowthLimitKb = 16 * 1024;

let idp; let echoTool; let counter; let drip; let nginx; let dir; let proxy;
let reader; let stranger;

// A slow streaming upstream that records how each response ended: the proof
// that a client disconnect reached the upstream is a 'close' before 'finish'.
async function startDrip() {
  const responses = [];
  const server = http.createServer((req, res) => {
    const record = { url: req.url, aborted: false, finished: false };
    responses.push(record);
    res.writeHead(200, { 'content-type': 'application/octet-stream' });
    const block = Buffer.alloc(1024, 'd');
    const timer = setInterval(() => res.write(block), 20);
    res.on('finish', () => { record.finished = true; });
    res.on('close', () => { clearInterval(timer); record.aborted = !record.finished; });
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${server.address().port}`,
    responses,
    close: () => new Promise((resolve) => { server.closeAllConnections(); server.close(resolve); }),
  };
}

before(async () => {
  idp = await startJoseIdp();
  echoTool = await startEchoTool();
  counter = await startEcho();
  drip = await startDrip();
  nginx = await startNginx();
  const downUrl = `http://127.0.0.1:${await freePort()}`;
  const readers = '    - {name: readers, action: Allow, from: {groups: [readers]}}\n';
  const everyone = '    - {name: everyone, action: Allow, from: {public: true}}\n';
  const policy = (name, upstream, rules, timeoutSeconds) => gatedPolicy({
    name, host: `${name}.test`, issuer: idp.issuer, upstream, rules, timeoutSeconds,
  });
  dir = policyDir({
    'data.yaml': policy('data', echoTool.url,
      `    - {name: public, action: Allow, paths: ["/public/**"], from: {public: true}}\n${readers}`),
    'smuggle.yaml': policy('smuggle', counter.url, everyone),
    'drip.yaml': policy('drip', drip.url, readers),
    'nginx.yaml': policy('nginx', nginx.url,
      `    - {name: public, action: Allow, paths: ["/public/**"], from: {public: true}}\n${readers}`),
    'down.yaml': policy('down', downUrl, everyone),
    'silent.yaml': policy('silent', echoTool.url, everyone, 2),
  });
  proxy = await startProxy({ policies: dir.dir, args: ['--header-timeout', '3'] });
  reader = await idp.token({ sub: 'alice', groups: ['readers'] });
  stranger = await idp.token({ sub: 'sam', groups: ['others'] });
});

after(async () => {
  await proxy?.stop('SIGKILL');
  await echoTool?.stop();
  await nginx?.stop();
  await counter?.close();
  await drip?.close();
  await idp?.close();
  dir?.remove();
});

const bearer = (token) => ['Authorization', `Bearer ${token}`];

// --- streaming ---------------------------------------------------------------------

// GET through the proxy with node's client; counts body bytes.
function download(target, token) {
  return new Promise((resolve, reject) => {
    const req = http.get({
      host: '127.0.0.1', port: proxy.port, path: target, agent: false,
      headers: { host: 'data.test', authorization: `Bearer ${token}` },
    }, (res) => {
      let bytes = 0;
      res.on('data', (d) => { bytes += d.length; });
      res.on('end', () => resolve({ status: res.statusCode, bytes }));
      res.on('error', reject);
    });
    req.on('error', reject);
  });
}

// POSTs `total` bytes with a Content-Length, honouring backpressure; the echo
// upstream answers with the number of body bytes it counted.
function upload(total, token) {
  return new Promise((resolve, reject) => {
    const req = http.request({
      host: '127.0.0.1', port: proxy.port, path: '/upload', method: 'POST', agent: false,
      headers: {
        host: 'data.test', authorization: `Bearer ${token}`,
        'content-type': 'application/octet-stream', 'content-length': String(total),
      },
    }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d) => { body += d; });
      res.on('end', () => resolve({ status: res.statusCode, body }));
    });
    req.on('error', reject);
    const block = Buffer.alloc(1024 * 1024, 'u');
    let sent = 0;
    const pump = () => {
      while (sent < total) {
        const size = Math.min(block.length, total - sent);
        sent += size;
        if (!req.write(size === block.length ? block : block.subarray(0, size))) return req.once('drain', pump);
      }
      return req.end();
    };
    pump();
  });
}

function checkFlatRss(name, baselineKb, samples) {
  const peak = Math.max(...samples);
  assert.ok(samples.length >= 5, `${name}: only ${samples.length} RSS samples`);
  assert.ok(peak < kRssLimitKb, `${name}: RSS peaked at ${peak} kB (limit ${kRssLimitKb} kB)`);
  assert.ok(peak - baselineKb < kRssGrowthLimitKb,
    `${name}: RSS grew from ${baselineKb} kB to ${peak} kB while streaming`);
}

test('a 1 GB response streams through with flat proxy RSS', { timeout: 60000 }, async (t) => {
  const baseline = rssKb(proxy.child.pid);
  const rss = sampleRss(proxy.child.pid, 100);
  const started = Date.now();
  const r = await download(`/stream?bytes=${kGigabyte}&chunk=65536&length=1`, reader);
  const samples = rss.stop();
  t.diagnostic(`1 GiB down in ${Date.now() - started} ms; RSS kB baseline ${baseline}, ` +
    `peak ${Math.max(...samples)}, ${samples.length} samples`);
  assert.equal(r.status, 200);
  assert.equal(r.bytes, kGigabyte);
  checkFlatRss('download', baseline, samples);
});

test('a 1 GB upload streams through with flat proxy RSS', { timeout: 60000 }, async (t) => {
  const baseline = rssKb(proxy.child.pid);
  const rss = sampleRss(proxy.child.pid, 100);
  const started = Date.now();
  const r = await upload(kGigabyte, reader);
  const samples = rss.stop();
  t.diagnostic(`1 GiB up in ${Date.now() - started} ms; RSS kB baseline ${baseline}, ` +
    `peak ${Math.max(...samples)}, ${samples.length} samples`);
  assert.equal(r.status, 200, r.body);
  const seen = JSON.parse(r.body);
  assert.equal(seen.method, 'POST');
  assert.equal(seen.bodyBytes, kGigabyte, 'the upstream counted every byte');
  checkFlatRss('upload', baseline, samples);
});

// Chunked bodies must cross byte-exact: a stray "0\r\n\r\n" after the last chunk
// would be read as the start of the next message on a kept-alive connection
// (client side) or on a pooled upstream connection.
test('chunked bodies cross byte-exact both ways on kept-alive connections', async () => {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  const send = (method, path, chunks) => new Promise((resolve, reject) => {
    const req = http.request({
      host: '127.0.0.1', port: proxy.port, path, method, agent,
      headers: { host: 'data.test', authorization: `Bearer ${reader}` },
    }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d) => { body += d; });
      res.on('end', () => resolve({ status: res.statusCode, body }));
      res.on('error', reject);
    });
    req.on('error', reject);
    for (const c of chunks) req.write(c);  // no content-length: node sends chunked
    req.end();
  });
  try {
    for (let round = 0; round < 3; ++round) {
      const down = await send('GET', '/stream?bytes=10&chunk=4', []);
      assert.equal(down.status, 200);
      assert.equal(down.body, 'x'.repeat(10));
      const up = await send('POST', '/upload', ['hel', 'lo', ' world']);
      assert.equal(up.status, 200, up.body);
      assert.equal(JSON.parse(up.body).bodyBytes, 11, 'the upstream read exactly the body');
    }
  } finally {
    agent.destroy();
  }
});

// --- slowloris ----------------------------------------------------------------------

test('a slowloris client is cut off by the header timeout while others are served',
  { timeout: 30000 }, async () => {
    // One byte every 250 ms: each read makes progress, so only a deadline on the
    // whole head (--header-timeout 3 here; 10 s by default) can end this.
    const head = 'GET /public/x HTTP/1.1\r\nHost: data.test\r\nX-Slow: ' + 'a'.repeat(100);
    const socket = net.connect(proxy.port, '127.0.0.1');
    await new Promise((resolve) => socket.on('connect', resolve));
    const opened = Date.now();
    let received = '';
    socket.on('data', (d) => { received += d.toString('latin1'); });
    socket.on('error', () => {});
    const closed = new Promise((resolve) => socket.on('close', () => resolve(Date.now() - opened)));
    let at = 0;
    const trickle = setInterval(() => {
      if (at < head.length && !socket.destroyed) socket.write(head[at++]);
    }, 250);
    try {
      // Served meanwhile, several times, each fast.
      for (let i = 0; i < 3; i += 1) {
        await new Promise((r) => setTimeout(r, 600));
        const t0 = Date.now();
        const r = await rawRequest(proxy.port, { host: 'data.test', path: '/public/normal' });
        assert.equal(r.status, 200, r.body);
        assert.ok(Date.now() - t0 < 2000, `normal request took ${Date.now() - t0} ms`);
      }
      const elapsed = await Promise.race([closed, new Promise((r) => setTimeout(() => r(null), 8000))]);
      assert.ok(elapsed !== null, 'the slowloris connection was not closed within 8 s');
      assert.ok(elapsed >= 2700 && elapsed <= 4500, `closed after ${elapsed} ms, expected ~3 s`);
      assert.ok(at < head.length, 'the head was never completed');
      // Either nothing or a 408; never a forwarded answer.
      assert.ok(received === '' || /^HTTP\/1\.1 408 /.test(received), `got: ${received.slice(0, 80)}`);
    } finally {
      clearInterval(trickle);
      socket.destroy();
    }
  });

// --- smuggling ------------------------------------------------------------------------

test('request smuggling attempts get 400, the connection closes, the upstream sees nothing',
  { timeout: 30000 }, async () => {
    const start = 'POST /front HTTP/1.1\r\nHost: smuggle.test\r\n';
    const hidden = 'GET /smuggled HTTP/1.1\r\nHost: smuggle.test\r\n\r\n';
    const cases = [
      ['CL and TE together', `${start}Content-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n${hidden}`],
      ['TE and CL together, TE first', `${start}Transfer-Encoding: chunked\r\nContent-Length: 52\r\n\r\n0\r\n\r\n${hidden}`],
      ['duplicate differing Content-Length', `${start}Content-Length: 0\r\nContent-Length: 46\r\n\r\n${hidden}`],
      ['Content-Length list with differing values', `${start}Content-Length: 0, 46\r\n\r\n${hidden}`],
      ['Content-Length with a sign', `${start}Content-Length: +46\r\n\r\n${hidden}`],
      ['TE gzip', `${start}Transfer-Encoding: gzip\r\n\r\n0\r\n\r\n${hidden}`],
      ['TE gzip, chunked', `${start}Transfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n${hidden}`],
      ['TE identity', `${start}Transfer-Encoding: identity\r\nContent-Length: 0\r\n\r\n${hidden}`],
      ['TE xchunked', `${start}Transfer-Encoding: xchunked\r\n\r\n0\r\n\r\n${hidden}`],
      ['TE chunked in HTTP/1.0', `POST /front HTTP/1.0\r\nHost: smuggle.test\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n${hidden}`],
      ['space before the colon', `${start}Transfer-Encoding : chunked\r\n\r\n0\r\n\r\n${hidden}`],
      ['obs-fold in a header', `${start}X-Folded: a\r\n b\r\nContent-Length: 0\r\n\r\n${hidden}`],
      ['obs-fold hiding TE', `${start}X-Note: x\r\n\tTransfer-Encoding: chunked\r\nContent-Length: 0\r\n\r\n${hidden}`],
      ['bare LF in the head', `${start}X-A: a\nContent-Length: 0\r\n\r\n${hidden}`],
      ['chunk size not hex', `${start}Transfer-Encoding: chunked\r\n\r\nzz\r\nhello\r\n0\r\n\r\n${hidden}`],
      ['chunk size negative', `${start}Transfer-Encoding: chunked\r\n\r\n-1\r\nx\r\n0\r\n\r\n${hidden}`],
      ['chunk size overflows 64 bits', `${start}Transfer-Encoding: chunked\r\n\r\n10000000000000001\r\nx\r\n0\r\n\r\n${hidden}`],
      ['chunk size with 0x prefix', `${start}Transfer-Encoding: chunked\r\n\r\n0x5\r\nhello\r\n0\r\n\r\n${hidden}`],
      ['chunk data longer than its size', `${start}Transfer-Encoding: chunked\r\n\r\n2\r\nhello\r\n0\r\n\r\n${hidden}`],
    ];
    for (const [name, bytes] of cases) {
      const x = await rawExchange(proxy.port, bytes, { timeoutMs: 3000 });
      assert.equal(x.status, 400, `${name}: ${x.data.slice(0, 120)}`);
      assert.equal(x.closed, 'server', `${name}: the proxy kept the connection open`);
      assert.equal((x.data.match(/HTTP\/1\.[01] \d{3}/g) ?? []).length, 1, `${name}: more than one response`);
      assert.deepEqual(counter.requests, [], `${name}: the upstream saw ${JSON.stringify(counter.requests)}`);
    }
    // Control: the same route does forward a well-framed request.
    const ok = await rawExchange(proxy.port, `${start}Content-Length: 5\r\nConnection: close\r\n\r\nhello`,
      { timeoutMs: 3000 });
    assert.equal(ok.status, 200, ok.data.slice(0, 200));
    assert.deepEqual(counter.requests.map((r) => r.url), ['/front']);
  });

// --- nginx ---------------------------------------------------------------------------

test('nginx as an upstream gets the verified identity, never a spoofed one', { timeout: 20000 }, async () => {
  const spoof = [['X-Forwarded-User', 'mallory'], ['x-forwarded-user', 'mallory2'],
    ['X-FORWARDED-GROUPS', 'admins'], ['X-Gatehouse-Assertion', 'forged']];
  const allowed = await rawRequest(proxy.port, {
    host: 'nginx.test', path: '/api/report', headers: [...spoof, bearer(reader)],
  });
  assert.equal(allowed.status, 200, allowed.body);
  assert.equal(allowed.body, 'user=[alice] groups=[readers] uri=[/api/report]\n');
  assert.deepEqual(allowed.headers['x-nginx-saw-user'], ['alice']);
  assert.match(allowed.headers.server?.[0] ?? '', /nginx/, 'the answer came from nginx');

  const publicRoute = await rawRequest(proxy.port, { host: 'nginx.test', path: '/public/page', headers: spoof });
  assert.equal(publicRoute.status, 200, publicRoute.body);
  assert.equal(publicRoute.body, 'user=[] groups=[] uri=[/public/page]\n');

  const denied = await rawRequest(proxy.port, { host: 'nginx.test', path: '/api/secret', headers: spoof });
  assert.equal(denied.status, 401);
  const forbidden = await rawRequest(proxy.port, {
    host: 'nginx.test', path: '/api/secret2', headers: [...spoof, bearer(stranger)],
  });
  assert.equal(forbidden.status, 403);
  const log = nginx.accessLog();
  assert.match(log, /GET \/api\/report /);
  assert.match(log, /GET \/public\/page /);
  assert.doesNotMatch(log, /\/api\/secret/, 'a denied request reached nginx');
});

// --- WebSocket -------------------------------------------------------------------------

test('WebSocket upgrades pass through on an allowed route, and are refused otherwise',
  { timeout: 20000 }, async () => {
    const ws = await openWebSocket(proxy.port, { host: 'data.test', path: '/ws/echo', headers: [bearer(reader)] });
    try {
      assert.equal(ws.status, 101, ws.head);
      assert.equal(ws.accepted, ws.expectedAccept, 'Sec-WebSocket-Accept matches our key');
      ws.send(0x1, 'hello through the gate');
      const text = await ws.next();
      assert.equal(text.opcode, 0x1);
      assert.equal(text.payload.toString(), 'hello through the gate');
      const big = Buffer.alloc(200 * 1024);
      for (let i = 0; i < big.length; i += 1) big[i] = (i * 7) & 0xff;
      ws.send(0x2, big);
      const binary = await ws.next();
      assert.equal(binary.opcode, 0x2);
      assert.ok(binary.payload.equals(big), 'a 200 KiB binary frame echoed intact');
      ws.send(0x9, 'ping');
      const pong = await ws.next();
      assert.deepEqual([pong.opcode, pong.payload.toString()], [0xa, 'ping']);
      ws.send(0x8, Buffer.from([0x03, 0xe8]));
      const close = await ws.next();
      assert.equal(close.opcode, 0x8);
      await ws.closed;
    } finally {
      ws.destroy?.();
    }

    const anonymous = await openWebSocket(proxy.port, { host: 'data.test', path: '/ws/echo' });
    assert.equal(anonymous.status, 401, anonymous.head);
    assert.match(anonymous.head, /^www-authenticate: Bearer/im);
    const outsider = await openWebSocket(proxy.port, { host: 'data.test', path: '/ws/echo', headers: [bearer(stranger)] });
    assert.equal(outsider.status, 403, outsider.head);
  });

// --- disconnects and upstream failures ------------------------------------------------------

test('a client that disconnects mid-response closes the upstream request', { timeout: 20000 }, async () => {
  const socket = net.connect(proxy.port, '127.0.0.1');
  socket.on('error', () => {});
  let received = 0;
  const gotSome = new Promise((resolve) => {
    socket.on('data', (d) => { received += d.length; if (received > 8 * 1024) resolve(); });
  });
  socket.write(`GET /drip HTTP/1.1\r\nHost: drip.test\r\nAuthorization: Bearer ${reader}\r\n\r\n`);
  await gotSome;
  assert.equal(drip.responses.length, 1);
  assert.equal(drip.responses[0].aborted, false, 'still streaming before the client goes');
  const leftAt = Date.now();
  socket.destroy();
  await eventually(() => assert.equal(drip.responses[0].aborted, true), { timeout: 5000, interval: 20 });
  assert.ok(Date.now() - leftAt < 3000, `upstream closed ${Date.now() - leftAt} ms after the client left`);

  // Also while the proxy still waits for the response head: /hang never answers.
  const before = (echoTool.stderr().match(/closed \/hang/g) ?? []).length;
  const waiting = net.connect(proxy.port, '127.0.0.1');
  waiting.on('error', () => {});
  waiting.write(`GET /hang HTTP/1.1\r\nHost: data.test\r\nAuthorization: Bearer ${reader}\r\n\r\n`);
  await new Promise((r) => setTimeout(r, 500));
  waiting.destroy();
  await eventually(() => assert.equal((echoTool.stderr().match(/closed \/hang/g) ?? []).length, before + 1),
    { timeout: 5000, interval: 20 });
});

test('a down upstream gives 502 fast; a silent one gives 504 after upstream.timeoutSeconds',
  { timeout: 20000 }, async () => {
    let t0 = Date.now();
    const down = await rawRequest(proxy.port, { host: 'down.test', path: '/x' });
    const downMs = Date.now() - t0;
    assert.equal(down.status, 502, down.body);
    assert.ok(downMs < 1000, `502 took ${downMs} ms`);

    const before = (echoTool.stderr().match(/closed \/hang/g) ?? []).length;
    t0 = Date.now();
    const silent = await rawRequest(proxy.port, { host: 'silent.test', path: '/hang' });
    const silentMs = Date.now() - t0;
    assert.equal(silent.status, 504, silent.body);
    assert.ok(silentMs >= 1900 && silentMs < 4000, `504 after ${silentMs} ms, policy says 2 s`);
    // The proxy gave up on the upstream connection too.
    await eventually(() => assert.equal((echoTool.stderr().match(/closed \/hang/g) ?? []).length, before + 1),
      { timeout: 3000, interval: 20 });
  });
