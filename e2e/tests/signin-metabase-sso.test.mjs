// Metabase JWT SSO through the REAL gatehouse-proxy: a signed-in user's GET
// /auth/sso?return_to=... is answered with a redirect carrying a freshly minted
// HS256 token. The token is verified here independently of the proxy, twice
// (jose, and a plain HMAC with node:crypto), against the shared secret from the
// policy folder's Secret; its claims, freshness and the sanitized return_to
// are checked, and users who are denied, or not signed in, get no token.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { jwtVerify } from 'jose';
import { startSignInStack, loginAs, proxyGet, setCookies } from '../lib/login-idp.mjs';
import { upstreamHeaders } from '../lib/proxy-harness.mjs';

const kSecret = 'mb-shared-secret-for-e2e-0f1e2d3c4b5a69788796a5b4c3d2e1f0';
const kRules = '    - {name: staff, action: Allow, from: {groups: [analysts, admins]}}\n';

let stack; let port; let annSession;

before(async () => {
  stack = await startSignInStack({ metabaseSecret: kSecret, hosts: { 'mb.test': { rules: kRules, metabase: true } } });
  port = stack.proxies[0].port;
  annSession = (await loginAs(stack, 'ann', { host: 'mb.test' })).session;
  assert.ok(annSession, 'ann is signed in');
});

after(async () => {
  await stack?.stop();
});

const origin = () => `http://mb.test:${port}`;

async function sso(returnTo, session = annSession, browser = true) {
  const query = returnTo === undefined ? '' : `?return_to=${encodeURIComponent(returnTo)}`;
  const cookies = session ? { gatehouse_session: session } : {};
  return proxyGet(port, 'mb.test', `/auth/sso${query}`, { cookies, browser });
}

// The redirect's target on this host: {url, jwt, returnTo}.
function ssoRedirect(r) {
  assert.equal(r.status, 302, r.body.slice(0, 200));
  const url = new URL(r.headers.location[0], `${origin()}/`);
  assert.equal(url.origin, origin(), `stays on ${origin()}: ${r.headers.location[0]}`);
  assert.equal(url.pathname, '/auth/sso');
  return { url, jwt: url.searchParams.get('jwt'), returnTo: url.searchParams.get('return_to') };
}

// HS256 by hand: the signature is HMAC-SHA256 over "header.payload" with the secret bytes.
function verifyByHand(token, secret) {
  const [header, payload, signature] = token.split('.');
  const expected = crypto.createHmac('sha256', Buffer.from(secret)).update(`${header}.${payload}`).digest();
  const given = Buffer.from(signature, 'base64url');
  if (given.length !== expected.length || !crypto.timingSafeEqual(given, expected)) return null;
  return { header: JSON.parse(Buffer.from(header, 'base64url')), claims: JSON.parse(Buffer.from(payload, 'base64url')) };
}

test('a signed-in user gets a fresh HS256 token with the right claims, verified independently', async () => {
  const r = await sso('/dashboard/5?tab=1');
  const now = Date.now() / 1000;
  const { jwt, returnTo } = ssoRedirect(r);
  assert.equal(returnTo, '/dashboard/5?tab=1', 'return_to preserved');
  assert.match(jwt, /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/);

  const { payload, protectedHeader } = await jwtVerify(jwt, new TextEncoder().encode(kSecret), { algorithms: ['HS256'] });
  assert.equal(protectedHeader.alg, 'HS256');
  assert.equal(payload.email, 'ann@example.com');
  assert.equal(payload.first_name, 'Ann');
  assert.equal(payload.last_name, 'Analyst');
  assert.deepEqual(payload.groups, ['analysts']);
  assert.ok(Math.abs(payload.iat - now) <= 5, `iat ${payload.iat} within 5 s of ${now}`);
  assert.ok(payload.exp > payload.iat && payload.exp - payload.iat <= 180, `exp ${payload.exp}, iat ${payload.iat}`);
  assert.ok(typeof payload.jti === 'string' && payload.jti.length >= 16, `jti ${payload.jti}`);

  const byHand = verifyByHand(jwt, kSecret);
  assert.ok(byHand, 'HMAC-SHA256 by hand agrees');
  assert.deepEqual(byHand.claims, payload);
  assert.equal(verifyByHand(jwt, `${kSecret}x`), null, 'another secret does not verify');
  await assert.rejects(jwtVerify(jwt, new TextEncoder().encode('not-the-secret'), { algorithms: ['HS256'] }));

  const second = ssoRedirect(await sso('/dashboard/5?tab=1'));
  const again = verifyByHand(second.jwt, kSecret).claims;
  assert.notEqual(again.jti, payload.jti, 'every token is new');
});

test('the token Metabase gets back is passed to it untouched, without the session cookie', async () => {
  const { jwt } = ssoRedirect(await sso('/question/9'));
  const target = `/auth/sso?jwt=${jwt}&return_to=${encodeURIComponent('/question/9')}`;
  const r = await proxyGet(port, 'mb.test', target, { cookies: { gatehouse_session: annSession } });
  assert.equal(r.status, 200);
  const seen = upstreamHeaders(r);
  assert.equal(seen.url, target);
  assert.deepEqual(seen.headers['x-forwarded-email'], ['ann@example.com']);
  assert.doesNotMatch((seen.headers.cookie ?? []).join(';'), /gatehouse_/);
});

test('return_to is sanitized to a path on this host', async () => {
  const cases = [
    ['absent', undefined],
    ['protocol-relative', '//evil.example/x'],
    ['backslash', '/\\evil.example'],
    ['absolute', 'https://evil.example/'],
    ['encoded slashes', '%2F%2Fevil.example'],
    ['encoded backslash', '/%5Cevil.example'],
    ['tab', '/%09/evil.example'],
    ['plain path', '/collection/root'],
  ];
  for (const [name, value] of cases) {
    const { jwt, returnTo } = ssoRedirect(await sso(value));
    assert.ok(verifyByHand(jwt, kSecret), `${name}: a valid token`);
    if (returnTo !== null) {
      const resolved = new URL(returnTo, `${origin()}/`);
      assert.equal(resolved.origin, origin(), `${name}: return_to ${JSON.stringify(returnTo)}`);
      assert.match(returnTo, /^\/(?![/\\])/, `${name}: return_to is a plain path`);
    }
    if (name === 'plain path') assert.equal(returnTo, '/collection/root');
  }
});

test('no token for a denied user, an anonymous browser or an API client without a session', async () => {
  const { session: cySession } = await loginAs(stack, 'cy', { host: 'mb.test' });
  assert.ok(cySession, 'cy is signed in');
  const denied = await sso('/', cySession);
  assert.equal(denied.status, 403);
  assert.equal(denied.headers.location, undefined);
  assert.doesNotMatch(denied.body, /eyJ/, 'no token in the page');

  const anonymous = await sso('/', null);
  assert.equal(anonymous.status, 302);
  assert.equal(new URL(anonymous.headers.location[0]).origin, new URL(stack.idp.issuer).origin, 'sent to sign in');
  assert.ok(setCookies(anonymous).gatehouse_login);
  assert.equal(new URL(anonymous.headers.location[0]).searchParams.get('jwt'), null);

  const api = await sso('/', null, false);
  assert.equal(api.status, 401);
  assert.doesNotMatch(api.body, /eyJ/);
});
