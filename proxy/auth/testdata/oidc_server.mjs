// A real OpenID provider (npm oidc-provider, via e2e/lib/local-idp.mjs) for
// jwks_integration_test. Usage: node oidc_server.mjs E2E_DIR
// Listens on 127.0.0.1 on a free port, obtains an RS256 JWT access token for
// one client (client_credentials + resource indicators, audience "gatehouse"),
// prints one line "READY {issuer, access_token}" and serves until killed.
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

const e2eDir = process.argv[2];
const { startLocalIdp } = await import(pathToFileURL(join(e2eDir, 'lib/local-idp.mjs')).href);

const idp = await startLocalIdp({ clients: { 'gatehouse-test': { email: 'svc@example.com' } } });
try {
  const accessToken = await idp.token('gatehouse-test');
  process.stdout.write(`READY ${JSON.stringify({ issuer: idp.issuer, access_token: accessToken })}\n`);
} catch (err) {
  console.error(err.message);
  process.exit(1);
}
