// Ports for the processes a test starts, without the reserve-then-bind race.
//
// Preferred: let the server choose. Node servers listen(0) and read
// server.address(); gatehouse-proxy takes `--listen 127.0.0.1:0 --admin
// 127.0.0.1:0` and logs "listening on H:P, admin on H:Q" (parseProxyPorts).
//
// Only where a process cannot report a port it chose (the operator's --admin,
// nginx, Prometheus) is a port reserved first with freePort(); it is free a
// moment ago, and a parallel test (ctest -j) may bind it before our process
// does. Such starts go through withFreePort(), which retries with a new port
// when the start failed on "Address already in use":
//
//   const nginx = await withFreePort(async (port) => startOn(port));  // start throws on failure
//   isAddressInUse(stderrText)                                        // -> true on EADDRINUSE
//
// freePort() alone is still right for a port nothing should listen on (an
// upstream or issuer that refuses connections).
import net from 'node:net';

// A port that was free a moment ago (nothing listens on it when this returns).
export async function freePort() {
  const server = net.createServer();
  await new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', resolve);
  });
  const { port } = server.address();
  await new Promise((resolve) => server.close(resolve));
  return port;
}

// True when a process's output or an error says the port was taken.
export function isAddressInUse(text) {
  return /address already in use|EADDRINUSE/i.test(String(text ?? ''));
}

// Calls start(port) with a freshly reserved port; when it throws an error whose
// message says "Address already in use" (the start must stop whatever it
// spawned before throwing), tries again with a new port, `attempts` times in
// all. Any other error is thrown at once.
export async function withFreePort(start, { attempts = 5 } = {}) {
  let last;
  for (let attempt = 1; attempt <= attempts; attempt += 1) {
    const port = await freePort();
    try {
      return await start(port);
    } catch (e) {
      if (!isAddressInUse(e?.message)) throw e;
      last = e;
    }
  }
  throw new Error(`no free port after ${attempts} attempts: ${last?.message}`);
}

// Retries start() on "Address already in use" when the port is fixed (a
// process restarted on the port it had): the port may be held for a moment by
// another process, so waits `delayMs` between attempts.
export async function retryOnAddressInUse(start, { attempts = 10, delayMs = 200 } = {}) {
  for (let attempt = 1; ; attempt += 1) {
    try {
      return await start();
    } catch (e) {
      if (!isAddressInUse(e?.message) || attempt >= attempts) throw e;
      await new Promise((r) => setTimeout(r, delayMs));
    }
  }
}

// gatehouse-proxy's start line -> {port, admin}, or null when not there yet.
export function parseProxyPorts(text) {
  const m = /listening on [^\s]+:(\d+), admin on [^\s]+:(\d+)/.exec(text);
  return m ? { port: Number(m[1]), admin: Number(m[2]) } : null;
}
