// Content negotiation and bodies: Accept parsing (Table, PartialObjectMetadata),
// request body decoding (JSON or YAML) and JSON responses.
//
// Usage:
//   const want = negotiate(req.headers.accept);   // {as: 'Table'|'PartialObjectMetadata'|..., version} | {as: null}
//   const body = await readBody(req);             // parsed object; throws ApiError
//   sendJson(res, 200, obj, { warnings: ['unknown field "spec.x"'] });

import YAML from 'yaml';
import { ApiError, badRequest, statusBody } from './status.mjs';
import { decodeKubeProtobuf, isKubeProtobuf } from './protobuf.mjs';

const kMaxBodyBytes = 3 * 1024 * 1024;

export function negotiate(accept) {
  for (const clause of String(accept ?? '').split(',')) {
    const [media, ...params] = clause.split(';').map((s) => s.trim());
    const p = Object.fromEntries(params.map((kv) => kv.split('=').map((s) => s.trim())));
    if (media !== 'application/json' && media !== '*/*') continue;
    if (!p.as) return { as: null };
    if (p.g === 'meta.k8s.io' && ['v1', 'v1beta1'].includes(p.v) &&
        ['Table', 'PartialObjectMetadata', 'PartialObjectMetadataList'].includes(p.as)) {
      return { as: p.as, version: p.v };
    }
  }
  return { as: null };
}

function readRawBuffer(req) {
  return new Promise((resolve, reject) => {
    const chunks = [];
    let size = 0;
    req.on('data', (c) => {
      size += c.length;
      if (size > kMaxBodyBytes) {
        reject(new ApiError(statusBody({ code: 413, reason: 'RequestEntityTooLarge', message: `Request entity too large: limit is ${kMaxBodyBytes}` })));
        req.destroy();
      } else {
        chunks.push(c);
      }
    });
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

export async function readBody(req) {
  const buffer = await readRawBuffer(req);
  const type = String(req.headers['content-type'] ?? 'application/json').split(';')[0].trim();
  if (type === 'application/vnd.kubernetes.protobuf' || isKubeProtobuf(buffer)) return decodeKubeProtobuf(buffer);
  const raw = buffer.toString('utf8');
  if (raw.trim() === '') return undefined;
  try {
    if (type === 'application/yaml' || type === 'application/apply-patch+yaml') return YAML.parse(raw);
    return JSON.parse(raw);
  } catch (e) {
    throw badRequest(`couldn't get version/kind; json parse error: ${e.message}`);
  }
}

export function sendJson(res, code, body, { warnings = [], contentType = 'application/json' } = {}) {
  const text = JSON.stringify(body);
  const headers = { 'Content-Type': contentType, 'Content-Length': Buffer.byteLength(text), 'Cache-Control': 'no-cache, private' };
  if (warnings.length) headers.Warning = warnings.map((w) => `299 - ${JSON.stringify(w)}`);
  res.writeHead(code, headers);
  res.end(text);
}
