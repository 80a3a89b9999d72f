// The sign-in identity provider for the browser sign-in tests: the REAL
// `oidc-provider`, configured for the authorization code flow with PKCE
// (required for every client), client_secret_basic at the token endpoint, ID
// tokens carrying email / given_name / family_name / groups, and RP-initiated
// logout at /session/end. Its sign-in page is a plain HTML form (a username
// field and a submit button) that a real browser fills in; Node tests drive the
// same form by hand through signIn().
//
//   const idp = await startLoginIdp({ clients: [{ id: 'gatehouse', secret: 's3cret', redirectUris: [] }] });
//   idp.issuer                                  // http://127.0.0.1:P
//   const proxy = await startProxy(...);         // its policy names idp.issuer; port chosen at bind
//   idp.allowRedirectUris('gatehouse', [`http://app.test:${proxy.port}/.gatehouse/callback`]);
//   const cb = await idp.signIn(authorizeUrl, 'ann');   // -> the redirect_uri URL with code+state
//   idp.tokenRequests()                          // how many code exchanges reached the IdP
//   idp.server, idp.provider                     // the http.Server and the Provider, to observe
//   await idp.close();
//
// Users: ann (analysts), cy (contractors), ops (admins), emails <user>@example.com.
// Consent is implicit: signing in saves a Grant for what the client asked for.
//
// The whole stack (echo upstream + this IdP + N gatehouse-proxy processes that
// share one --session-keys file), and the proxy's side of the flow by hand:
//
//   const stack = await startSignInStack({ hosts: { 'app.test': { rules } }, proxies: 2 });
//   const begin = await beginLogin(stack.proxies[0].port, 'app.test', '/x?y=1');
//   const { session, callback } = await loginAs(stack, 'ann', { target: '/x' });
//   await proxyGet(port, 'app.test', '/x', { cookies: { gatehouse_session: session } });
//   await stack.stop();                           // in after()
import crypto from 'node:crypto';
import { rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import path from 'node:path';
import { generateKeyPair, exportJWK } from 'jose';
import { policyDir, policyYaml, rawRequest, startEcho, startProxy } from './proxy-harness.mjs';

export const kUsers = {
  ann: { given_name: 'Ann', family_name: 'Analyst', groups: ['analysts'] },
  cy: { given_name: 'Cy', family_name: 'Contractor', groups: ['contractors'] },
  ops: { given_name: 'Ops', family_name: 'Admin', groups: ['admins'] },
};

function userClaims(id) {
  const user = kUsers[id];
  return {
    sub: id,
    email: `${id}@example.com`,
    email_verified: true,
    given_name: user.given_name,
    family_name: user.family_name,
    name: `${user.given_name} ${user.family_name}`,
    groups: user.groups,
  };
}

const escapeHtml = (s) => String(s).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

function signInPage(uid, clientId, error = '') {
  return `<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>Sign in</title></head>
<body>
  <h1>Sign in to ${escapeHtml(clientId)}</h1>
  ${error ? `<p id="error">${escapeHtml(error)}</p>` : ''}
  <form method="post" action="/interaction/${escapeHtml(uid)}">
    <label>Username <input id="username" name="username" autocomplete="off" autofocus></label>
    <button id="submit" type="submit">Sign in</button>
  </form>
</body></html>`;
}

async function readForm(req) {
  let body = '';
  for await (const chunk of req) {
    body += chunk;
    if (body.length > 4096) throw new Error('form too large');
  }
  return new URLSearchParams(body);
}

// GET /interaction/:uid renders the form; POST signs the named user in and
// grants the client what it asked for (scopes and claims), in one step.
async function interaction(provider, req, res, uid) {
  const details = await provider.interactionDetails(req, res);
  if (details.uid !== uid) throw new Error('interaction uid mismatch');
  const send = (status, html) => {
    res.writeHead(status, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' });
    res.end(html);
  };
  if (req.method === 'GET') return send(200, signInPage(uid, details.params.client_id));
  const form = await readForm(req);
  const accountId = form.get('username') ?? '';
  if (!Object.hasOwn(kUsers, accountId)) return send(200, signInPage(uid, details.params.client_id, 'unknown user'));
  const grant = new provider.Grant({ accountId, clientId: details.params.client_id });
  grant.addOIDCScope(String(details.params.scope ?? 'openid'));
  const missing = details.prompt.details?.missingOIDCClaims;
  if (Array.isArray(missing)) grant.addOIDCClaims(missing);
  const grantId = await grant.save();
  return provider.interactionFinished(req, res, { login: { accountId }, consent: { grantId } },
    { mergeWithLastSubmission: false });
}

// The logout confirmation page (RP-initiated logout): the provider's own form
// plus one "yes" button the browser clicks.
async function logoutSource(ctx, form) {
  ctx.body = `<!DOCTYPE html><html><head><meta charset="utf-8"><title>Sign out</title></head><body>
  <h1>Sign out?</h1>${form}
  <button id="logout-yes" type="submit" form="op.logoutForm" value="yes" name="logout">Yes, sign me out</button>
  </body></html>`;
}

async function postLogoutSuccessSource(ctx) {
  ctx.body = '<!DOCTYPE html><html><head><meta charset="utf-8"><title>Signed out</title></head><body><h1 id="signed-out">Signed out</h1></body></html>';
}

// oidc-provider wants one redirect URI at registration: a client whose callback
// URLs are only known later (allowRedirectUris) gets one under .invalid, a name
// that never resolves (RFC 2606), so nothing can ever be sent there.
const kUnusedRedirect = 'https://unused.invalid/.gatehouse/callback';

function clientMetadata({ id, secret, redirectUris: given, postLogoutRedirectUris }) {
  const redirectUris = given.length ? given : [kUnusedRedirect];
  return {
    client_id: id,
    client_secret: secret,
    token_endpoint_auth_method: 'client_secret_basic',
    grant_types: ['authorization_code', 'refresh_token'],
    response_types: ['code'],
    redirect_uris: redirectUris,
    post_logout_redirect_uris: postLogoutRedirectUris
      ?? redirectUris.map((u) => new URL('/', u).href),
  };
}

// clients: [{id, secret, redirectUris, postLogoutRedirectUris?}].
// A post-logout redirect may go to any path on an origin that one of the
// client's redirect_uris names (redirect_uris themselves match exactly).
// allowRedirectUris(clientId, uris) registers more exact redirect URIs after the
// start (the proxies' callback URLs, once their ports are bound).
export async function startLoginIdp({ clients, host = '127.0.0.1', port = 0, idTokenTtl = 300 }) {
  const { default: Provider } = await import('oidc-provider');
  const { privateKey } = await generateKeyPair('RS256', { extractable: true });
  const key = { ...(await exportJWK(privateKey)), kid: 'login-rs256', use: 'sig', alg: 'RS256' };
  const server = createServer();
  await new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, resolve);
  });
  const issuer = `http://${host}:${server.address().port}`;
  const provider = new Provider(issuer, {
    jwks: { keys: [key] },
    clients: clients.map(clientMetadata),
    findAccount: (ctx, id) => (Object.hasOwn(kUsers, id)
      ? { accountId: id, claims: () => userClaims(id) }
      : undefined),
    claims: {
      openid: ['sub'],
      email: ['email', 'email_verified'],
      profile: ['name', 'given_name', 'family_name'],
      groups: ['groups'],
    },
    scopes: ['openid', 'email', 'profile', 'groups', 'offline_access'],
    conformIdTokenClaims: false,  // the scopes' claims go into the ID token itself
    pkce: { required: () => true },
    interactions: { url: (ctx, i) => `/interaction/${i.uid}` },
    ttl: { IdToken: idTokenTtl, AccessToken: 300, AuthorizationCode: 60, Interaction: 600, Session: 3600, Grant: 3600 },
    features: {
      devInteractions: { enabled: false },
      rpInitiatedLogout: { enabled: true, logoutSource, postLogoutSuccessSource },
    },
    cookies: { keys: ['login-idp-cookie-key'] },
  });
  // client_id -> Set of exact redirect URIs registered after the start.
  const later = new Map();
  const laterOf = (client) => later.get(client.clientId) ?? new Set();
  const allowRedirect = provider.Client.prototype.redirectUriAllowed;
  provider.Client.prototype.redirectUriAllowed = function allowed(value) {
    // Exact match only, as for the registered ones: a tampered redirect_uri
    // (other host, port, path) is still refused.
    return allowRedirect.call(this, value) || laterOf(this).has(value);
  };
  const allowPostLogout = provider.Client.prototype.postLogoutRedirectUriAllowed;
  provider.Client.prototype.postLogoutRedirectUriAllowed = function allowed(value) {
    if (allowPostLogout.call(this, value)) return true;
    let url;
    try { url = new URL(value); } catch { return false; }
    const origins = [...this.redirectUris, ...laterOf(this)].filter((u) => u !== kUnusedRedirect);
    return origins.some((u) => new URL(u).origin === url.origin) && url.pathname.startsWith('/');
  };
  let tokenRequests = 0;
  provider.on('grant.success', () => { tokenRequests += 1; });
  provider.on('grant.error', () => { tokenRequests += 1; });
  provider.on('server_error', (ctx, err) => console.error('login idp error:', err));
  const callback = provider.callback();
  server.on('request', (req, res) => {
    const m = req.url.match(/^\/interaction\/([A-Za-z0-9_-]+)$/);
    if (!m) return callback(req, res);
    interaction(provider, req, res, m[1]).catch((err) => {
      if (!res.headersSent) res.writeHead(400, { 'content-type': 'text/plain' });
      res.end(`interaction failed: ${err.message}`);
    });
  });
  return {
    issuer,
    port: server.address().port,
    server,
    provider,
    tokenRequests: () => tokenRequests,
    allowRedirectUris(clientId, uris) {
      if (!clients.some((c) => c.id === clientId)) throw new Error(`no client ${clientId}`);
      if (!later.has(clientId)) later.set(clientId, new Set());
      for (const u of uris) later.get(clientId).add(String(u));
    },
    signIn: (authorizeUrl, username) => signIn(issuer, authorizeUrl, username),
    close: () => new Promise((resolve) => { server.closeAllConnections?.(); server.close(resolve); }),
  };
}

// --- driving the IdP by hand (no browser) -------------------------------------------

// A cookie jar for one origin: enough for the provider's interaction/session cookies.
export class CookieJar {
  #cookies = new Map();
  store(response) {
    for (const line of response.headers.getSetCookie()) {
      const [pair, ...attrs] = line.split(';');
      const eq = pair.indexOf('=');
      const name = pair.slice(0, eq).trim();
      const value = pair.slice(eq + 1).trim();
      const expired = attrs.some((a) => /^\s*max-age=0\s*$/i.test(a)) || value === '';
      if (expired) this.#cookies.delete(name);
      else this.#cookies.set(name, value);
    }
  }
  header() {
    return [...this.#cookies].map(([n, v]) => `${n}=${v}`).join('; ');
  }
}

// Follows the authorization request through the provider as a browser would,
// submitting the sign-in form as `username`, until the provider redirects off
// its own origin (to the client's redirect_uri). Returns that URL. Throws if
// the provider answers with anything else (an error page, a loop).
export async function signIn(issuer, authorizeUrl, username, jar = new CookieJar()) {
  let url = authorizeUrl;
  let method = 'GET';
  let body;
  for (let hop = 0; hop < 10; hop++) {
    const headers = { cookie: jar.header(), accept: 'text/html' };
    if (body) headers['content-type'] = 'application/x-www-form-urlencoded';
    const r = await fetch(url, { method, headers, body, redirect: 'manual' });
    jar.store(r);
    const text = await r.text();
    if (r.status >= 300 && r.status < 400) {
      const next = new URL(r.headers.get('location'), url);
      if (next.origin !== new URL(issuer).origin) return next.href;
      url = next.href;
      method = 'GET';
      body = undefined;
    } else if (r.status === 200 && /^\/interaction\//.test(new URL(url).pathname) && method === 'GET') {
      method = 'POST';
      body = new URLSearchParams({ username }).toString();
    } else {
      throw new Error(`sign-in stopped at ${method} ${url}: ${r.status} ${text.slice(0, 300)}`);
    }
  }
  throw new Error('sign-in: too many redirects');
}

// --- the whole sign-in stack ---------------------------------------------------------

// A policy host with browser sign-in through `idp`. rules: YAML list items
// (indented 4). metabase: the name of a Secret holding the Metabase JWT secret.
export function signInPolicy({ name, host, issuer, upstream, rules, clientId = 'gatehouse', metabase = '' }) {
  const login = `        groupsClaim: groups
    login:
      issuer: ${issuer}
      clientID: ${clientId}
      clientSecretRef: {name: oidc-${name}, key: client-secret}
      scopes: [openid, email, profile, groups]
${metabase ? `  metabase:\n    sharedSecretRef: {name: ${metabase}, key: secret}\n` : ''}`;
  return policyYaml({ name, host, issuer, upstream, rules, audience: clientId, extra: login });
}

export function secretYaml(name, data) {
  const lines = Object.entries(data).map(([k, v]) => `  ${k}: ${JSON.stringify(v)}`).join('\n');
  return `apiVersion: v1\nkind: Secret\nmetadata: {name: ${name}, namespace: e2e}\nstringData:\n${lines}\n`;
}

// A random session key line: 32 bytes, base64url (43 characters).
export const sessionKeyLine = () => crypto.randomBytes(32).toString('base64url');

// Starts the echo upstream, the login IdP and `proxies` gatehouse-proxy
// processes (all sharing one --session-keys file) on ports they choose when
// they bind; then the IdP registers every proxy's callback URL exactly. hosts: {host: {rules,
// metabase?}}; every host gets its own client secret Secret. Returns
// {idp, echo, proxies: [{port, admin, ...}], dir, keysFile, origin(host, i),
// startExtraProxy({keys}), stop()}.
export async function startSignInStack({ hosts, proxies = 1, clientSecret = 'gatehouse-client-secret',
  extraClients = [], metabaseSecret = 'metabase-shared-secret-0123456789abcdef', idTokenTtl } = {}) {
  const started = [];
  const stack = { proxies: [], started };
  try {
    stack.echo = await startEcho();
    started.push(stack.echo);
    stack.idp = await startLoginIdp({
      idTokenTtl,
      clients: [{ id: 'gatehouse', secret: clientSecret, redirectUris: [] },
        ...extraClients.map((c) => ({ ...c, redirectUris: [] }))],
    });
    started.push(stack.idp);
    const files = {};
    for (const [host, spec] of Object.entries(hosts)) {
      const name = host.split('.')[0];
      let text = signInPolicy({ name, host, issuer: spec.issuer ?? stack.idp.issuer, upstream: stack.echo.url,
        rules: spec.rules, metabase: spec.metabase ? `metabase-${name}` : '' });
      text += `---\n${secretYaml(`oidc-${name}`, { 'client-secret': spec.clientSecret ?? clientSecret })}`;
      if (spec.metabase) text += `---\n${secretYaml(`metabase-${name}`, { secret: metabaseSecret })}`;
      files[`${name}.yaml`] = text;
    }
    stack.dir = policyDir(files);
    stack.keysFile = path.join(stack.dir.dir, '..', `${path.basename(stack.dir.dir)}.keys`);
    writeFileSync(stack.keysFile, `${sessionKeyLine()}\n`, { mode: 0o600 });
    // Each proxy binds port 0 and reports the port it got (no reserved port
    // that a parallel test could take first).
    const launch = async (keysFile) => {
      const proxy = await startProxy({ policies: stack.dir.dir, args: ['--session-keys', keysFile] });
      started.push({ close: () => proxy.stop('SIGKILL') });
      return proxy;
    };
    for (let i = 0; i < proxies; i++) stack.proxies.push(await launch(stack.keysFile));
    const redirectUris = [];
    for (const host of Object.keys(hosts)) {
      for (const p of stack.proxies) redirectUris.push(`http://${host}:${p.port}/.gatehouse/callback`);
    }
    for (const id of ['gatehouse', ...extraClients.map((c) => c.id)]) stack.idp.allowRedirectUris(id, redirectUris);
    // Another proxy, e.g. with a different key file.
    stack.startExtraProxy = async ({ keys }) => {
      const file = `${stack.keysFile}.extra`;
      writeFileSync(file, keys.map((k) => `${k}\n`).join(''), { mode: 0o600 });
      // Its callback URL is not registered: no test signs in through it.
      return launch(file);
    };
  } catch (e) {
    await stopAll(started, stack);
    throw e;
  }
  stack.origin = (host, i = 0) => `http://${host}:${stack.proxies[i].port}`;
  stack.stop = () => stopAll(started, stack);
  return stack;
}

async function stopAll(started, stack) {
  for (const s of started.reverse()) await s.close();
  stack.dir?.remove();
  if (stack.keysFile) {
    rmSync(stack.keysFile, { force: true });
    rmSync(`${stack.keysFile}.extra`, { force: true });
  }
}

// --- the proxy's side of the flow, by hand ------------------------------------------

// The Set-Cookie lines of a rawRequest response: name -> {value, attrs (lowercased
// name -> value or true), line}.
export function setCookies(response) {
  const out = {};
  for (const line of response.headers['set-cookie'] ?? []) {
    const [pair, ...rest] = line.split(';');
    const eq = pair.indexOf('=');
    const attrs = {};
    for (const a of rest) {
      const i = a.indexOf('=');
      if (i < 0) attrs[a.trim().toLowerCase()] = true;
      else attrs[a.slice(0, i).trim().toLowerCase()] = a.slice(i + 1).trim();
    }
    out[pair.slice(0, eq).trim()] = { value: pair.slice(eq + 1).trim(), attrs, line };
  }
  return out;
}

// GET through a proxy as `host` (the Host header carries the proxy's port, as a
// browser's would). cookies: {name: value}; browser: send Accept: text/html.
export function proxyGet(port, host, target, { cookies = {}, browser = true, headers = [] } = {}) {
  const h = [...headers];
  if (browser) h.push(['Accept', 'text/html,application/xhtml+xml']);
  const jar = Object.entries(cookies).map(([n, v]) => `${n}=${v}`).join('; ');
  if (jar) h.push(['Cookie', jar]);
  return rawRequest(port, { host: `${host}:${port}`, path: target, headers: h });
}

// Opens `target` without a session: expects the 302 to the IdP and returns the
// authorize URL, its parameters and the login cookie the proxy set.
export async function beginLogin(port, host, target) {
  const r = await proxyGet(port, host, target);
  if (r.status !== 302) throw new Error(`expected a 302 to the IdP for ${target}, got ${r.status}: ${r.body.slice(0, 200)}`);
  const authorize = new URL(r.headers.location[0]);
  const login = setCookies(r).gatehouse_login;
  if (!login) throw new Error('no gatehouse_login cookie');
  return { response: r, authorize, params: Object.fromEntries(authorize.searchParams), loginCookie: login.value };
}

// Sends the IdP's redirect (the callback URL) to the proxy with these cookies.
export function deliverCallback(port, callbackUrl, cookies) {
  const url = new URL(callbackUrl);
  return proxyGet(port, url.hostname, `${url.pathname}${url.search}`, { cookies });
}

// The whole flow for `user`: returns {session (cookie value), callback (the
// proxy's answer to the callback), begin}.
export async function loginAs(stack, user, { host = 'app.test', target = '/', proxy = 0 } = {}) {
  const { port } = stack.proxies[proxy];
  const begin = await beginLogin(port, host, target);
  const callbackUrl = await stack.idp.signIn(begin.authorize.href, user);
  const callback = await deliverCallback(port, callbackUrl, { gatehouse_login: begin.loginCookie });
  const session = setCookies(callback).gatehouse_session?.value;
  return { session, callback, callbackUrl, begin };
}
