// The three patch formats of the Kubernetes API.
//
// Usage:
//   applyMergePatch(current, patch)           // RFC 7386 (application/merge-patch+json)
//   applyJsonPatch(current, ops)              // RFC 6902 (application/json-patch+json); throws PatchError
//   applyStrategicMergePatch(current, patch)  // built-in kinds only; custom resources get 415
//
// Inputs are never mutated; each function returns a new object.

export class PatchError extends Error {}

const isObject = (v) => v !== null && typeof v === 'object' && !Array.isArray(v);

export function applyMergePatch(target, patch) {
  if (!isObject(patch)) return structuredClone(patch);
  const result = isObject(target) ? structuredClone(target) : {};
  for (const [key, value] of Object.entries(patch)) {
    if (value === null) delete result[key];
    else result[key] = applyMergePatch(result[key], value);
  }
  return result;
}

// ---- RFC 6902 --------------------------------------------------------------

function parsePointer(pointer) {
  if (typeof pointer !== 'string' || (pointer !== '' && !pointer.startsWith('/'))) {
    throw new PatchError(`invalid JSON pointer "${pointer}"`);
  }
  if (pointer === '') return [];
  return pointer.slice(1).split('/').map((t) => t.replace(/~1/g, '/').replace(/~0/g, '~'));
}

function resolveParent(doc, tokens, op) {
  let cur = doc;
  for (const token of tokens.slice(0, -1)) {
    if (Array.isArray(cur)) cur = cur[arrayIndex(cur, token, false)];
    else if (isObject(cur) && token in cur) cur = cur[token];
    else throw new PatchError(`${op} operation does not apply: doc is missing path: "/${tokens.join('/')}"`);
  }
  if (!Array.isArray(cur) && !isObject(cur)) {
    throw new PatchError(`${op} operation does not apply: doc is missing path: "/${tokens.join('/')}"`);
  }
  return cur;
}

function arrayIndex(arr, token, forInsert) {
  if (forInsert && token === '-') return arr.length;
  if (!/^(0|[1-9]\d*)$/.test(token)) throw new PatchError(`invalid array index "${token}"`);
  const i = Number(token);
  if (i > arr.length || (!forInsert && i === arr.length)) throw new PatchError(`array index ${i} out of bounds`);
  return i;
}

function getAt(doc, tokens, op) {
  if (tokens.length === 0) return doc;
  const parent = resolveParent(doc, tokens, op);
  const last = tokens.at(-1);
  if (Array.isArray(parent)) return parent[arrayIndex(parent, last, false)];
  if (!(last in parent)) throw new PatchError(`${op} operation does not apply: doc is missing key: /${tokens.join('/')}`);
  return parent[last];
}

function removeAt(doc, tokens, op) {
  const parent = resolveParent(doc, tokens, op);
  const last = tokens.at(-1);
  if (Array.isArray(parent)) parent.splice(arrayIndex(parent, last, false), 1);
  else if (last in parent) delete parent[last];
  else throw new PatchError(`${op} operation does not apply: doc is missing key: /${tokens.join('/')}`);
}

function addAt(doc, tokens, value, op) {
  if (tokens.length === 0) return structuredClone(value);
  const parent = resolveParent(doc, tokens, op);
  const last = tokens.at(-1);
  if (Array.isArray(parent)) parent.splice(arrayIndex(parent, last, true), 0, structuredClone(value));
  else parent[last] = structuredClone(value);
  return doc;
}

export function applyJsonPatch(target, ops) {
  if (!Array.isArray(ops)) throw new PatchError('a JSON patch must be an array of operations');
  let doc = structuredClone(target);
  for (const op of ops) {
    if (!isObject(op) || typeof op.op !== 'string') throw new PatchError('invalid JSON patch operation');
    const path = parsePointer(op.path);
    switch (op.op) {
      case 'add':
        doc = addAt(doc, path, op.value, 'add');
        break;
      case 'remove':
        removeAt(doc, path, 'remove');
        break;
      case 'replace':
        getAt(doc, path, 'replace');
        if (path.length === 0) doc = structuredClone(op.value);
        else {
          removeAt(doc, path, 'replace');
          doc = addAt(doc, path, op.value, 'replace');
        }
        break;
      case 'move': {
        const from = parsePointer(op.from);
        const value = getAt(doc, from, 'move');
        removeAt(doc, from, 'move');
        doc = addAt(doc, path, value, 'move');
        break;
      }
      case 'copy':
        doc = addAt(doc, path, getAt(doc, parsePointer(op.from), 'copy'), 'copy');
        break;
      case 'test':
        if (JSON.stringify(getAt(doc, path, 'test')) !== JSON.stringify(op.value)) {
          throw new PatchError(`testing value ${op.path} failed: test failed`);
        }
        break;
      default:
        throw new PatchError(`Unexpected kind: ${op.op}`);
    }
  }
  return doc;
}

// ---- strategic merge patch -------------------------------------------------

// patchMergeKey of list fields in the built-in types this server serves,
// keyed by field name (the names do not collide across those types).
const kMergeKeys = {
  containers: 'name',
  initContainers: 'name',
  ephemeralContainers: 'name',
  env: 'name',
  volumes: 'name',
  volumeMounts: 'mountPath',
  volumeDevices: 'devicePath',
  imagePullSecrets: 'name',
  hostAliases: 'ip',
  conditions: 'type',
  ownerReferences: 'uid',
  topologySpreadConstraints: 'topologyKey',
  resourceClaims: 'name',
  ports: (item) => ('containerPort' in item ? 'containerPort' : 'port'),
};
// Primitive lists with patchStrategy "merge".
const kPrimitiveMergeLists = new Set(['finalizers']);

function keyOf(field, item) {
  const key = kMergeKeys[field];
  return typeof key === 'function' ? key(item) : key;
}

function mergeList(field, original, patchList) {
  const orig = Array.isArray(original) ? structuredClone(original) : [];
  if (patchList.some((i) => isObject(i) && i.$patch === 'replace')) {
    return patchList.filter((i) => !(isObject(i) && '$patch' in i));
  }
  if (kPrimitiveMergeLists.has(field)) {
    for (const v of patchList) if (!orig.includes(v)) orig.push(v);
    return orig;
  }
  if (!kMergeKeys[field] || !patchList.every(isObject)) return structuredClone(patchList);
  for (const item of patchList) {
    const key = keyOf(field, item);
    const idx = orig.findIndex((o) => isObject(o) && o[key] === item[key]);
    if (item.$patch === 'delete') {
      if (idx >= 0) orig.splice(idx, 1);
    } else if (idx >= 0) {
      orig[idx] = applyStrategicMergePatch(orig[idx], item);
    } else {
      orig.push(applyStrategicMergePatch({}, item));
    }
  }
  return orig;
}

function reorder(field, list, order) {
  if (!Array.isArray(list)) return list;
  const rank = (item) => {
    const idx = order.findIndex((o) =>
      isObject(o) ? isObject(item) && Object.entries(o).every(([k, v]) => item[k] === v) : o === item,
    );
    return idx < 0 ? order.length : idx;
  };
  return list
    .map((item, i) => ({ item, i }))
    .sort((a, b) => rank(a.item) - rank(b.item) || a.i - b.i)
    .map(({ item }) => item);
}

export function applyStrategicMergePatch(original, patch) {
  if (!isObject(patch)) return structuredClone(patch);
  if (patch.$patch === 'replace') {
    const { $patch, ...rest } = patch;
    return structuredClone(rest);
  }
  if (patch.$patch === 'delete') return undefined;
  const result = isObject(original) ? structuredClone(original) : {};
  const orders = [];
  for (const [key, value] of Object.entries(patch)) {
    if (key === '$patch' || key === '$retainKeys') continue;
    if (key.startsWith('$setElementOrder/')) {
      orders.push([key.slice('$setElementOrder/'.length), value]);
    } else if (key.startsWith('$deleteFromPrimitiveList/')) {
      const field = key.slice('$deleteFromPrimitiveList/'.length);
      if (Array.isArray(result[field])) result[field] = result[field].filter((v) => !value.includes(v));
    } else if (value === null) {
      delete result[key];
    } else if (Array.isArray(value)) {
      result[key] = mergeList(key, result[key], value);
    } else if (isObject(value)) {
      const merged = applyStrategicMergePatch(result[key], value);
      if (merged === undefined) delete result[key];
      else result[key] = merged;
    } else {
      result[key] = value;
    }
  }
  for (const [field, order] of orders) result[field] = reorder(field, result[field], order);
  if (Array.isArray(patch.$retainKeys)) {
    for (const key of Object.keys(result)) if (!patch.$retainKeys.includes(key)) delete result[key];
  }
  return result;
}
