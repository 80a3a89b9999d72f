// The stand-in servers of e2e/tools parse their flags strictly (tool-args.mjs):
// a typo, a missing value, a stray argument or a bad port stops the tool with
// exit code 2 and a message naming the flag, instead of silently running with
// defaults; good flags start it on the port it chose (--port 0).
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import path from 'node:path';
import { repo } from '../lib/proxy-harness.mjs';

const kTools = ['echo-upstream.mjs', 'internal-api.mjs', 'metabase-standin.mjs', 'local-idp.mjs', 'login-idp.mjs'];

// Runs a tool until it prints its {"port"|"issuer"} line (then stops it) or exits.
function runTool(tool, args) {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [path.join(repo, 'e2e/tools', tool), ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    let started = false;
    const timer = setTimeout(() => child.kill('SIGKILL'), 15000);
    child.stdout.on('data', (d) => {
      stdout += d;
      if (!started && /^\{.*\}\n/m.test(stdout)) { started = true; child.kill('SIGTERM'); }
    });
    child.stderr.on('data', (d) => { stderr += d; });
    child.on('exit', (code) => { clearTimeout(timer); resolve({ code, stdout, stderr, started }); });
  });
}

const kBad = [
  { name: 'unknown flag', args: ['--prot', '0'], says: /'--prot'/ },
  { name: 'flag without its value', args: ['--port'], says: /'--port <value>' argument missing/ },
  { name: 'port not a number', args: ['--port', '80x'], says: /--port: .*'80x'/ },
  { name: 'port out of range', args: ['--port', '65536'], says: /--port: .*'65536'/ },
  { name: 'negative port', args: ['--port=-1'], says: /--port: .*'-1'/ },
  { name: 'stray argument', args: ['--port', '0', 'extra'], says: /'extra'/ },
];

describe('tool flags', { concurrency: 4 }, () => {
  for (const tool of kTools) {
    for (const c of kBad) {
      test(`${tool}: ${c.name} is refused with exit 2`, async () => {
        const r = await runTool(tool, c.args);
        assert.equal(r.started, false, `${tool} started anyway: ${r.stdout}`);
        assert.equal(r.code, 2, r.stderr);
        assert.match(r.stderr, c.says);
        assert.match(r.stderr, new RegExp(`^${tool.replace('.mjs', '')}: `, 'm'), 'the message names the tool');
        assert.match(r.stderr, /usage: /);
      });
    }
    test(`${tool}: --port 0 starts on a port chosen at bind`, async () => {
      const r = await runTool(tool, ['--port', '0', '--host', '127.0.0.1']);
      assert.ok(r.started, `${tool} did not start: ${r.stderr}`);
      const line = JSON.parse(r.stdout.split('\n')[0]);
      const port = line.port ?? Number(new URL(line.issuer).port);
      assert.ok(port > 0 && port < 65536, JSON.stringify(line));
    });
  }
});
