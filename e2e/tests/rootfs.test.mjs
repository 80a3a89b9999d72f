// The container images' root filesystems (scripts/build-rootfs.sh, copied
// as-is into the scratch images of docker/*.Dockerfile) hold everything the
// binaries need: each binary runs from its rootfs alone, chrooted, as uid
// 65532 (the image's USER), with no shell and no other file of this machine:
//   - `--help` of both binaries;
//   - a real `gatehouse-proxy serve --policies` answers /healthz and proxies
//     a request authenticated with a JWT whose keys it fetched itself;
//   - the real operator in local mode pushes to a second chrooted proxy.
// No Docker engine runs here; chroot is what a container runtime does first.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { chmodSync, cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { startEcho, startJoseIdp, policyYaml, rawRequest, eventually, repo } from '../lib/proxy-harness.mjs';
import { withFreePort } from '../lib/ports.mjs';

const run = promisify(execFile);
const buildDir = process.env.GATEHOUSE_BUILD_DIR ?? path.join(repo, 'build');
const binaries = {
  'gatehouse-proxy': process.env.GATEHOUSE_PROXY_BIN ?? path.join(buildDir, 'proxy/cli/gatehouse-proxy'),
  'gatehouse-operator': process.env.GATEHOUSE_OPERATOR_BIN ?? path.join(buildDir, 'operator/gatehouse-operator'),
};
const kUser = '65532:65532';

const work = mkdtempSync(path.join(tmpdir(), 'gh-rootfs-'));
const roots = {};
const children = [];
let echo;
let idp;

// The command that runs `argv` inside `root` as the image's user.
function inRoot(root, argv) {
  if (process.getuid() === 0) return ['chroot', [`--userspec=${kUser}`, root, ...argv]];
  return ['unshare', ['-r', '--root', root, ...argv]];  // unprivileged: a user namespace
}

function startInRoot(root, argv, readyPattern) {
  const [cmd, args] = inRoot(root, argv);
  const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  children.push(child);
  let stderr = '';
  child.stdout.resume();
  const exited = new Promise((resolve) => child.on('exit', (code, signal) => resolve({ code, signal })));
  const ready = new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${argv[0]} did not start:\n${stderr}`)), 15000);
    child.stderr.on('data', (d) => {
      stderr += d;
      const m = readyPattern && stderr.match(readyPattern);
      if (m) { clearTimeout(timer); resolve(m); }
    });
    exited.then(({ code }) => { clearTimeout(timer); reject(new Error(`${argv[0]} exited ${code}:\n${stderr}`)); });
    if (!readyPattern) { clearTimeout(timer); resolve(null); }
  });
  return { child, exited, ready, stderr: () => stderr,
    stop: () => { if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM'); return exited; } };
}

// Puts a folder of policies into the rootfs, readable by the image's user.
function addPolicies(root, name, files) {
  const dir = path.join(root, name);
  mkdirSync(dir, { recursive: true, mode: 0o755 });
  for (const [file, text] of Object.entries(files)) writeFileSync(path.join(dir, file), text, { mode: 0o644 });
  return `/${name}`;
}

before(async () => {
  for (const [name, bin] of Object.entries(binaries)) {
    assert.ok(existsSync(bin), `${bin} is missing: build it first`);
    const root = path.join(work, name);
    await run(path.join(repo, 'scripts/build-rootfs.sh'), [bin, root]);
    chmodSync(work, 0o755);
    chmodSync(root, 0o755);
    roots[name] = root;
  }
  echo = await startEcho();
  idp = await startJoseIdp();
});

after(async () => {
  for (const child of children) {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  }
  await echo?.close();
  await idp?.close();
  rmSync(work, { recursive: true, force: true });
});

test('each rootfs holds the binary, its libraries and nothing for a shell', () => {
  for (const [name, root] of Object.entries(roots)) {
    assert.ok(existsSync(path.join(root, 'usr/local/bin', name)), name);
    assert.ok(existsSync(path.join(root, 'etc/ssl/certs/ca-certificates.crt')), `${name}: CA bundle`);
    assert.ok(!existsSync(path.join(root, 'bin/sh')) && !existsSync(path.join(root, 'usr/bin')), `${name}: a shell`);
    const libs = readdirSync(path.join(root, 'lib/x86_64-linux-gnu'));
    assert.ok(libs.includes('libc.so.6') && libs.includes('libssl.so.3'), `${name}: ${libs}`);
  }
});

test('--help runs from each rootfs as uid 65532', async () => {
  const cases = [
    { name: 'gatehouse-proxy', argv: ['/usr/local/bin/gatehouse-proxy', 'serve', '--help'], out: /usage: gatehouse-proxy serve/ },
    { name: 'gatehouse-operator', argv: ['/usr/local/bin/gatehouse-operator', '--help'], out: /usage: gatehouse-operator run/ },
  ];
  for (const c of cases) {
    const [cmd, args] = inRoot(roots[c.name], c.argv);
    const r = await run(cmd, args).catch((e) => e);
    assert.ok(!(r instanceof Error) || r.code === 0, `${c.name}: ${r.stderr}`);
    assert.match(`${r.stdout}${r.stderr}`, c.out, c.name);
  }
});

test('a rootfs missing one library does not start (the check can fail)', async () => {
  const broken = path.join(work, 'broken');
  cpSync(roots['gatehouse-proxy'], broken, { recursive: true });
  chmodSync(broken, 0o755);
  rmSync(path.join(broken, 'lib/x86_64-linux-gnu/libcpprest.so.2.10'));
  const [cmd, args] = inRoot(broken, ['/usr/local/bin/gatehouse-proxy', 'serve', '--help']);
  const r = await run(cmd, args).catch((e) => e);
  assert.ok(r instanceof Error && r.code !== 0, 'started without libcpprest');
  assert.match(r.stderr, /libcpprest\.so\.2\.10/);
});

test('the chrooted proxy serves: /healthz, and a JWT-authenticated request reaches the upstream', async () => {
  const root = roots['gatehouse-proxy'];
  const policies = addPolicies(root, 'policies', {
    'app.yaml': policyYaml({ name: 'app', host: 'app.test', issuer: idp.issuer, upstream: echo.url,
      rules: '    - name: anyone-signed-in\n      action: Allow\n' }),
  });
  const proxy = startInRoot(root, ['/usr/local/bin/gatehouse-proxy', 'serve', '--policies', policies,
    '--listen', '127.0.0.1:0', '--admin', '127.0.0.1:0', '--threads', '1'], /listening on [^:]+:(\d+), admin on [^:]+:(\d+)/);
  const m = await proxy.ready;
  const [port, admin] = [Number(m[1]), Number(m[2])];
  const health = await fetch(`http://127.0.0.1:${admin}/healthz`);
  assert.equal(health.status, 200);
  assert.equal((await fetch(`http://127.0.0.1:${admin}/readyz`)).status, 200);
  const token = await idp.token({ sub: 'rootfs-user' });
  const r = await eventually(async () => {
    const got = await rawRequest(port, { host: 'app.test', path: '/hello', headers: [['Authorization', `Bearer ${token}`]] });
    assert.equal(got.status, 200, got.body);
    return got;
  });
  assert.equal(JSON.parse(r.body).url, '/hello');
  assert.equal((await rawRequest(port, { host: 'app.test', path: '/hello' })).status, 401);
  assert.equal((await proxy.stop()).code, 0, proxy.stderr());
});

test('the chrooted operator pushes to a chrooted proxy', async () => {
  const proxyRoot = roots['gatehouse-proxy'];
  const proxy = startInRoot(proxyRoot, ['/usr/local/bin/gatehouse-proxy', 'serve', '--bootstrap', '/none.json',
    '--listen', '127.0.0.1:0', '--admin', '127.0.0.1:0', '--threads', '1'], /listening on [^:]+:(\d+), admin on [^:]+:(\d+)/);
  const admin = Number((await proxy.ready)[2]);
  assert.equal((await fetch(`http://127.0.0.1:${admin}/readyz`)).status, 503, 'no config yet');
  const opRoot = roots['gatehouse-operator'];
  const policies = addPolicies(opRoot, 'policies', {
    'app.yaml': policyYaml({ name: 'app', host: 'app.test', issuer: idp.issuer, upstream: echo.url,
      rules: '    - name: anyone-signed-in\n      action: Allow\n' }),
  });
  // The operator's admin server cannot report a port 0 choice: a reserved
  // port, and a new one if a parallel test bound it first.
  let opAdmin;
  const operator = await withFreePort(async (port) => {
    const op = startInRoot(opRoot, ['/usr/local/bin/gatehouse-operator', 'run', '--policies', policies,
      '--proxy', `http://127.0.0.1:${admin}`, '--admin', `127.0.0.1:${port}`], /local mode:/);
    await op.ready;
    opAdmin = port;
    return op;
  });
  await eventually(async () => {
    assert.equal((await fetch(`http://127.0.0.1:${opAdmin}/healthz`)).status, 200);
    assert.equal((await fetch(`http://127.0.0.1:${admin}/readyz`)).status, 200);
  }, { timeout: 15000 });
  const config = await (await fetch(`http://127.0.0.1:${admin}/v1/config`)).json();
  assert.ok(config.version >= 1, JSON.stringify(config));
  await operator.stop();
  assert.equal((await proxy.stop()).code, 0, proxy.stderr());
});
