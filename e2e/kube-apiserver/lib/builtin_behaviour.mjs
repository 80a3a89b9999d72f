// Per-kind defaulting and validation for the built-in types (a practical
// subset of what the real registry strategies do), plus schema checks of the
// body through the kubernetes-models package (types and required fields).
//
// Usage:
//   const decodeError = await checkBuiltinShape(type, obj);  // string | null -> 400
//   const errs = await validateBuiltin(type, obj, old);      // field errors -> 422
//   defaultBuiltin(type, obj, old, allocator);               // mutates obj

import { forbiddenField, invalidValue, required } from './field_errors.mjs';

const kModelCache = new Map();

async function loadModel(type) {
  if (!kModelCache.has(type.modelPath)) {
    kModelCache.set(
      type.modelPath,
      import(type.modelPath).then((m) => m[type.kind]).catch(() => null),
    );
  }
  return kModelCache.get(type.modelPath);
}

const toFieldPath = (instancePath) =>
  instancePath.split('/').filter(Boolean).reduce((acc, part) => (/^\d+$/.test(part) ? `${acc}[${part}]` : acc ? `${acc}.${part}` : part), '');

// Returns {decodeErrors: [string], fieldErrors: [field error]} from the kind's OpenAPI schema.
export async function checkBuiltinSchema(type, obj) {
  const Model = await loadModel(type);
  const out = { decodeErrors: [], fieldErrors: [] };
  if (!Model) return out;
  try {
    new Model(structuredClone(obj)).validate();
  } catch (e) {
    for (const err of e.errors ?? []) {
      const field = toFieldPath(err.instancePath);
      if (err.keyword === 'required') {
        out.fieldErrors.push(required(field ? `${field}.${err.params.missingProperty}` : err.params.missingProperty));
      } else {
        out.decodeErrors.push(`json: cannot unmarshal into Go struct field ${type.kind}.${field}: ${err.message}`);
      }
    }
  }
  return out;
}

function selectorMatches(selector, labels) {
  for (const [k, v] of Object.entries(selector?.matchLabels ?? {})) if (labels?.[k] !== v) return false;
  for (const expr of selector?.matchExpressions ?? []) {
    const has = labels && expr.key in labels;
    const val = labels?.[expr.key];
    if (expr.operator === 'In' && !(has && expr.values.includes(val))) return false;
    if (expr.operator === 'NotIn' && has && expr.values.includes(val)) return false;
    if (expr.operator === 'Exists' && !has) return false;
    if (expr.operator === 'DoesNotExist' && has) return false;
  }
  return true;
}

const kValidators = {
  Deployment(obj) {
    const errs = [];
    const spec = obj.spec ?? {};
    if (!spec.selector) errs.push(required('spec.selector'));
    else if (Object.keys(spec.selector).length === 0) {
      errs.push(invalidValue('spec.selector', spec.selector, 'empty selector is invalid for deployment'));
    }
    const labels = spec.template?.metadata?.labels;
    if (spec.selector && !selectorMatches(spec.selector, labels)) {
      errs.push(invalidValue('spec.template.metadata.labels', labels ?? {}, '`selector` does not match template `labels`'));
    }
    if (!spec.template?.spec?.containers?.length) errs.push(required('spec.template.spec.containers'));
    return errs;
  },
  Service(obj) {
    const spec = obj.spec ?? {};
    if (spec.type !== 'ExternalName' && spec.clusterIP !== 'None' && !spec.ports?.length) {
      return [required('spec.ports')];
    }
    return [];
  },
  RoleBinding: (obj, old) => validateBinding(obj, old),
  ClusterRoleBinding: (obj, old) => validateBinding(obj, old),
  Secret(obj, old) {
    const errs = [];
    if (old && (old.type ?? 'Opaque') !== (obj.type ?? 'Opaque')) {
      errs.push(invalidValue('type', obj.type, 'field is immutable'));
    }
    return errs.concat(validateImmutableData(obj, old));
  },
  ConfigMap: (obj, old) => validateImmutableData(obj, old),
};

function validateBinding(obj, old) {
  if (!obj.roleRef) return [required('roleRef')];
  if (old && JSON.stringify(old.roleRef) !== JSON.stringify(obj.roleRef)) {
    return [invalidValue('roleRef', obj.roleRef, 'cannot change roleRef')];
  }
  return [];
}

function validateImmutableData(obj, old) {
  if (!old?.immutable) return [];
  const errs = [];
  if (!obj.immutable) errs.push(forbiddenField('immutable', 'field is immutable when `immutable` is set'));
  for (const field of ['data', 'binaryData']) {
    if (JSON.stringify(old[field] ?? {}) !== JSON.stringify(obj[field] ?? {})) {
      errs.push(forbiddenField(field, 'field is immutable when `immutable` is set'));
    }
  }
  return errs;
}

export function validateBuiltin(type, obj, old) {
  return kValidators[type.kind]?.(obj, old) ?? [];
}

// ---- defaulting ------------------------------------------------------------

function defaultSecret(obj) {
  obj.type ??= 'Opaque';
  if (obj.stringData && typeof obj.stringData === 'object') {
    obj.data ??= {};
    for (const [k, v] of Object.entries(obj.stringData)) obj.data[k] = Buffer.from(String(v)).toString('base64');
    delete obj.stringData;
  }
}

function defaultService(obj, old, allocator) {
  const spec = (obj.spec ??= {});
  spec.type ??= 'ClusterIP';
  if (spec.type !== 'ExternalName') {
    spec.clusterIP ??= old?.spec?.clusterIP ?? allocator.nextClusterIp();
    spec.clusterIPs ??= [spec.clusterIP];
    spec.ipFamilies ??= ['IPv4'];
    spec.ipFamilyPolicy ??= 'SingleStack';
    spec.internalTrafficPolicy ??= 'Cluster';
  }
  spec.sessionAffinity ??= 'None';
  for (const port of spec.ports ?? []) {
    port.protocol ??= 'TCP';
    port.targetPort ??= port.port;
  }
  obj.status ??= { loadBalancer: {} };
}

function defaultPodTemplate(template) {
  const spec = (template.spec ??= {});
  spec.restartPolicy ??= 'Always';
  spec.dnsPolicy ??= 'ClusterFirst';
  spec.terminationGracePeriodSeconds ??= 30;
  spec.schedulerName ??= 'default-scheduler';
  spec.securityContext ??= {};
  for (const c of [...(spec.containers ?? []), ...(spec.initContainers ?? [])]) {
    c.terminationMessagePath ??= '/dev/termination-log';
    c.terminationMessagePolicy ??= 'File';
    const tagged = /:[^/]+$/.test(c.image ?? '') && !(c.image ?? '').endsWith(':latest');
    c.imagePullPolicy ??= tagged ? 'IfNotPresent' : 'Always';
    c.resources ??= {};
    for (const p of c.ports ?? []) p.protocol ??= 'TCP';
  }
}

function defaultDeployment(obj) {
  const spec = (obj.spec ??= {});
  spec.replicas ??= 1;
  spec.revisionHistoryLimit ??= 10;
  spec.progressDeadlineSeconds ??= 600;
  spec.strategy ??= { type: 'RollingUpdate' };
  if (spec.strategy.type === 'RollingUpdate') {
    spec.strategy.rollingUpdate ??= {};
    spec.strategy.rollingUpdate.maxUnavailable ??= '25%';
    spec.strategy.rollingUpdate.maxSurge ??= '25%';
  }
  if (spec.template) defaultPodTemplate(spec.template);
}

function defaultNamespace(obj) {
  obj.spec ??= {};
  obj.spec.finalizers ??= ['kubernetes'];
  obj.status ??= {};
  obj.status.phase ??= 'Active';
  obj.metadata.labels ??= {};
  obj.metadata.labels['kubernetes.io/metadata.name'] = obj.metadata.name;
}

export function defaultBuiltin(type, obj, old, allocator) {
  if (type.kind === 'Secret') defaultSecret(obj);
  else if (type.kind === 'Service') defaultService(obj, old, allocator);
  else if (type.kind === 'Deployment') defaultDeployment(obj);
  else if (type.kind === 'Namespace') defaultNamespace(obj);
}

// Secret data must be base64: the real server fails the JSON decode otherwise.
export function secretDecodeError(obj) {
  for (const [k, v] of Object.entries(obj.data ?? {})) {
    if (typeof v !== 'string' || !/^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/.test(v)) {
      return `illegal base64 data at input byte 0 (data[${k}])`;
    }
  }
  return null;
}
