// Label and field selectors with the grammar of k8s.io/apimachinery/pkg/labels and /fields.
//
// Usage:
//   const sel = parseLabelSelector('app=web,tier in (a,b),!legacy'); // throws SelectorError
//   sel(obj.metadata.labels ?? {}) === true
//   const fsel = parseFieldSelector('metadata.name=foo', ['metadata.name', 'metadata.namespace']);
//   fsel(obj) === true

export class SelectorError extends Error {}

const kKeyRe = /^([A-Za-z0-9][-A-Za-z0-9_./]*)?[A-Za-z0-9]$/;
const kValueRe = /^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$/;

// Splits on commas that are not inside parentheses.
function splitTopLevel(text) {
  const parts = [];
  let depth = 0;
  let current = '';
  for (const ch of text) {
    if (ch === '(') depth += 1;
    if (ch === ')') depth -= 1;
    if (depth < 0) throw new SelectorError(`unexpected ')' in "${text}"`);
    if (ch === ',' && depth === 0) {
      parts.push(current);
      current = '';
    } else {
      current += ch;
    }
  }
  if (depth !== 0) throw new SelectorError(`unbalanced parentheses in "${text}"`);
  parts.push(current);
  return parts;
}

function checkKey(key) {
  if (!kKeyRe.test(key) || key.split('/').length > 2) {
    throw new SelectorError(`unable to parse requirement: invalid label key "${key}"`);
  }
  return key;
}

function checkValue(value) {
  if (value.length > 63 || !kValueRe.test(value)) {
    throw new SelectorError(`unable to parse requirement: invalid label value: "${value}"`);
  }
  return value;
}

function parseRequirement(raw) {
  const text = raw.trim();
  if (text === '') throw new SelectorError('found \'\', expected: !, identifier, or \'end of string\'');
  let m;
  if ((m = /^!\s*(\S+)$/.exec(text))) {
    const key = checkKey(m[1]);
    return (labels) => !(key in labels);
  }
  if ((m = /^(\S+?)\s+(in|notin)\s*\((.*)\)$/.exec(text))) {
    const key = checkKey(m[1]);
    const values = new Set(m[3].split(',').map((v) => checkValue(v.trim())));
    if (m[2] === 'in') return (labels) => key in labels && values.has(labels[key]);
    return (labels) => !(key in labels) || !values.has(labels[key]);
  }
  if ((m = /^([^=!<>\s]+)\s*(==|=|!=|<|>)\s*(\S*)$/.exec(text))) {
    const key = checkKey(m[1]);
    const op = m[2];
    if (op === '<' || op === '>') {
      const bound = Number.parseInt(m[3], 10);
      if (!/^-?\d+$/.test(m[3])) throw new SelectorError(`unable to parse requirement: for 'Gt', 'Lt' operators, the value must be an integer`);
      return (labels) => {
        if (!(key in labels) || !/^-?\d+$/.test(labels[key])) return false;
        const v = Number.parseInt(labels[key], 10);
        return op === '<' ? v < bound : v > bound;
      };
    }
    const value = checkValue(m[3]);
    if (op === '!=') return (labels) => labels[key] !== value;
    return (labels) => key in labels && labels[key] === value;
  }
  if ((m = /^(\S+)$/.exec(text))) {
    const key = checkKey(m[1]);
    return (labels) => key in labels;
  }
  throw new SelectorError(`unable to parse requirement: "${text}"`);
}

export function parseLabelSelector(text) {
  if (text === undefined || text === null || text.trim() === '') return () => true;
  const requirements = splitTopLevel(text).map(parseRequirement);
  return (labels) => requirements.every((r) => r(labels ?? {}));
}

function fieldValue(obj, path) {
  let cur = obj;
  for (const part of path.split('.')) {
    if (cur === null || typeof cur !== 'object') return '';
    cur = cur[part];
  }
  if (cur === undefined || cur === null) return '';
  return String(cur);
}

// supported: field paths the resource allows; anything else is a 400 as on the real server.
export function parseFieldSelector(text, supported) {
  if (text === undefined || text === null || text.trim() === '') return () => true;
  const terms = text.split(',').map((raw) => {
    const m = /^\s*([^=!\s]+)\s*(==|=|!=)\s*(.*?)\s*$/.exec(raw);
    if (!m) throw new SelectorError(`invalid selector: '${text}'; can't understand '${raw}'`);
    const [, field, op, value] = m;
    if (!supported.includes(field)) {
      throw new SelectorError(`field label not supported: ${field}`);
    }
    return (obj) => (op === '!=' ? fieldValue(obj, field) !== value : fieldValue(obj, field) === value);
  });
  return (obj) => terms.every((t) => t(obj));
}
