// Browser sign-in end to end with real parts only: Debian Chromium (through
// playwright-core) opens a page behind the REAL gatehouse-proxy, is sent to the
// REAL oidc-provider, fills in its sign-in form and comes back to the page it
// asked for; the echo upstream shows the identity headers it received. Also: a
// user of a denied group gets the 403 page, logout ends the session, a second
// proxy with the same session keys accepts the cookie (one with other keys does
// not), and the upstream never sees the session cookie.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { launchBrowser } from '../lib/browser.mjs';
import { startSignInStack, proxyGet, sessionKeyLine } from '../lib/login-idp.mjs';
import { eventually } from '../lib/proxy-harness.mjs';

const kRules = `    - {name: staff, action: Allow, from: {groups: [analysts, admins]}}
`;

let stack; let browser; let page;

before(async () => {
  stack = await startSignInStack({ hosts: { 'app.test': { rules: kRules } }, proxies: 2 });
  browser = await launchBrowser({ hostMap: ['*.test'] });
  page = await browser.context.newPage();
  page.setDefaultTimeout(15000);
});

after(async () => {
  await browser?.close();
  await stack?.stop();
});

const origin = (i = 0) => stack.origin('app.test', i);
const idpOrigin = () => new URL(stack.idp.issuer).origin;

// Every test starts signed out everywhere (proxy and IdP), so none depends on another.
async function freshBrowser() {
  await browser.context.clearCookies();
}

// Opens url, expects the IdP's sign-in form, signs in as user through it and
// waits to be back on the proxy's origin. Returns the final navigation response.
async function signInThroughForm(url, user) {
  await page.goto(url);
  assert.ok(page.url().startsWith(`${stack.idp.issuer}/interaction/`), `on the IdP form, not ${page.url()}`);
  await page.fill('#username', user);
  const [response] = await Promise.all([
    page.waitForResponse((r) => r.url().startsWith(`${new URL(url).origin}/`) && r.status() !== 302),
    page.click('#submit'),
  ]);
  await page.waitForLoadState();
  return response;
}

const echoed = async () => JSON.parse(await page.locator('body').innerText());

function headersOf(record) {
  const out = {};
  for (let i = 0; i < record.rawHeaders.length; i += 2) {
    (out[record.rawHeaders[i].toLowerCase()] ??= []).push(record.rawHeaders[i + 1]);
  }
  return out;
}

async function sessionCookie() {
  return (await browser.context.cookies(origin())).find((c) => c.name === 'gatehouse_session');
}

test('ann opens a protected page, signs in on the IdP form and lands on the same path and query', async () => {
  await freshBrowser();
  const target = `${origin()}/dashboard/7?tab=filters&q=a%20b`;
  const response = await signInThroughForm(target, 'ann');
  assert.equal(response.status(), 200);
  assert.equal(page.url(), target);
  const record = await echoed();
  assert.equal(record.url, '/dashboard/7?tab=filters&q=a%20b');
  const seen = headersOf(record);
  assert.deepEqual(seen['x-forwarded-user'], ['ann']);
  assert.deepEqual(seen['x-forwarded-email'], ['ann@example.com']);
  assert.deepEqual(seen['x-forwarded-groups'], ['analysts']);
  const cookie = await sessionCookie();
  assert.ok(cookie, 'the browser holds a session cookie');
  assert.equal(cookie.domain, 'app.test', 'host-only');
  assert.equal(cookie.httpOnly, true);
  assert.equal(cookie.sameSite, 'Lax');
  assert.equal(cookie.path, '/');
  const login = (await browser.context.cookies(origin())).find((c) => c.name === 'gatehouse_login');
  assert.equal(login, undefined, 'the login cookie is gone after the callback');
  // Signed in now: the next page needs no trip to the IdP.
  const idpHits = [];
  page.on('request', (r) => { if (r.url().startsWith(idpOrigin())) idpHits.push(r.url()); });
  const again = await page.goto(`${origin()}/question/3`);
  assert.equal(again.status(), 200);
  assert.equal((await echoed()).url, '/question/3');
  assert.deepEqual(idpHits, []);
  page.removeAllListeners('request');
});

test('cy (contractors) signs in and gets the 403 page naming the request id', async () => {
  await freshBrowser();
  const response = await signInThroughForm(`${origin()}/dashboard/1`, 'cy');
  assert.equal(response.status(), 403);
  assert.equal(page.url(), `${origin()}/dashboard/1`);
  const text = await page.locator('body').innerText();
  const denial = await eventually(() => {
    const line = stack.proxies[0].audit().find((l) => l.email === 'cy@example.com' && l.status === 403);
    assert.ok(line, 'an audit line for the denial');
    return line;
  });
  assert.ok(denial.request_id && text.includes(denial.request_id), `the page names ${denial.request_id}: ${text}`);
  const cookie = await sessionCookie();
  assert.ok(cookie, 'cy is signed in, just not allowed');
  assert.equal(text.includes(cookie.value), false, 'the page does not echo the session');
  assert.equal(stack.echo.requests.some((r) => headersOf(r)['x-forwarded-user']?.includes('cy')), false,
    'nothing of cy reached the upstream');
});

test('logout ends the session: the next visit goes to the IdP and its sign-in form again', async () => {
  await freshBrowser();
  await signInThroughForm(`${origin()}/dashboard/2`, 'ann');
  assert.ok(await sessionCookie());
  await page.goto(`${origin()}/.gatehouse/logout?return_to=/dashboard/2`);
  assert.equal(await sessionCookie(), undefined, 'the session cookie is cleared');
  if (page.url().startsWith(`${stack.idp.issuer}/session/end`)) {
    // The IdP asks to confirm its own sign-out; the browser says yes.
    await Promise.all([
      page.waitForURL((u) => u.origin !== idpOrigin() || !u.pathname.startsWith('/session/end')
        || u.pathname === '/session/end/success'),
      page.click('#logout-yes'),
    ]);
  }
  const idpHits = [];
  page.on('request', (r) => { if (r.url().startsWith(idpOrigin())) idpHits.push(new URL(r.url()).pathname); });
  await page.goto(`${origin()}/dashboard/2`);
  page.removeAllListeners('request');
  assert.ok(idpHits.includes('/auth'), `went to the IdP: ${idpHits}`);
  assert.ok(page.url().startsWith(`${stack.idp.issuer}/interaction/`), `asked to sign in again: ${page.url()}`);
  assert.equal(await page.locator('#username').count(), 1);
});

test('a second proxy with the same session keys accepts the cookie; one with other keys does not', async () => {
  await freshBrowser();
  await signInThroughForm(`${origin(0)}/first`, 'ann');
  const cookie = await sessionCookie();
  assert.ok(cookie);
  // The same browser on the second proxy (same host name, other port: cookies
  // are per host, not per port), with no trip to the IdP.
  const idpHits = [];
  page.on('request', (r) => { if (r.url().startsWith(idpOrigin())) idpHits.push(r.url()); });
  const response = await page.goto(`${origin(1)}/second?x=1`);
  page.removeAllListeners('request');
  assert.equal(response.status(), 200);
  assert.deepEqual(idpHits, [], 'no sign-in on the second proxy');
  assert.equal((await echoed()).url, '/second?x=1');
  assert.deepEqual(headersOf(await echoed())['x-forwarded-user'], ['ann']);
  // The cookie copied by hand: the second proxy accepts it, a proxy with
  // another key sends the browser to sign in and refuses the API client.
  const copied = { gatehouse_session: cookie.value };
  assert.equal((await proxyGet(stack.proxies[1].port, 'app.test', '/copied', { cookies: copied })).status, 200);
  const stranger = await stack.startExtraProxy({ keys: [sessionKeyLine()] });
  const refused = await proxyGet(stranger.port, 'app.test', '/copied', { cookies: copied });
  assert.equal(refused.status, 302);
  assert.equal(new URL(refused.headers.location[0]).origin, idpOrigin());
  assert.equal((await proxyGet(stranger.port, 'app.test', '/copied', { cookies: copied, browser: false })).status, 401);
  await stranger.stop('SIGKILL');
  // Key rotation: a proxy whose key file lists a new key first and the old one
  // second still accepts the cookie the old key sealed.
  const current = readFileSync(stack.keysFile, 'utf8').trim();
  const rotated = await stack.startExtraProxy({ keys: [sessionKeyLine(), current] });
  const accepted = await proxyGet(rotated.port, 'app.test', '/rotated', { cookies: copied });
  await rotated.stop('SIGKILL');
  assert.equal(accepted.status, 200, 'the previous key still opens the session');
});

test('the upstream never sees the session cookie, and does see the application\'s own cookies', async () => {
  await freshBrowser();
  await browser.context.addCookies([{ name: 'metabase.THEME', value: 'dark', domain: 'app.test', path: '/' }]);
  await signInThroughForm(`${origin()}/cookies`, 'ann');
  const record = await echoed();
  const cookies = (headersOf(record).cookie ?? []).join('; ');
  assert.match(cookies, /metabase\.THEME=dark/);
  assert.doesNotMatch(cookies, /gatehouse_/);
  for (const r of stack.echo.requests) {
    const c = (headersOf(r).cookie ?? []).join('; ');
    assert.doesNotMatch(c, /gatehouse_session|gatehouse_login/, `upstream request ${r.url}`);
  }
});
