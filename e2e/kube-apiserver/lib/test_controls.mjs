// Test-only controls under /_test/ (same bearer token as the API):
//   GET    /_test/requests        -> {"counts": {"GET /api/v1/...": 3, "WATCH /apis/...": 1}}
//   DELETE /_test/requests        reset the counters
//   POST   /_test/compact         forget history: older resourceVersions become "too old" (410)
//   POST   /_test/drop-watches    end every open watch stream -> {"dropped": n}
//   POST   /_test/faults          {"method":"PUT","pathPrefix":"/apis/...","status":500,"latencyMs":200,"times":2}
//   GET    /_test/faults          active fault rules; DELETE /_test/faults clears them
//   GET    /_test/state           {"resourceVersion": "42", "floor": "1", "watches": 2}
//   GET    /_test/commits[?since=RV]  the last 1000 committed writes, oldest first:
//          {"commits": [{"resourceVersion", "type", "resource", "namespace", "name",
//                        "generation", "committedAtMs"}]}; committedAtMs is the wall
//          clock (performance.timeOrigin + performance.now(), sub-millisecond) at
//          the moment the store committed the write, before the client is answered
//          and before any watcher is sent the event (benchmarks time from it).
//
// Usage (inside KubeApi): const fault = await controls.before(req, url); if (fault) throw fault;

import { readBody, sendJson } from './content.mjs';
import { ApiError, badRequest, pathNotFound, statusBody } from './status.mjs';

const kCommitLogLimit = 1000;

const kReasons = { 429: 'TooManyRequests', 500: 'InternalError', 503: 'ServiceUnavailable', 504: 'Timeout', 409: 'Conflict', 403: 'Forbidden' };

export class TestControls {
  constructor(api) {
    this.api_ = api;
    this.counts_ = {};
    this.faults_ = [];
    this.commits_ = [];
    api.store.subscribe((event) => this.recordCommit_(event));
  }

  recordCommit_(event) {
    const meta = event.object?.metadata ?? {};
    this.commits_.push({
      resourceVersion: String(event.rv), type: event.type, resource: event.key,
      namespace: meta.namespace ?? '', name: meta.name ?? '', generation: meta.generation ?? null,
      committedAtMs: performance.timeOrigin + performance.now(),
    });
    if (this.commits_.length > kCommitLogLimit) this.commits_.splice(0, this.commits_.length - kCommitLogLimit);
  }

  // Counts the request, then applies the first matching fault rule (latency and/or error).
  async before(req, url) {
    const isWatch = url.searchParams.get('watch') === 'true' || url.searchParams.get('watch') === '1' || url.pathname.includes('/watch/');
    const key = `${isWatch ? 'WATCH' : req.method} ${url.pathname}`;
    this.counts_[key] = (this.counts_[key] ?? 0) + 1;
    const rule = this.faults_.find((f) =>
      (!f.method || f.method === (isWatch ? 'WATCH' : req.method)) && url.pathname.startsWith(f.pathPrefix ?? '/'));
    if (!rule) return null;
    if (rule.times !== undefined && --rule.times <= 0) this.faults_.splice(this.faults_.indexOf(rule), 1);
    if (rule.latencyMs) await new Promise((r) => setTimeout(r, rule.latencyMs));
    if (!rule.status) return null;
    const headers = rule.status === 429 || rule.status === 503 ? { 'Retry-After': '1' } : {};
    return new ApiError(statusBody({ code: rule.status, reason: kReasons[rule.status] ?? 'InternalError', message: 'injected fault' }), headers);
  }

  async handle(req, res, url) {
    const route = `${req.method} ${url.pathname}`;
    switch (route) {
      case 'GET /_test/requests':
        return sendJson(res, 200, { counts: this.counts_ });
      case 'DELETE /_test/requests':
        this.counts_ = {};
        return sendJson(res, 200, { counts: {} });
      case 'POST /_test/compact':
        this.api_.store.compact();
        return sendJson(res, 200, { resourceVersion: String(this.api_.store.currentRv()) });
      case 'POST /_test/drop-watches':
        return sendJson(res, 200, { dropped: this.api_.closeWatches() });
      case 'GET /_test/state':
        return sendJson(res, 200, {
          resourceVersion: String(this.api_.store.currentRv()),
          floor: String(this.api_.store.floor()),
          watches: this.api_.watchCount(),
        });
      case 'GET /_test/commits': {
        const since = Number(url.searchParams.get('since') ?? 0);
        if (!Number.isFinite(since)) throw badRequest('since must be a resourceVersion');
        return sendJson(res, 200, { commits: this.commits_.filter((c) => Number(c.resourceVersion) > since) });
      }
      case 'GET /_test/faults':
        return sendJson(res, 200, { faults: this.faults_ });
      case 'DELETE /_test/faults':
        this.faults_ = [];
        return sendJson(res, 200, { faults: [] });
      case 'POST /_test/faults': {
        const rule = (await readBody(req)) ?? {};
        if (typeof rule !== 'object' || (!rule.status && !rule.latencyMs)) throw badRequest('a fault needs status and/or latencyMs');
        this.faults_.push(rule);
        return sendJson(res, 201, rule);
      }
      default:
        throw pathNotFound();
    }
  }
}
