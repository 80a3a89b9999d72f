// Offline checks of a CustomResourceDefinition's openAPIV3Schema, and a
// validator for custom resources built from it. No API server runs here, so
// this reproduces the parts of the API server's behaviour the CRD relies on:
//   - structuralProblems(schema): the "structural schema" rules the API
//     server enforces on CRD creation (every node typed, no properties next
//     to additionalProperties, only known keywords, list-type constraints,
//     CEL rules well-formed) plus house rules (a description on every
//     property, a size bound on every string/list/map so CEL cost is bounded).
//   - createResourceValidator(schema): ajv (with RE2 regexes, as Go's regexp
//     is RE2) over a JSON Schema converted from openAPIV3Schema, with defaults
//     applied and unknown fields rejected (kubectl's strict field validation),
//     then list-type set/map uniqueness, then the JS mirrors of the CEL rules
//     (lib/crd-cel-intent.mjs; NOT real CEL, see there).
//
// Usage:
//   const crd = loadCrd('../crds/gatehouse.dev_accesspolicies.yaml');
//   const schema = storageSchema(crd);
//   assert.deepEqual(structuralProblems(schema), []);
//   const validate = createResourceValidator(schema);
//   const { errors, value } = validate(doc);   // errors: [{path, message, origin}]
//   // path is written like the proxy's field paths: "spec.rules[2].paths[0]"

import fs from 'node:fs';
import Ajv from 'ajv';
import { RE2 } from 're2-wasm';
import YAML from 'yaml';
import { celIntentFor } from './crd-cel-intent.mjs';

const kScalarTypes = new Set(['string', 'integer', 'number', 'boolean']);
const kTypes = new Set([...kScalarTypes, 'object', 'array']);
const kJunctors = ['allOf', 'anyOf', 'oneOf', 'not'];
// JSONSchemaProps fields a v1 CRD may use (x-kubernetes-* are handled apart).
const kAllowedKeywords = new Set([
  'description', 'type', 'format', 'title', 'default', 'maximum', 'exclusiveMaximum',
  'minimum', 'exclusiveMinimum', 'maxLength', 'minLength', 'pattern', 'maxItems', 'minItems',
  'uniqueItems', 'multipleOf', 'enum', 'maxProperties', 'minProperties', 'required', 'items',
  'allOf', 'oneOf', 'anyOf', 'not', 'properties', 'additionalProperties', 'nullable',
  'example', 'externalDocs',
]);
const kAllowedExtensions = new Set([
  'x-kubernetes-preserve-unknown-fields', 'x-kubernetes-embedded-resource',
  'x-kubernetes-int-or-string', 'x-kubernetes-list-type', 'x-kubernetes-list-map-keys',
  'x-kubernetes-map-type', 'x-kubernetes-validations',
]);
const kCelReasons = new Set([
  'FieldValueInvalid', 'FieldValueForbidden', 'FieldValueRequired', 'FieldValueDuplicate',
]);

export function loadCrd(file) {
  return YAML.parse(fs.readFileSync(file, 'utf8'));
}

// The openAPIV3Schema of the storage version.
export function storageSchema(crd) {
  const version = crd.spec.versions.find((v) => v.storage);
  return version.schema.openAPIV3Schema;
}

// Every YAML document of a file, parsed (empty documents dropped).
export function loadDocuments(file) {
  return YAML.parseAllDocuments(fs.readFileSync(file, 'utf8'))
    .map((d) => {
      if (d.errors.length > 0) throw new Error(`${file}: ${d.errors[0].message}`);
      return d.toJS();
    })
    .filter((d) => d != null);
}

// ---------------------------------------------------------------------------
// Structural schema checks

export function structuralProblems(root) {
  const problems = [];
  if (root.type !== 'object') problems.push('openAPIV3Schema: type must be object');
  const meta = root.properties?.metadata;
  if (meta?.properties) {
    for (const k of Object.keys(meta.properties)) {
      if (k !== 'name' && k !== 'generateName') {
        problems.push(`metadata.${k}: only name and generateName may be restricted`);
      }
    }
  }
  checkNode(root, 'openAPIV3Schema', { typed: true, junctor: false }, problems);
  return problems;
}

function checkNode(node, path, ctx, problems) {
  if (node === null || typeof node !== 'object' || Array.isArray(node)) {
    problems.push(`${path}: a schema must be an object`);
    return;
  }
  for (const key of Object.keys(node)) {
    if (key.startsWith('x-kubernetes-')) {
      if (!kAllowedExtensions.has(key)) problems.push(`${path}: unknown extension ${key}`);
    } else if (!kAllowedKeywords.has(key)) {
      problems.push(`${path}: keyword ${key} is not allowed in a CRD schema`);
    }
  }
  if (node.uniqueItems === true) problems.push(`${path}: uniqueItems true is forbidden; use x-kubernetes-list-type`);
  const open = node['x-kubernetes-int-or-string'] === true ||
    node['x-kubernetes-preserve-unknown-fields'] === true;
  if (ctx.junctor) {
    for (const k of ['type', 'description', 'default', 'nullable', 'additionalProperties']) {
      if (k in node) problems.push(`${path}: ${k} is not allowed inside allOf/anyOf/oneOf/not`);
    }
  } else if (node.type === undefined && !open) {
    problems.push(`${path}: type is required (structural schema)`);
  }
  if (node.type !== undefined && !kTypes.has(node.type)) problems.push(`${path}: unknown type ${node.type}`);
  if (node.properties && node.additionalProperties !== undefined) {
    problems.push(`${path}: properties and additionalProperties cannot both be set`);
  }
  if (node.type === 'array' && !ctx.junctor && (node.items === undefined || Array.isArray(node.items))) {
    problems.push(`${path}: an array needs exactly one items schema`);
  }
  checkListType(node, path, problems);
  checkValidations(node, path, problems);
  checkBounds(node, path, problems);
  for (const [name, child] of Object.entries(node.properties ?? {})) {
    const childPath = `${path}.${name}`;
    if (!ctx.junctor && (typeof child.description !== 'string' || child.description.trim() === '')) {
      problems.push(`${childPath}: description is missing`);
    }
    checkNode(child, childPath, ctx, problems);
  }
  if (node.items && !Array.isArray(node.items)) checkNode(node.items, `${path}[]`, ctx, problems);
  if (node.additionalProperties && typeof node.additionalProperties === 'object') {
    checkNode(node.additionalProperties, `${path}{}`, ctx, problems);
  }
  for (const j of kJunctors) {
    const subs = j === 'not' ? (node.not ? [node.not] : []) : (node[j] ?? []);
    subs.forEach((s, i) => checkNode(s, `${path}.${j}[${i}]`, { ...ctx, junctor: true }, problems));
  }
}

function checkListType(node, path, problems) {
  const listType = node['x-kubernetes-list-type'];
  const keys = node['x-kubernetes-list-map-keys'];
  if (keys !== undefined && listType !== 'map') problems.push(`${path}: list-map-keys needs list-type map`);
  if (listType === undefined) return;
  if (node.type !== 'array') problems.push(`${path}: list-type on a non-array`);
  if (!['atomic', 'set', 'map'].includes(listType)) problems.push(`${path}: unknown list-type ${listType}`);
  const items = node.items ?? {};
  if (listType === 'set' && !kScalarTypes.has(items.type)) {
    problems.push(`${path}: list-type set needs scalar items`);
  }
  if (listType === 'map') {
    if (items.type !== 'object') problems.push(`${path}: list-type map needs object items`);
    if (!Array.isArray(keys) || keys.length === 0) problems.push(`${path}: list-type map needs list-map-keys`);
    for (const k of keys ?? []) {
      const prop = items.properties?.[k];
      if (!prop || !kScalarTypes.has(prop.type)) problems.push(`${path}: map key ${k} must be a scalar property`);
      if (!(items.required ?? []).includes(k) && prop?.default === undefined) {
        problems.push(`${path}: map key ${k} must be required or defaulted`);
      }
    }
  }
}

function checkValidations(node, path, problems) {
  for (const [i, v] of (node['x-kubernetes-validations'] ?? []).entries()) {
    const where = `${path}.x-kubernetes-validations[${i}]`;
    if (typeof v.rule !== 'string' || v.rule.trim() === '') problems.push(`${where}: rule is empty`);
    if (typeof v.message !== 'string' || v.message.trim() === '') problems.push(`${where}: message is empty`);
    if (/[\r\n]/.test(v.message ?? '')) problems.push(`${where}: message must be one line`);
    if (v.reason !== undefined && !kCelReasons.has(v.reason)) problems.push(`${where}: unknown reason ${v.reason}`);
    if (v.fieldPath !== undefined && resolveFieldPath(node, v.fieldPath) === undefined) {
      problems.push(`${where}: fieldPath ${v.fieldPath} does not name a field of this schema`);
    }
  }
}

// A string, list or map without a size bound makes the API server estimate
// CEL cost from the 3 MiB request limit; bound everything under spec/status.
function checkBounds(node, path, problems) {
  if (!/^openAPIV3Schema\.(spec|status)/.test(path)) return;
  if (node.type === 'string' && node.maxLength === undefined && node.enum === undefined &&
      node.format !== 'date-time') {
    problems.push(`${path}: string without maxLength`);
  }
  if (node.type === 'array' && node.maxItems === undefined) problems.push(`${path}: array without maxItems`);
  if (node.type === 'object' && node.additionalProperties && node.maxProperties === undefined) {
    problems.push(`${path}: map without maxProperties`);
  }
}

// ".login.issuer" or "['login'].issuer" -> the schema node it names, or undefined.
export function resolveFieldPath(node, fieldPath) {
  const re = /\.([A-Za-z_][A-Za-z0-9_]*)|\['([^']+)'\]/y;
  let at = node;
  let pos = 0;
  while (pos < fieldPath.length) {
    re.lastIndex = pos;
    const m = re.exec(fieldPath);
    if (!m) return undefined;
    at = at?.properties?.[m[1] ?? m[2]];
    if (at === undefined) return undefined;
    pos = re.lastIndex;
  }
  return at;
}

// ---------------------------------------------------------------------------
// openAPIV3Schema -> JSON Schema for ajv

const kJsonSchemaKeywords = new Set([
  'description', 'type', 'default', 'maximum', 'exclusiveMaximum', 'minimum',
  'exclusiveMinimum', 'maxLength', 'minLength', 'pattern', 'maxItems', 'minItems', 'multipleOf',
  'enum', 'maxProperties', 'minProperties', 'required',
]);
const kKeptFormats = new Set(['date-time', 'int32', 'int64']);

export function toJsonSchema(node) {
  const out = {};
  for (const [k, v] of Object.entries(node)) {
    if (kJsonSchemaKeywords.has(k)) out[k] = v;
    if (k === 'format' && kKeptFormats.has(v)) out.format = v;
  }
  if (node['x-kubernetes-int-or-string']) {
    delete out.type;
    out.anyOf = [{ type: 'integer' }, { type: 'string' }];
  }
  if (node.nullable === true && out.type) out.type = [out.type, 'null'];
  if (node['x-kubernetes-list-type'] === 'set') out.uniqueItems = true;
  if (node.items) out.items = toJsonSchema(node.items);
  if (node.properties) {
    out.properties = Object.fromEntries(
      Object.entries(node.properties).map(([k, v]) => [k, toJsonSchema(v)]));
  }
  if (node.additionalProperties && typeof node.additionalProperties === 'object') {
    out.additionalProperties = toJsonSchema(node.additionalProperties);
  } else if (node.properties && !node['x-kubernetes-preserve-unknown-fields']) {
    // kubectl's default strict field validation rejects unknown fields.
    out.additionalProperties = false;
  }
  for (const j of ['allOf', 'anyOf', 'oneOf']) {
    if (node[j]) out[j] = node[j].map(toJsonSchema);
  }
  if (node.not) out.not = toJsonSchema(node.not);
  return out;
}

const kDateTime = /^\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$/;

export function newAjv() {
  const ajv = new Ajv({
    allErrors: true,
    useDefaults: true,
    strict: true,
    code: { regExp: (pattern, flags) => new RE2(pattern, flags) },
  });
  ajv.addFormat('date-time', kDateTime);
  ajv.addFormat('int32', { type: 'number', validate: (n) => Number.isInteger(n) && n >= -(2 ** 31) && n < 2 ** 31 });
  ajv.addFormat('int64', { type: 'number', validate: (n) => Number.isSafeInteger(n) });
  return ajv;
}

// ---------------------------------------------------------------------------
// Resource validation

export function createResourceValidator(schema) {
  const ajvValidate = newAjv().compile(toJsonSchema(schema));
  return (doc) => {
    const value = structuredClone(doc);
    const errors = [];
    if (!ajvValidate(value)) {
      for (const e of ajvValidate.errors) errors.push(fromAjvError(e, schema));
    }
    walkSchema(schema, value, '', (node, data, path) => {
      errors.push(...listTypeErrors(node, data, path));
      errors.push(...celIntentErrors(node, data, path));
    });
    return { errors, value };
  };
}

// Visits every (schema node, present value) pair, depth first.
function walkSchema(node, data, path, visit) {
  if (data === undefined || data === null) return;
  visit(node, data, path);
  if (Array.isArray(data) && node.items) {
    data.forEach((d, i) => walkSchema(node.items, d, `${path}[${i}]`, visit));
  } else if (typeof data === 'object' && !Array.isArray(data)) {
    for (const [k, d] of Object.entries(data)) {
      if (node.properties?.[k]) walkSchema(node.properties[k], d, joinPath(path, k), visit);
      else if (typeof node.additionalProperties === 'object') {
        walkSchema(node.additionalProperties, d, `${path}[${k}]`, visit);
      }
    }
  }
}

function listTypeErrors(node, data, path) {
  if (node['x-kubernetes-list-type'] !== 'map' || !Array.isArray(data)) return [];
  const keys = node['x-kubernetes-list-map-keys'];
  const seen = new Set();
  const errors = [];
  data.forEach((item, i) => {
    const id = JSON.stringify(keys.map((k) => item?.[k]));
    if (seen.has(id)) errors.push({ path: `${path}[${i}]`, message: `Duplicate value: ${id}`, origin: 'list-type' });
    seen.add(id);
  });
  return errors;
}

function celIntentErrors(node, data, path) {
  const errors = [];
  for (const v of node['x-kubernetes-validations'] ?? []) {
    const check = celIntentFor(v.rule);
    if (!check) throw new Error(`${path}: CEL rule has no JS mirror: ${v.rule}`);
    let ok;
    try {
      ok = check(data);
    } catch {
      continue;  // malformed data; the schema errors already say why
    }
    if (!ok) {
      const where = v.fieldPath ? path + v.fieldPath.replace(/\['([^']+)'\]/g, '.$1') : path;
      errors.push({ path: where, message: v.message, origin: 'cel-intent', reason: v.reason });
    }
  }
  return errors;
}

function joinPath(path, key) {
  return path === '' ? key : `${path}.${key}`;
}

// ajv's JSON pointer "/spec/hosts/0" -> "spec.hosts[0]", and a map entry as
// "claims[dept]" (the proxy's notation); required and additionalProperties
// errors name the missing or unknown field itself.
function fromAjvError(e, schema) {
  let path = '';
  let node = schema;
  for (const raw of e.instancePath.split('/').slice(1)) {
    const seg = raw.replace(/~1/g, '/').replace(/~0/g, '~');
    if (node?.type === 'array') {
      path = `${path}[${seg}]`;
      node = node.items;
    } else if (node?.properties?.[seg]) {
      path = joinPath(path, seg);
      node = node.properties[seg];
    } else {
      path = `${path}[${seg}]`;
      node = typeof node?.additionalProperties === 'object' ? node.additionalProperties : undefined;
    }
  }
  let message = e.message;
  if (e.keyword === 'required') path = joinPath(path, e.params.missingProperty);
  if (e.keyword === 'additionalProperties') {
    path = joinPath(path, e.params.additionalProperty);
    message = 'unknown field';
  }
  if (e.keyword === 'enum') message = `${e.message}: ${e.params.allowedValues.join(', ')}`;
  return { path, message, origin: 'schema', keyword: e.keyword };
}

// Schema nodes with a default, with their paths, to check each default validates.
export function defaultsOf(node, path = 'openAPIV3Schema', out = []) {
  if (node.default !== undefined) out.push({ path, node });
  for (const [k, child] of Object.entries(node.properties ?? {})) defaultsOf(child, `${path}.${k}`, out);
  if (node.items) defaultsOf(node.items, `${path}[]`, out);
  if (typeof node.additionalProperties === 'object') defaultsOf(node.additionalProperties, `${path}{}`, out);
  return out;
}

// Every x-kubernetes-validations rule with the schema path it sits on.
export function celRulesOf(node, path = 'openAPIV3Schema', out = []) {
  for (const v of node['x-kubernetes-validations'] ?? []) out.push({ path, ...v });
  for (const [k, child] of Object.entries(node.properties ?? {})) celRulesOf(child, `${path}.${k}`, out);
  if (node.items) celRulesOf(node.items, `${path}[]`, out);
  if (typeof node.additionalProperties === 'object') celRulesOf(node.additionalProperties, `${path}{}`, out);
  return out;
}

// Every `pattern` in the schema with its path (to prove each compiles as RE2).
export function patternsOf(node, path = 'openAPIV3Schema', out = []) {
  if (typeof node.pattern === 'string') out.push({ path, pattern: node.pattern });
  for (const [k, child] of Object.entries(node.properties ?? {})) patternsOf(child, `${path}.${k}`, out);
  if (node.items) patternsOf(node.items, `${path}[]`, out);
  if (typeof node.additionalProperties === 'object') patternsOf(node.additionalProperties, `${path}{}`, out);
  return out;
}
