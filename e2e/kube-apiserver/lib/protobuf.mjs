// Decoding of Kubernetes protobuf request bodies ("k8s\0" + runtime.Unknown)
// for the kinds kubectl's typed create commands send that way (kubectl create
// namespace|configmap|secret|serviceaccount). Other kinds answer 415 and
// clients use JSON, which every endpoint accepts.
//
// Usage:
//   if (isKubeProtobuf(buffer)) obj = decodeKubeProtobuf(buffer);   // plain JSON-shaped object

import { ApiError, statusBody } from './status.mjs';

const kMagic = Buffer.from([0x6b, 0x38, 0x73, 0x00]);

export const isKubeProtobuf = (buf) => buf.length >= 4 && buf.subarray(0, 4).equals(kMagic);

function readVarint(buf, pos) {
  let result = 0n;
  let shift = 0n;
  for (;;) {
    if (pos >= buf.length) throw new Error('truncated varint');
    const b = buf[pos++];
    result |= BigInt(b & 0x7f) << shift;
    if ((b & 0x80) === 0) return [result, pos];
    shift += 7n;
  }
}

// Yields [fieldNumber, wireType, value(Buffer|bigint)].
function* fields(buf) {
  let pos = 0;
  while (pos < buf.length) {
    let tag;
    [tag, pos] = readVarint(buf, pos);
    const field = Number(tag >> 3n);
    const wire = Number(tag & 7n);
    if (wire === 0) {
      let v;
      [v, pos] = readVarint(buf, pos);
      yield [field, wire, v];
    } else if (wire === 2) {
      let len;
      [len, pos] = readVarint(buf, pos);
      const end = pos + Number(len);
      if (end > buf.length) throw new Error('truncated field');
      yield [field, wire, buf.subarray(pos, end)];
      pos = end;
    } else if (wire === 1) {
      yield [field, wire, buf.subarray(pos, pos + 8)];
      pos += 8;
    } else if (wire === 5) {
      yield [field, wire, buf.subarray(pos, pos + 4)];
      pos += 4;
    } else {
      throw new Error(`unsupported wire type ${wire}`);
    }
  }
}

// A message schema maps field numbers to [jsonName, kind]; kinds: string, bytes, bool,
// int, strings (repeated), map (string->string), bytesMap (string->base64), or a nested schema.
const str = (n) => [n, 'string'];
const kTime = { 1: ['seconds', 'int'], 2: ['nanos', 'int'] };
const kOwnerRef = { 1: str('kind'), 3: str('name'), 4: str('uid'), 5: str('apiVersion'), 6: ['controller', 'bool'], 7: ['blockOwnerDeletion', 'bool'] };
const kObjectMeta = {
  1: str('name'), 2: str('generateName'), 3: str('namespace'), 5: str('uid'), 6: str('resourceVersion'),
  7: ['generation', 'int'], 8: ['creationTimestamp', kTime], 11: ['labels', 'map'], 12: ['annotations', 'map'],
  13: ['ownerReferences', [kOwnerRef]], 14: ['finalizers', 'strings'],
};
const kObjectRef = { 1: str('kind'), 2: str('namespace'), 3: str('name'), 4: str('uid'), 5: str('apiVersion') };
const kSchemas = {
  Namespace: { 1: ['metadata', kObjectMeta], 2: ['spec', { 1: ['finalizers', 'strings'] }] },
  ConfigMap: { 1: ['metadata', kObjectMeta], 2: ['data', 'map'], 3: ['binaryData', 'bytesMap'], 4: ['immutable', 'bool'] },
  Secret: { 1: ['metadata', kObjectMeta], 2: ['data', 'bytesMap'], 3: str('type'), 4: ['stringData', 'map'], 5: ['immutable', 'bool'] },
  ServiceAccount: { 1: ['metadata', kObjectMeta], 2: ['secrets', [kObjectRef]], 3: ['imagePullSecrets', [{ 1: str('name') }]], 4: ['automountServiceAccountToken', 'bool'] },
};

function decodeMessage(buf, schema) {
  const out = {};
  for (const [num, , value] of fields(buf)) {
    const spec = schema[num];
    if (!spec) continue;
    const [name, kind] = spec;
    if (kind === 'string') {
      // gogo-protobuf writes empty strings explicitly; JSON would have omitted them.
      if (value.length) out[name] = value.toString('utf8');
    }
    else if (kind === 'bool') out[name] = value !== 0n;
    else if (kind === 'int') out[name] = Number(value);
    else if (kind === 'strings') (out[name] ??= []).push(value.toString('utf8'));
    else if (kind === 'map' || kind === 'bytesMap') {
      let k = '';
      let v = Buffer.alloc(0);
      for (const [n, , val] of fields(value)) {
        if (n === 1) k = val.toString('utf8');
        if (n === 2) v = val;
      }
      (out[name] ??= {})[k] = kind === 'map' ? v.toString('utf8') : v.toString('base64');
    } else if (Array.isArray(kind)) (out[name] ??= []).push(decodeMessage(value, kind[0]));
    else if (kind === kTime) {
      const seconds = decodeMessage(value, kTime).seconds ?? 0;
      if (seconds) out[name] = new Date(seconds * 1000).toISOString().replace('.000Z', 'Z');
    }
    else out[name] = decodeMessage(value, kind);
  }
  return out;
}

export function decodeKubeProtobuf(buf) {
  try {
    let typeMeta = {};
    let raw = Buffer.alloc(0);
    for (const [num, , value] of fields(buf.subarray(4))) {
      if (num === 1) typeMeta = decodeMessage(value, { 1: str('apiVersion'), 2: str('kind') });
      if (num === 2) raw = value;
    }
    const schema = kSchemas[typeMeta.kind];
    if (!schema) {
      throw new ApiError(statusBody({
        code: 415, reason: 'UnsupportedMediaType',
        message: `the body of the request was in an unknown format - accepted media types include: application/json, application/yaml (protobuf is decoded for ${Object.keys(kSchemas).join(', ')} only)`,
      }));
    }
    return { apiVersion: typeMeta.apiVersion, kind: typeMeta.kind, ...decodeMessage(raw, schema) };
  } catch (e) {
    if (e instanceof ApiError) throw e;
    throw new ApiError(statusBody({ code: 400, reason: 'BadRequest', message: `unable to decode protobuf body: ${e.message}` }));
  }
}
