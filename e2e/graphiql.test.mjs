// Opens GraphiQL on / in headless Chromium (Debian's, driven by playwright-core; no
// browser download) with every request off the server's origin refused, as on a
// machine with no network. It puts the bearer token in the Headers pane, runs
// `{ me { email } }` and reads the answer off the page, keeping a screenshot in
// e2e/artifacts/graphiql.png.
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

test('GraphiQL runs { me { email } } with a bearer token from the headers pane, offline', async () => {
  const origin = new URL(server.url).origin;
  const offOrigin = [];
  const problems = [];
  const graphqlRequests = [];

  const page = browser.pages()[0] ?? (await browser.newPage());
  await page.route('**/*', (route) => {
    if (new URL(route.request().url()).origin === origin) return route.continue();
    offOrigin.push(route.request().url());
    return route.abort('internetdisconnected');
  });
  page.on('pageerror', (err) => problems.push(`page error: ${err.message}`));
  page.on('console', (msg) => { if (msg.type() === 'error') problems.push(`console: ${msg.text()}`); });
  page.on('requestfailed', (req) => problems.push(`request failed: ${req.url()} ${req.failure()?.errorText}`));
  page.on('request', (req) => {
    if (req.url() === `${origin}/graphql`) graphqlRequests.push({ body: req.postData() ?? '', authorization: req.headers().authorization });
  });

  // GraphiQL asks for the schema as it starts, anonymously.
  const introspected = page.waitForResponse((r) => r.url() === `${origin}/graphql`, { timeout: 30_000 });
  const res = await page.goto(`${server.url}/`);
  assert.equal(res.status(), 200);
  await page.locator('.graphiql-container').waitFor({ timeout: 30_000 });
  assert.equal((await introspected).status(), 200);

  await page.getByRole('button', { name: 'Headers', exact: true }).click();
  const headersEditor = page.locator('.graphiql-editor-tool .graphiql-editor:not(.hidden)');
  await headersEditor.waitFor();
  await setEditor(page, headersEditor, JSON.stringify({ Authorization: `Bearer ${token}` }, null, 2));

  await setEditor(page, page.locator('.graphiql-query-editor'), '{ me { email } }');
  await page.getByRole('button', { name: /^Execute query/ }).click();

  let text;
  try {
    await page.waitForFunction(
      () => document.querySelector('.result-window')?.innerText.includes('"me"'),
      null,
      { timeout: 30_000 },
    );
  } finally {
    text = await page.locator('.result-window').innerText();
    await mkdir(artifacts, { recursive: true });
    await page.screenshot({ path: path.join(artifacts, 'graphiql.png') });
  }

  const shown = JSON.parse(text.replace(/\u00a0/g, ' '));
  assert.deepEqual(shown, { data: { me: { email: 'admin@localhost' } } });
  const me = graphqlRequests.find((r) => r.body.includes('me { email }'));
  assert.ok(me, 'GraphiQL sent the query');
  assert.equal(me.authorization, `Bearer ${token}`, 'with the header from the Headers pane');

  assert.deepEqual(offOrigin, [], 'the page asked for nothing off this server');
  assert.deepEqual(problems, []);
});
