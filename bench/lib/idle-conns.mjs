// idle-conns.mjs: hold many idle keep-alive connections open against a proxy.
//
//   node idle-conns.mjs HOST PORT COUNT HOSTHEADER TOKENFILE
//
// Opens COUNT TCP connections (a few hundred at a time, so the listen backlog
// never overflows), sends one authenticated GET on each and waits for its full
// response, then keeps every connection open and idle. When all are done it
// prints one line `ready OK=<n> FAILED=<n> OPEN=<n> STATUS=<code:count,...>`
// and holds them until SIGTERM (or ten minutes). Source addresses rotate over
// 127.0.0.1-127.0.0.8 when the target is on loopback, so the ephemeral port
// range never runs out.
import {readFileSync} from 'node:fs';
import net from 'node:net';

const [host, portArg, countArg, hostHeader, tokenFile] = process.argv.slice(2);
const port = Number(portArg);
const count = Number(countArg);
const token = readFileSync(tokenFile, 'utf8').trim();
const request = `GET /api/bench HTTP/1.1\r\nHost: ${hostHeader}\r\n` +
                `Authorization: Bearer ${token}\r\nUser-Agent: gatehouse-bench-idle\r\n\r\n`;
const kBatch = 250;
const sockets = [];
const statuses = new Map();
let ok = 0;
let failed = 0;

function OneConnection(index) {
  return new Promise((resolve) => {
    const options = {host, port};
    if (host.startsWith('127.')) options.localAddress = `127.0.0.${1 + (index % 8)}`;
    const socket = net.connect(options);
    let buffered = '';
    let settled = false;
    const finish = (good, status) => {
      if (settled) return;
      settled = true;
      statuses.set(status, (statuses.get(status) || 0) + 1);
      if (good) ok++; else failed++;
      resolve();
    };
    socket.setNoDelay(true);
    socket.setTimeout(30000, () => { finish(false, 'timeout'); socket.destroy(); });
    socket.on('connect', () => socket.write(request));
    socket.on('data', (chunk) => {
      if (settled) return;
      buffered += chunk.toString('latin1');
      const headEnd = buffered.indexOf('\r\n\r\n');
      if (headEnd < 0) return;
      const status = buffered.slice(9, 12);
      const m = /\r\ncontent-length:\s*(\d+)/i.exec(buffered.slice(0, headEnd));
      const length = m ? Number(m[1]) : 0;
      if (buffered.length - headEnd - 4 < length) return;
      socket.setTimeout(0);
      finish(status === '200', status);
    });
    socket.on('error', (e) => finish(false, e.code || 'error'));
    socket.on('close', () => finish(false, 'closed'));
    sockets.push(socket);
  });
}

for (let start = 0; start < count; start += kBatch) {
  const batch = [];
  for (let i = start; i < Math.min(count, start + kBatch); i++) batch.push(OneConnection(i));
  await Promise.all(batch);
}
const summary = [...statuses].map(([k, v]) => `${k}:${v}`).join(',');
// Count connections that are still open now, not just the ones that answered.
const open = sockets.filter((s) => !s.destroyed && s.readyState === 'open').length;
console.log(`ready OK=${ok} FAILED=${failed} OPEN=${open} STATUS=${summary}`);

const closeAll = () => {
  for (const s of sockets) s.destroy();
  process.exit(0);
};
process.on('SIGTERM', closeAll);
process.on('SIGINT', closeAll);
// Nothing else keeps the event loop busy once every socket is idle; never
// outlive the benchmark by more than ten minutes even if it forgets us.
setTimeout(closeAll, 600_000);
