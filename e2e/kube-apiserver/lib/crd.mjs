// CustomResourceDefinition handling: validation and defaulting of the CRD
// object itself, and turning a stored CRD into served resource types.
//
// Usage:
//   const errs = validateCrd(crd);          // field errors -> 422
//   defaultCrd(crd);                        // names.singular, listKind, conversion ...
//   const types = typesFromCrd(crd);        // one type per served version
//   crd.status = crdStatus(crd, now);

import { invalidValue, notSupported, required } from './field_errors.mjs';
import { isDns1123Label, isDns1123Subdomain } from './object_meta.mjs';

const kCrdVerbs = ['delete', 'deletecollection', 'get', 'list', 'patch', 'create', 'update', 'watch'];

export function defaultCrd(crd) {
  const spec = (crd.spec ??= {});
  const names = (spec.names ??= {});
  if (names.kind && !names.singular) names.singular = names.kind.toLowerCase();
  if (names.kind && !names.listKind) names.listKind = `${names.kind}List`;
  spec.conversion ??= { strategy: 'None' };
  for (const v of spec.versions ?? []) {
    for (const col of v.additionalPrinterColumns ?? []) col.priority ??= undefined;
  }
}

function checkSchemaNode(node, path, errs) {
  if (!node || typeof node !== 'object') return;
  const typeless = node['x-kubernetes-int-or-string'] || node['x-kubernetes-preserve-unknown-fields'];
  if (!node.type && !typeless && path.split('.').length > 1 && !path.endsWith('.not') && !/(allOf|anyOf|oneOf)\[\d+\]$/.test(path)) {
    errs.push(required(`${path}.type`, 'must not be empty for specified object fields'));
  }
  if (node.pattern !== undefined) {
    try {
      new RegExp(node.pattern);
    } catch {
      errs.push(invalidValue(`${path}.pattern`, node.pattern, 'must be a valid regular expression'));
    }
  }
  if (node.properties && node.additionalProperties) {
    errs.push(invalidValue(`${path}.additionalProperties`, true, 'additionalProperties and properties are mutual exclusive'));
  }
  for (const [k, sub] of Object.entries(node.properties ?? {})) checkSchemaNode(sub, `${path}.properties[${k}]`, errs);
  if (node.items) checkSchemaNode(node.items, `${path}.items`, errs);
  if (node.additionalProperties && typeof node.additionalProperties === 'object') {
    checkSchemaNode(node.additionalProperties, `${path}.additionalProperties`, errs);
  }
}

export function validateCrd(crd) {
  const errs = [];
  const spec = crd.spec ?? {};
  const names = spec.names ?? {};
  if (!spec.group) errs.push(required('spec.group'));
  else if (!isDns1123Subdomain(spec.group) || !spec.group.includes('.')) {
    errs.push(invalidValue('spec.group', spec.group, 'should be a domain with at least one dot'));
  }
  if (!names.plural) errs.push(required('spec.names.plural'));
  else if (!isDns1123Label(names.plural)) errs.push(invalidValue('spec.names.plural', names.plural, 'a lowercase RFC 1123 label must consist of lower case alphanumeric characters or \'-\''));
  if (!names.kind) errs.push(required('spec.names.kind'));
  if (!['Namespaced', 'Cluster'].includes(spec.scope)) {
    errs.push(notSupported('spec.scope', spec.scope ?? '', ['Cluster', 'Namespaced']));
  }
  if (spec.group && names.plural && crd.metadata?.name !== `${names.plural}.${spec.group}`) {
    errs.push(invalidValue('metadata.name', crd.metadata?.name, 'must be spec.names.plural+"."+spec.group'));
  }
  const versions = spec.versions ?? [];
  if (versions.length === 0) errs.push(required('spec.versions', 'must have exactly one version marked as storage version'));
  else if (versions.filter((v) => v.storage).length !== 1) {
    errs.push(invalidValue('spec.versions', versions, 'must have exactly one version marked as storage version'));
  }
  versions.forEach((v, i) => {
    if (!v.name) errs.push(required(`spec.versions[${i}].name`));
    const schema = v.schema?.openAPIV3Schema;
    if (!schema) errs.push(required(`spec.versions[${i}].schema.openAPIV3Schema`, 'schemas are required'));
    else {
      if (schema.type !== 'object') {
        errs.push(invalidValue(`spec.versions[${i}].schema.openAPIV3Schema.type`, schema.type ?? '', 'must be object at the root'));
      }
      checkSchemaNode(schema, `spec.versions[${i}].schema.openAPIV3Schema`, errs);
    }
  });
  return errs;
}

export function crdStatus(crd, nowIso) {
  const cond = (type, reason, message) => ({
    type, status: 'True', lastTransitionTime: nowIso, reason, message,
  });
  const storage = (crd.spec.versions ?? []).find((v) => v.storage)?.name;
  const previous = crd.status?.storedVersions ?? [];
  return {
    acceptedNames: structuredClone(crd.spec.names),
    conditions: [
      cond('NamesAccepted', 'NoConflicts', 'no conflicts found'),
      cond('Established', 'InitialNamesAccepted', 'the initial names have been accepted'),
    ],
    storedVersions: previous.includes(storage) ? previous : [...previous, storage],
  };
}

const kDefaultAgeColumn = {
  name: 'Age', type: 'date', jsonPath: '.metadata.creationTimestamp',
};

export function typesFromCrd(crd) {
  const { group, names, scope } = crd.spec;
  const storageVersion = crd.spec.versions.find((v) => v.storage)?.name;
  return crd.spec.versions
    .filter((v) => v.served !== false)
    .map((v) => ({
      group,
      version: v.name,
      resource: names.plural,
      kind: names.kind,
      listKind: names.listKind ?? `${names.kind}List`,
      singular: names.singular ?? names.kind.toLowerCase(),
      namespaced: scope === 'Namespaced',
      shortNames: names.shortNames ?? [],
      categories: names.categories ?? [],
      nameRule: 'subdomain',
      generation: true,
      status: Boolean(v.subresources?.status),
      allowCreateOnUpdate: false,
      allowUnconditionalUpdate: false,
      topLevel: null,
      fieldSelectors: [
        'metadata.name', 'metadata.namespace',
        ...(v.selectableFields ?? []).map((f) => f.jsonPath.replace(/^\./, '')),
      ],
      verbs: kCrdVerbs,
      builtin: false,
      crdName: crd.metadata.name,
      schema: v.schema?.openAPIV3Schema ?? null,
      printerColumns: v.additionalPrinterColumns ?? [kDefaultAgeColumn],
      storageVersion,
      deprecated: Boolean(v.deprecated),
      deprecationWarning: v.deprecationWarning,
    }));
}
