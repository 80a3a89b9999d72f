// A real OpenID provider (npm oidc-provider) for jwks_integration_test.
// Usage: node oidc_server.mjs E2E_DIR
// Listens on 127.0.0.1 on a free port, obtains an RS256 JWT access token for
// itself (client_credentials + resource indicators), prints one line
// "READY {issuer, access_token}" and serves until killed.
import { createRequire } from 'node:module';
import { createServer } from 'node:http';
import { join } from 'node:path';

const e2eDir = process.argv[2];
const require = createRequire(join(e2eDir, 'package.json'));
const { default: Provider } = await import(require.resolve('oidc-provider'));
const jose = await import(require.resolve('jose'));

const { privateKey } = await jose.generateKeyPair('RS256', { extractable: true });
const signingKey = { ...(await jose.exportJWK(privateKey)), kid: 'integration-rs256', use: 'sig', alg: 'RS256' };

const server = createServer();
await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
const issuer = `http://127.0.0.1:${server.address().port}`;

const provider = new Provider(issuer, {
  jwks: { keys: [signingKey] },
  clients: [{
    client_id: 'gatehouse-test', client_secret: 'integration-secret',
    grant_types: ['client_credentials'], redirect_uris: [], response_types: [],
  }],
  features: {
    devInteractions: { enabled: false },
    clientCredentials: { enabled: true },
    resourceIndicators: {
      enabled: true,
      defaultResource: () => 'urn:gatehouse',
      getResourceServerInfo: () => ({ scope: 'api', audience: 'gatehouse', accessTokenFormat: 'jwt', jwt: { sign: { alg: 'RS256' } } }),
    },
  },
});
server.on('request', provider.callback());

const response = await fetch(`${issuer}/token`, {
  method: 'POST',
  headers: {
    'content-type': 'application/x-www-form-urlencoded',
    authorization: `Basic ${Buffer.from('gatehouse-test:integration-secret').toString('base64')}`,
  },
  body: new URLSearchParams({ grant_type: 'client_credentials', scope: 'api', resource: 'urn:gatehouse' }),
});
const body = await response.json();
if (!body.access_token) {
  console.error(JSON.stringify(body));
  process.exit(1);
}
process.stdout.write(`READY ${JSON.stringify({ issuer, access_token: body.access_token })}\n`);
