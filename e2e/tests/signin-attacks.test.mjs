// Browser sign-in under attack, driven by hand with raw HTTP against the REAL
// gatehouse-proxy and the REAL oidc-provider (e2e/lib/login-idp.mjs): forged
// and tampered session cookies, a cookie carried to another host, replayed and
// mismatched state, a missing login cookie, PKCE (a code issued for another
// challenge), codes and ID tokens the proxy must not accept (another client,
// another nonce, and, through a scripted IdP whose token endpoint misbehaves on
// purpose, a wrong audience / issuer / nonce / key / expiry), and open
// redirects through the login's original URL, logout's and /auth/sso's
// return_to. Each refusal asserts the exact status and that nothing usable
// (a session cookie, an off-host Location) came back.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { createServer } from 'node:http';
import { generateKeyPair, exportJWK, SignJWT } from 'jose';
import {
  startSignInStack, beginLogin, deliverCallback, loginAs, proxyGet, setCookies,
} from '../lib/login-idp.mjs';
import { rawRequest, upstreamHeaders } from '../lib/proxy-harness.mjs';

const kClientSecret = 'attack-suite-client-secret';
const kStaff = '    - {name: staff, action: Allow, from: {groups: [analysts, admins]}}\n';

let stack; let rogue; let port;

// --- a scripted IdP: discovery, JWKS, a token endpoint that checks client
// authentication and PKCE for real and answers with the ID token the test
// scripted for that code (well-formed, or wrong in one chosen way).
async function startScriptedIdp() {
  const { publicKey, privateKey } = await generateKeyPair('RS256');
  const foreign = await generateKeyPair('RS256');
  const jwk = { ...(await exportJWK(publicKey)), kid: 'scripted', alg: 'RS256', use: 'sig' };
  const codes = new Map();  // code -> {challenge, token(): Promise<string>}
  const server = createServer(async (req, res) => {
    const json = (status, body) => {
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(JSON.stringify(body));
    };
    const url = new URL(req.url, issuer);
    if (url.pathname === '/.well-known/openid-configuration') {
      return json(200, {
        issuer, authorization_endpoint: `${issuer}/authorize`, token_endpoint: `${issuer}/token`,
        jwks_uri: `${issuer}/jwks`, response_types_supported: ['code'], subject_types_supported: ['public'],
        id_token_signing_alg_values_supported: ['RS256'], code_challenge_methods_supported: ['S256'],
      });
    }
    if (url.pathname === '/jwks') return json(200, { keys: [jwk] });
    if (url.pathname !== '/token' || req.method !== 'POST') return json(404, {});
    let body = '';
    for await (const chunk of req) body += chunk;
    const form = new URLSearchParams(body);
    const basic = `Basic ${Buffer.from(`gatehouse:${kClientSecret}`).toString('base64')}`;
    if (req.headers.authorization !== basic) return json(401, { error: 'invalid_client' });
    const entry = codes.get(form.get('code'));
    codes.delete(form.get('code'));
    const verifier = form.get('code_verifier') ?? '';
    const s256 = crypto.createHash('sha256').update(verifier).digest('base64url');
    if (!entry || form.get('grant_type') !== 'authorization_code' || s256 !== entry.challenge) {
      return json(400, { error: 'invalid_grant' });
    }
    return json(200, { access_token: 'scripted-access', token_type: 'Bearer', expires_in: 300, id_token: await entry.token() });
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const issuer = `http://127.0.0.1:${server.address().port}`;
  const sign = async ({ claims, header = {}, key = privateKey }) => new SignJWT(claims)
    .setProtectedHeader({ alg: 'RS256', kid: 'scripted', typ: 'JWT', ...header })
    .sign(key);
  return {
    issuer,
    // A code for the authorization request `params` (as the proxy sent it); the
    // ID token is well-formed unless `defect` names what to get wrong.
    issueCode(params, defect = 'none') {
      const now = Math.floor(Date.now() / 1000);
      const claims = {
        iss: issuer, aud: 'gatehouse', sub: 'ann', email: 'ann@example.com', groups: ['analysts'],
        given_name: 'Ann', family_name: 'Analyst', nonce: params.nonce, iat: now, exp: now + 300,
      };
      let key = privateKey;
      if (defect === 'audience') claims.aud = 'another-client';
      if (defect === 'nonce') claims.nonce = 'a-nonce-the-proxy-never-sent';
      if (defect === 'no-nonce') delete claims.nonce;
      if (defect === 'issuer') claims.iss = 'http://127.0.0.1:1';
      if (defect === 'expired') Object.assign(claims, { iat: now - 900, exp: now - 600 });
      if (defect === 'foreign-key') key = foreign.privateKey;
      const token = async () => {
        if (defect === 'alg-none') {
          const enc = (o) => Buffer.from(JSON.stringify(o)).toString('base64url');
          return `${enc({ alg: 'none', typ: 'JWT' })}.${enc(claims)}.`;
        }
        return sign({ claims, key });
      };
      const code = crypto.randomBytes(16).toString('base64url');
      codes.set(code, { challenge: params.code_challenge, token });
      return code;
    },
    close: () => new Promise((resolve) => { server.closeAllConnections?.(); server.close(resolve); }),
  };
}

before(async () => {
  rogue = await startScriptedIdp();
  stack = await startSignInStack({
    clientSecret: kClientSecret,
    extraClients: [{ id: 'intruder', secret: 'intruder-secret' }],
    hosts: {
      'app.test': { rules: kStaff, metabase: true },
      'other.test': { rules: kStaff },
      'scripted.test': { rules: kStaff, issuer: rogue.issuer },
    },
  });
  port = stack.proxies[0].port;
});

after(async () => {
  await stack?.stop();
  await rogue?.close();
});

// --- checks -------------------------------------------------------------------------

// The session cookie a response sets, if it sets a usable one.
function grantedSession(r) {
  const c = setCookies(r).gatehouse_session;
  if (!c || c.value === '' || c.attrs['max-age'] === '0') return undefined;
  return c.value;
}

// A refused callback: exactly `status`, and no session.
function assertRefused(r, status, what) {
  assert.equal(r.status, status, `${what}: status (body: ${r.body.slice(0, 200)})`);
  assert.equal(grantedSession(r), undefined, `${what}: no session cookie`);
}

// location resolves (as a browser resolves it) to a path on `origin`.
function assertSameHost(location, origin, what) {
  assert.ok(location, `${what}: a Location`);
  const resolved = new URL(location, `${origin}/`);
  assert.equal(resolved.origin, origin, `${what}: ${JSON.stringify(location)} leaves ${origin}`);
}

const appOrigin = () => `http://app.test:${port}`;

// A session cookie was refused when the proxy treats the request as anonymous:
// a browser is sent to sign in, an API client gets 401.
async function assertSessionRefused(host, cookie, what) {
  const browser = await proxyGet(port, host, '/private', { cookies: { gatehouse_session: cookie } });
  assert.equal(browser.status, 302, `${what}: browser`);
  assert.equal(new URL(browser.headers.location[0]).origin, new URL(stack.idp.issuer).origin, `${what}: to the IdP`);
  const api = await proxyGet(port, host, '/private', { cookies: { gatehouse_session: cookie }, browser: false });
  assert.equal(api.status, 401, `${what}: API client`);
}

// --- the flow itself ---------------------------------------------------------------------

test('a browser without a session is sent to the IdP with state, nonce and an S256 challenge; an API client gets 401', async () => {
  const { params, response, authorize } = await beginLogin(port, 'app.test', '/dash/1?tab=2');
  assert.equal(`${authorize.origin}${authorize.pathname}`, `${stack.idp.issuer}/auth`);
  assert.equal(params.response_type, 'code');
  assert.equal(params.client_id, 'gatehouse');
  assert.equal(params.redirect_uri, `${appOrigin()}/.gatehouse/callback`);
  assert.ok(params.scope.split(' ').includes('openid'), params.scope);
  assert.equal(params.code_challenge_method, 'S256');
  assert.match(params.code_challenge, /^[A-Za-z0-9_-]{43}$/);
  assert.match(params.state, /^[A-Za-z0-9_-]{16,}$/);
  assert.match(params.nonce, /^[A-Za-z0-9_-]{16,}$/);
  const login = setCookies(response).gatehouse_login;
  assert.equal(login.attrs.httponly, true, login.line);
  assert.equal(login.attrs.domain, undefined, login.line);
  assert.ok(Number(login.attrs['max-age']) > 0 && Number(login.attrs['max-age']) <= 600, login.line);
  assert.ok(!login.value.includes(params.state) && !login.value.includes(params.nonce), 'the login cookie is sealed');
  const second = await beginLogin(port, 'app.test', '/dash/1?tab=2');
  assert.notEqual(second.params.state, params.state);
  assert.notEqual(second.params.nonce, params.nonce);
  assert.notEqual(second.params.code_challenge, params.code_challenge);

  const api = await proxyGet(port, 'app.test', '/dash/1', { browser: false });
  assert.equal(api.status, 401);
  assert.equal(setCookies(api).gatehouse_login, undefined);
  const post = await rawPost('app.test', '/dash/1');
  assert.equal(post.status, 401, 'a POST is never redirected to sign in');
});

function rawPost(host, target) {
  return rawRequest(port, {
    method: 'POST', host: `${host}:${port}`, path: target, headers: [['Accept', 'text/html']], body: 'x=1',
  });
}

test('the control: ann signs in, lands on the original path and query, and the session works', async () => {
  const { session, callback } = await loginAs(stack, 'ann', { target: '/dash/1?tab=2&q=a%20b' });
  assert.equal(callback.status, 302);
  assertSameHost(callback.headers.location[0], appOrigin(), 'return');
  const back = new URL(callback.headers.location[0], `${appOrigin()}/`);
  assert.equal(`${back.pathname}${back.search}`, '/dash/1?tab=2&q=a%20b');
  const cookie = setCookies(callback).gatehouse_session;
  assert.ok(session, 'a session cookie');
  assert.equal(cookie.attrs.httponly, true, cookie.line);
  assert.equal(String(cookie.attrs.samesite).toLowerCase(), 'lax', cookie.line);
  assert.equal(cookie.attrs.path, '/', cookie.line);
  assert.equal(cookie.attrs.domain, undefined, cookie.line);
  assert.ok(cookie.line.length < 4096, `cookie is ${cookie.line.length} bytes`);
  const r = await proxyGet(port, 'app.test', '/dash/1', { cookies: { gatehouse_session: session } });
  assert.equal(r.status, 200);
  const seen = upstreamHeaders(r).headers;
  assert.deepEqual(seen['x-forwarded-user'], ['ann']);
  assert.deepEqual(seen['x-forwarded-email'], ['ann@example.com']);
  assert.equal((seen.cookie ?? []).join(';').includes('gatehouse_'), false, 'no gatehouse cookie upstream');
});

// --- cookies -------------------------------------------------------------------------------

test('forged and tampered session cookies are refused', async () => {
  const { session } = await loginAs(stack, 'ann');
  assert.ok(session);
  const flip = (s, i) => s.slice(0, i) + (s[i] === 'A' ? 'B' : 'A') + s.slice(i + 1);
  const cases = [
    ['random bytes', crypto.randomBytes(120).toString('base64url')],
    ['empty', ''],
    ['oversized', 'A'.repeat(5000)],
    ['not base64', '!!!***!!!'],
    ['first byte changed', flip(session, 0)],
    ['middle byte changed', flip(session, Math.floor(session.length / 2))],
    ['last byte changed', flip(session, session.length - 1)],
    ['truncated', session.slice(0, -8)],
    ['extended', `${session}AAAA`],
    ['a login cookie as a session', (await beginLogin(port, 'app.test', '/')).loginCookie],
  ];
  for (const [name, cookie] of cases) await assertSessionRefused('app.test', cookie, name);
  // The untouched cookie still works, so the refusals above were about the bytes.
  const ok = await proxyGet(port, 'app.test', '/private', { cookies: { gatehouse_session: session } });
  assert.equal(ok.status, 200);
});

test('a session issued for one host is refused on another host of the same fleet', async () => {
  const { session } = await loginAs(stack, 'ann', { host: 'app.test' });
  assert.equal((await proxyGet(port, 'app.test', '/x', { cookies: { gatehouse_session: session } })).status, 200);
  await assertSessionRefused('other.test', session, 'app.test cookie on other.test');
  const { session: other } = await loginAs(stack, 'ann', { host: 'other.test' });
  assert.equal((await proxyGet(port, 'other.test', '/x', { cookies: { gatehouse_session: other } })).status, 200);
  await assertSessionRefused('app.test', other, 'other.test cookie on app.test');
});

// --- state and PKCE ------------------------------------------------------------------------

test('a replayed callback (same state, same code, same login cookie) gets 400', async () => {
  const { callback, callbackUrl, begin } = await loginAs(stack, 'ann');
  assert.equal(callback.status, 302);
  assert.ok(grantedSession(callback));
  const replay = await deliverCallback(port, callbackUrl, { gatehouse_login: begin.loginCookie });
  assertRefused(replay, 400, 'replay');
});

test('a callback with another login\'s cookie, or none, gets 400', async () => {
  const a = await beginLogin(port, 'app.test', '/a');
  const b = await beginLogin(port, 'app.test', '/b');
  const callbackA = await stack.idp.signIn(a.authorize.href, 'ann');
  assertRefused(await deliverCallback(port, callbackA, { gatehouse_login: b.loginCookie }), 400, 'swapped login cookie');
  assertRefused(await deliverCallback(port, callbackA, {}), 400, 'no login cookie');
  const forged = crypto.randomBytes(90).toString('base64url');
  assertRefused(await deliverCallback(port, callbackA, { gatehouse_login: forged }), 400, 'forged login cookie');
  const withState = (url, state) => { const u = new URL(url); u.searchParams.set('state', state); return u.href; };
  assertRefused(await deliverCallback(port, withState(callbackA, b.params.state), { gatehouse_login: a.loginCookie }),
    400, 'state of another login');
  // Login B, with its own cookie, is untouched by all of the above.
  const callbackB = await stack.idp.signIn(b.authorize.href, 'ann');
  const ok = await deliverCallback(port, callbackB, { gatehouse_login: b.loginCookie });
  assert.equal(ok.status, 302);
  assert.ok(grantedSession(ok));
});

test('PKCE: a code issued for another challenge is refused by the IdP at the exchange -> 502', async () => {
  const a = await beginLogin(port, 'app.test', '/');
  const attackerVerifier = crypto.randomBytes(32).toString('base64url');
  const tampered = new URL(a.authorize);
  tampered.searchParams.set('code_challenge', crypto.createHash('sha256').update(attackerVerifier).digest('base64url'));
  const callbackUrl = await stack.idp.signIn(tampered.href, 'ann');
  const before = stack.idp.tokenRequests();
  assertRefused(await deliverCallback(port, callbackUrl, { gatehouse_login: a.loginCookie }), 502, 'other challenge');
  assert.equal(stack.idp.tokenRequests(), before + 1, 'the proxy did try the exchange');
});

test('a code issued to another client is refused -> 502', async () => {
  const a = await beginLogin(port, 'app.test', '/');
  const tampered = new URL(a.authorize);
  tampered.searchParams.set('client_id', 'intruder');
  const callbackUrl = await stack.idp.signIn(tampered.href, 'ann');
  assertRefused(await deliverCallback(port, callbackUrl, { gatehouse_login: a.loginCookie }), 502, 'other client');
});

test('an ID token carrying another nonce (real provider, PKCE intact) is refused -> 502', async () => {
  const a = await beginLogin(port, 'app.test', '/');
  const tampered = new URL(a.authorize);
  tampered.searchParams.set('nonce', 'nonce-chosen-by-the-attacker-123456');
  const callbackUrl = await stack.idp.signIn(tampered.href, 'ann');
  assertRefused(await deliverCallback(port, callbackUrl, { gatehouse_login: a.loginCookie }), 502, 'other nonce');
});

test('ID tokens wrong in one way each (scripted IdP) are refused -> 502; a well-formed one signs in', async () => {
  const attempt = async (defect) => {
    const begin = await beginLogin(port, 'scripted.test', '/here?x=1');
    assert.equal(`${begin.authorize.origin}${begin.authorize.pathname}`, `${rogue.issuer}/authorize`);
    const code = rogue.issueCode(begin.params, defect);
    const callback = `http://scripted.test:${port}/.gatehouse/callback?code=${code}&state=${begin.params.state}`;
    return deliverCallback(port, callback, { gatehouse_login: begin.loginCookie });
  };
  // The control first: this IdP and this proxy do complete a sign-in (which
  // also shows the proxy sent the verifier that matches its S256 challenge).
  const good = await attempt('none');
  assert.equal(good.status, 302, good.body);
  assert.ok(grantedSession(good));
  assert.equal(new URL(good.headers.location[0], `http://scripted.test:${port}/`).pathname, '/here');
  for (const defect of ['audience', 'nonce', 'no-nonce', 'issuer', 'expired', 'foreign-key', 'alg-none']) {
    assertRefused(await attempt(defect), 502, defect);
  }
});

// --- open redirects -----------------------------------------------------------------------

const kHostileReturns = [
  '//evil.example', '/\\evil.example', 'https://evil.example', '%2F%2Fevil.example', '/%5Cevil.example',
  '/%09/evil.example', '\\/evil.example', 'http:evil.example', '/%2F/evil.example', '///evil.example',
  '/\t/evil.example', 'javascript:alert(1)',
];

test('logout: every hostile return_to ends on this host', async () => {
  for (const hostile of kHostileReturns) {
    const { session } = await loginAs(stack, 'ann');
    const r = await proxyGet(port, 'app.test', `/.gatehouse/logout?return_to=${encodeURIComponent(hostile)}`,
      { cookies: { gatehouse_session: session } });
    assert.equal(r.status, 302, hostile);
    const location = new URL(r.headers.location[0], `${appOrigin()}/`);
    if (location.origin === new URL(stack.idp.issuer).origin) {
      // Through the IdP's end-session endpoint: where it sends the user back must be here.
      assert.equal(location.pathname, '/session/end', hostile);
      const back = location.searchParams.get('post_logout_redirect_uri');
      if (back !== null) assertSameHost(back, appOrigin(), `logout ${JSON.stringify(hostile)}`);
    } else {
      assertSameHost(r.headers.location[0], appOrigin(), `logout ${JSON.stringify(hostile)}`);
    }
    const cleared = setCookies(r).gatehouse_session;
    assert.ok(cleared && (cleared.value === '' || cleared.attrs['max-age'] === '0'), `logout clears: ${cleared?.line}`);
  }
});

test('/auth/sso: every hostile return_to ends on this host', async () => {
  const { session } = await loginAs(stack, 'ann');
  for (const hostile of kHostileReturns) {
    const r = await proxyGet(port, 'app.test', `/auth/sso?return_to=${encodeURIComponent(hostile)}`,
      { cookies: { gatehouse_session: session } });
    assert.equal(r.status, 302, hostile);
    assertSameHost(r.headers.location[0], appOrigin(), `sso ${JSON.stringify(hostile)}`);
    const next = new URL(r.headers.location[0], `${appOrigin()}/`);
    assert.equal(next.pathname, '/auth/sso');
    assert.ok(next.searchParams.get('jwt'), 'a token');
    assertSameHost(next.searchParams.get('return_to') ?? '/', appOrigin(), `sso return_to ${JSON.stringify(hostile)}`);
  }
});

test('the original URL of a login can only be a path on this host', async () => {
  const targets = ['//evil.example/x', '/%2F%2Fevil.example', '/%5Cevil.example', '/%09/evil.example',
    '/\\evil.example', '/./\\evil.example', 'http://evil.example/x'];
  for (const target of targets) {
    const r = await proxyGet(port, 'app.test', target);
    // Refusing the request outright is safe; a redirect must go to the IdP.
    if (r.status === 400 || r.status === 404) continue;
    assert.equal(r.status, 302, `${target}: ${r.body.slice(0, 200)}`);
    const authorize = new URL(r.headers.location[0]);
    assert.equal(authorize.origin, new URL(stack.idp.issuer).origin, target);
    const callbackUrl = await stack.idp.signIn(authorize.href, 'ann');
    assert.equal(new URL(callbackUrl).origin, appOrigin(), `${target}: callback on this host`);
    const done = await deliverCallback(port, callbackUrl, { gatehouse_login: setCookies(r).gatehouse_login.value });
    assert.equal(done.status, 302, target);
    assertSameHost(done.headers.location[0], appOrigin(), `login target ${JSON.stringify(target)}`);
    assert.ok(/^\/(?![/\\])/.test(done.headers.location[0]) || done.headers.location[0].startsWith(`${appOrigin()}/`),
      `${target}: Location ${done.headers.location[0]} is a plain path`);
  }
});
