// metav1.Status bodies and the ApiError carrier used by every handler.
//
// Usage:
//   throw notFound(type, 'foo');            // -> 404 {"kind":"Status",...,"reason":"NotFound"}
//   throw invalid(type, 'foo', fieldErrors); // -> 422 with details.causes
//   sendStatus(res, err.status);             // in the HTTP shell
//
// Messages follow the wording of the real API server, because clients (kubectl,
// client-go, the operator) print or match them.

export class ApiError extends Error {
  constructor(status, headers = {}) {
    super(status.message);
    this.status = status;
    this.headers = headers;
  }
}

export function statusBody({ code, reason, message, details }) {
  const body = { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message };
  if (reason) body.reason = reason;
  if (details) body.details = details;
  body.code = code;
  return body;
}

export function successStatus(type, name, uid) {
  const details = { name };
  if (type.group) details.group = type.group;
  details.kind = type.resource;
  if (uid) details.uid = uid;
  return { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Success', details };
}

// "accesspolicies.gatehouse.dev" or "configmaps" (core group has no suffix).
export function qualifiedResource(type) {
  return type.group ? `${type.resource}.${type.group}` : type.resource;
}

function qualifiedKind(type) {
  return type.group ? `${type.kind}.${type.group}` : type.kind;
}

function resourceDetails(type, name) {
  const details = {};
  if (name !== undefined) details.name = name;
  if (type.group) details.group = type.group;
  details.kind = type.resource;
  return details;
}

export function notFound(type, name) {
  return new ApiError(
    statusBody({
      code: 404,
      reason: 'NotFound',
      message: `${qualifiedResource(type)} "${name}" not found`,
      details: resourceDetails(type, name),
    }),
  );
}

export function namespaceNotFound(name) {
  return new ApiError(
    statusBody({
      code: 404,
      reason: 'NotFound',
      message: `namespaces "${name}" not found`,
      details: { name, kind: 'namespaces' },
    }),
  );
}

export function alreadyExists(type, name) {
  return new ApiError(
    statusBody({
      code: 409,
      reason: 'AlreadyExists',
      message: `${qualifiedResource(type)} "${name}" already exists`,
      details: resourceDetails(type, name),
    }),
  );
}

export function conflict(type, name, why) {
  return new ApiError(
    statusBody({
      code: 409,
      reason: 'Conflict',
      message: `Operation cannot be fulfilled on ${qualifiedResource(type)} "${name}": ${why}`,
      details: resourceDetails(type, name),
    }),
  );
}

export const kStaleMessage =
  'the object has been modified; please apply your changes to the latest version and try again';

export function badRequest(message) {
  return new ApiError(statusBody({ code: 400, reason: 'BadRequest', message }));
}

export function methodNotAllowed(message = 'the server does not allow this method on the requested resource') {
  return new ApiError(
    statusBody({ code: 405, reason: 'MethodNotAllowed', message, details: {} }),
  );
}

export function unsupportedMediaType(contentType, accepted) {
  return new ApiError(
    statusBody({
      code: 415,
      reason: 'UnsupportedMediaType',
      message:
        `the body of the request was in an unknown format - accepted media types include: ` +
        accepted.join(', '),
    }),
  );
}

export function unauthorized() {
  return new ApiError(statusBody({ code: 401, reason: 'Unauthorized', message: 'Unauthorized' }));
}

export function pathNotFound() {
  return new ApiError(
    statusBody({
      code: 404,
      reason: 'NotFound',
      message: 'the server could not find the requested resource',
      details: {},
    }),
  );
}

export function expired(message) {
  return new ApiError(statusBody({ code: 410, reason: 'Expired', message }));
}

export function tooLargeResourceVersion(requested, current) {
  return new ApiError(
    statusBody({
      code: 504,
      reason: 'Timeout',
      message: `Too large resource version: ${requested}, current: ${current}`,
      details: {
        causes: [{ reason: 'ResourceVersionTooLarge', message: 'Too large resource version' }],
        retryAfterSeconds: 1,
      },
    }),
  );
}

export function forbidden(type, name, message) {
  return new ApiError(
    statusBody({
      code: 403,
      reason: 'Forbidden',
      message: `${qualifiedResource(type)} "${name}" is forbidden: ${message}`,
      details: resourceDetails(type, name),
    }),
  );
}

// fieldErrors: [{type, field, detail, badValue, hasBadValue}] built by field_errors.mjs.
export function invalid(type, name, fieldErrors) {
  const rendered = fieldErrors.map((e) => `${e.field}: ${e.message}`);
  const joined = rendered.length === 1 ? rendered[0] : `[${rendered.join(', ')}]`;
  const details = { name };
  if (type.group) details.group = type.group;
  details.kind = type.kind;
  details.causes = fieldErrors.map((e) => ({ reason: e.reason, message: e.message, field: e.field }));
  return new ApiError(
    statusBody({
      code: 422,
      reason: 'Invalid',
      message: `${qualifiedKind(type)} "${name}" is invalid: ${joined}`,
      details,
    }),
  );
}

export function internalError(message) {
  return new ApiError(
    statusBody({
      code: 500,
      reason: 'InternalError',
      message: `Internal error occurred: ${message}`,
      details: { causes: [{ message }] },
    }),
  );
}
