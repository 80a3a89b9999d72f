// The command line entry: prints one JSON line when listening, writes a
// kubeconfig, answers with the token only, and exits on SIGTERM.

import { after, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import YAML from 'yaml';

const serverPath = join(dirname(fileURLToPath(import.meta.url)), '..', 'server.mjs');
const dir = mkdtempSync(join(tmpdir(), 'kube-apiserver-cli-'));
let child;
after(() => {
  child?.kill('SIGKILL');
  rmSync(dir, { recursive: true, force: true });
});

it('starts, prints its URL, writes a kubeconfig and stops on SIGTERM', async () => {
  const kubeconfig = join(dir, 'kubeconfig');
  child = spawn(process.execPath, [serverPath, '--port', '0', '--token', 'cli-token', '--kubeconfig-out', kubeconfig], { stdio: ['ignore', 'pipe', 'inherit'] });
  const line = await new Promise((resolve, reject) => {
    let out = '';
    child.stdout.on('data', (d) => {
      out += d;
      if (out.includes('\n')) resolve(out.split('\n')[0]);
    });
    child.on('exit', (code) => reject(new Error(`server exited with ${code}`)));
  });
  const info = JSON.parse(line);
  assert.match(info.url, /^http:\/\/127\.0\.0\.1:\d+$/);
  assert.equal(info.url, `http://127.0.0.1:${info.port}`);
  const config = YAML.parse(readFileSync(kubeconfig, 'utf8'));
  assert.equal(config.clusters[0].cluster.server, info.url);
  assert.equal(config.users[0].user.token, 'cli-token');

  const denied = await fetch(`${info.url}/api/v1/namespaces`);
  assert.equal(denied.status, 401);
  const ok = await fetch(`${info.url}/api/v1/namespaces`, { headers: { Authorization: 'Bearer cli-token' } });
  assert.equal(ok.status, 200);
  const names = (await ok.json()).items.map((n) => n.metadata.name);
  assert.deepEqual(names, ['default', 'kube-node-lease', 'kube-public', 'kube-system']);

  const exited = new Promise((resolve) => child.on('exit', (code, signal) => resolve({ code, signal })));
  child.kill('SIGTERM');
  assert.deepEqual(await exited, { code: 0, signal: null });
});
