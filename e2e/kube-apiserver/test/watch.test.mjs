// Watch semantics over raw HTTP: resume from a resourceVersion, initial state,
// 410 Expired after compaction, BOOKMARK events, selector transitions,
// timeoutSeconds and test-driven watch drops.

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { configMap, startServer } from './helpers.mjs';

const cmPath = '/api/v1/namespaces/default/configmaps';

describe('watch', () => {
  let srv;
  before(async () => {
    srv = await startServer({ bookmarkIntervalMs: 200 });
  });
  after(async () => srv?.close());

  const create = async (obj) => {
    const res = await srv.request('POST', cmPath, { body: obj });
    assert.equal(res.status, 201, JSON.stringify(res.body));
    return res.body;
  };
  const update = async (name, data) => {
    const cur = (await srv.request('GET', `${cmPath}/${name}`)).body;
    const res = await srv.request('PUT', `${cmPath}/${name}`, { body: { ...cur, data } });
    assert.equal(res.status, 200, JSON.stringify(res.body));
    return res.body;
  };

  it('replays events after a resourceVersion, then streams live ones', async () => {
    const first = await create(configMap('w-one'));
    await create(configMap('w-two'));
    await update('w-one', { a: '2' });
    const w = srv.watch(`${cmPath}?watch=1&resourceVersion=${first.metadata.resourceVersion}`);
    const replay = await w.next(2);
    assert.deepEqual(replay.map((e) => [e.type, e.object.metadata.name]), [['ADDED', 'w-two'], ['MODIFIED', 'w-one']]);
    assert.equal(replay[1].object.data.a, '2');
    assert.equal(replay[1].object.kind, 'ConfigMap');
    await srv.request('DELETE', `${cmPath}/w-two`);
    const [, , deleted] = await w.next(3);
    assert.equal(deleted.type, 'DELETED');
    assert.equal(deleted.object.metadata.name, 'w-two');
    assert.ok(Number(deleted.object.metadata.resourceVersion) > Number(replay[1].object.metadata.resourceVersion));
    w.close();
  });

  it('starts with synthetic ADDED events for the current state when resourceVersion is 0 or absent', async () => {
    for (const rv of ['resourceVersion=0', '']) {
      const w = srv.watch(`${cmPath}?watch=true&${rv}`);
      const events = await w.next(1);
      assert.equal(events[0].type, 'ADDED');
      assert.equal(events[0].object.metadata.name, 'w-one');
      w.close();
    }
  });

  it('sends ERROR 410 Expired for a compacted resourceVersion and rejects an Exact list', async () => {
    const old = await create(configMap('w-old'));
    await update('w-old', { a: 'x' });
    const compact = await srv.request('POST', '/_test/compact');
    assert.equal(compact.status, 200);
    const w = srv.watch(`${cmPath}?watch=1&resourceVersion=${old.metadata.resourceVersion}`);
    const [ev] = await w.next(1);
    assert.equal(w.statusCode, 200);
    assert.equal(ev.type, 'ERROR');
    assert.equal(ev.object.kind, 'Status');
    assert.equal(ev.object.code, 410);
    assert.equal(ev.object.reason, 'Expired');
    assert.match(ev.object.message, /too old resource version/);
    assert.ok(await w.untilEnd(), 'the stream ends after the error');

    const list = await srv.request('GET', `${cmPath}?resourceVersion=${old.metadata.resourceVersion}&resourceVersionMatch=Exact`);
    assert.equal(list.status, 410);
    assert.equal(list.body.reason, 'Expired');

    const fresh = srv.watch(`${cmPath}?watch=1&resourceVersion=${compact.body.resourceVersion}`);
    await update('w-old', { a: 'y' });
    const [modified] = await fresh.next(1);
    assert.equal(modified.type, 'MODIFIED');
    fresh.close();
  });

  it('sends BOOKMARK events with only a resourceVersion when asked', async () => {
    const list = await srv.request('GET', cmPath);
    const w = srv.watch(`${cmPath}?watch=1&allowWatchBookmarks=true&resourceVersion=${list.body.metadata.resourceVersion}`);
    const [bookmark] = await w.next(1, 3000);
    assert.equal(bookmark?.type, 'BOOKMARK');
    assert.deepEqual(Object.keys(bookmark.object.metadata), ['resourceVersion']);
    assert.equal(bookmark.object.metadata.resourceVersion, list.body.metadata.resourceVersion);
    w.close();

    const noBookmarks = srv.watch(`${cmPath}?watch=1&resourceVersion=${list.body.metadata.resourceVersion}`);
    const events = await noBookmarks.next(1, 600);
    assert.deepEqual(events, [], 'no bookmarks unless allowWatchBookmarks=true');
    noBookmarks.close();
  });

  it('turns selector transitions into ADDED and DELETED', async () => {
    const start = (await srv.request('GET', cmPath)).body.metadata.resourceVersion;
    const w = srv.watch(`${cmPath}?watch=1&labelSelector=app%3Dweb&resourceVersion=${start}`);
    await create(configMap('w-sel', { app: 'db' }));
    const cur = (await srv.request('GET', `${cmPath}/w-sel`)).body;
    const relabeled = await srv.request('PUT', `${cmPath}/w-sel`, { body: { ...cur, metadata: { ...cur.metadata, labels: { app: 'web' } } } });
    assert.equal(relabeled.status, 200);
    await srv.request('PATCH', `${cmPath}/w-sel`, { body: { metadata: { labels: { app: 'api' } } }, headers: { 'Content-Type': 'application/merge-patch+json' } });
    const events = await w.next(2);
    assert.deepEqual(events.map((e) => [e.type, e.object.metadata.labels.app]), [['ADDED', 'web'], ['DELETED', 'api']]);
    w.close();
  });

  it('ends the stream after timeoutSeconds and when the test drops watches', async () => {
    const timed = srv.watch(`${cmPath}?watch=1&timeoutSeconds=1&resourceVersion=${(await srv.request('GET', cmPath)).body.metadata.resourceVersion}`);
    assert.ok(await timed.untilEnd(3000));
    const w = srv.watch(`${cmPath}?watch=1&resourceVersion=0`);
    await w.next(1);
    const dropped = await srv.request('POST', '/_test/drop-watches');
    assert.ok(dropped.body.dropped >= 1);
    assert.ok(await w.untilEnd(2000));
  });

  it('watches namespace-scoped and across all namespaces', async () => {
    await srv.request('POST', '/api/v1/namespaces', { body: { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'other' } } });
    const rv = (await srv.request('GET', '/api/v1/configmaps')).body.metadata.resourceVersion;
    const all = srv.watch(`/api/v1/configmaps?watch=1&resourceVersion=${rv}`);
    const scoped = srv.watch(`/api/v1/namespaces/default/configmaps?watch=1&resourceVersion=${rv}`);
    const res = await srv.request('POST', '/api/v1/namespaces/other/configmaps', { body: configMap('elsewhere', {}, {}, 'other') });
    assert.equal(res.status, 201);
    await create(configMap('here'));
    const allEvents = await all.next(2);
    const scopedEvents = await scoped.next(1);
    assert.deepEqual(allEvents.map((e) => e.object.metadata.name), ['elsewhere', 'here']);
    assert.deepEqual(scopedEvents.map((e) => e.object.metadata.name), ['here']);
    all.close();
    scoped.close();
  });
});
