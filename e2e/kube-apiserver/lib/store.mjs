// In-memory object storage with etcd-like revisions: one global
// resourceVersion counter, a bounded history of change events, and watchers
// that receive every committed change synchronously.
//
// Usage:
//   const store = new Store({ historyLimit: 1000 });
//   const created = store.put('apps/deployments', obj, 'ADDED');   // sets metadata.resourceVersion
//   store.get('apps/deployments', 'default', 'web');               // clone or undefined
//   store.eventsSince(rv)        // [{rv, type, key, object, prev}] or null when rv is compacted
//   store.compact();             // every older resourceVersion becomes "too old"
//
// Objects handed in are owned by the store afterwards and never modified in
// place (a write replaces them); objects handed out are clones, except from
// list/listAt with { clone: false } (read-only views, for paging).

export class Store {
  constructor({ historyLimit = 1000 } = {}) {
    this.rv_ = 1;
    this.objects_ = new Map();
    this.history_ = [];
    this.historyLimit_ = historyLimit;
    // Watches may start from any resourceVersion >= floor_ (all later events are retained).
    this.floor_ = 1;
    this.listeners_ = new Set();
  }

  currentRv() {
    return this.rv_;
  }

  floor() {
    return this.floor_;
  }

  bucket_(key) {
    if (!this.objects_.has(key)) this.objects_.set(key, new Map());
    return this.objects_.get(key);
  }

  get(key, namespace, name) {
    const obj = this.bucket_(key).get(`${namespace ?? ''}/${name}`);
    return obj ? structuredClone(obj) : undefined;
  }

  // Current objects of one storage key, optionally one namespace, ordered by namespace/name.
  // Clones unless { clone: false }: then the stored objects themselves, which
  // the caller must not modify (a list pages through them and clones the page).
  list(key, namespace, { clone = true } = {}) {
    const out = [];
    for (const [id, obj] of this.bucket_(key)) {
      if (namespace && !id.startsWith(`${namespace}/`)) continue;
      out.push([id, obj]);
    }
    out.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
    return out.map(([, obj]) => (clone ? structuredClone(obj) : obj));
  }

  // The objects of `key` as they were at resourceVersion `rv` (rv >= floor),
  // rebuilt from history. Clones unless { clone: false } (see list).
  listAt(key, namespace, rv, { clone = true } = {}) {
    const state = new Map(this.list(key, namespace, { clone: false }).map((o) => [idOf(o), o]));
    for (let i = this.history_.length - 1; i >= 0 && this.history_[i].rv > rv; i--) {
      const ev = this.history_[i];
      if (ev.key !== key || (namespace && ev.object.metadata.namespace !== namespace)) continue;
      if (ev.type === 'ADDED') state.delete(idOf(ev.object));
      else state.set(idOf(ev.object), ev.prev);
    }
    return [...state.entries()].sort((a, b) => (a[0] < b[0] ? -1 : 1))
      .map(([, o]) => (clone ? structuredClone(o) : o));
  }

  // Commits a create (ADDED) or update (MODIFIED); returns the stored object's clone.
  put(key, obj, type) {
    const id = idOf(obj);
    const prev = this.bucket_(key).get(id);
    this.rv_ += 1;
    obj.metadata.resourceVersion = String(this.rv_);
    this.bucket_(key).set(id, obj);
    this.record_({ rv: this.rv_, type, key, object: obj, prev });
    return structuredClone(obj);
  }

  remove(key, namespace, name) {
    const id = `${namespace ?? ''}/${name}`;
    const prev = this.bucket_(key).get(id);
    if (!prev) return undefined;
    this.bucket_(key).delete(id);
    this.rv_ += 1;
    const tombstone = structuredClone(prev);
    tombstone.metadata.resourceVersion = String(this.rv_);
    this.record_({ rv: this.rv_, type: 'DELETED', key, object: tombstone, prev });
    return structuredClone(tombstone);
  }

  record_(event) {
    this.history_.push(event);
    while (this.history_.length > this.historyLimit_) {
      this.floor_ = this.history_.shift().rv;
    }
    for (const listener of this.listeners_) listener(event);
  }

  // Events with rv > since, or null when `since` is older than the retained window.
  eventsSince(since, key) {
    if (since < this.floor_) return null;
    return this.history_.filter((e) => e.rv > since && (!key || e.key === key));
  }

  compact() {
    this.history_ = [];
    this.floor_ = this.rv_;
  }

  subscribe(listener) {
    this.listeners_.add(listener);
    return () => this.listeners_.delete(listener);
  }
}

function idOf(obj) {
  return `${obj.metadata.namespace ?? ''}/${obj.metadata.name}`;
}
