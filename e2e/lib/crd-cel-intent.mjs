// JavaScript mirrors of the CEL rules (x-kubernetes-validations) in
// crds/gatehouse.dev_accesspolicies.yaml.
//
// THESE ARE NOT A CEL INTERPRETER. ajv cannot run CEL and no API server runs
// here, so each CEL rule of the CRD is paired, by its exact rule text, with a
// small hand-written JS predicate that states the rule's intent. The CRD test
// fails when a rule has no mirror or a mirror has no rule, so changing a rule
// forces a look at its mirror. A real API server remains the authority on
// what the CEL itself does.
//
// Usage:
//   import { celIntentFor } from '../lib/crd-cel-intent.mjs';
//   const check = celIntentFor(rule.rule);   // undefined if unmirrored
//   const ok = check(self);                  // self = the (defaulted) value at the rule's node

const kManagedHeaders = new Set([
  'host', 'authorization', 'cookie', 'set-cookie', 'content-length', 'content-type',
  'transfer-encoding', 'connection', 'upgrade', 'te', 'trailer', 'keep-alive',
  'proxy-authorization', 'proxy-connection', 'x-forwarded-for', 'x-forwarded-proto',
  'x-forwarded-host', 'x-request-id',
]);

// has(x.f) in CEL: the field is present (null is pruned by the API server).
const has = (obj, field) => obj != null && obj[field] !== undefined && obj[field] !== null;
const emptyOrAbsent = (obj, field) => {
  if (!has(obj, field)) return true;
  const v = obj[field];
  return Array.isArray(v) ? v.length === 0 : Object.keys(v).length === 0;
};

// Keyed by the rule text with whitespace collapsed (YAML folding differences do not matter).
const kMirrors = new Map(Object.entries({
  // spec: issuers are required unless every rule is public and login is not set.
  "(has(self.authentication) && has(self.authentication.issuers) && size(self.authentication.issuers) > 0) || (self.rules.all(r, has(r.from) && has(r.from.public) && r.from.public) && !(has(self.authentication) && has(self.authentication.login)))":
    (spec) =>
      (has(spec, 'authentication') && has(spec.authentication, 'issuers') &&
       spec.authentication.issuers.length > 0) ||
      (spec.rules.every((r) => has(r, 'from') && r.from.public === true) &&
       !has(spec.authentication, 'login')),

  // spec.upstream: exactly one of service / url.
  'has(self.service) != has(self.url)': (upstream) => has(upstream, 'service') !== has(upstream, 'url'),

  // spec.authentication: login.issuer is one of the issuers.
  '!has(self.login) || (has(self.issuers) && self.issuers.exists(i, i.issuer == self.login.issuer))':
    (authn) =>
      !has(authn, 'login') ||
      (has(authn, 'issuers') && authn.issuers.some((i) => i.issuer === authn.login.issuer)),

  // spec.authentication.login.scopes: openid is requested.
  "'openid' in self": (scopes) => scopes.includes('openid'),

  // spec.rules[].from: a public rule cannot also require an identity.
  '!(has(self.public) && self.public) || ((!has(self.groups) || size(self.groups) == 0) && (!has(self.emails) || size(self.emails) == 0) && (!has(self.emailDomains) || size(self.emailDomains) == 0) && (!has(self.subjects) || size(self.subjects) == 0) && (!has(self.claims) || size(self.claims) == 0))':
    (from) =>
      from.public !== true ||
      ['groups', 'emails', 'emailDomains', 'subjects', 'claims'].every((f) => emptyOrAbsent(from, f)),

  // spec.rules[].from.claims: claim names are 1..128 characters.
  'self.all(k, size(k) >= 1 && size(k) <= 128)':
    (claims) => Object.keys(claims).every((k) => [...k].length >= 1 && [...k].length <= 128),

  // spec.identityHeaders: the four header names are distinct, case-insensitively.
  '[self.user, self.email, self.groups, self.assertion].all(a, [self.user, self.email, self.groups, self.assertion].exists_one(b, a.lowerAscii() == b.lowerAscii()))':
    (h) => {
      const names = [h.user, h.email, h.groups, h.assertion].map((n) => String(n).toLowerCase());
      return new Set(names).size === names.length;
    },

  // spec.identityHeaders.*: not a header HTTP or the proxy manages itself.
  "!(self.lowerAscii() in ['host', 'authorization', 'cookie', 'set-cookie', 'content-length', 'content-type', 'transfer-encoding', 'connection', 'upgrade', 'te', 'trailer', 'keep-alive', 'proxy-authorization', 'proxy-connection', 'x-forwarded-for', 'x-forwarded-proto', 'x-forwarded-host', 'x-request-id'])":
    (name) => !kManagedHeaders.has(name.toLowerCase()),
}).map(([rule, fn]) => [normalizeRule(rule), fn]));

export function normalizeRule(rule) {
  return rule.replace(/\s+/g, ' ').replace(/\(\s+/g, '(').replace(/\s+\)/g, ')').trim();
}

// The JS mirror of one CEL rule, or undefined when the rule has none.
export function celIntentFor(rule) {
  return kMirrors.get(normalizeRule(rule));
}

// Every mirrored rule text (normalized), to find mirrors whose rule was removed.
export function mirroredRules() {
  return [...kMirrors.keys()];
}

// The managed header names, for tests that try each one.
export const kManagedHeaderNames = [...kManagedHeaders];
