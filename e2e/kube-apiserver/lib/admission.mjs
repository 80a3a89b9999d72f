// The write pipeline shared by create, update and patch: decode checks,
// unknown-field handling (fieldValidation), system metadata, status
// subresource rules, defaulting, validation and generation tracking.
//
// Usage:
//   const { object, warnings } = await admitCreate(ctx, type, namespace, body, opts);
//   const { object, warnings } = await admitUpdate(ctx, type, old, body, { ...opts, subresource });
//   // ctx: { now(): Date, newUid(): string, allocator }; opts: { fieldValidation }
//   // throws ApiError (status.mjs) exactly where the real server answers with an error.

import { canonical, processCustomResource, validateSubtree } from './structural_schema.mjs';
import { checkBuiltinSchema, defaultBuiltin, secretDecodeError, validateBuiltin } from './builtin_behaviour.mjs';
import { defaultCrd, validateCrd } from './crd.mjs';
import { validateObjectMeta } from './object_meta.mjs';
import { forbiddenField, invalidValue } from './field_errors.mjs';
import { badRequest, invalid } from './status.mjs';

const kObjectMetaFields = new Set([
  'name', 'generateName', 'namespace', 'selfLink', 'uid', 'resourceVersion', 'generation',
  'creationTimestamp', 'deletionTimestamp', 'deletionGracePeriodSeconds', 'labels', 'annotations',
  'ownerReferences', 'finalizers', 'managedFields',
]);

const isObject = (v) => v !== null && typeof v === 'object' && !Array.isArray(v);
export const groupVersion = (type) => (type.group ? `${type.group}/${type.version}` : type.version);

function decodeError(type, detail) {
  return badRequest(`${type.kind} in version "${type.version}" cannot be handled as a ${type.kind}: ${detail}`);
}

function checkTypeMeta(type, body) {
  if (!isObject(body)) throw badRequest('the body of the request must be a JSON object');
  if (!body.kind) throw badRequest(`Object 'Kind' is missing in '${JSON.stringify(body).slice(0, 200)}'`);
  if (body.apiVersion !== groupVersion(type)) {
    throw badRequest(`the API version in the data (${body.apiVersion ?? ''}) does not match the expected API version (${groupVersion(type)})`);
  }
  if (body.kind !== type.kind) {
    throw badRequest(`the kind in the data (${body.kind}) does not match the expected kind (${type.kind})`);
  }
  if (body.metadata !== undefined && !isObject(body.metadata)) {
    throw decodeError(type, 'json: cannot unmarshal into Go struct field .metadata of type v1.ObjectMeta');
  }
}

// Unknown fields of built-in kinds: top level and metadata (the parts this server knows).
function builtinUnknownFields(type, body) {
  const unknown = [];
  for (const key of Object.keys(body)) if (!type.topLevel.has(key)) unknown.push(key);
  for (const key of Object.keys(body.metadata ?? {})) if (!kObjectMetaFields.has(key)) unknown.push(`metadata.${key}`);
  return unknown;
}

function handleUnknownFields(type, unknown, fieldValidation, warnings) {
  if (unknown.length === 0) return;
  const rendered = unknown.map((f) => `unknown field "${f}"`);
  if (fieldValidation === 'Strict') throw decodeError(type, `strict decoding error: ${rendered.join(', ')}`);
  if (fieldValidation !== 'Ignore') warnings.push(...rendered);
}

// Decodes, prunes, defaults and validates `body` into the object to store (without system metadata).
async function shapeObject(ctx, type, body, old, opts, warnings) {
  let object = structuredClone(body);
  const errors = [];
  if (type.builtin) {
    handleUnknownFields(type, builtinUnknownFields(type, object), opts.fieldValidation, warnings);
    for (const key of Object.keys(object)) if (!type.topLevel.has(key)) delete object[key];
    for (const key of Object.keys(object.metadata ?? {})) if (!kObjectMetaFields.has(key)) delete object.metadata[key];
    if (type.kind === 'Secret') {
      const bad = secretDecodeError(object);
      if (bad) throw decodeError(type, bad);
    }
    const shape = await checkBuiltinSchema(type, object);
    if (shape.decodeErrors.length) throw decodeError(type, shape.decodeErrors[0]);
    errors.push(...shape.fieldErrors);
  } else {
    const result = processCustomResource(type.schema, object);
    handleUnknownFields(type, result.unknownFields, opts.fieldValidation, warnings);
    object = result.object;
    errors.push(...result.errors);
  }
  return { object, errors };
}

function applyTypeDefaults(ctx, type, object, old) {
  if (type.builtin) defaultBuiltin(type, object, old, ctx.allocator);
  if (type.kind === 'CustomResourceDefinition' && type.group === 'apiextensions.k8s.io') defaultCrd(object);
}

function typeErrors(type, object, old) {
  const errors = [...validateObjectMeta(type, object.metadata)];
  if (type.builtin) errors.push(...validateBuiltin(type, object, old));
  if (type.kind === 'CustomResourceDefinition' && type.group === 'apiextensions.k8s.io') errors.push(...validateCrd(object));
  return errors;
}

// Content that drives metadata.generation: everything but metadata (and status with a subresource).
function specContent(type, obj) {
  const { metadata, ...rest } = obj;
  if (type.status) delete rest.status;
  return JSON.stringify(canonical(rest));
}

export async function admitCreate(ctx, type, namespace, body, opts = {}) {
  checkTypeMeta(type, body);
  const warnings = [];
  const meta = body.metadata ?? {};
  if (type.namespaced && meta.namespace && meta.namespace !== namespace) {
    throw badRequest('the namespace of the provided object does not match the namespace sent on the request');
  }
  const { object, errors } = await shapeObject(ctx, type, { ...body, metadata: { ...meta } }, null, opts, warnings);
  if (type.status) delete object.status;
  const m = object.metadata;
  if (!m.name && m.generateName) m.name = `${m.generateName}${ctx.randomSuffix()}`;
  if (type.namespaced) m.namespace = namespace;
  else delete m.namespace;
  for (const key of ['resourceVersion', 'deletionTimestamp', 'deletionGracePeriodSeconds', 'selfLink', 'managedFields']) delete m[key];
  m.uid = ctx.newUid();
  m.creationTimestamp = ctx.nowIso();
  if (type.generation) m.generation = 1;
  else delete m.generation;
  applyTypeDefaults(ctx, type, object, null);
  errors.push(...typeErrors(type, object, null));
  if (errors.length) throw invalid(type, m.name ?? m.generateName ?? '', errors);
  object.apiVersion = groupVersion(type);
  object.kind = type.kind;
  return { object, warnings };
}

function carrySystemMetadata(type, object, old) {
  const m = object.metadata;
  const o = old.metadata;
  m.uid = o.uid;
  m.creationTimestamp = o.creationTimestamp;
  m.namespace = o.namespace;
  if (o.namespace === undefined) delete m.namespace;
  if (o.generation !== undefined) m.generation = o.generation;
  else delete m.generation;
  for (const key of ['deletionTimestamp', 'deletionGracePeriodSeconds']) {
    if (o[key] !== undefined) m[key] = o[key];
    else delete m[key];
  }
  delete m.managedFields;
  delete m.selfLink;
}

function finalizerErrors(object, old) {
  if (!old.metadata.deletionTimestamp) return [];
  const before = new Set(old.metadata.finalizers ?? []);
  return (object.metadata.finalizers ?? [])
    .filter((f) => !before.has(f))
    .map(() => forbiddenField('metadata.finalizers', 'no new finalizers can be added if the object is being deleted'));
}

// Update through the main resource (subresource undefined) or /status.
export async function admitUpdate(ctx, type, old, body, opts = {}) {
  checkTypeMeta(type, body);
  const warnings = [];
  const name = old.metadata.name;
  const meta = body.metadata ?? {};
  if (meta.name !== undefined && meta.name !== name) {
    throw badRequest(`the name of the object (${meta.name}) does not match the name on the URL (${name})`);
  }
  if (type.namespaced && meta.namespace && meta.namespace !== old.metadata.namespace) {
    throw badRequest('the namespace of the provided object does not match the namespace sent on the request');
  }
  if (meta.uid && meta.uid !== old.metadata.uid) {
    throw invalid(type, name, [invalidValue('metadata.uid', meta.uid, 'field is immutable')]);
  }
  const shaped = await shapeObject(ctx, type, { ...body, metadata: { ...meta, name } }, old, opts, warnings);
  let object = shaped.object;
  const errors = shaped.errors;
  if (opts.subresource === 'status') {
    // A status write changes status only; everything else comes from the stored object.
    const status = object.status;
    object = structuredClone(old);
    if (status === undefined) delete object.status;
    else object.status = status;
    errors.length = 0;
    if (!type.builtin) errors.push(...validateSubtree(type.schema, 'status', status));
  } else {
    if (type.status) {
      if (old.status === undefined) delete object.status;
      else object.status = structuredClone(old.status);
    }
    carrySystemMetadata(type, object, old);
    applyTypeDefaults(ctx, type, object, old);
    errors.push(...typeErrors(type, object, old), ...finalizerErrors(object, old));
    if (type.generation && specContent(type, object) !== specContent(type, old)) {
      object.metadata.generation = (old.metadata.generation ?? 0) + 1;
    }
  }
  if (errors.length) throw invalid(type, name, errors);
  object.metadata.resourceVersion = old.metadata.resourceVersion;
  object.apiVersion = old.apiVersion;
  object.kind = type.kind;
  return { object, warnings };
}

// True when an update would store exactly what is stored (the real server skips such writes).
export function isNoop(old, next) {
  return JSON.stringify(canonical(old)) === JSON.stringify(canonical(next));
}
