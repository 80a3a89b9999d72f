// Pruning, defaulting and validation of custom resources against a CRD's
// openAPIV3Schema (a structural schema), in the order the real API server uses:
// prune unknown fields -> apply defaults -> validate.
//
// Usage:
//   const { object, unknownFields, errors } = processCustomResource(schema, body);
//   // unknownFields: ['spec.foo', ...] (pruned; a Strict request rejects them)
//   // errors: field errors (field_errors.mjs) -> 422 Invalid

import {
  duplicate,
  invalidValue,
  notSupported,
  required,
  tooLong,
  tooMany,
  typeInvalid,
} from './field_errors.mjs';
import { validateFormat } from './formats.mjs';

const kObjectMetaFields = new Set([
  'name', 'generateName', 'namespace', 'selfLink', 'uid', 'resourceVersion', 'generation',
  'creationTimestamp', 'deletionTimestamp', 'deletionGracePeriodSeconds', 'labels', 'annotations',
  'ownerReferences', 'finalizers', 'managedFields',
]);

const join = (path, key) => (path ? `${path}.${key}` : key);
const isObject = (v) => v !== null && typeof v === 'object' && !Array.isArray(v);

export function jsonType(value) {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'array';
  if (typeof value === 'number') return Number.isInteger(value) ? 'integer' : 'number';
  return typeof value;
}

// ---- pruning ---------------------------------------------------------------

function pruneMetadata(meta, path, unknown) {
  if (!isObject(meta)) return;
  for (const key of Object.keys(meta)) {
    if (!kObjectMetaFields.has(key)) {
      unknown.push(join(path, key));
      delete meta[key];
    }
  }
}

function pruneNode(schema, value, path, unknown, isRoot) {
  if (!schema) return;
  if (isObject(value)) {
    const props = schema.properties;
    const embedded = isRoot || schema['x-kubernetes-embedded-resource'];
    for (const key of Object.keys(value)) {
      if (embedded && (key === 'apiVersion' || key === 'kind')) continue;
      if (embedded && key === 'metadata') {
        pruneMetadata(value.metadata, join(path, 'metadata'), unknown);
        continue;
      }
      if (props && key in props) {
        pruneNode(props[key], value[key], join(path, key), unknown, false);
      } else if (isObject(schema.additionalProperties)) {
        pruneNode(schema.additionalProperties, value[key], join(path, key), unknown, false);
      } else if (schema.additionalProperties === true || schema['x-kubernetes-preserve-unknown-fields']) {
        continue;
      } else {
        unknown.push(join(path, key));
        delete value[key];
      }
    }
  } else if (Array.isArray(value) && schema.items) {
    value.forEach((item, i) => pruneNode(schema.items, item, `${path}[${i}]`, unknown, false));
  }
}

// ---- defaulting ------------------------------------------------------------

function defaultNode(schema, value) {
  if (!schema) return;
  if (isObject(value)) {
    for (const [key, sub] of Object.entries(schema.properties ?? {})) {
      const missing = !(key in value) || (value[key] === null && !sub.nullable);
      if (missing && sub.default !== undefined) value[key] = structuredClone(sub.default);
      if (key in value) defaultNode(sub, value[key]);
    }
    if (isObject(schema.additionalProperties)) {
      for (const key of Object.keys(value)) defaultNode(schema.additionalProperties, value[key]);
    }
  } else if (Array.isArray(value) && schema.items) {
    for (const item of value) defaultNode(schema.items, item);
  }
}

// ---- validation ------------------------------------------------------------

function typeMatches(schema, value) {
  const actual = jsonType(value);
  if (schema['x-kubernetes-int-or-string']) return actual === 'integer' || actual === 'string';
  if (!schema.type) return true;
  if (schema.type === 'number') return actual === 'number' || actual === 'integer';
  return schema.type === actual;
}

function deepEqual(a, b) {
  return JSON.stringify(canonical(a)) === JSON.stringify(canonical(b));
}

export function canonical(v) {
  if (Array.isArray(v)) return v.map(canonical);
  if (isObject(v)) {
    const out = {};
    for (const k of Object.keys(v).sort()) out[k] = canonical(v[k]);
    return out;
  }
  return v;
}

function validateListType(schema, list, path, errs) {
  const listType = schema['x-kubernetes-list-type'];
  if (listType === 'set') {
    list.forEach((item, i) => {
      if (list.findIndex((other) => deepEqual(other, item)) < i) errs.push(duplicate(`${path}[${i}]`, item));
    });
  } else if (listType === 'map') {
    const keys = schema['x-kubernetes-list-map-keys'] ?? [];
    const seen = new Set();
    list.forEach((item, i) => {
      if (!isObject(item)) return;
      const keyObj = {};
      for (const k of keys) if (item[k] !== undefined) keyObj[k] = item[k];
      const id = JSON.stringify(canonical(keyObj));
      if (seen.has(id)) errs.push(duplicate(`${path}[${i}]`, keyObj));
      seen.add(id);
    });
  }
}

function validateString(schema, value, path, errs) {
  const length = [...value].length;
  if (schema.maxLength !== undefined && length > schema.maxLength) errs.push(tooLong(path, schema.maxLength));
  if (schema.minLength !== undefined && length < schema.minLength) {
    errs.push(invalidValue(path, value, `${path} in body should be at least ${schema.minLength} chars long`));
  }
  if (schema.pattern !== undefined && !new RegExp(schema.pattern).test(value)) {
    errs.push(invalidValue(path, value, `${path} in body should match '${schema.pattern}'`));
  }
  if (schema.format && !validateFormat(schema.format, value)) {
    errs.push(invalidValue(path, value, `${path} in body must be of type ${schema.format}: ${JSON.stringify(value)}`));
  }
}

function validateNumber(schema, value, path, errs) {
  if (schema.minimum !== undefined) {
    if (schema.exclusiveMinimum ? value <= schema.minimum : value < schema.minimum) {
      const rel = schema.exclusiveMinimum ? 'greater than' : 'greater than or equal to';
      errs.push(invalidValue(path, value, `${path} in body should be ${rel} ${schema.minimum}`));
    }
  }
  if (schema.maximum !== undefined) {
    if (schema.exclusiveMaximum ? value >= schema.maximum : value > schema.maximum) {
      const rel = schema.exclusiveMaximum ? 'less than' : 'less than or equal to';
      errs.push(invalidValue(path, value, `${path} in body should be ${rel} ${schema.maximum}`));
    }
  }
  if (schema.multipleOf !== undefined && value % schema.multipleOf !== 0) {
    errs.push(invalidValue(path, value, `${path} in body should be a multiple of ${schema.multipleOf}`));
  }
}

function validateArray(schema, value, path, errs) {
  if (schema.maxItems !== undefined && value.length > schema.maxItems) {
    errs.push(tooMany(path, value.length, schema.maxItems));
  }
  if (schema.minItems !== undefined && value.length < schema.minItems) {
    errs.push(invalidValue(path, value, `${path} in body should have at least ${schema.minItems} items`));
  }
  validateListType(schema, value, path, errs);
  if (schema.items) value.forEach((item, i) => validateNode(schema.items, item, `${path}[${i}]`, errs));
}

function validateObject(schema, value, path, errs) {
  const count = Object.keys(value).length;
  if (schema.maxProperties !== undefined && count > schema.maxProperties) {
    errs.push(tooMany(path, count, schema.maxProperties));
  }
  if (schema.minProperties !== undefined && count < schema.minProperties) {
    errs.push(invalidValue(path, count, `${path} in body should have at least ${schema.minProperties} properties`));
  }
  for (const key of schema.required ?? []) {
    if (!(key in value)) errs.push(required(join(path, key)));
  }
  const props = schema.properties ?? {};
  for (const key of Object.keys(value).sort()) {
    if (key in props) validateNode(props[key], value[key], join(path, key), errs);
    else if (isObject(schema.additionalProperties)) {
      validateNode(schema.additionalProperties, value[key], join(path, key), errs);
    }
  }
}

function validateCombinators(schema, value, path, errs) {
  for (const sub of schema.allOf ?? []) validateNode(sub, value, path, errs);
  const passes = (sub) => {
    const tmp = [];
    validateNode(sub, value, path, tmp);
    return tmp.length === 0;
  };
  if (schema.anyOf && !schema.anyOf.some(passes)) {
    errs.push(invalidValue(path, value, `${path} in body must match at least one schema in anyOf`));
  }
  if (schema.oneOf && schema.oneOf.filter(passes).length !== 1) {
    errs.push(invalidValue(path, value, `${path} in body must match exactly one schema in oneOf`));
  }
  if (schema.not && passes(schema.not)) {
    errs.push(invalidValue(path, value, `${path} in body must not match the schema in not`));
  }
}

function validateNode(schema, value, path, errs) {
  if (!schema) return;
  if (value === null && schema.nullable) return;
  if (!typeMatches(schema, value)) {
    const expected = schema['x-kubernetes-int-or-string'] ? 'integer,string' : schema.type;
    const actual = jsonType(value);
    errs.push(typeInvalid(path, actual, `${path} in body must be of type ${expected}: ${JSON.stringify(actual)}`));
    return;
  }
  if (schema.enum && !schema.enum.some((e) => deepEqual(e, value))) {
    errs.push(notSupported(path, value, schema.enum));
  }
  if (typeof value === 'string') validateString(schema, value, path, errs);
  else if (typeof value === 'number') validateNumber(schema, value, path, errs);
  else if (Array.isArray(value)) validateArray(schema, value, path, errs);
  else if (isObject(value)) validateObject(schema, value, path, errs);
  validateCombinators(schema, value, path, errs);
}

// Root validation skips apiVersion/kind/metadata, which the server handles itself.
function validateRoot(schema, obj, errs) {
  const rootSchema = { ...schema, properties: { ...(schema.properties ?? {}) } };
  delete rootSchema.properties.apiVersion;
  delete rootSchema.properties.kind;
  delete rootSchema.properties.metadata;
  rootSchema.required = (schema.required ?? []).filter((k) => !['apiVersion', 'kind', 'metadata'].includes(k));
  validateObject(rootSchema, obj, '', errs);
  validateCombinators(rootSchema, obj, '', errs);
}

export function processCustomResource(schema, input) {
  const object = structuredClone(input);
  const unknownFields = [];
  const errors = [];
  if (!schema) return { object, unknownFields, errors };
  pruneNode(schema, object, '', unknownFields, true);
  defaultNode(schema, object);
  validateRoot(schema, object, errors);
  return { object, unknownFields, errors };
}

// Validates only the status part (used by /status writes), returning field errors.
export function validateSubtree(schema, key, value) {
  const errs = [];
  const sub = schema?.properties?.[key];
  if (sub && value !== undefined) validateNode(sub, value, key, errs);
  return errs;
}
