// Watch streams: newline-delimited JSON events over a chunked response, from a
// resourceVersion, with selector transitions, bookmarks, timeouts and the
// 410 Expired ERROR event for a compacted resourceVersion.
//
// Usage:
//   const w = new WatchStream(res, { store, type, namespace, matches, present, encode,
//                                    bookmarkIntervalMs, allowBookmarks, timeoutSeconds });
//   w.start(query.get('resourceVersion'), { sendInitialEvents });
//   w.close();     // server shutdown or /_test/drop-watches

import { storageKey } from './registry.mjs';
import { statusBody } from './status.mjs';

export class WatchStream {
  constructor(res, opts) {
    this.res_ = res;
    this.opts_ = opts;
    this.key_ = storageKey(opts.type);
    this.closed_ = false;
    this.timers_ = [];
    this.unsubscribe_ = () => {};
    this.onClose = () => {};
    res.on('close', () => this.close());
  }

  write_(type, object) {
    if (this.closed_) return;
    this.res_.write(`${JSON.stringify({ type, object })}\n`);
  }

  inScope_(obj) {
    return !this.opts_.namespace || obj?.metadata?.namespace === this.opts_.namespace;
  }

  // Translates a store event into what this watcher sees (selectors can turn a
  // MODIFIED into ADDED or DELETED, as the real watch cache does).
  deliver_(event) {
    if (event.key !== this.key_ || !this.inScope_(event.object)) return;
    const { matches, present, encode } = this.opts_;
    const nowMatches = event.type !== 'DELETED' && matches(event.object);
    const wasMatching = event.prev ? matches(event.prev) : false;
    let type = null;
    if (event.type === 'ADDED') type = nowMatches ? 'ADDED' : null;
    else if (event.type === 'DELETED') type = wasMatching ? 'DELETED' : null;
    else if (nowMatches) type = wasMatching ? 'MODIFIED' : 'ADDED';
    else if (wasMatching) type = 'DELETED';
    if (type) this.write_(type, encode(present(structuredClone(event.object))));
  }

  bookmark_(extraAnnotations) {
    const { type } = this.opts_;
    const metadata = { resourceVersion: String(this.opts_.store.currentRv()) };
    if (extraAnnotations) metadata.annotations = extraAnnotations;
    const apiVersion = type.group ? `${type.group}/${type.version}` : type.version;
    this.write_('BOOKMARK', { kind: type.kind, apiVersion, metadata });
  }

  start(resourceVersion, { sendInitialEvents = false } = {}) {
    const { store, matches, present, encode } = this.opts_;
    this.res_.writeHead(200, {
      'Content-Type': 'application/json',
      'Cache-Control': 'no-cache, private',
      'Transfer-Encoding': 'chunked',
    });
    this.res_.flushHeaders();
    const fromState = !resourceVersion || resourceVersion === '0' || sendInitialEvents;
    if (fromState) {
      // "Get state and start at most recent": synthetic ADDED events for what exists now.
      for (const obj of store.list(this.key_, this.opts_.namespace)) {
        if (matches(obj)) this.write_('ADDED', encode(present(obj)));
      }
      if (sendInitialEvents && this.opts_.allowBookmarks) this.bookmark_({ 'k8s.io/initial-events-end': 'true' });
    } else {
      const since = Number(resourceVersion);
      const events = store.eventsSince(since, this.key_);
      if (events === null) {
        this.write_('ERROR', statusBody({
          code: 410, reason: 'Expired',
          message: `too old resource version: ${since} (${store.floor() + 1})`,
        }));
        this.close();
        return;
      }
      for (const ev of events) this.deliver_(ev);
    }
    this.unsubscribe_ = store.subscribe((ev) => this.deliver_(ev));
    if (this.opts_.allowBookmarks && this.opts_.bookmarkIntervalMs > 0) {
      this.timers_.push(setInterval(() => this.bookmark_(), this.opts_.bookmarkIntervalMs));
    }
    if (this.opts_.timeoutSeconds > 0) {
      this.timers_.push(setTimeout(() => this.close(), this.opts_.timeoutSeconds * 1000));
    }
  }

  close() {
    if (this.closed_) return;
    this.closed_ = true;
    this.unsubscribe_();
    for (const t of this.timers_) {
      clearInterval(t);
      clearTimeout(t);
    }
    if (!this.res_.writableEnded) this.res_.end();
    this.onClose();
  }
}
