// mint-token.mjs: the benchmark's identity provider material.
//
//   node mint-token.mjs ISSUER AUDIENCE OUTDIR [ROTATE]
//
// Generates one key per algorithm (RS256: RSA-2048, ES256: P-256, EdDSA:
// Ed25519) and writes into OUTDIR:
//   token-<alg>.jwt        an access token (iss, aud, sub, email, groups, iat,
//                          nbf, exp in 24 h, jti)
//   bad-token-<alg>.jwt    the same token with one signature byte changed
//   tokens-<alg>.txt       ROTATE (default 0) more tokens, one per line, each
//                          with its own jti: a client that sends a fresh token
//                          per request (the token cache misses)
//   keys/<alg>-public.pem  the public keys as PEM (for HAProxy's jwt_verify)
//   idp/jwks               every public key as a JWKS (kid = bench-<alg>)
//   idp/.well-known/openid-configuration   OIDC discovery pointing at the JWKS
// token.jwt and bad-token.jwt are copies of the RS256 ones.
// Uses only node:crypto (OpenSSL underneath), so it needs no npm package.
import {createPublicKey, generateKeyPairSync, randomUUID, sign} from 'node:crypto';
import {mkdirSync, readFileSync, writeFileSync} from 'node:fs';
import {join} from 'node:path';

const [issuer, audience, outDir, rotateArg] = process.argv.slice(2);
const rotate = Number(rotateArg ?? 0);
if (!issuer || !audience || !outDir || !(rotate >= 0)) {
  console.error('usage: node mint-token.mjs ISSUER AUDIENCE OUTDIR [ROTATE]');
  process.exit(2);
}

const kAlgorithms = {
  RS256: {generate: () => generateKeyPairSync('rsa', {modulusLength: 2048}),
          sign: (input, key) => sign('sha256', input, key)},
  ES256: {generate: () => generateKeyPairSync('ec', {namedCurve: 'P-256'}),
          sign: (input, key) => sign('sha256', input, {key, dsaEncoding: 'ieee-p1363'})},
  EdDSA: {generate: () => generateKeyPairSync('ed25519'), sign: (input, key) => sign(null, input, key)},
};
const b64url = (buf) => Buffer.from(buf).toString('base64url');
const now = Math.floor(Date.now() / 1000);

function Mint(alg, privateKey, jti) {
  const header = {alg, typ: 'JWT', kid: `bench-${alg.toLowerCase()}`};
  const claims = {iss: issuer, aud: audience, sub: 'bench-user', email: 'bench-user@example.com',
                  groups: ['analysts', 'bench'], iat: now, nbf: now - 60, exp: now + 24 * 3600, jti};
  const input = `${b64url(JSON.stringify(header))}.${b64url(JSON.stringify(claims))}`;
  const signature = kAlgorithms[alg].sign(Buffer.from(input), privateKey);
  return {input, signature};
}

mkdirSync(join(outDir, 'idp', '.well-known'), {recursive: true});
mkdirSync(join(outDir, 'keys'), {recursive: true});
const jwks = [];
for (const [alg, algorithm] of Object.entries(kAlgorithms)) {
  const {privateKey, publicKey} = algorithm.generate();
  const name = alg.toLowerCase();
  writeFileSync(join(outDir, 'keys', `${name}-public.pem`),
                publicKey.export({type: 'spki', format: 'pem'}));
  jwks.push({...createPublicKey(privateKey).export({format: 'jwk'}), kid: `bench-${name}`, alg,
             use: 'sig'});
  const {input, signature} = Mint(alg, privateKey, randomUUID());
  writeFileSync(join(outDir, `token-${name}.jwt`), `${input}.${b64url(signature)}`);
  // A forged token: same header and claims, one signature byte flipped.
  const forged = Buffer.from(signature);
  forged[forged.length >> 1] ^= 0x01;
  writeFileSync(join(outDir, `bad-token-${name}.jwt`), `${input}.${b64url(forged)}`);
  const lines = [];
  for (let i = 0; i < rotate; i++) {
    const t = Mint(alg, privateKey, randomUUID());
    lines.push(`${t.input}.${b64url(t.signature)}`);
  }
  writeFileSync(join(outDir, `tokens-${name}.txt`), lines.join('\n') + (lines.length ? '\n' : ''));
}
for (const f of ['token', 'bad-token']) {
  writeFileSync(join(outDir, `${f}.jwt`),
                readFileSync(join(outDir, `${f}-rs256.jwt`)));
}
writeFileSync(join(outDir, 'idp', 'jwks'), JSON.stringify({keys: jwks}));
writeFileSync(join(outDir, 'idp', '.well-known', 'openid-configuration'), JSON.stringify({
  issuer,
  jwks_uri: `${issuer}/jwks`,
  id_token_signing_alg_values_supported: Object.keys(kAlgorithms),
  response_types_supported: ['code'],
  subject_types_supported: ['public'],
}));
