// A local identity provider: the real, certified `oidc-provider`, issuing
// RS256 JWT access tokens through the client_credentials grant. Each client
// stands for one identity (its email and groups ride along as claims), so a
// demo or a test can get a token for "an analyst" with one POST:
//
//   const idp = await startLocalIdp({ port: 0, clients: { ann: { email, groups } } });
//   const token = await idp.token('ann');   // client_id ann, secret `${id}-secret`
//   ... idp.close();
//
// Browser sign-in (authorization code) comes with the sign-in issue.
import { createServer } from 'node:http';
import { generateKeyPair, exportJWK } from 'jose';

export const kAudience = 'gatehouse';
export const kResource = 'urn:gatehouse';

export async function startLocalIdp({ port = 0, host = '127.0.0.1', clients = {} } = {}) {
  const { default: Provider } = await import('oidc-provider');
  const { privateKey } = await generateKeyPair('RS256', { extractable: true });
  const key = { ...(await exportJWK(privateKey)), kid: 'local-rs256', use: 'sig', alg: 'RS256' };
  const server = createServer();
  await new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, resolve);
  });
  const issuer = `http://${host}:${server.address().port}`;
  const provider = new Provider(issuer, {
    jwks: { keys: [key] },
    clients: Object.keys(clients).map((id) => ({
      client_id: id, client_secret: `${id}-secret`,
      grant_types: ['client_credentials'], redirect_uris: [], response_types: [],
    })),
    features: {
      devInteractions: { enabled: false },
      clientCredentials: { enabled: true },
      resourceIndicators: {
        enabled: true,
        defaultResource: () => kResource,
        getResourceServerInfo: () => ({
          scope: 'api', audience: kAudience, accessTokenFormat: 'jwt', jwt: { sign: { alg: 'RS256' } },
        }),
      },
    },
    // The client's identity claims, e.g. {email, groups}; nothing for unknown clients.
    extraTokenClaims: (ctx, token) => ({ ...(clients[token.clientId] ?? {}) }),
  });
  provider.on('server_error', (ctx, err) => console.error('idp error:', err.message));
  server.on('request', provider.callback());
  return {
    issuer,
    port: server.address().port,
    async token(clientId) {
      const r = await fetch(`${issuer}/token`, {
        method: 'POST',
        headers: {
          'content-type': 'application/x-www-form-urlencoded',
          authorization: `Basic ${Buffer.from(`${clientId}:${clientId}-secret`).toString('base64')}`,
        },
        body: new URLSearchParams({ grant_type: 'client_credentials', scope: 'api', resource: kResource }),
      });
      const body = await r.json();
      if (!body.access_token) throw new Error(`no token for ${clientId}: ${JSON.stringify(body)}`);
      return body.access_token;
    },
    close: () => new Promise((resolve) => { server.closeAllConnections?.(); server.close(resolve); }),
  };
}
