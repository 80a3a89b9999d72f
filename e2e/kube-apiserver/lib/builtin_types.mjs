// The built-in resource types this server serves, with the scope, names and
// behaviour flags the real API server gives them.
//
// Usage:
//   for (const t of kBuiltinTypes) registry.add(t);
//
// Flags: generation (metadata.generation tracks spec changes), status (a
// /status subresource whose writes are the only way to change status),
// allowCreateOnUpdate (PUT may create), topLevel (fields a strict decode knows).

const kStandardVerbs = ['create', 'delete', 'deletecollection', 'get', 'list', 'patch', 'update', 'watch'];

function builtin(group, version, resource, kind, opts = {}) {
  return {
    group,
    version,
    resource,
    kind,
    listKind: `${kind}List`,
    singular: opts.singular ?? kind.toLowerCase(),
    namespaced: opts.namespaced ?? true,
    shortNames: opts.shortNames ?? [],
    categories: opts.categories ?? [],
    nameRule: opts.nameRule ?? 'subdomain',
    generation: opts.generation ?? false,
    status: opts.status ?? false,
    allowCreateOnUpdate: opts.allowCreateOnUpdate ?? false,
    allowUnconditionalUpdate: opts.allowUnconditionalUpdate ?? true,
    topLevel: new Set(['apiVersion', 'kind', 'metadata', ...(opts.topLevel ?? ['spec', 'status'])]),
    fieldSelectors: ['metadata.name', 'metadata.namespace', ...(opts.fieldSelectors ?? [])],
    verbs: kStandardVerbs,
    builtin: true,
    modelPath: `kubernetes-models/${group ? `${group}/` : ''}${version}/${kind}`,
  };
}

export const kBuiltinTypes = [
  builtin('', 'v1', 'namespaces', 'Namespace', {
    namespaced: false, shortNames: ['ns'], nameRule: 'label', status: true,
    fieldSelectors: ['status.phase'],
  }),
  builtin('', 'v1', 'configmaps', 'ConfigMap', {
    shortNames: ['cm'], topLevel: ['data', 'binaryData', 'immutable'],
  }),
  builtin('', 'v1', 'secrets', 'Secret', {
    topLevel: ['data', 'stringData', 'type', 'immutable'], fieldSelectors: ['type'],
  }),
  builtin('', 'v1', 'services', 'Service', {
    shortNames: ['svc'], nameRule: 'dns1035', status: true, categories: ['all'],
  }),
  builtin('', 'v1', 'serviceaccounts', 'ServiceAccount', {
    shortNames: ['sa'], topLevel: ['secrets', 'imagePullSecrets', 'automountServiceAccountToken'],
  }),
  builtin('', 'v1', 'events', 'Event', {
    shortNames: ['ev'], allowCreateOnUpdate: true,
    topLevel: ['action', 'count', 'eventTime', 'firstTimestamp', 'involvedObject', 'lastTimestamp',
      'message', 'reason', 'related', 'reportingComponent', 'reportingInstance', 'series', 'source',
      'type'],
    fieldSelectors: ['involvedObject.kind', 'involvedObject.namespace', 'involvedObject.name',
      'involvedObject.uid', 'involvedObject.apiVersion', 'involvedObject.resourceVersion',
      'involvedObject.fieldPath', 'reason', 'reportingComponent', 'source', 'type'],
  }),
  builtin('discovery.k8s.io', 'v1', 'endpointslices', 'EndpointSlice', {
    topLevel: ['addressType', 'endpoints', 'ports'],
  }),
  builtin('coordination.k8s.io', 'v1', 'leases', 'Lease', { allowCreateOnUpdate: true, topLevel: ['spec'] }),
  builtin('apps', 'v1', 'deployments', 'Deployment', {
    shortNames: ['deploy'], generation: true, status: true, categories: ['all'],
  }),
  builtin('rbac.authorization.k8s.io', 'v1', 'roles', 'Role', { nameRule: 'pathSegment', topLevel: ['rules'] }),
  builtin('rbac.authorization.k8s.io', 'v1', 'rolebindings', 'RoleBinding', {
    nameRule: 'pathSegment', topLevel: ['roleRef', 'subjects'],
  }),
  builtin('rbac.authorization.k8s.io', 'v1', 'clusterroles', 'ClusterRole', {
    namespaced: false, nameRule: 'pathSegment', topLevel: ['rules', 'aggregationRule'],
  }),
  builtin('rbac.authorization.k8s.io', 'v1', 'clusterrolebindings', 'ClusterRoleBinding', {
    namespaced: false, nameRule: 'pathSegment', topLevel: ['roleRef', 'subjects'],
  }),
  builtin('policy', 'v1', 'poddisruptionbudgets', 'PodDisruptionBudget', {
    shortNames: ['pdb'], generation: true, status: true,
  }),
  builtin('networking.k8s.io', 'v1', 'networkpolicies', 'NetworkPolicy', {
    shortNames: ['netpol'], generation: true, topLevel: ['spec'],
  }),
  builtin('autoscaling', 'v2', 'horizontalpodautoscalers', 'HorizontalPodAutoscaler', {
    shortNames: ['hpa'], status: true, categories: ['all'],
  }),
  builtin('apiextensions.k8s.io', 'v1', 'customresourcedefinitions', 'CustomResourceDefinition', {
    namespaced: false, shortNames: ['crd', 'crds'], generation: true, status: true,
    allowUnconditionalUpdate: false, nameRule: 'subdomain',
  }),
];

// Namespaces that exist on a fresh cluster.
export const kInitialNamespaces = ['default', 'kube-system', 'kube-public', 'kube-node-lease'];
