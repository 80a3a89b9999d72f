// The HTTP shell: authentication, test controls, discovery, OpenAPI and the
// REST verbs, dispatched onto ResourceService and WatchStream.
//
// Usage:
//   const api = new KubeApi({ token, clock, bookmarkIntervalMs, historyLimit });
//   http.createServer((req, res) => api.handle(req, res));
//   api.closeWatches();   // before server.close()

import { timingSafeEqual } from 'node:crypto';
import { Store } from './store.mjs';
import { Registry, storageKey } from './registry.mjs';
import { kBuiltinTypes, kInitialNamespaces } from './builtin_types.mjs';
import { ResourceService, buildMatcher } from './resource_service.mjs';
import { WatchStream } from './watch.mjs';
import { parseResourcePath } from './routing.mjs';
import { negotiate, readBody, sendJson } from './content.mjs';
import { toTable } from './table.mjs';
import { openApiV3Document, openApiV3Index } from './openapi.mjs';
import { TestControls } from './test_controls.mjs';
import { ApiError, badRequest, internalError, methodNotAllowed, pathNotFound, unauthorized } from './status.mjs';

const kFieldValidation = ['', 'Strict', 'Warn', 'Ignore'];

export class KubeApi {
  constructor({ token, clock = Date.now, bookmarkIntervalMs = 60_000, historyLimit = 1000, defaultWatchTimeoutSeconds = 1800 }) {
    if (!token) throw new Error('a bearer token is required');
    this.token_ = Buffer.from(`Bearer ${token}`);
    this.clock_ = clock;
    this.bookmarkIntervalMs_ = bookmarkIntervalMs;
    this.defaultWatchTimeoutSeconds_ = defaultWatchTimeoutSeconds;
    this.store_ = new Store({ historyLimit });
    this.registry_ = new Registry(kBuiltinTypes);
    this.watches_ = new Set();
    this.service_ = new ResourceService({
      store: this.store_, registry: this.registry_, clock,
      onTypesChanged: ({ removed }) => removed && this.closeWatches((w) => storageKey(w.opts_.type) === removed),
    });
    this.controls_ = new TestControls(this);
    this.serverAddress = '';
  }

  // Creates the namespaces a fresh cluster has; call once before serving.
  async init() {
    const nsType = this.registry_.find('', 'v1', 'namespaces');
    for (const name of kInitialNamespaces) {
      await this.service_.create(nsType, undefined, { apiVersion: 'v1', kind: 'Namespace', metadata: { name } });
    }
  }

  get store() {
    return this.store_;
  }

  watchCount() {
    return this.watches_.size;
  }

  closeWatches(filter = () => true) {
    let n = 0;
    for (const w of [...this.watches_]) {
      if (filter(w)) {
        w.close();
        n += 1;
      }
    }
    return n;
  }

  authenticated_(req) {
    const given = Buffer.from(String(req.headers.authorization ?? ''));
    return given.length === this.token_.length && timingSafeEqual(given, this.token_);
  }

  async handle(req, res) {
    const url = new URL(req.url, 'http://localhost');
    try {
      // Deny by default: every path, test controls included, needs the bearer token.
      if (!this.authenticated_(req)) throw unauthorized();
      if (url.pathname.startsWith('/_test/')) return await this.controls_.handle(req, res, url);
      const fault = await this.controls_.before(req, url);
      if (fault) throw fault;
      await this.route_(req, res, url);
    } catch (e) {
      if (res.headersSent) {
        res.destroy();
        return;
      }
      const err = e instanceof ApiError ? e : internalError(e?.message ?? String(e));
      if (!(e instanceof ApiError)) console.error('kube-apiserver internal error:', e);
      for (const [k, v] of Object.entries(err.headers ?? {})) res.setHeader(k, v);
      sendJson(res, err.status.code, err.status);
    }
  }

  async route_(req, res, url) {
    const p = url.pathname.replace(/\/+$/, '') || '/';
    if (req.method !== 'GET' && ['/version', '/api', '/apis', '/healthz', '/readyz', '/livez'].includes(p)) throw methodNotAllowed();
    if (p === '/version') return sendJson(res, 200, kVersion);
    if (p === '/healthz' || p === '/readyz' || p === '/livez') {
      res.writeHead(200, { 'Content-Type': 'text/plain; charset=utf-8' });
      return res.end('ok');
    }
    if (p === '/api') return sendJson(res, 200, this.registry_.apiVersions(this.serverAddress));
    if (p === '/apis') return sendJson(res, 200, this.registry_.apiGroupList());
    if (p === '/openapi/v3') return sendJson(res, 200, openApiV3Index(this.registry_));
    if (p.startsWith('/openapi/v3/')) return this.openApi_(res, p);
    const groupOnly = /^\/apis\/([^/]+)$/.exec(p);
    if (groupOnly) {
      const group = this.registry_.apiGroup(groupOnly[1]);
      if (!group) throw pathNotFound();
      return sendJson(res, 200, { kind: 'APIGroup', apiVersion: 'v1', ...group });
    }
    const target = parseResourcePath(this.registry_, p);
    if (!target) throw pathNotFound();
    if (target.discovery) {
      const list = this.registry_.apiResourceList(target.group, target.version);
      if (!list) throw pathNotFound();
      return sendJson(res, 200, list);
    }
    return this.resource_(req, res, url, target);
  }

  openApi_(res, p) {
    const m = /^\/openapi\/v3\/(?:api\/([^/]+)|apis\/([^/]+)\/([^/]+))$/.exec(p);
    if (!m) throw pathNotFound();
    const doc = m[1] ? openApiV3Document(this.registry_, '', m[1]) : openApiV3Document(this.registry_, m[2], m[3]);
    if (!doc) throw pathNotFound();
    return sendJson(res, 200, doc);
  }

  writeOptions_(url) {
    const fieldValidation = url.searchParams.get('fieldValidation') ?? '';
    if (!kFieldValidation.includes(fieldValidation)) {
      throw badRequest(`fieldValidation parameter unsupported: ${fieldValidation}`);
    }
    const dryRun = url.searchParams.getAll('dryRun');
    if (dryRun.some((d) => d !== 'All')) throw badRequest(`dryRun: Unsupported value: "${dryRun[0]}": supported values: "All"`);
    return { fieldValidation: fieldValidation || 'Warn', dryRun: dryRun.length > 0 };
  }

  async resource_(req, res, url, target) {
    const { type, namespace, name, subresource } = target;
    const q = url.searchParams;
    const isWatch = target.legacyWatch || q.get('watch') === 'true' || q.get('watch') === '1';
    if (name === undefined) {
      if (req.method === 'GET' && isWatch) return this.watch_(req, res, target, q);
      if (req.method === 'GET') return this.sendList_(req, res, type, this.service_.list(type, namespace, q));
      if (req.method === 'POST') {
        if (type.namespaced && namespace === undefined) throw methodNotAllowed();
        const out = await this.service_.create(type, namespace, await readBody(req), this.writeOptions_(url));
        return this.sendObject_(req, res, type, out);
      }
      if (req.method === 'DELETE') {
        const options = (await readBody(req)) ?? {};
        return sendJson(res, 200, this.service_.deleteCollection(type, namespace, q, options, this.writeOptions_(url)));
      }
      throw methodNotAllowed();
    }
    if (isWatch) {
      // Legacy /watch/.../{name}: a watch of one object.
      const scoped = new URLSearchParams(q);
      scoped.set('fieldSelector', [q.get('fieldSelector'), `metadata.name=${name}`].filter(Boolean).join(','));
      return this.watch_(req, res, { ...target, name: undefined }, scoped);
    }
    const opts = { ...this.writeOptions_(url), subresource };
    switch (req.method) {
      case 'GET':
        return this.sendObject_(req, res, type, { object: this.service_.get(type, namespace, name), code: 200 });
      case 'PUT':
        return this.sendObject_(req, res, type, await this.service_.update(type, namespace, name, await readBody(req), opts));
      case 'PATCH': {
        const contentType = String(req.headers['content-type'] ?? '').split(';')[0].trim();
        const body = await readBody(req);
        return this.sendObject_(req, res, type, await this.service_.patch(type, namespace, name, contentType, body, opts));
      }
      case 'DELETE':
        if (subresource) throw methodNotAllowed();
        return this.sendObject_(req, res, type, this.service_.delete(type, namespace, name, (await readBody(req)) ?? {}, opts));
      default:
        throw methodNotAllowed();
    }
  }

  encoder_(req, type) {
    const want = negotiate(req.headers.accept);
    const now = this.clock_();
    const q = new URL(req.url, 'http://localhost').searchParams;
    if (want.as === 'Table') {
      return (obj) => (obj.kind === 'Status' ? obj : toTable(type, [obj], { now, includeObject: q.get('includeObject') ?? 'Metadata', tableVersion: want.version, listMeta: { resourceVersion: obj.metadata.resourceVersion } }));
    }
    if (want.as === 'PartialObjectMetadata' || want.as === 'PartialObjectMetadataList') {
      return (obj) => (obj.kind === 'Status' ? obj : { kind: 'PartialObjectMetadata', apiVersion: `meta.k8s.io/${want.version}`, metadata: obj.metadata });
    }
    return (obj) => obj;
  }

  sendObject_(req, res, type, { object, code, warnings = [] }) {
    sendJson(res, code, this.encoder_(req, type)(object), { warnings });
  }

  sendList_(req, res, type, list) {
    const want = negotiate(req.headers.accept);
    const listMeta = { resourceVersion: list.resourceVersion };
    if (list.continue) {
      listMeta.continue = list.continue;
      listMeta.remainingItemCount = list.remainingItemCount;
    }
    const q = new URL(req.url, 'http://localhost').searchParams;
    if (want.as === 'Table') {
      const table = toTable(type, list.items, { now: this.clock_(), includeObject: q.get('includeObject') ?? 'Metadata', listMeta, tableVersion: want.version });
      return sendJson(res, 200, table, { contentType: `application/json;as=Table;v=${want.version};g=meta.k8s.io` });
    }
    if (want.as === 'PartialObjectMetadataList' || want.as === 'PartialObjectMetadata') {
      return sendJson(res, 200, {
        kind: 'PartialObjectMetadataList', apiVersion: `meta.k8s.io/${want.version}`, metadata: listMeta,
        items: list.items.map((o) => ({ kind: 'PartialObjectMetadata', apiVersion: `meta.k8s.io/${want.version}`, metadata: o.metadata })),
      });
    }
    // Typed (built-in) lists carry no kind/apiVersion on their items; unstructured (custom) ones do.
    const items = type.builtin ? list.items.map(({ kind, apiVersion, ...rest }) => rest) : list.items;
    const apiVersion = type.group ? `${type.group}/${type.version}` : type.version;
    return sendJson(res, 200, { apiVersion, items, kind: type.listKind, metadata: listMeta });
  }

  watch_(req, res, target, q) {
    const { type, namespace } = target;
    const matches = buildMatcher(type, q);
    const rv = q.get('resourceVersion') ?? '';
    if (rv !== '' && !/^\d+$/.test(rv)) throw badRequest(`invalid resourceVersion: ${JSON.stringify(rv)}`);
    const timeout = q.get('timeoutSeconds');
    const stream = new WatchStream(res, {
      store: this.store_,
      type,
      namespace,
      matches,
      present: (o) => this.service_.present(type, o),
      encode: this.encoder_(req, type),
      allowBookmarks: q.get('allowWatchBookmarks') === 'true',
      bookmarkIntervalMs: this.bookmarkIntervalMs_,
      timeoutSeconds: timeout ? Number(timeout) : this.defaultWatchTimeoutSeconds_,
    });
    this.watches_.add(stream);
    stream.onClose = () => this.watches_.delete(stream);
    stream.start(rv, { sendInitialEvents: q.get('sendInitialEvents') === 'true' });
  }
}

const kVersion = {
  major: '1',
  minor: '32',
  gitVersion: 'v1.32.0-gatehouse-test',
  gitCommit: '0000000000000000000000000000000000000000',
  gitTreeState: 'clean',
  buildDate: '2025-01-01T00:00:00Z',
  goVersion: 'go1.23.4',
  compiler: 'gc',
  platform: 'linux/amd64',
};
