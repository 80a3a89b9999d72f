// Validation of object metadata as the real API server does it for every kind:
// name rules per resource, labels, annotations, namespace consistency.
//
// Usage:
//   const errs = validateObjectMeta(type, obj.metadata);   // [] when valid
//   isDns1123Label('default') === true

import { invalidValue, required, tooLong } from './field_errors.mjs';

const kDns1123LabelRe = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const kDns1123SubdomainRe = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const kDns1035LabelRe = /^[a-z]([-a-z0-9]*[a-z0-9])?$/;
const kQualifiedNameRe = /^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$/;
const kLabelValueRe = /^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$/;

export const isDns1123Label = (s) => typeof s === 'string' && s.length <= 63 && kDns1123LabelRe.test(s);
export const isDns1123Subdomain = (s) =>
  typeof s === 'string' && s.length <= 253 && kDns1123SubdomainRe.test(s);

const kSubdomainMessage =
  "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', " +
  "and must start and end with an alphanumeric character (e.g. 'example.com', regex used for " +
  "validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')";
const kLabelMessage =
  "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must " +
  "start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for " +
  "validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')";
const kDns1035Message =
  "a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an " +
  "alphabetic character, and end with an alphanumeric character (e.g. 'my-name',  or 'abc-123', " +
  "regex used for validation is '[a-z]([-a-z0-9]*[a-z0-9])?')";

// Name validators return a list of detail strings (empty when valid).
export const kNameRules = {
  subdomain(name) {
    const out = [];
    if (name.length > 253) out.push('must be no more than 253 characters');
    if (!kDns1123SubdomainRe.test(name)) out.push(kSubdomainMessage);
    return out;
  },
  label(name) {
    const out = [];
    if (name.length > 63) out.push('must be no more than 63 characters');
    if (!kDns1123LabelRe.test(name)) out.push(kLabelMessage);
    return out;
  },
  dns1035(name) {
    const out = [];
    if (name.length > 63) out.push('must be no more than 63 characters');
    if (!kDns1035LabelRe.test(name)) out.push(kDns1035Message);
    return out;
  },
  // RBAC objects: any path segment name.
  pathSegment(name) {
    if (name === '.' || name === '..') return [`may not be '${name}'`];
    for (const bad of ['/', '%']) {
      if (name.includes(bad)) return [`may not contain '${bad}'`];
    }
    return [];
  },
};

function validateQualifiedName(key) {
  const parts = key.split('/');
  let name = key;
  const out = [];
  if (parts.length === 2) {
    const [prefix] = parts;
    name = parts[1];
    if (prefix.length === 0) out.push('prefix part must be non-empty');
    else if (!isDns1123Subdomain(prefix)) out.push(`prefix part ${kSubdomainMessage}`);
  } else if (parts.length > 2) {
    return [
      "a qualified name must consist of alphanumeric characters, '-', '_' or '.', and must start " +
        "and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', " +
        "regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]') with an optional " +
        "DNS subdomain prefix and '/' (e.g. 'example.com/MyName')",
    ];
  }
  if (name.length === 0) out.push('name part must be non-empty');
  else if (name.length > 63) out.push('name part must be no more than 63 characters');
  else if (!kQualifiedNameRe.test(name)) {
    out.push(
      "name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end " +
        "with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used " +
        "for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')",
    );
  }
  return out;
}

function validateStringMap(field, map, valueCheck) {
  const errs = [];
  if (map === undefined || map === null) return errs;
  if (typeof map !== 'object' || Array.isArray(map)) {
    errs.push(invalidValue(field, map, 'must be a map of strings'));
    return errs;
  }
  for (const [key, value] of Object.entries(map)) {
    for (const detail of validateQualifiedName(key)) errs.push(invalidValue(field, key, detail));
    if (typeof value !== 'string') {
      errs.push(invalidValue(`${field}.${key}`, value, 'must be a string'));
    } else if (valueCheck) {
      errs.push(...valueCheck(`${field}`, value));
    }
  }
  return errs;
}

function labelValueCheck(field, value) {
  if (value.length > 63) return [invalidValue(field, value, 'must be no more than 63 characters')];
  if (!kLabelValueRe.test(value)) {
    return [
      invalidValue(
        field,
        value,
        "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or " +
          "'.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or " +
          "'my_value',  or '12345', regex used for validation is " +
          "'(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')",
      ),
    ];
  }
  return [];
}

const kMaxAnnotationBytes = 256 * 1024;

// Validates metadata of a create or update request. `type.nameRule` picks the name rule.
export function validateObjectMeta(type, meta) {
  const errs = [];
  if (!meta || typeof meta !== 'object') return [required('metadata')];
  if (!meta.name && !meta.generateName) {
    errs.push(required('metadata.name', 'name or generateName is required'));
  } else if (meta.name !== undefined) {
    if (typeof meta.name !== 'string') errs.push(invalidValue('metadata.name', meta.name, 'must be a string'));
    else {
      for (const detail of kNameRules[type.nameRule ?? 'subdomain'](meta.name)) {
        errs.push(invalidValue('metadata.name', meta.name, detail));
      }
    }
  }
  errs.push(...validateStringMap('metadata.labels', meta.labels, labelValueCheck));
  errs.push(...validateStringMap('metadata.annotations', meta.annotations, null));
  if (meta.annotations && typeof meta.annotations === 'object') {
    let size = 0;
    for (const [k, v] of Object.entries(meta.annotations)) size += k.length + String(v).length;
    if (size > kMaxAnnotationBytes) errs.push(tooLong('metadata.annotations', kMaxAnnotationBytes));
  }
  if (meta.finalizers !== undefined) {
    if (!Array.isArray(meta.finalizers)) {
      errs.push(invalidValue('metadata.finalizers', meta.finalizers, 'must be a list'));
    } else {
      meta.finalizers.forEach((f, i) => {
        for (const detail of validateQualifiedName(String(f))) {
          errs.push(invalidValue(`metadata.finalizers[${i}]`, f, detail));
        }
      });
    }
  }
  return errs;
}
