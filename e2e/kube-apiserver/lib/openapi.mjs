// OpenAPI v3 documents (the /openapi/v3 index and one document per group
// version), enough for kubectl's explain, its server-side field validation
// detection and its patch-type choice. CRD schemas appear once a CRD exists.
//
// Usage:
//   openApiV3Index(registry)                  // {"paths": {"apis/g/v": {"serverRelativeURL": ...}}}
//   openApiV3Document(registry, 'apps', 'v1') // OpenAPI 3.0 document or null

import { createHash } from 'node:crypto';

const kMetaPrefix = 'io.k8s.apimachinery.pkg.apis.meta.v1';
const kBuiltinPrefixes = {
  '': 'io.k8s.api.core',
  'apiextensions.k8s.io': 'io.k8s.apiextensions-apiserver.pkg.apis.apiextensions',
};

function schemaPrefix(type) {
  if (!type.builtin) return `${type.group.split('.').reverse().join('.')}.${type.version}`;
  const base = kBuiltinPrefixes[type.group] ?? `io.k8s.api.${type.group.split('.')[0]}`;
  return `${base}.${type.version}`;
}

const ref = (name) => ({ $ref: `#/components/schemas/${name}` });
const gvk = (t) => ({ group: t.group, kind: t.kind, version: t.version });

const kApiVersionDoc =
  'APIVersion defines the versioned schema of this representation of an object. Servers should ' +
  'convert recognized schemas to the latest internal value, and may reject unrecognized values. ' +
  'More info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#resources';
const kKindDoc =
  'Kind is a string value representing the REST resource this object represents. Servers may ' +
  'infer this from the endpoint the client submits requests to. Cannot be updated. In CamelCase. ' +
  'More info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#types-kinds';
const kMetadataDoc =
  "Standard object's metadata. More info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#metadata";

function metaSchemas() {
  const str = (description) => ({ type: 'string', description });
  return {
    [`${kMetaPrefix}.ObjectMeta`]: {
      description: 'ObjectMeta is metadata that all persisted resources must have, which includes all objects users must create.',
      type: 'object',
      properties: {
        name: str('Name must be unique within a namespace.'),
        generateName: str('GenerateName is an optional prefix, used by the server, to generate a unique name ONLY IF the Name field has not been provided.'),
        namespace: str('Namespace defines the space within which each name must be unique.'),
        uid: str('UID is the unique in time and space value for this object.'),
        resourceVersion: str('An opaque value that represents the internal version of this object.'),
        generation: { type: 'integer', format: 'int64', description: 'A sequence number representing a specific generation of the desired state.' },
        creationTimestamp: str('CreationTimestamp is a timestamp representing the server time when this object was created.'),
        deletionTimestamp: str('DeletionTimestamp is RFC 3339 date and time at which this resource will be deleted.'),
        labels: { type: 'object', additionalProperties: { type: 'string', default: '' }, description: 'Map of string keys and values that can be used to organize and categorize objects.' },
        annotations: { type: 'object', additionalProperties: { type: 'string', default: '' }, description: 'Annotations is an unstructured key value map stored with a resource.' },
        finalizers: { type: 'array', items: { type: 'string', default: '' }, description: 'Must be empty before the object is deleted from the registry.', 'x-kubernetes-list-type': 'set', 'x-kubernetes-patch-strategy': 'merge' },
      },
    },
    [`${kMetaPrefix}.ListMeta`]: {
      description: 'ListMeta describes metadata that synthetic resources must have.',
      type: 'object',
      properties: { resourceVersion: str('String that identifies the server\'s internal version of this object.'), continue: str('continue may be set if the user set a limit on the number of items returned.') },
    },
    [`${kMetaPrefix}.Patch`]: { description: 'Patch is provided to give a concrete name and type to the Kubernetes PATCH request body.', type: 'object' },
    [`${kMetaPrefix}.Status`]: { description: 'Status is a return value for calls that don\'t return other objects.', type: 'object' },
  };
}

function kindSchema(type) {
  const base = type.schema ? structuredClone(type.schema) : { type: 'object', description: `${type.kind} (schema not published by this test server).` };
  base.properties = {
    apiVersion: { type: 'string', description: kApiVersionDoc },
    kind: { type: 'string', description: kKindDoc },
    metadata: { allOf: [ref(`${kMetaPrefix}.ObjectMeta`)], default: {}, description: kMetadataDoc },
    ...Object.fromEntries(Object.entries(base.properties ?? {}).filter(([k]) => !['apiVersion', 'kind', 'metadata'].includes(k))),
  };
  base['x-kubernetes-group-version-kind'] = [gvk(type)];
  return base;
}

function listSchema(type, itemName) {
  return {
    description: `${type.listKind} is a list of ${type.kind}`,
    type: 'object',
    required: ['items'],
    properties: {
      apiVersion: { type: 'string', description: kApiVersionDoc },
      items: { type: 'array', items: ref(itemName), description: `List of ${type.resource}.` },
      kind: { type: 'string', description: kKindDoc },
      metadata: { allOf: [ref(`${kMetaPrefix}.ListMeta`)], default: {} },
    },
    'x-kubernetes-group-version-kind': [{ group: type.group, kind: type.listKind, version: type.version }],
  };
}

const queryParam = (name, description) => ({ name, in: 'query', description, schema: { type: 'string', uniqueItems: true } });
const kWriteParams = [
  queryParam('dryRun', 'When present, indicates that modifications should not be persisted.'),
  queryParam('fieldManager', 'fieldManager is a name associated with the actor or entity that is making these changes.'),
  queryParam('fieldValidation', 'fieldValidation instructs the server on how to handle objects in the request containing unknown or duplicate fields. Valid values are: Ignore, Warn, Strict.'),
];

function operation(type, action, schemaName, extra = {}) {
  const op = {
    description: `${action} ${type.kind}`,
    operationId: `${action}${type.kind}`,
    responses: { 200: { description: 'OK', content: { 'application/json': { schema: ref(schemaName) } } } },
    'x-kubernetes-action': action,
    'x-kubernetes-group-version-kind': gvk(type),
    ...extra,
  };
  return op;
}

function patchOperation(type, schemaName) {
  const patchTypes = ['application/json-patch+json', 'application/merge-patch+json'];
  const content = Object.fromEntries(patchTypes.map((t) => [t, { schema: ref(`${kMetaPrefix}.Patch`) }]));
  return operation(type, 'patch', schemaName, {
    parameters: [...kWriteParams, queryParam('force', 'Force is going to "force" Apply requests.')],
    requestBody: { content, required: true },
  });
}

function addPaths(paths, type, kindName, listName) {
  const root = type.group ? `/apis/${type.group}/${type.version}` : `/api/${type.version}`;
  const scope = type.namespaced ? `${root}/namespaces/{namespace}` : root;
  const writeBody = { content: { 'application/json': { schema: ref(kindName) } }, required: true };
  paths[`${scope}/${type.resource}`] = {
    get: operation(type, 'list', listName),
    post: operation(type, 'post', kindName, { parameters: kWriteParams, requestBody: writeBody }),
    delete: operation(type, 'deletecollection', `${kMetaPrefix}.Status`),
  };
  paths[`${scope}/${type.resource}/{name}`] = {
    get: operation(type, 'get', kindName),
    put: operation(type, 'put', kindName, { parameters: kWriteParams, requestBody: writeBody }),
    patch: patchOperation(type, kindName),
    delete: operation(type, 'delete', `${kMetaPrefix}.Status`),
  };
  if (type.status) {
    paths[`${scope}/${type.resource}/{name}/status`] = {
      get: operation(type, 'get', kindName),
      put: operation(type, 'put', kindName, { parameters: kWriteParams, requestBody: writeBody }),
      patch: patchOperation(type, kindName),
    };
  }
  if (type.namespaced) paths[`${root}/${type.resource}`] = { get: operation(type, 'list', listName) };
}

export function openApiV3Document(registry, group, version) {
  const types = registry.all().filter((t) => t.group === group && t.version === version);
  if (types.length === 0) return null;
  const schemas = metaSchemas();
  const paths = {};
  for (const type of types) {
    const kindName = `${schemaPrefix(type)}.${type.kind}`;
    const listName = `${schemaPrefix(type)}.${type.listKind}`;
    schemas[kindName] = kindSchema(type);
    schemas[listName] = listSchema(type, kindName);
    addPaths(paths, type, kindName, listName);
  }
  return { openapi: '3.0.0', info: { title: 'Kubernetes', version: 'v1.32.0' }, paths, components: { schemas } };
}

const gvPath = (group, version) => (group ? `apis/${group}/${version}` : `api/${version}`);

export function openApiV3Index(registry) {
  const paths = {};
  const seen = new Set();
  for (const t of registry.all()) {
    const p = gvPath(t.group, t.version);
    if (seen.has(p)) continue;
    seen.add(p);
    const doc = JSON.stringify(openApiV3Document(registry, t.group, t.version));
    const hash = createHash('sha512').update(doc).digest('hex').slice(0, 128).toUpperCase();
    paths[p] = { serverRelativeURL: `/openapi/v3/${p}?hash=${hash}` };
  }
  return { paths };
}
