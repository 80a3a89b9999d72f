// mint-token.mjs: the benchmark's identity provider material, from one RSA key.
//
//   node mint-token.mjs KEY.pem ISSUER AUDIENCE OUTDIR
//
// Reads an RSA private key (PEM, made by openssl) and writes into OUTDIR:
//   token.jwt        an RS256 access token (sub, email, groups, iss, aud, exp in 24 h)
//   bad-token.jwt    the same token with one signature byte changed (must be refused)
//   idp/jwks         the public key as a JWKS
//   idp/.well-known/openid-configuration   OIDC discovery pointing at the JWKS
// Uses only node:crypto (OpenSSL underneath), so it needs no npm package.
import {createPrivateKey, createPublicKey, randomUUID, sign} from 'node:crypto';
import {mkdirSync, readFileSync, writeFileSync} from 'node:fs';
import {join} from 'node:path';

const [keyFile, issuer, audience, outDir] = process.argv.slice(2);
if (!keyFile || !issuer || !audience || !outDir) {
  console.error('usage: node mint-token.mjs KEY.pem ISSUER AUDIENCE OUTDIR');
  process.exit(2);
}

const privateKey = createPrivateKey(readFileSync(keyFile));
const jwk = createPublicKey(privateKey).export({format: 'jwk'});
const kid = 'bench-rs256';
const b64url = (buf) => Buffer.from(buf).toString('base64url');

const now = Math.floor(Date.now() / 1000);
const header = {alg: 'RS256', typ: 'JWT', kid};
const claims = {
  iss: issuer,
  aud: audience,
  sub: 'bench-user',
  email: 'bench-user@example.com',
  groups: ['analysts', 'bench'],
  iat: now,
  nbf: now - 60,
  exp: now + 24 * 3600,
  jti: randomUUID(),
};
const signingInput = `${b64url(JSON.stringify(header))}.${b64url(JSON.stringify(claims))}`;
const signature = sign('sha256', Buffer.from(signingInput), privateKey);
const token = `${signingInput}.${b64url(signature)}`;

// A forged token: same header and claims, one signature byte flipped.
const forged = Buffer.from(signature);
forged[forged.length >> 1] ^= 0x01;
const badToken = `${signingInput}.${b64url(forged)}`;

mkdirSync(join(outDir, 'idp', '.well-known'), {recursive: true});
writeFileSync(join(outDir, 'token.jwt'), token);
writeFileSync(join(outDir, 'bad-token.jwt'), badToken);
writeFileSync(join(outDir, 'idp', 'jwks'),
              JSON.stringify({keys: [{...jwk, kid, alg: 'RS256', use: 'sig'}]}));
writeFileSync(join(outDir, 'idp', '.well-known', 'openid-configuration'), JSON.stringify({
  issuer,
  jwks_uri: `${issuer}/jwks`,
  id_token_signing_alg_values_supported: ['RS256'],
  response_types_supported: ['code'],
  subject_types_supported: ['public'],
}));
