// REST semantics of one API server: get, list, create, update, patch, delete
// and deletecollection over the Store, with optimistic concurrency, no-op
// write elision, finalizers, namespace and CRD lifecycles.
//
// Usage:
//   const svc = new ResourceService({ store, registry, clock });
//   const { object, warnings, code } = await svc.create(type, 'default', body, { fieldValidation: 'Strict' });
//   const list = svc.list(type, null, new URLSearchParams('labelSelector=app=web'));

import { randomUUID, randomBytes } from 'node:crypto';
import { admitCreate, admitUpdate, groupVersion, isNoop } from './admission.mjs';
import { crdStatus, typesFromCrd } from './crd.mjs';
import { applyJsonPatch, applyMergePatch, applyStrategicMergePatch, PatchError } from './patch.mjs';
import { parseFieldSelector, parseLabelSelector, SelectorError } from './selectors.mjs';
import { storageKey } from './registry.mjs';
import {
  ApiError, alreadyExists, badRequest, conflict, expired, kStaleMessage, namespaceNotFound,
  notFound, statusBody, successStatus, tooLargeResourceVersion, unsupportedMediaType,
} from './status.mjs';
import { invalidValue } from './field_errors.mjs';
import { invalid } from './status.mjs';

const kCustomResourcePatchTypes = ['application/json-patch+json', 'application/merge-patch+json'];
const kBuiltinPatchTypes = [...kCustomResourcePatchTypes, 'application/strategic-merge-patch+json'];

function parseRv(value, what = 'resourceVersion') {
  if (!/^\d+$/.test(value)) throw badRequest(`invalid ${what}: ${JSON.stringify(value)}`);
  return Number(value);
}

export function buildMatcher(type, query) {
  try {
    const labels = parseLabelSelector(query.get('labelSelector'));
    const fields = parseFieldSelector(query.get('fieldSelector'), type.fieldSelectors);
    return (obj) => labels(obj.metadata.labels) && fields(obj);
  } catch (e) {
    if (e instanceof SelectorError) throw badRequest(e.message);
    throw e;
  }
}

class ClusterIpAllocator {
  constructor() {
    this.next_ = 1;
  }
  nextClusterIp() {
    this.next_ += 1;
    return `10.96.${Math.floor(this.next_ / 250)}.${(this.next_ % 250) + 1}`;
  }
}

export class ResourceService {
  constructor({ store, registry, clock, onTypesChanged }) {
    this.store_ = store;
    this.registry_ = registry;
    this.clock_ = clock;
    this.onTypesChanged_ = onTypesChanged ?? (() => {});
    this.ctx_ = {
      nowIso: () => new Date(this.clock_()).toISOString().replace(/\.\d{3}Z$/, 'Z'),
      newUid: () => randomUUID(),
      randomSuffix: () => randomBytes(3).toString('hex').slice(0, 5),
      allocator: new ClusterIpAllocator(),
    };
  }

  // The object as a client of `type`'s version sees it (conversion strategy None).
  present(type, obj) {
    if (!obj) return obj;
    obj.apiVersion = groupVersion(type);
    obj.kind = type.kind;
    return obj;
  }

  storageApiVersion_(type) {
    return type.group ? `${type.group}/${type.storageVersion ?? type.version}` : type.version;
  }

  requireNamespace_(type, namespace) {
    if (type.namespaced && !this.store_.get('/namespaces', '', namespace)) throw namespaceNotFound(namespace);
  }

  get(type, namespace, name) {
    const obj = this.store_.get(storageKey(type), namespace, name);
    if (!obj) throw notFound(type, name);
    return this.present(type, obj);
  }

  // Returns {items, resourceVersion, continue, remainingItemCount}.
  list(type, namespace, query) {
    const matches = buildMatcher(type, query);
    const current = this.store_.currentRv();
    let atRv = current;
    let startAfter = null;
    const rvParam = query.get('resourceVersion');
    const token = query.get('continue');
    if (token) {
      let decoded;
      try {
        decoded = JSON.parse(Buffer.from(token, 'base64url').toString('utf8'));
      } catch {
        throw badRequest('continue key is not valid: incorrect encoded start resourceVersion (version meta.k8s.io/v1)');
      }
      atRv = Number(decoded.rv);
      startAfter = String(decoded.start);
      if (atRv < this.store_.floor()) {
        throw expired('The provided continue parameter is too old to display a consistent list result. You can start a new list without the continue parameter.');
      }
    } else if (rvParam && rvParam !== '0') {
      const rv = parseRv(rvParam);
      if (rv > current) throw tooLargeResourceVersion(rv, current);
      if (query.get('resourceVersionMatch') === 'Exact') {
        if (rv < this.store_.floor()) throw expired('The resourceVersion for the provided list is too old.');
        atRv = rv;
      }
    }
    // The stored objects themselves (read only) while filtering and paging.
    // The store never modifies a stored object in place (a write replaces
    // it), so the page handed out is a shallow copy of each (present() sets
    // apiVersion/kind on the copy): a 10,000-object list is not deep-copied.
    const scope = type.namespaced ? namespace : null;
    let items = atRv === current
      ? this.store_.list(storageKey(type), scope, { clone: false })
      : this.store_.listAt(storageKey(type), scope, atRv, { clone: false });
    items = items.filter(matches);
    const idOf = (o) => `${o.metadata.namespace ?? ''}/${o.metadata.name}`;
    if (startAfter !== null) items = items.filter((o) => idOf(o) > startAfter);
    const limit = Number(query.get('limit') ?? 0);
    const out = { items, resourceVersion: String(atRv) };
    if (limit > 0 && items.length > limit) {
      out.items = items.slice(0, limit);
      out.continue = Buffer.from(JSON.stringify({ rv: atRv, start: idOf(out.items.at(-1)) })).toString('base64url');
      out.remainingItemCount = items.length - limit;
    }
    out.items = out.items.map((o) => this.present(type, { ...o }));
    return out;
  }

  async create(type, namespace, body, opts = {}) {
    this.requireNamespace_(type, namespace);
    const { object, warnings } = await admitCreate(this.ctx_, type, namespace, body, opts);
    const key = storageKey(type);
    if (this.store_.get(key, object.metadata.namespace, object.metadata.name)) {
      throw alreadyExists(type, object.metadata.name);
    }
    if (type.resource === 'customresourcedefinitions') object.status = crdStatus(object, this.ctx_.nowIso());
    object.apiVersion = this.storageApiVersion_(type);
    if (opts.dryRun) return { object: this.present(type, object), warnings, code: 201 };
    const stored = this.store_.put(key, object, 'ADDED');
    if (type.resource === 'customresourcedefinitions') this.syncCrd_(stored);
    return { object: this.present(type, stored), warnings, code: 201 };
  }

  // PUT of the main resource or a subresource.
  async update(type, namespace, name, body, opts = {}) {
    const key = storageKey(type);
    const old = this.store_.get(key, namespace, name);
    if (!old) {
      if (type.allowCreateOnUpdate && !opts.subresource) return this.create(type, namespace, body, opts);
      throw notFound(type, name);
    }
    const bodyRv = body?.metadata?.resourceVersion;
    if (!bodyRv && !type.allowUnconditionalUpdate) {
      throw invalid(type, name, [invalidValue('metadata.resourceVersion', '0x0', 'must be specified for an update')]);
    }
    if (bodyRv && bodyRv !== old.metadata.resourceVersion) throw conflict(type, name, kStaleMessage);
    this.present(type, old);
    const { object, warnings } = await admitUpdate(this.ctx_, type, old, body, opts);
    return this.commitUpdate_(type, old, object, warnings, opts);
  }

  commitUpdate_(type, old, object, warnings, opts) {
    const key = storageKey(type);
    object.apiVersion = this.storageApiVersion_(type);
    old.apiVersion = this.storageApiVersion_(type);
    if (type.resource === 'customresourcedefinitions' && opts.subresource !== 'status') {
      object.status = crdStatus(object, this.ctx_.nowIso());
      object.status.conditions = old.status?.conditions ?? object.status.conditions;
    }
    if (isNoop(old, object)) return { object: this.present(type, old), warnings, code: 200 };
    if (opts.dryRun) return { object: this.present(type, object), warnings, code: 200 };
    const m = object.metadata;
    if (m.deletionTimestamp && !(m.finalizers?.length)) {
      // The last finalizer is gone: the pending deletion completes now.
      const gone = this.store_.put(key, object, 'MODIFIED');
      this.store_.remove(key, m.namespace, m.name);
      return { object: this.present(type, gone), warnings, code: 200 };
    }
    const stored = this.store_.put(key, object, 'MODIFIED');
    if (type.resource === 'customresourcedefinitions') this.syncCrd_(stored);
    return { object: this.present(type, stored), warnings, code: 200 };
  }

  async patch(type, namespace, name, contentType, patchBody, opts = {}) {
    const accepted = type.builtin ? kBuiltinPatchTypes : kCustomResourcePatchTypes;
    if (!accepted.includes(contentType)) {
      const listed = contentType === 'application/apply-patch+yaml' ? accepted : [...accepted, 'application/apply-patch+yaml'];
      throw unsupportedMediaType(contentType, listed);
    }
    const key = storageKey(type);
    const old = this.store_.get(key, namespace, name);
    if (!old) throw notFound(type, name);
    this.present(type, old);
    let patched;
    try {
      if (contentType === 'application/json-patch+json') patched = applyJsonPatch(old, patchBody);
      else if (contentType === 'application/merge-patch+json') patched = applyMergePatch(old, patchBody);
      else patched = applyStrategicMergePatch(old, patchBody);
    } catch (e) {
      if (e instanceof PatchError) {
        throw new ApiError(statusBody({ code: 422, reason: 'Invalid', message: e.message }));
      }
      throw e;
    }
    const patchedRv = patched?.metadata?.resourceVersion;
    if (patchedRv !== undefined && patchedRv !== old.metadata.resourceVersion) {
      throw conflict(type, name, kStaleMessage);
    }
    patched.metadata = { ...(patched.metadata ?? {}), resourceVersion: old.metadata.resourceVersion };
    const { object, warnings } = await admitUpdate(this.ctx_, type, old, patched, opts);
    return this.commitUpdate_(type, old, object, warnings, opts);
  }

  checkPreconditions_(type, obj, options) {
    const pre = options?.preconditions ?? {};
    if (pre.uid && pre.uid !== obj.metadata.uid) {
      throw conflict(type, obj.metadata.name, `Precondition failed: UID in precondition: ${pre.uid}, UID in object meta: ${obj.metadata.uid}`);
    }
    if (pre.resourceVersion && pre.resourceVersion !== obj.metadata.resourceVersion) {
      throw conflict(type, obj.metadata.name, `the ResourceVersion in the precondition (${pre.resourceVersion}) does not match the ResourceVersion in record (${obj.metadata.resourceVersion}). The object might have been modified`);
    }
  }

  delete(type, namespace, name, options = {}, opts = {}) {
    const key = storageKey(type);
    const obj = this.store_.get(key, namespace, name);
    if (!obj) throw notFound(type, name);
    this.checkPreconditions_(type, obj, options);
    if (opts.dryRun) return { object: successStatus(type, name, obj.metadata.uid), code: 200 };
    if (obj.metadata.finalizers?.length) {
      if (obj.metadata.deletionTimestamp) return { object: this.present(type, obj), code: 200 };
      obj.metadata.deletionTimestamp = this.ctx_.nowIso();
      obj.metadata.deletionGracePeriodSeconds = 0;
      if (obj.metadata.generation) obj.metadata.generation += 1;
      return { object: this.present(type, this.store_.put(key, obj, 'MODIFIED')), code: 200 };
    }
    if (type.resource === 'namespaces' && !type.group) this.deleteNamespaceContents_(name);
    if (type.resource === 'customresourcedefinitions') this.deleteCrdInstances_(obj);
    this.store_.remove(key, namespace, name);
    if (type.resource === 'customresourcedefinitions') {
      this.registry_.replaceCrdTypes(obj.metadata.name, []);
      this.onTypesChanged_({ removed: `${obj.spec.group}/${obj.spec.names.plural}` });
    }
    return { object: successStatus(type, name, obj.metadata.uid), code: 200 };
  }

  deleteCollection(type, namespace, query, options = {}, opts = {}) {
    const listed = this.list(type, namespace, query);
    const items = [];
    for (const item of listed.items) {
      this.delete(type, item.metadata.namespace, item.metadata.name, options, opts);
      items.push(item);
    }
    return { apiVersion: groupVersion(type), kind: type.listKind, metadata: { resourceVersion: String(this.store_.currentRv()) }, items };
  }

  deleteNamespaceContents_(namespace) {
    const seen = new Set();
    for (const t of this.registry_.all()) {
      if (!t.namespaced || seen.has(storageKey(t))) continue;
      seen.add(storageKey(t));
      for (const o of this.store_.list(storageKey(t), namespace)) {
        this.store_.remove(storageKey(t), namespace, o.metadata.name);
      }
    }
  }

  deleteCrdInstances_(crd) {
    const key = `${crd.spec.group}/${crd.spec.names.plural}`;
    for (const o of this.store_.list(key, null)) this.store_.remove(key, o.metadata.namespace, o.metadata.name);
  }

  syncCrd_(crd) {
    this.registry_.replaceCrdTypes(crd.metadata.name, typesFromCrd(crd));
    this.onTypesChanged_({ changed: crd.metadata.name });
  }
}
