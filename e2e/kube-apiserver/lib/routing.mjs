// URL -> request target for the Kubernetes REST layout:
//   /api/v1[/watch][/namespaces/{ns}]/{resource}[/{name}[/{subresource}]]
//   /apis/{group}/{version}[/watch][/namespaces/{ns}]/{resource}[/{name}[/{subresource}]]
//
// Usage:
//   const target = parseResourcePath(registry, '/apis/apps/v1/namespaces/default/deployments/web');
//   // {group:'apps', version:'v1', type, namespace:'default', name:'web', subresource:undefined, legacyWatch:false}
//   // {discovery: true, group, version} for /api/v1 and /apis/g/v; null when nothing matches.

export function parseResourcePath(registry, pathname) {
  const parts = pathname.split('/').filter(Boolean).map(decodeURIComponent);
  let group;
  let version;
  let rest;
  if (parts[0] === 'api' && parts.length >= 2) {
    group = '';
    version = parts[1];
    rest = parts.slice(2);
  } else if (parts[0] === 'apis' && parts.length >= 3) {
    [, group, version] = parts;
    rest = parts.slice(3);
  } else {
    return null;
  }
  if (rest.length === 0) return { discovery: true, group, version };
  let legacyWatch = false;
  if (rest[0] === 'watch') {
    legacyWatch = true;
    rest = rest.slice(1);
  }
  let namespace;
  if (rest[0] === 'namespaces' && rest.length >= 3 && registry.find(group, version, rest[2])?.namespaced) {
    namespace = rest[1];
    rest = rest.slice(2);
  }
  if (rest.length === 0 || rest.length > 3) return null;
  const [resource, name, subresource] = rest;
  const type = registry.find(group, version, resource);
  if (!type) return null;
  if (namespace !== undefined && !type.namespaced) return null;
  if (type.namespaced && namespace === undefined && name !== undefined) return null;
  if (subresource !== undefined && !(subresource === 'status' && type.status)) return null;
  return { group, version, type, namespace, name, subresource, legacyWatch };
}
