// Table-driven unit tests of the pure parts: structural schema processing,
// patches, JSONPath for printer columns, human durations and label selectors.

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { processCustomResource } from '../lib/structural_schema.mjs';
import { applyJsonPatch, applyMergePatch, applyStrategicMergePatch, PatchError } from '../lib/patch.mjs';
import { evaluateJsonPath, humanDuration } from '../lib/table.mjs';
import { parseLabelSelector, SelectorError } from '../lib/selectors.mjs';

const schema = {
  type: 'object',
  properties: {
    spec: {
      type: 'object',
      required: ['hosts'],
      properties: {
        hosts: { type: 'array', minItems: 1, maxItems: 2, 'x-kubernetes-list-type': 'set', items: { type: 'string', pattern: '^[a-z.]+$' } },
        port: { type: 'integer', minimum: 1, maximum: 65535, default: 80 },
        name: { type: 'string', minLength: 2, maxLength: 4 },
        url: { type: 'string', format: 'uri' },
        target: { 'x-kubernetes-int-or-string': true },
        extra: { type: 'object', 'x-kubernetes-preserve-unknown-fields': true },
        labels: { type: 'object', additionalProperties: { type: 'string' } },
        rules: { type: 'array', 'x-kubernetes-list-type': 'map', 'x-kubernetes-list-map-keys': ['name'], items: { type: 'object', properties: { name: { type: 'string' } } } },
        note: { type: 'string', nullable: true },
      },
    },
  },
};

const schemaCases = [
  { name: 'valid object gets defaults', spec: { hosts: ['a.b'] }, check: (r) => assert.equal(r.object.spec.port, 80) },
  { name: 'missing required', spec: {}, errors: ['spec.hosts: Required value'] },
  { name: 'wrong type', spec: { hosts: 'a' }, errors: ['spec.hosts: Invalid value: "string": spec.hosts in body must be of type array: "string"'] },
  { name: 'integer not number', spec: { hosts: ['a'], port: 1.5 }, errors: ['spec.port: Invalid value: "number": spec.port in body must be of type integer: "number"'] },
  { name: 'minimum', spec: { hosts: ['a'], port: 0 }, errors: ['spec.port: Invalid value: 0: spec.port in body should be greater than or equal to 1'] },
  { name: 'maximum', spec: { hosts: ['a'], port: 70000 }, errors: ['spec.port: Invalid value: 70000: spec.port in body should be less than or equal to 65535'] },
  { name: 'pattern', spec: { hosts: ['A'] }, errors: ['spec.hosts[0]: Invalid value: "A": spec.hosts[0] in body should match \'^[a-z.]+$\''] },
  { name: 'minItems', spec: { hosts: [] }, errors: ['spec.hosts: Invalid value: []interface {}[]: spec.hosts in body should have at least 1 items'] },
  { name: 'maxItems', spec: { hosts: ['a', 'b', 'c'] }, errors: ['spec.hosts: Too many: 3: must have at most 2 items'] },
  { name: 'set uniqueness', spec: { hosts: ['a', 'a'] }, errors: ['spec.hosts[1]: Duplicate value: "a"'] },
  { name: 'map-list key uniqueness', spec: { hosts: ['a'], rules: [{ name: 'x' }, { name: 'x' }] }, errors: ['spec.rules[1]: Duplicate value: map[string]interface {}{"name":"x"}'] },
  { name: 'minLength', spec: { hosts: ['a'], name: 'a' }, errors: ['spec.name: Invalid value: "a": spec.name in body should be at least 2 chars long'] },
  { name: 'maxLength', spec: { hosts: ['a'], name: 'abcde' }, errors: ['spec.name: Too long: may not be more than 4 bytes'] },
  { name: 'format uri', spec: { hosts: ['a'], url: 'not a uri' }, errors: ['spec.url: Invalid value: "not a uri": spec.url in body must be of type uri: "not a uri"'] },
  { name: 'int-or-string accepts both', spec: { hosts: ['a'], target: 'http' }, errors: [] },
  { name: 'int-or-string rejects bool', spec: { hosts: ['a'], target: true }, errors: ['spec.target: Invalid value: "boolean": spec.target in body must be of type integer,string: "boolean"'] },
  { name: 'nullable allows null', spec: { hosts: ['a'], note: null }, errors: [] },
  { name: 'null on non-nullable with default gets the default', spec: { hosts: ['a'], port: null }, check: (r) => assert.equal(r.object.spec.port, 80) },
  { name: 'additionalProperties typed', spec: { hosts: ['a'], labels: { a: 1 } }, errors: ['spec.labels.a: Invalid value: "integer": spec.labels.a in body must be of type string: "integer"'] },
  {
    name: 'unknown fields are pruned and reported', spec: { hosts: ['a'], bogus: 1, extra: { free: 1 } }, errors: [],
    check: (r) => {
      assert.deepEqual(r.unknownFields, ['spec.bogus']);
      assert.equal(r.object.spec.bogus, undefined);
      assert.equal(r.object.spec.extra.free, 1);
    },
  },
  {
    name: 'unknown metadata and top-level fields are reported', spec: { hosts: ['a'] }, top: { junk: 1 }, meta: { bogus: 1 },
    check: (r) => assert.deepEqual(r.unknownFields.sort(), ['junk', 'metadata.bogus']),
  },
];

describe('structural schema', () => {
  const check = (c) => {
    const obj = { apiVersion: 'x/v1', kind: 'X', metadata: { name: 'n', ...(c.meta ?? {}) }, spec: c.spec, ...(c.top ?? {}) };
    const result = processCustomResource(schema, obj);
    if (c.errors) assert.deepEqual(result.errors.map((e) => `${e.field}: ${e.message}`), c.errors);
    if (c.check) c.check(result);
    assert.deepEqual(obj.spec, c.spec, 'the input is not mutated');
  };
  for (const c of schemaCases) it(c.name, () => check(c));
});

const patchCases = [
  { name: 'merge: set, replace list, delete with null', fn: applyMergePatch, doc: { a: 1, b: [1, 2], c: { d: 1, e: 2 } }, patch: { a: 2, b: [3], c: { d: null } }, want: { a: 2, b: [3], c: { e: 2 } } },
  { name: 'json: add, replace, remove, test', fn: applyJsonPatch, doc: { a: [1, 2], b: 'x' }, patch: [{ op: 'test', path: '/b', value: 'x' }, { op: 'add', path: '/a/-', value: 3 }, { op: 'replace', path: '/b', value: 'y' }, { op: 'remove', path: '/a/0' }], want: { a: [2, 3], b: 'y' } },
  { name: 'json: move and copy with escaped keys', fn: applyJsonPatch, doc: { 'a/b': 1, c: {} }, patch: [{ op: 'copy', from: '/a~1b', path: '/c/x' }, { op: 'move', from: '/a~1b', path: '/d' }], want: { c: { x: 1 }, d: 1 } },
  { name: 'json: failed test', fn: applyJsonPatch, doc: { a: 1 }, patch: [{ op: 'test', path: '/a', value: 2 }], throws: /test failed/ },
  { name: 'json: missing path', fn: applyJsonPatch, doc: { a: 1 }, patch: [{ op: 'remove', path: '/b' }], throws: /missing/ },
  {
    name: 'strategic: merge containers by name, delete one, order', fn: applyStrategicMergePatch,
    doc: { containers: [{ name: 'a', image: '1', env: [{ name: 'X', value: '1' }] }, { name: 'b', image: '2' }] },
    patch: { containers: [{ name: 'a', env: [{ name: 'Y', value: '2' }] }, { name: 'b', $patch: 'delete' }] },
    want: { containers: [{ name: 'a', image: '1', env: [{ name: 'X', value: '1' }, { name: 'Y', value: '2' }] }] },
  },
  { name: 'strategic: finalizers merge as a set, deleteFromPrimitiveList', fn: applyStrategicMergePatch, doc: { finalizers: ['a', 'b'] }, patch: { finalizers: ['c', 'a'], '$deleteFromPrimitiveList/finalizers': ['b'] }, want: { finalizers: ['a', 'c'] } },
  {
    name: 'strategic: $setElementOrder reorders merged items', fn: applyStrategicMergePatch,
    doc: { env: [{ name: 'A', value: '1' }, { name: 'B', value: '2' }] },
    patch: { '$setElementOrder/env': [{ name: 'B' }, { name: 'A' }], env: [{ name: 'A', value: '3' }] },
    want: { env: [{ name: 'B', value: '2' }, { name: 'A', value: '3' }] },
  },
  { name: 'strategic: $patch replace on a map', fn: applyStrategicMergePatch, doc: { m: { a: 1, b: 2 } }, patch: { m: { $patch: 'replace', c: 3 } }, want: { m: { c: 3 } } },
];

describe('patches', () => {
  const check = (c) => {
    const patch = structuredClone(c.patch);
    if (c.throws) {
      assert.throws(() => c.fn(c.doc, patch), (e) => e instanceof PatchError && c.throws.test(e.message));
      return;
    }
    const before = structuredClone(c.doc);
    assert.deepEqual(c.fn(c.doc, patch), c.want);
    assert.deepEqual(c.doc, before, 'the document is not mutated');
  };
  for (const c of patchCases) it(c.name, () => check(c));
});

describe('printer helpers', () => {
  const obj = { spec: { hosts: ['a', 'b'], n: 3 }, status: { conditions: [{ type: 'Accepted', status: 'False' }, { type: 'Ready', status: 'True' }] } };
  const pathCases = [
    { path: '.spec.hosts', want: [['a', 'b']] },
    { path: '.spec.hosts[1]', want: ['b'] },
    { path: '.spec.hosts[*]', want: ['a', 'b'] },
    { path: '.status.conditions[?(@.type=="Ready")].status', want: ['True'] },
    { path: ".status.conditions[?(@.type=='Accepted')].status", want: ['False'] },
    { path: '.spec.missing', want: [] },
    { path: '{.spec.n}', want: [3] },
  ];
  for (const c of pathCases) it(`jsonpath ${c.path}`, () => assert.deepEqual(evaluateJsonPath(c.path, obj), c.want));
  const durationCases = [[0, '0s'], [119_000, '119s'], [120_000, '2m'], [150_000, '2m30s'], [3_600_000, '60m'], [4 * 3_600_000 + 60_000, '4h1m'], [30 * 3_600_000, '30h'], [3 * 86_400_000 + 3_600_000, '3d1h'], [-5000, '<invalid>']];
  for (const [ms, want] of durationCases) it(`humanDuration ${ms}`, () => assert.equal(humanDuration(ms), want));
});

describe('label selector parsing', () => {
  const cases = [
    { selector: 'a=b', labels: { a: 'b' }, want: true },
    { selector: 'a!=b', labels: {}, want: true },
    { selector: 'a in (x,y),b', labels: { a: 'y', b: '' }, want: true },
    { selector: 'a notin (x)', labels: { a: 'x' }, want: false },
    { selector: '!a', labels: { a: '1' }, want: false },
    { selector: 'n>3', labels: { n: '4' }, want: true },
    { selector: '', labels: {}, want: true },
  ];
  for (const c of cases) it(`"${c.selector}"`, () => assert.equal(parseLabelSelector(c.selector)(c.labels), c.want));
  for (const bad of ['a in (x', 'a=b=c', '-a', 'a=' + 'x'.repeat(64)]) {
    it(`rejects "${bad.slice(0, 20)}"`, () => assert.throws(() => parseLabelSelector(bad), SelectorError));
  }
});
