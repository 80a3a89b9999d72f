// A real Prometheus (Debian `prometheus`, run in the foreground) scraping the
// Gatehouse processes of a test, and the Grafana dashboard's queries.
//
//   const prom = await startPrometheus({ jobs: { proxy: ['127.0.0.1:9901'], operator: ['127.0.0.1:8081'] } });
//   await prom.waitForTargets(2);                  // every target scraped and up
//   const series = await prom.query('sum(gatehouse_decisions_total)');  // [{metric, value: Number}]
//   for (const q of dashboardQueries(dashboard)) await prom.query(grafanaExpr(q.expr, { rate: '1m' }));
//   await prom.stop();                              // SIGTERM; the TSDB folder is removed
//
// Scrape interval 1 s by default, so a test waits seconds, not minutes.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { freePort } from './ports.mjs';

export const prometheusBin = process.env.PROMETHEUS_BIN ?? '/usr/bin/prometheus';

// jobs: {name: ['host:port', ...]} scraped over plain HTTP at /metrics.
export async function startPrometheus({ jobs, scrapeInterval = '1s' }) {
  const dir = mkdtempSync(path.join(tmpdir(), 'gh-prom-'));
  const scrapeConfigs = Object.entries(jobs).map(([job, targets]) => (
    `  - job_name: ${JSON.stringify(job)}\n    static_configs:\n      - targets: ${JSON.stringify(targets)}\n`));
  writeFileSync(path.join(dir, 'prometheus.yml'),
    `global:\n  scrape_interval: ${scrapeInterval}\n  scrape_timeout: ${scrapeInterval}\n` +
    `  evaluation_interval: ${scrapeInterval}\nscrape_configs:\n${scrapeConfigs.join('')}`);
  let lastError;
  for (let attempt = 0; attempt < 3; attempt += 1) {
    // Prometheus cannot report a port it chose: one free a moment ago, and the
    // start is retried on a new port if a parallel test bound it first.
    const port = await freePort();
    const child = spawn(prometheusBin, [`--config.file=${path.join(dir, 'prometheus.yml')}`,
      `--storage.tsdb.path=${path.join(dir, `tsdb-${attempt}`)}`, `--web.listen-address=127.0.0.1:${port}`,
      '--log.level=warn'], { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d) => { stderr += d; });
    const exited = new Promise((resolve) => child.on('exit', (code, signal) => resolve({ code, signal })));
    const url = `http://127.0.0.1:${port}`;
    const ready = await waitReady(url, exited);
    if (ready) return handle({ url, child, exited, dir, stderr: () => stderr });
    lastError = new Error(`prometheus did not start:\n${stderr}`);
    if (child.exitCode === null) child.kill('SIGKILL');
    await exited;
  }
  rmSync(dir, { recursive: true, force: true });
  throw lastError;
}

async function waitReady(url, exited) {
  let done = false;
  exited.then(() => { done = true; });
  const end = Date.now() + 20000;
  while (!done && Date.now() < end) {
    try {
      if ((await fetch(`${url}/-/ready`)).status === 200) return true;
    } catch { /* not listening yet */ }
    await new Promise((r) => setTimeout(r, 100));
  }
  return false;
}

function handle({ url, child, exited, dir, stderr }) {
  const api = async (p, params) => {
    const r = await fetch(`${url}${p}?${new URLSearchParams(params)}`);
    const body = await r.json();
    if (body.status !== 'success') throw new Error(`${p} ${JSON.stringify(params)}: ${body.error ?? r.status}`);
    return body.data;
  };
  return {
    url,
    stderr,
    // Instant query -> [{metric: {labels}, value: Number}] (NaN stays NaN).
    async query(expr) {
      const data = await api('/api/v1/query', { query: expr });
      if (data.resultType === 'scalar') return [{ metric: {}, value: Number(data.result[1]) }];
      return data.result.map((s) => ({ metric: s.metric, value: Number(s.value[1]) }));
    },
    async targets() {
      return (await api('/api/v1/targets', { state: 'active' })).activeTargets;
    },
    // Resolves when `count` targets have been scraped successfully.
    async waitForTargets(count, { timeout = 20000 } = {}) {
      const end = Date.now() + timeout;
      let targets = [];
      while (Date.now() < end) {
        targets = await this.targets();
        if (targets.length === count && targets.every((t) => t.health === 'up')) return targets;
        await new Promise((r) => setTimeout(r, 200));
      }
      throw new Error(`targets not up: ${JSON.stringify(targets.map((t) => [t.scrapeUrl, t.health, t.lastError]))}`);
    },
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      await exited;
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

// Every query of a Grafana dashboard: [{panel, refId, expr}], rows included.
export function dashboardQueries(dashboard) {
  const out = [];
  const visit = (panels) => {
    for (const panel of panels ?? []) {
      for (const target of panel.targets ?? []) {
        if (target.expr) out.push({ panel: panel.title, refId: target.refId, expr: target.expr });
      }
      visit(panel.panels);
    }
  };
  visit(dashboard.panels);
  return out;
}

// Grafana's built-in variables -> fixed values a test can evaluate.
// `datasource`-type variables do not appear in expressions.
export function grafanaExpr(expr, { rate = '1m', range = '5m', interval = '1s' } = {}) {
  return expr
    .replaceAll('$__rate_interval', rate)
    .replaceAll('${__rate_interval}', rate)
    .replaceAll('$__range', range)
    .replaceAll('${__range}', range)
    .replaceAll('$__interval', interval)
    .replaceAll('${__interval}', interval);
}
