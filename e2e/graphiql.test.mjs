// Opens GraphiQL on / in headless Chromium (Debian's, driven by playwright-core; no
// browser download) with every request off the server's origin refused, as on a
// machine with no network. The first test puts the bearer token in the Headers
// pane, runs `{ me { email } }` and reads the answer off the page; the second
// signs in through the sign-in pane with the password serve printed, runs the
// same without touching the Headers pane, and signs out; the third, against a
// server whose access tokens live one second, sees the pane renew the session
// with refreshSession before the token expires and when the server refuses it,
// and sign out with logout, which ends the session on the server. Screenshots
// go to e2e/artifacts/.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { chromium } from 'playwright-core';
import { login, startServer } from './lib/server.mjs';

const chromiumPath = process.env.CHROMIUM_PATH || '/usr/bin/chromium';
const artifacts = path.join(import.meta.dirname, 'artifacts');

let server;
let token;
let profile;
let browser;

before(async () => {
  server = await startServer();
  token = await login(server, server.adminEmail, server.adminPassword);
  profile = await mkdtemp(path.join(tmpdir(), 'linkapi-chromium-'));
  browser = await chromium.launchPersistentContext(profile, {
    executablePath: chromiumPath,
    headless: true,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
    viewport: { width: 1400, height: 900 },
    timeout: 60_000,
  });
});

after(async () => {
  await browser?.close();
  if (profile) await rm(profile, { recursive: true, force: true });
  await server?.stop();
});

/** Replaces the text of the CodeMirror editor under locator as a paste would. */
async function setEditor(page, locator, text) {
  await locator.locator('.CodeMirror').click();
  await page.keyboard.press('ControlOrMeta+A');
  await page.keyboard.insertText(text);
  assert.equal(await locator.locator('.CodeMirror').evaluate((el) => el.CodeMirror.getValue()), text);
}

/**
 * Opens GraphiQL on / in page with every request off the server refused, and
 * returns what the page asked for off the server, the problems it met and the
 * GraphQL requests it sent.
 */
async function openGraphiQL(page, srv = server) {
  const origin = new URL(srv.url).origin;
  const seen = { offOrigin: [], problems: [], graphqlRequests: [] };
  await page.route('**/*', (route) => {
    if (new URL(route.request().url()).origin === origin) return route.continue();
    seen.offOrigin.push(route.request().url());
    return route.abort('internetdisconnected');
  });
  page.on('pageerror', (err) => seen.problems.push(`page error: ${err.message}`));
  page.on('console', (msg) => { if (msg.type() === 'error') seen.problems.push(`console: ${msg.text()} (${msg.location()?.url ?? 'no url'})`); });
  page.on('requestfailed', (req) => seen.problems.push(`request failed: ${req.url()} ${req.failure()?.errorText}`));
  page.on('request', (req) => {
    if (req.url() === `${origin}/graphql`) seen.graphqlRequests.push({ body: req.postData() ?? '', authorization: req.headers().authorization });
  });

  // GraphiQL asks for the schema as it starts, anonymously.
  const introspected = page.waitForResponse((r) => r.url() === `${origin}/graphql`, { timeout: 30_000 });
  const res = await page.goto(`${srv.url}/`);
  assert.equal(res.status(), 200);
  await page.locator('.graphiql-container').waitFor({ timeout: 30_000 });
  assert.equal((await introspected).status(), 200);
  return seen;
}

/** Runs the query editor's operation and returns the answer shown, keeping a screenshot. */
async function execute(page, want, screenshot) {
  // The tab takes its title from the document once GraphiQL has read the
  // edit; run before that, it would look for the default document's operation.
  await page.waitForFunction(
    () => document.querySelector('.graphiql-tab-button')?.innerText.trim() === '<untitled>',
    null,
    { timeout: 10_000 },
  );
  await page.getByRole('button', { name: /^Execute query/ }).click();
  let text;
  try {
    await page.waitForFunction(
      (w) => document.querySelector('.result-window')?.innerText.includes(w),
      want,
      { timeout: 30_000 },
    );
  } finally {
    text = await page.locator('.result-window').innerText();
    if (screenshot) {
      await mkdir(artifacts, { recursive: true });
      await page.screenshot({ path: path.join(artifacts, screenshot) });
    }
  }
  return JSON.parse(text.replace(/\u00a0/g, ' '));
}

test('GraphiQL runs { me { email } } with a bearer token from the headers pane, offline', async () => {
  const page = browser.pages()[0] ?? (await browser.newPage());
  const seen = await openGraphiQL(page);

  await page.getByRole('button', { name: 'Headers', exact: true }).click();
  const headersEditor = page.locator('.graphiql-editor-tool .graphiql-editor:not(.hidden)');
  await headersEditor.waitFor();
  await setEditor(page, headersEditor, JSON.stringify({ Authorization: `Bearer ${token}` }, null, 2));

  await setEditor(page, page.locator('.graphiql-query-editor'), '{ me { email } }');
  const shown = await execute(page, '"me"', 'graphiql.png');
  assert.deepEqual(shown, { data: { me: { email: 'admin@localhost' } } });
  const me = seen.graphqlRequests.find((r) => r.body.includes('me { email }'));
  assert.ok(me, 'GraphiQL sent the query');
  assert.equal(me.authorization, `Bearer ${token}`, 'with the header from the Headers pane');

  assert.deepEqual(seen.offOrigin, [], 'the page asked for nothing off this server');
  assert.deepEqual(seen.problems, []);
});

test('the sign-in pane logs in with the printed password, sends the token itself and signs out', async () => {
  // A first visit, in the same tab: none of the tabs the test above left in
  // localStorage. (A second tab would be in the background, with no animation
  // frames.)
  const page = browser.pages()[0] ?? (await browser.newPage());
  await page.goto(`${server.url}/healthz`);
  await page.evaluate(() => { localStorage.clear(); sessionStorage.clear(); });
  const seen = await openGraphiQL(page);

  // Signed out, the pane is open and the default document starts with Login,
  // its comment lines whole at 1400x900.
  const pane = page.locator('.linkapi-sign-in');
  await pane.waitFor({ timeout: 10_000 });
  await page.waitForFunction(() => document.querySelector('.graphiql-query-editor .CodeMirror')?.CodeMirror.getValue() !== '');
  const doc = await page.locator('.graphiql-query-editor .CodeMirror').evaluate((el) => el.CodeMirror.getValue());
  const firstOperation = doc.split('\n').find((l) => !l.startsWith('#') && l.trim() !== '');
  assert.match(firstOperation, /^mutation Login \{/);
  await mkdir(artifacts, { recursive: true });
  await page.screenshot({ path: path.join(artifacts, 'graphiql-signed-out.png') });
  const cut = await page.locator('.graphiql-query-editor .CodeMirror-scroll').evaluate((el) => el.scrollWidth - el.clientWidth);
  assert.ok(cut <= 0, `the default document is ${cut}px wider than the editor`);

  await pane.getByLabel('Email').fill(server.adminEmail);
  await pane.getByLabel('Password').fill(server.adminPassword);
  await mkdir(artifacts, { recursive: true });
  await page.screenshot({ path: path.join(artifacts, 'graphiql-sign-in.png') });
  await pane.getByRole('button', { name: 'Sign in' }).click();
  await pane.getByRole('status').filter({ hasText: 'Signed in as admin@localhost' }).waitFor({ timeout: 30_000 });

  await setEditor(page, page.locator('.graphiql-query-editor'), '{ me { email } }');
  const shown = await execute(page, '"me"', 'graphiql-signed-in.png');
  assert.deepEqual(shown, { data: { me: { email: 'admin@localhost' } } });
  const me = seen.graphqlRequests.filter((r) => r.body.includes('me { email }')).at(-1);
  assert.match(me?.authorization ?? '', /^Bearer ey/, 'the pane sent the token');
  const login = seen.graphqlRequests.find((r) => r.body.includes('login('));
  assert.equal(login.authorization, undefined, 'login went without a token');
  const accessToken = me.authorization.slice('Bearer '.length);

  // The token is in neither the URL, the Headers pane nor localStorage.
  assert.ok(!page.url().includes(accessToken), 'the token is not in the URL');
  await page.getByRole('button', { name: 'Headers', exact: true }).click();
  const headers = await page.locator('.graphiql-editor-tool .graphiql-editor:not(.hidden) .CodeMirror').evaluate((el) => el.CodeMirror.getValue());
  assert.ok(!headers.includes(accessToken), 'the Headers pane holds no token');
  const saved = await page.evaluate(() => Object.keys(localStorage).map((k) => localStorage.getItem(k)).join('\n'));
  assert.ok(!saved.includes(accessToken), 'GraphiQL saved no token in localStorage');

  // Signed out, the same query goes without a token and is refused.
  await pane.getByRole('button', { name: 'Sign out' }).click();
  await pane.getByRole('status').filter({ hasText: 'Signed out' }).waitFor();
  const after = await execute(page, 'UNAUTHENTICATED');
  assert.equal(after.errors?.[0]?.extensions?.code, 'UNAUTHENTICATED');
  assert.equal(seen.graphqlRequests.at(-1).authorization, undefined);

  // Login run from the editor, asking for the tokens as the default document
  // does, signs in as the pane does.
  const loginDoc = doc.slice(doc.indexOf('mutation Login'), doc.indexOf('query Me'))
    .replace('password: "?"', `password: ${JSON.stringify(server.adminPassword)}`)
    .replace('mutation Login {', 'mutation {'); // unnamed, as execute() expects
  assert.match(loginDoc, /accessToken\n\s+refreshToken/, 'the default Login asks for the tokens');
  await setEditor(page, page.locator('.graphiql-query-editor'), loginDoc);
  await execute(page, '"accessToken"');
  await pane.getByRole('status').filter({ hasText: 'Signed in as admin@localhost' }).waitFor({ timeout: 10_000 });
  await pane.getByRole('button', { name: 'Sign out' }).click();
  await pane.getByRole('status').filter({ hasText: 'Signed out' }).waitFor();

  assert.deepEqual(seen.offOrigin, [], 'the page asked for nothing off this server');
  assert.deepEqual(seen.problems, []);
});

/** Posts one operation with fetch and returns the HTTP status and the body. */
async function post(srv, query, variables, token) {
  const res = await fetch(srv.graphqlURL, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
    body: JSON.stringify({ query, variables }),
  });
  return { status: res.status, body: await res.json() };
}

test('the sign-in pane renews the session with refreshSession and ends it with logout', async () => {
  // Access tokens live 1 s (the server accepts them 30 s longer, its leeway on
  // expiry), so that the pane's renewal comes due at once.
  const short = await startServer({ env: { LINKAPI_TOKEN_TTL: '1s' } });
  try {
    const page = browser.pages()[0] ?? (await browser.newPage());
    await page.unrouteAll(); // the first server's route would refuse this one
    // GraphiQL's page, not /healthz: it names an empty favicon, where the
    // browser asks a JSON page's origin for /favicon.ico (a 404) whenever it
    // gets round to it, which can be after openGraphiQL starts listening.
    await page.goto(`${short.url}/`);
    await page.evaluate(() => { localStorage.clear(); sessionStorage.clear(); });
    const seen = await openGraphiQL(page, short);
    const stored = () => page.evaluate(() => JSON.parse(sessionStorage.getItem('linkapi.graphiql.session')));
    const meRequests = () => seen.graphqlRequests.filter((r) => r.body.includes('me { email }'));
    const refreshes = () => seen.graphqlRequests.filter((r) => r.body.includes('refreshSession('));

    const pane = page.locator('.linkapi-sign-in');
    await pane.waitFor({ timeout: 10_000 });
    await pane.getByLabel('Email').fill(short.adminEmail);
    await pane.getByLabel('Password').fill(short.adminPassword);
    await pane.getByRole('button', { name: 'Sign in' }).click();
    await pane.getByRole('status').filter({ hasText: 'Signed in as admin@localhost' }).waitFor({ timeout: 30_000 });
    const first = await stored();
    assert.match(first.refreshToken ?? '', /^lkr_/, 'login kept a refresh token');
    assert.ok(!page.url().includes(first.refreshToken), 'the refresh token is not in the URL');
    const saved = await page.evaluate(() => Object.keys(localStorage).map((k) => localStorage.getItem(k)).join('\n'));
    assert.ok(!saved.includes(first.refreshToken) && !saved.includes(first.accessToken), 'GraphiQL saved no token in localStorage');

    // Before expiry: once the renewal is due, the next request first spends the
    // refresh token, then goes with the new access token.
    await page.waitForFunction(() => JSON.parse(sessionStorage.getItem('linkapi.graphiql.session')).renewAt <= Date.now());
    await setEditor(page, page.locator('.graphiql-query-editor'), '{ me { email } }');
    let shown = await execute(page, '"me"', 'graphiql-renewed.png');
    assert.deepEqual(shown, { data: { me: { email: 'admin@localhost' } } });
    const second = await stored();
    assert.equal(refreshes().length, 1, 'one refreshSession');
    assert.ok(refreshes()[0].body.includes(first.refreshToken), 'with the refresh token login returned');
    assert.notEqual(second.accessToken, first.accessToken);
    assert.notEqual(second.refreshToken, first.refreshToken, 'the refresh token rotated');
    assert.equal(meRequests().at(-1).authorization, `Bearer ${second.accessToken}`, 'me went with the renewed token');

    // Refused: an access token the server no longer accepts, renewal not yet
    // due. The answer is a 401 UNAUTHENTICATED; the pane renews and sends the
    // request again.
    await page.evaluate(() => {
      const s = JSON.parse(sessionStorage.getItem('linkapi.graphiql.session'));
      sessionStorage.setItem('linkapi.graphiql.session', JSON.stringify({ ...s, accessToken: 'not-a-token', renewAt: Date.now() + 3600e3 }));
    });
    const before = meRequests().length;
    shown = await execute(page, '"me"');
    assert.deepEqual(shown, { data: { me: { email: 'admin@localhost' } } });
    const third = await stored();
    const sent = meRequests().slice(before).map((r) => r.authorization);
    assert.deepEqual(sent, ['Bearer not-a-token', `Bearer ${third.accessToken}`], 'refused, renewed, sent again');
    assert.equal(refreshes().length, 2);
    assert.ok(refreshes()[1].body.includes(second.refreshToken));

    // Sign out: logout with the session's refresh token, which ends the
    // session on the server, its access token included, at once.
    await pane.getByRole('button', { name: 'Sign out' }).click();
    await pane.getByRole('status').filter({ hasText: 'Signed out.' }).waitFor({ timeout: 10_000 });
    const logout = seen.graphqlRequests.filter((r) => r.body.includes('logout(')).at(-1);
    assert.ok(logout?.body.includes(third.refreshToken), 'logout named the session');
    assert.equal(await stored(), null, 'the tab forgot the session');
    const refreshed = await post(short, 'mutation($r: String!) { refreshSession(refreshToken: $r) { accessToken } }', { r: third.refreshToken });
    assert.equal(refreshed.body.errors?.[0]?.extensions?.code, 'UNAUTHENTICATED', 'the refresh token no longer works');
    const me = await post(short, '{ me { email } }', null, third.accessToken);
    assert.equal(me.status, 401, 'the access token no longer works, though not expired');

    assert.deepEqual(seen.offOrigin, [], 'the page asked for nothing off this server');
    // The one 401 above is the browser's to log; nothing else is.
    assert.deepEqual(seen.problems.filter((p) => !/status of 401/.test(p)), []);
  } finally {
    await short.stop();
  }
});
