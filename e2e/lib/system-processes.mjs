// Processes of the system suites (lib/system-harness.mjs): spawned with their
// output kept, stopped with a grace period, and accounted for, so a suite can
// prove it leaves no process behind, Chromium's helpers included.
//
//   const proc = spawnTracked(registry, 'name', bin, args, { env });   // registry: [{name, pid, start}]
//   await waitOutput(proc, 'stderr', /listening on /);
//   await proc.stop('SIGTERM');                                        // SIGKILL after the grace period
//   trackDescendants(sys); sys.snapshotPids(); sys.leftovers()         // -> [] when all are gone
import { readdirSync, readFileSync } from 'node:fs';
import { spawn } from 'node:child_process';

// /proc/<pid>/stat -> {ppid, start, state} or null when gone. start (clock
// ticks since boot) tells a process from a later one that reuses its pid.
function procStat(pid) {
  try {
    const text = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
    return { state: fields[0], ppid: Number(fields[1]), start: fields[19] };
  } catch {
    return null;
  }
}

// Every living descendant of `root`: [{pid, start}].
export function descendants(root = process.pid) {
  const children = new Map();
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    const stat = procStat(Number(name));
    if (!stat) continue;
    if (!children.has(stat.ppid)) children.set(stat.ppid, []);
    children.get(stat.ppid).push({ pid: Number(name), start: stat.start });
  }
  const out = [];
  const queue = [...(children.get(root) ?? [])];
  while (queue.length) {
    const p = queue.shift();
    out.push(p);
    queue.push(...(children.get(p.pid) ?? []));
  }
  return out;
}

const stillAlive = ({ pid, start }) => {
  const stat = procStat(pid);
  return stat !== null && stat.start === start && stat.state !== 'Z';
};

// A spawned process with its output kept: stop() sends `signal`, then SIGKILL
// after `graceMs`, and resolves once the process is reaped.
export function spawnTracked(registry, name, bin, args, { env } = {}) {
  const child = spawn(bin, args, { stdio: ['ignore', 'pipe', 'pipe'], env: env ?? process.env });
  const proc = { name, child, pid: child.pid, stdout: '', stderr: '' };
  child.stdout.on('data', (d) => { proc.stdout += d; });
  child.stderr.on('data', (d) => { proc.stderr += d; });
  proc.exited = new Promise((resolve) => child.on('exit', (code, signal) => {
    // A process that dies on its own is a finding: say so with its last words.
    if (!proc.stopping) {
      process.stderr.write(`# ${name} (pid ${child.pid}) exited by itself: code ${code} signal ${signal}\n` +
        `${proc.stderr.slice(-3000)}\n`);
    }
    resolve({ code, signal });
  }));
  proc.running = () => child.exitCode === null && child.signalCode === null;
  proc.stop = async (signal = 'SIGTERM', graceMs = 15000) => {
    proc.stopping = true;
    if (proc.running()) child.kill(signal);
    const timer = setTimeout(() => { if (proc.running()) child.kill('SIGKILL'); }, graceMs);
    const result = await proc.exited;
    clearTimeout(timer);
    return result;
  };
  const stat = procStat(child.pid);
  if (stat) registry.push({ name, pid: child.pid, start: stat.start });
  return proc;
}

// Waits until `proc`'s output matches `pattern` (-> the match); throws at
// once if it exits first, or after timeoutMs.
export async function waitOutput(proc, stream, pattern, timeoutMs = 20000) {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const m = proc[stream].match(pattern);
    if (m) return m;
    if (!proc.running()) throw new Error(`${proc.name} exited:\n${proc.stderr.slice(-2000)}`);
    if (Date.now() > end) throw new Error(`${proc.name}: no ${pattern} in ${timeoutMs} ms:\n${proc.stderr.slice(-2000)}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

// Process bookkeeping for "no process left behind": every descendant of this
// test process seen while the system ran (Chromium's helpers included).
export function trackDescendants(sys) {
  const seen = new Map();
  sys.snapshotPids = () => { for (const p of descendants()) seen.set(`${p.pid}:${p.start}`, p); };
  sys.leftovers = () => {
    const all = [...seen.values(), ...sys.registry];
    return all.filter(stillAlive).map((p) => ({ ...p, cmd: cmdline(p.pid) }));
  };
  sys.seenPids = () => seen.size;
}

function cmdline(pid) {
  try { return readFileSync(`/proc/${pid}/cmdline`, 'utf8').replaceAll('\0', ' ').slice(0, 200); } catch { return ''; }
}
