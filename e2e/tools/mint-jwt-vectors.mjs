// Mints JWT test vectors with an independent implementation (jose) for
// proxy/auth/jwt_vectors_test.cc. Usage, from the repo root:
//   node e2e/tools/mint-jwt-vectors.mjs OUT.json
// Every case carries the expected outcome; `now` is fixed so the file is
// valid whenever it is read. One RS256 token is signed by the openssl CLI.
import { createRequire } from 'node:module';
import { createHmac, createSign } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

// Resolve jose from e2e/node_modules whatever the working directory.
const require = createRequire(join(dirname(fileURLToPath(import.meta.url)), '..', 'package.json'));
const jose = await import(require.resolve('jose'));

const out = process.argv[2];
if (!out) {
  console.error('usage: mint-jwt-vectors.mjs OUT.json');
  process.exit(2);
}

const NOW = 1700000000;
const ISSUER = 'https://idp.vectors.test';
const AUDIENCE = 'gatehouse';

const b64 = (s) => Buffer.from(s).toString('base64url');
const claims = (extra = {}) => ({
  iss: ISSUER, aud: AUDIENCE, sub: 'vector-user', email: 'v@example.com',
  groups: ['analysts'], iat: NOW - 10, nbf: NOW - 10, exp: NOW + 600, jti: 'vec-1', ...extra,
});

const keySpecs = [
  { kid: 'rsa', alg: 'RS256', gen: ['RS256', { modulusLength: 2048 }] },
  { kid: 'p256', alg: 'ES256', gen: ['ES256'] },
  { kid: 'p384', alg: 'ES384', gen: ['ES384'] },
  { kid: 'ed', alg: 'EdDSA', gen: ['EdDSA', { crv: 'Ed25519' }] },
];
const keys = {};
const jwks = { keys: [] };
for (const spec of keySpecs) {
  const [alg, opts = {}] = spec.gen;
  const pair = await jose.generateKeyPair(alg, { ...opts, extractable: true });
  keys[spec.kid] = pair;
  jwks.keys.push({ ...(await jose.exportJWK(pair.publicKey)), kid: spec.kid, use: 'sig' });
}

const kidFor = { RS256: 'rsa', RS384: 'rsa', RS512: 'rsa', PS256: 'rsa', ES256: 'p256', ES384: 'p384', EdDSA: 'ed' };
async function sign(alg, payload, header = {}) {
  const kid = header.kid ?? kidFor[alg];
  const signerKid = kidFor[alg];
  // WebCrypto binds an RSA key to one hash: re-import the RSA key per algorithm.
  const key = signerKid === 'rsa'
    ? await jose.importPKCS8(await jose.exportPKCS8(keys.rsa.privateKey), alg)
    : keys[signerKid].privateKey;
  return new jose.SignJWT(payload)
    .setProtectedHeader({ alg, kid, typ: 'JWT', ...header })
    .sign(key);
}
// Header and payload exactly as given (duplicate keys survive), RS256-signed
// by node:crypto over those exact bytes.
async function signRaw(headerText, payloadText) {
  const input = `${b64(headerText)}.${b64(payloadText)}`;
  const pem = await jose.exportPKCS8(keys.rsa.privateKey);
  return `${input}.${createSign('RSA-SHA256').update(input).sign(pem).toString('base64url')}`;
}
function segments(t) { return t.split('.'); }
function flip(s) { return (s[0] === 'A' ? 'B' : 'A') + s.slice(1); }

const cases = [];
// `reason`: a phrase Gatehouse's rejection must contain (why it failed, not just that it did).
const reasons = {
  'tampered signature': 'signature invalid', 'tampered header': 'signature invalid',
  'tampered payload': 'signature invalid', 'alg none': 'malformed', 'alg none with signature': 'alg',
  'HS256 signed with the RSA public key PEM': 'alg', expired: 'expired', 'not yet valid': 'not yet valid',
  'iat in the future': 'future', 'wrong issuer': 'issuer', 'wrong audience': 'audience',
  'unknown kid': 'no signing key', 'crit header': 'crit', 'padding =': 'base64url',
  'padded header': 'base64url', 'plus character': 'base64url', 'slash character': 'base64url',
  'embedded whitespace': 'base64url', 'embedded newline': 'base64url', '1 MB token': 'too large',
  'alg not in the issuer allowlist': 'not allowed',
  'alg/key type mismatch (ES256 header, RSA kid)': 'no signing key', 'missing sub': 'user claim',
  'string exp': 'exp is not a number', 'duplicate alg key in header': 'header not a JSON object',
  'duplicate sub key in payload': 'payload not a JSON object', 'jwe (five segments)': 'malformed',
};
const add = (name, token, expect, extra = {}) =>
  cases.push({ name, token, expect, ...(reasons[name] ? { reason: reasons[name] } : {}), ...extra });

for (const alg of ['RS256', 'RS384', 'RS512', 'PS256', 'ES256', 'ES384', 'EdDSA']) {
  add(`valid ${alg}`, await sign(alg, claims()), 'valid', { sub: 'vector-user', email: 'v@example.com' });
}
const good = await sign('RS256', claims());
const [h, p, s] = segments(good);
add('tampered signature', `${h}.${p}.${flip(s)}`, 'invalid');
add('tampered header', `${b64(JSON.stringify({ alg: 'RS256', kid: 'rsa', typ: 'at+jwt' }))}.${p}.${s}`, 'invalid');
add('tampered payload', `${h}.${b64(JSON.stringify(claims({ sub: 'admin' })))}.${s}`, 'invalid');
add('alg none', `${b64('{"alg":"none","typ":"JWT"}')}.${p}.`, 'invalid');
add('alg none with signature', `${b64('{"alg":"none"}')}.${p}.${s}`, 'invalid');
{
  const pem = await jose.exportSPKI(keys.rsa.publicKey);
  const input = `${b64(JSON.stringify({ alg: 'HS256', kid: 'rsa', typ: 'JWT' }))}.${p}`;
  const mac = createHmac('sha256', pem).update(input).digest('base64url');
  add('HS256 signed with the RSA public key PEM', `${input}.${mac}`, 'invalid');
}
add('expired', await sign('ES256', claims({ exp: NOW - 61 })), 'invalid');
add('not yet valid', await sign('ES256', claims({ nbf: NOW + 120 })), 'invalid');
add('iat in the future', await sign('ES256', claims({ iat: NOW + 120 })), 'invalid');
add('wrong issuer', await sign('ES256', claims({ iss: 'https://evil.test' })), 'invalid');
add('wrong audience', await sign('ES256', claims({ aud: 'someone-else' })), 'invalid');
add('audience array containing ours', await sign('ES256', claims({ aud: ['x', AUDIENCE] })), 'valid', { sub: 'vector-user' });
add('unknown kid', await sign('ES256', claims(), { kid: 'nope' }), 'invalid');
add('crit header', await new jose.CompactSign(new TextEncoder().encode(JSON.stringify(claims())))
  .setProtectedHeader({ alg: 'RS256', kid: 'rsa', crit: ['urn:x'], 'urn:x': 1 })
  .sign(keys.rsa.privateKey, { crit: { 'urn:x': true } }), 'invalid');
add('padding =', `${good}=`, 'invalid');
add('padded header', `${h}==.${p}.${s}`, 'invalid');
add('plus character', `${h}.${p}.${s.replace(/-/g, '+').replace(/^(.)/, '+')}`, 'invalid');
add('slash character', `${h}.${p}.${s.replace(/_/g, '/').replace(/^(.)/, '/')}`, 'invalid');
add('embedded whitespace', `${h}.${p.slice(0, 10)} ${p.slice(10)}.${s}`, 'invalid');
add('embedded newline', `${h}.${p}.\n${s}`, 'invalid');
add('1 MB token', await sign('RS256', claims({ pad: 'x'.repeat(1 << 20) })), 'invalid');
add('alg not in the issuer allowlist', await sign('ES384', claims()), 'invalid', { allowed_algs: ['RS256', 'ES256'] });
add('alg allowed by the allowlist', await sign('ES256', claims()), 'valid', { allowed_algs: ['RS256', 'ES256'], sub: 'vector-user' });
add('alg/key type mismatch (ES256 header, RSA kid)', await sign('ES256', claims(), { kid: 'rsa' }), 'invalid');
add('email_verified false', await sign('EdDSA', claims({ email_verified: false })), 'valid', { sub: 'vector-user', email: '' });
add('email_verified true', await sign('EdDSA', claims({ email_verified: true })), 'valid', { sub: 'vector-user', email: 'v@example.com' });
{
  const c = claims();
  delete c.sub;
  add('missing sub', await sign('RS256', c), 'invalid');
}
add('string exp', await sign('RS256', { ...claims(), exp: String(NOW + 600) }), 'invalid');
add('duplicate alg key in header',
  await signRaw('{"alg":"RS256","kid":"rsa","alg":"RS256"}', JSON.stringify(claims())), 'invalid');
add('duplicate sub key in payload',
  await signRaw('{"alg":"RS256","kid":"rsa"}', JSON.stringify(claims()).replace('"sub":', '"sub":"x","sub":')), 'invalid');
add('jwe (five segments)', `${h}.${p}.${s}.x.y`, 'invalid');
add('missing kid tries every key', await sign('RS256', claims(), { kid: undefined }), 'valid', { sub: 'vector-user' });

// An RS256 token signed by the openssl command line, when it is installed.
try {
  const dir = mkdtempSync(join(tmpdir(), 'gatehouse-vectors-'));
  try {
    const keyFile = join(dir, 'key.pem');
    writeFileSync(keyFile, await jose.exportPKCS8(keys.rsa.privateKey));
    const input = `${b64(JSON.stringify({ alg: 'RS256', kid: 'rsa', typ: 'JWT' }))}.${b64(JSON.stringify(claims({ jti: 'openssl' })))}`;
    const sig = execFileSync('openssl', ['dgst', '-sha256', '-sign', keyFile], { input });
    add('valid RS256 signed by the openssl CLI', `${input}.${sig.toString('base64url')}`, 'valid', { sub: 'vector-user' });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
} catch (e) {
  console.error(`openssl CLI vector skipped: ${e.message}`);
}

writeFileSync(out, JSON.stringify({ now: NOW, issuer: ISSUER, audience: AUDIENCE, jwks, cases }, null, 1));
console.log(`wrote ${cases.length} cases to ${out}`);
