// Server-side printing: meta.k8s.io Table responses for `kubectl get`.
//
// Usage:
//   const table = toTable(type, [obj1, obj2], { now, includeObject: 'Metadata', listMeta });
//   humanDuration(90_000) === '90s'
//   evaluateJsonPath('.status.conditions[?(@.type=="Ready")].status', obj) -> ['True']
//
// Custom resources get columns from additionalPrinterColumns (Name first);
// built-ins get the columns kubectl users know for the common kinds.

const kNameDescription =
  'Name must be unique within a namespace. Is required when creating resources, although some ' +
  'resources may allow a client to request the generation of an appropriate name automatically. ' +
  'Name is primarily intended for creation idempotence and configuration definition. Cannot be ' +
  'updated. More info: https://kubernetes.io/docs/concepts/overview/working-with-objects/names#names';

// Same thresholds as the API server's duration.HumanDuration.
export function humanDuration(ms) {
  const seconds = Math.floor(ms / 1000);
  if (seconds < -1) return '<invalid>';
  if (seconds < 0) return '0s';
  if (seconds < 120) return `${seconds}s`;
  const minutes = Math.floor(seconds / 60);
  if (minutes < 10) return seconds % 60 === 0 ? `${minutes}m` : `${minutes}m${seconds % 60}s`;
  if (minutes < 180) return `${minutes}m`;
  const hours = Math.floor(minutes / 60);
  if (hours < 8) return minutes % 60 === 0 ? `${hours}h` : `${hours}h${minutes % 60}m`;
  if (hours < 48) return `${hours}h`;
  const days = Math.floor(hours / 24);
  if (hours < 24 * 8) return hours % 24 === 0 ? `${days}d` : `${days}d${hours % 24}h`;
  if (hours < 24 * 365 * 2) return `${days}d`;
  const years = Math.floor(days / 365);
  if (hours < 24 * 365 * 8) return days % 365 === 0 ? `${years}y` : `${years}y${days % 365}d`;
  return `${years}y`;
}

// ---- JSONPath subset used by printer columns --------------------------------

function tokenize(path) {
  const tokens = [];
  let rest = path.trim().replace(/^\{(.*)\}$/, '$1').replace(/^\$/, '');
  while (rest.length) {
    let m;
    if ((m = /^\.\.?([A-Za-z0-9_\-/]+)/.exec(rest))) tokens.push({ field: m[1] });
    else if ((m = /^\[\s*'([^']*)'\s*\]/.exec(rest)) || (m = /^\[\s*"([^"]*)"\s*\]/.exec(rest))) tokens.push({ field: m[1] });
    else if ((m = /^\[\s*(-?\d+)\s*\]/.exec(rest))) tokens.push({ index: Number(m[1]) });
    else if ((m = /^\[\s*\*\s*\]/.exec(rest)) || (m = /^\.\*/.exec(rest))) tokens.push({ all: true });
    else if ((m = /^\[\?\(\s*@((?:\.[A-Za-z0-9_\-]+)+)\s*(==|!=)\s*(?:"([^"]*)"|'([^']*)'|(-?[\d.]+|true|false))\s*\)\]/.exec(rest))) {
      const literal = m[3] ?? m[4] ?? JSON.parse(m[5]);
      tokens.push({ filter: { path: m[1].slice(1).split('.'), op: m[2], value: literal } });
    } else if ((m = /^\./.exec(rest)) && rest.length === 1) tokens.push({ self: true });
    else throw new Error(`unsupported JSONPath at "${rest}"`);
    rest = rest.slice(m[0].length);
  }
  return tokens;
}

function step(values, token) {
  const out = [];
  for (const v of values) {
    if (token.self) out.push(v);
    else if (token.field !== undefined) {
      if (v && typeof v === 'object' && !Array.isArray(v) && token.field in v) out.push(v[token.field]);
    } else if (token.index !== undefined) {
      if (Array.isArray(v)) {
        const i = token.index < 0 ? v.length + token.index : token.index;
        if (i >= 0 && i < v.length) out.push(v[i]);
      }
    } else if (token.all) {
      if (Array.isArray(v)) out.push(...v);
      else if (v && typeof v === 'object') out.push(...Object.values(v));
    } else if (token.filter) {
      const items = Array.isArray(v) ? v : [];
      for (const item of items) {
        let cur = item;
        for (const part of token.filter.path) cur = cur && typeof cur === 'object' ? cur[part] : undefined;
        const equal = cur !== undefined && cur === token.filter.value;
        if (token.filter.op === '==' ? equal : cur !== undefined && !equal) out.push(item);
      }
    }
  }
  return out;
}

export function evaluateJsonPath(path, obj) {
  return tokenize(path).reduce((values, token) => step(values, token), [obj]);
}

// ---- cells ----------------------------------------------------------------

function cellForType(type, value, now) {
  if (value === undefined || value === null) return null;
  switch (type) {
    case 'date': {
      const t = Date.parse(value);
      return Number.isNaN(t) ? '<invalid>' : humanDuration(now - t);
    }
    case 'integer':
      return Number.isInteger(value) ? value : null;
    case 'number':
      return typeof value === 'number' ? value : null;
    case 'boolean':
      return typeof value === 'boolean' ? value : null;
    default:
      return typeof value === 'string' ? value : JSON.stringify(value);
  }
}

const age = (obj, now) => cellForType('date', obj.metadata?.creationTimestamp, now);
const nameColumn = { name: 'Name', type: 'string', format: 'name', description: kNameDescription, priority: 0 };
const col = (name, type = 'string', description = '', format = '', priority = 0) => ({ name, type, format, description, priority });
const ageColumn = col('Age', 'string', 'CreationTimestamp is a timestamp representing the server time when this object was created.');
const count = (m) => Object.keys(m ?? {}).length;

// Built-in printers: [columns, (obj, now) => cells].
const kBuiltinPrinters = {
  Namespace: [[nameColumn, col('Status'), ageColumn], (o, n) => [o.metadata.name, o.status?.phase ?? '', age(o, n)]],
  ConfigMap: [[nameColumn, col('Data', 'integer'), ageColumn], (o, n) => [o.metadata.name, count(o.data) + count(o.binaryData), age(o, n)]],
  Secret: [[nameColumn, col('Type'), col('Data', 'integer'), ageColumn], (o, n) => [o.metadata.name, o.type ?? '', count(o.data), age(o, n)]],
  Service: [
    [nameColumn, col('Type'), col('Cluster-IP'), col('External-IP'), col('Port(s)'), ageColumn],
    (o, n) => [
      o.metadata.name, o.spec?.type ?? '', o.spec?.clusterIP ?? '', '<none>',
      (o.spec?.ports ?? []).map((p) => `${p.port}/${p.protocol ?? 'TCP'}`).join(',') || '<none>', age(o, n),
    ],
  ],
  ServiceAccount: [[nameColumn, col('Secrets', 'integer'), ageColumn], (o, n) => [o.metadata.name, (o.secrets ?? []).length, age(o, n)]],
  Deployment: [
    [nameColumn, col('Ready'), col('Up-to-date', 'integer'), col('Available', 'integer'), ageColumn],
    (o, n) => [o.metadata.name, `${o.status?.readyReplicas ?? 0}/${o.spec?.replicas ?? 0}`, o.status?.updatedReplicas ?? 0, o.status?.availableReplicas ?? 0, age(o, n)],
  ],
  Lease: [[nameColumn, col('Holder'), ageColumn], (o, n) => [o.metadata.name, o.spec?.holderIdentity ?? '', age(o, n)]],
  EndpointSlice: [
    [nameColumn, col('AddressType'), col('Ports'), col('Endpoints'), ageColumn],
    (o, n) => [
      o.metadata.name, o.addressType ?? '',
      (o.ports ?? []).map((p) => String(p.port)).join(',') || '<unset>',
      (o.endpoints ?? []).flatMap((e) => e.addresses ?? []).join(',') || '<unset>', age(o, n),
    ],
  ],
  RoleBinding: [[nameColumn, col('Role'), ageColumn], (o, n) => [o.metadata.name, `${o.roleRef?.kind}/${o.roleRef?.name}`, age(o, n)]],
  ClusterRoleBinding: [[nameColumn, col('Role'), ageColumn], (o, n) => [o.metadata.name, `${o.roleRef?.kind}/${o.roleRef?.name}`, age(o, n)]],
  Role: [[nameColumn, col('Created At', 'date')], (o) => [o.metadata.name, o.metadata.creationTimestamp]],
  ClusterRole: [[nameColumn, col('Created At', 'date')], (o) => [o.metadata.name, o.metadata.creationTimestamp]],
  CustomResourceDefinition: [[nameColumn, col('Created At', 'date')], (o) => [o.metadata.name, o.metadata.creationTimestamp]],
};
const kDefaultPrinter = [[nameColumn, ageColumn], (o, n) => [o.metadata.name, age(o, n)]];

function printerFor(type) {
  if (type.builtin) return kBuiltinPrinters[type.kind] ?? kDefaultPrinter;
  const columns = [nameColumn, ...type.printerColumns.map((c) => col(c.name, c.type === 'date' ? 'date' : c.type, c.description ?? '', c.format ?? '', c.priority ?? 0))];
  const cells = (o, now) => [
    o.metadata.name,
    ...type.printerColumns.map((c) => {
      let values;
      try {
        values = evaluateJsonPath(c.jsonPath, o);
      } catch {
        return null;
      }
      return values.length ? cellForType(c.type, values[0], now) : null;
    }),
  ];
  return [columns.map((c) => (c.type === 'date' ? { ...c, type: 'date' } : c)), cells];
}

function rowObject(obj, includeObject, tableVersion) {
  if (includeObject === 'None') return undefined;
  if (includeObject === 'Object') return obj;
  return { kind: 'PartialObjectMetadata', apiVersion: `meta.k8s.io/${tableVersion}`, metadata: obj.metadata };
}

export function toTable(type, objects, { now, includeObject = 'Metadata', listMeta = {}, tableVersion = 'v1', noHeaders = false }) {
  const [columns, cells] = printerFor(type);
  const table = { kind: 'Table', apiVersion: `meta.k8s.io/${tableVersion}`, metadata: listMeta };
  if (!noHeaders) table.columnDefinitions = columns;
  table.rows = objects.map((o) => {
    const row = { cells: cells(o, now) };
    const object = rowObject(o, includeObject, tableVersion);
    if (object) row.object = object;
    return row;
  });
  return table;
}
