// The set of served resource types and the discovery documents built from it.
//
// Usage:
//   const registry = new Registry(kBuiltinTypes);
//   registry.find('gatehouse.dev', 'v1alpha1', 'accesspolicies')  // type | undefined
//   registry.replaceCrdTypes('accesspolicies.gatehouse.dev', typesFromCrd(crd));
//   registry.apiGroupList() / registry.apiResourceList('apps', 'v1') / registry.apiVersions()

// Kubernetes version ordering: v1 > v1beta2 > v1beta1 > v1alpha1 > other.
export function compareKubeVersions(a, b) {
  const parse = (v) => {
    const m = /^v(\d+)(?:(alpha|beta)(\d+))?$/.exec(v);
    if (!m) return [0, 0, 0, v];
    const stability = m[2] === undefined ? 3 : m[2] === 'beta' ? 2 : 1;
    return [1, stability, Number(m[1]), Number(m[3] ?? 0)];
  };
  const pa = parse(a);
  const pb = parse(b);
  for (let i = 0; i < 4; i++) {
    if (pa[i] !== pb[i]) return pa[i] > pb[i] ? -1 : 1;
  }
  return 0;
}

export const storageKey = (type) => `${type.group}/${type.resource}`;

export class Registry {
  constructor(builtinTypes) {
    this.types_ = [...builtinTypes];
  }

  all() {
    return this.types_;
  }

  find(group, version, resource) {
    return this.types_.find((t) => t.group === group && t.version === version && t.resource === resource);
  }

  // Every served version of one group/resource (they share storage).
  versionsOf(group, resource) {
    return this.types_.filter((t) => t.group === group && t.resource === resource);
  }

  replaceCrdTypes(crdName, types) {
    this.types_ = this.types_.filter((t) => t.crdName !== crdName).concat(types);
  }

  groupVersions(group) {
    const versions = [...new Set(this.types_.filter((t) => t.group === group).map((t) => t.version))];
    return versions.sort(compareKubeVersions);
  }

  apiVersions(serverAddress) {
    return {
      kind: 'APIVersions',
      versions: ['v1'],
      serverAddressByClientCIDRs: [{ clientCIDR: '0.0.0.0/0', serverAddress }],
    };
  }

  apiGroupList() {
    const groups = [];
    for (const t of this.types_) if (t.group && !groups.includes(t.group)) groups.push(t.group);
    return {
      kind: 'APIGroupList',
      apiVersion: 'v1',
      groups: groups.map((g) => this.apiGroup(g)),
    };
  }

  apiGroup(group) {
    const versions = this.groupVersions(group).map((v) => ({ groupVersion: `${group}/${v}`, version: v }));
    if (versions.length === 0) return null;
    return { name: group, versions, preferredVersion: versions[0] };
  }

  apiResourceList(group, version) {
    const types = this.types_.filter((t) => t.group === group && t.version === version);
    if (types.length === 0) return null;
    const resources = [];
    for (const t of types) {
      const entry = {
        name: t.resource,
        singularName: t.singular,
        namespaced: t.namespaced,
        kind: t.kind,
        verbs: t.verbs,
      };
      if (t.shortNames.length) entry.shortNames = t.shortNames;
      if (t.categories.length) entry.categories = t.categories;
      resources.push(entry);
      if (t.status) {
        resources.push({
          name: `${t.resource}/status`, singularName: '', namespaced: t.namespaced, kind: t.kind,
          verbs: ['get', 'patch', 'update'],
        });
      }
    }
    return {
      kind: 'APIResourceList',
      apiVersion: 'v1',
      groupVersion: group ? `${group}/${version}` : version,
      resources,
    };
  }
}
