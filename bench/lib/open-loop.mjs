// open-loop.mjs: latency at a fixed offered load (benchmark scenario 2).
//
//   node open-loop.mjs PORT RATE SECONDS HOSTHEADER TOKENFILE [CONNS]
//
// wrk is closed-loop (each connection sends its next request when the last
// one is answered), and wrk2 is not in Debian, so this is the open-loop
// generator: requests are released on a fixed schedule (RATE per second)
// over CONNS (default 128) keep-alive connections to 127.0.0.1:PORT, whatever
// the server's speed. A request whose connection is still busy waits for a
// free one, and its latency is counted from the moment it was due (no
// coordinated omission). The first second is a warm-up and is not recorded.
//
// The schedule: Node timers fire on a ~1 ms grid (and late under load), and
// any release lag is added to the measured latency, so the generator spins
// through the event loop with setImmediate (socket I/O is still handled on
// every turn) while the next request is less than kSpinMs away, and sleeps
// on a timer only for longer gaps. OPEN_LOOP_SCHEDULE=timer selects the old
// 1 ms timer tick, to compare. Run it on a core of its own (bench/run.sh
// pins it): spinning keeps that core busy.
//
// Prints one JSON line: offered and achieved rate, p50/p99/p99.9 in ms,
// non-2xx, errors, how many requests were released more than 1 ms late, and
// the release lag (actual release time minus due time, recorded requests
// only) as p50/p99/p99.9/max in microseconds: the generator's own share of
// every latency figure.
import {readFileSync} from 'node:fs';
import net from 'node:net';

const [portArg, rateArg, secondsArg, hostHeader, tokenFile, connsArg] = process.argv.slice(2);
const port = Number(portArg);
const rate = Number(rateArg);
const seconds = Number(secondsArg);
const conns = Number(connsArg ?? 128);
if (!(port > 0) || !(rate > 0) || !(seconds > 0) || !hostHeader || !tokenFile) {
  console.error('usage: node open-loop.mjs PORT RATE SECONDS HOSTHEADER TOKENFILE [CONNS]');
  process.exit(2);
}
const token = readFileSync(tokenFile, 'utf8').trim();
const request = Buffer.from(`GET /api/bench HTTP/1.1\r\nHost: ${hostHeader}\r\n` +
                            `Authorization: Bearer ${token}\r\n\r\n`, 'latin1');
const kWarmupMs = 1000;
const kSpinMs = 2;  // closer than this to the next due time: spin, do not sleep
const schedule = process.env.OPEN_LOOP_SCHEDULE ?? 'spin';
if (schedule !== 'spin' && schedule !== 'timer') {
  console.error(`open-loop.mjs: OPEN_LOOP_SCHEDULE must be spin or timer, got '${schedule}'`);
  process.exit(2);
}

const latencies = [];  // ms, recorded after the warm-up
let non2xx = 0;
let errors = 0;
let late = 0;
const lags = [];  // ms, release time minus due time, recorded requests only
let completed = 0;
const idle = [];
const backlog = [];  // due times (ms) of requests waiting for a free connection

function Connection() {
  const socket = net.connect({host: '127.0.0.1', port});
  socket.setNoDelay(true);
  const conn = {socket, due: 0, buffered: ''};
  socket.on('connect', () => Release(conn));
  socket.on('data', (chunk) => {
    conn.buffered += chunk.toString('latin1');
    for (;;) {
      const headEnd = conn.buffered.indexOf('\r\n\r\n');
      if (headEnd < 0) return;
      const m = /\r\ncontent-length:\s*(\d+)/i.exec(conn.buffered.slice(0, headEnd));
      const total = headEnd + 4 + (m ? Number(m[1]) : 0);
      if (conn.buffered.length < total) return;
      const status = conn.buffered.slice(9, 12);
      conn.buffered = conn.buffered.slice(total);
      const now = performance.now();
      if (conn.due >= start + kWarmupMs) {
        latencies.push(now - conn.due);
        if (status[0] !== '2') non2xx++;
        completed++;
      }
      Release(conn);
    }
  });
  socket.on('error', () => { errors++; });
  return conn;
}

// A free connection takes the oldest waiting request, or waits itself.
function Release(conn) {
  if (backlog.length > 0) {
    conn.due = backlog.shift();
    conn.socket.write(request);
  } else {
    idle.push(conn);
  }
}

function Send(due) {
  const conn = idle.pop();
  if (conn === undefined) {
    backlog.push(due);
    return;
  }
  conn.due = due;
  conn.socket.write(request);
}

const start = performance.now() + 200;  // let the connections open
const end = start + kWarmupMs + seconds * 1000;
const interval = 1000 / rate;
let nextDue = start;
const connections = Array.from({length: conns}, Connection);

// Releases every request that is due, then waits for the next due time.
function Tick() {
  while (nextDue < end) {
    const now = performance.now();
    if (nextDue > now) break;
    const lag = now - nextDue;
    if (lag > 1) late++;
    if (nextDue >= start + kWarmupMs) lags.push(lag);
    Send(nextDue);
    nextDue += interval;
  }
  if (nextDue >= end) {
    // Give the last requests up to 2 s to finish, then report.
    setTimeout(Report, Math.min(2000, 100 + backlog.length));
    return;
  }
  const wait = nextDue - performance.now();
  if (schedule === 'timer') setTimeout(Tick, Math.max(0, Math.min(1, wait)));
  else if (wait > kSpinMs) setTimeout(Tick, wait - kSpinMs);
  else setImmediate(Tick);
}
setTimeout(Tick, 200);

function Percentile(sorted, p) {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.ceil(p * sorted.length) - 1)];
}

// Release lag in microseconds: {p50, p99, p999, max}.
function LagSummary() {
  const sorted = Float64Array.from(lags).sort();
  const us = (ms) => Math.round(ms * 1000);
  return {p50: us(Percentile(sorted, 0.5)), p99: us(Percentile(sorted, 0.99)),
          p999: us(Percentile(sorted, 0.999)), max: us(sorted[sorted.length - 1] ?? NaN)};
}

function Report() {
  const sorted = Float64Array.from(latencies).sort();
  const result = {
    offered_rps: rate,
    achieved_rps: Math.round(completed / seconds),
    requests: completed,
    p50_ms: Number(Percentile(sorted, 0.5).toFixed(3)),
    p99_ms: Number(Percentile(sorted, 0.99).toFixed(3)),
    p999_ms: Number(Percentile(sorted, 0.999).toFixed(3)),
    non2xx,
    errors,
    late_releases: late,
    schedule,
    release_lag_us: LagSummary(),
    still_waiting: backlog.length,
  };
  console.log(JSON.stringify(result));
  for (const c of connections) c.socket.destroy();
  process.exit(0);
}
