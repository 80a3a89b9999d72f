// Field-level validation errors shaped like k8s.io/apimachinery field.Error.
//
// Usage:
//   const errs = [];
//   errs.push(required('spec.hosts'));
//   errs.push(notSupported('spec.mode', 'X', ['Enforce', 'Audit']));
//   if (errs.length) throw invalid(type, name, errs);   // status.mjs
//
// Each error carries {reason, field, message}; message is what the real server
// prints after "<field>: ".

function renderValue(value) {
  if (value === null || value === undefined) return 'null';
  if (typeof value === 'string') return JSON.stringify(value);
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  if (Array.isArray(value)) return `[]interface {}${JSON.stringify(value)}`;
  return `map[string]interface {}${JSON.stringify(value)}`;
}

function make(reason, label, field, badValue, detail, showValue = true) {
  let message = label;
  if (showValue) message += `: ${renderValue(badValue)}`;
  if (detail) message += `: ${detail}`;
  return { reason, field, message };
}

export const required = (field, detail = '') =>
  make('FieldValueRequired', 'Required value', field, undefined, detail, false);
export const invalidValue = (field, value, detail) =>
  make('FieldValueInvalid', 'Invalid value', field, value, detail);
export const typeInvalid = (field, value, detail) =>
  make('FieldValueTypeInvalid', 'Invalid value', field, value, detail);
export const notSupported = (field, value, allowed) =>
  make(
    'FieldValueNotSupported',
    'Unsupported value',
    field,
    value,
    `supported values: ${allowed.map((a) => renderValue(a)).join(', ')}`,
  );
export const duplicate = (field, value) =>
  make('FieldValueDuplicate', 'Duplicate value', field, value, '');
export const forbiddenField = (field, detail) =>
  make('FieldValueForbidden', 'Forbidden', field, undefined, detail, false);
export const tooLong = (field, max) =>
  make('FieldValueTooLong', 'Too long', field, undefined, `may not be more than ${max} bytes`, false);
export const tooMany = (field, actual, max) =>
  make('FieldValueTooMany', 'Too many', field, actual, `must have at most ${max} items`);

// Go's %q-ish rendering used inside kube-openapi messages ("in body must be of type").
export function goQuote(value) {
  if (typeof value === 'string') return JSON.stringify(value);
  return JSON.stringify(value);
}
