// Starts the real linkapi binary for an end-to-end test: built from this checkout
// with `go build`, run on a fresh SQLite database in a temporary directory, on a
// port of the system's choosing.
import { spawn, execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** The root of the Go module, one level above e2e/. */
export const repoRoot = path.resolve(import.meta.dirname, '..', '..');

/** The signing key of every test server: any 32 bytes or more. */
const jwtSecret = 'e2e-secret-e2e-secret-e2e-secret-0123456789';

/**
 * Builds cmd/linkapi into a temporary directory and serves it on 127.0.0.1 with a
 * new SQLite database there. It resolves once /readyz answers 200, with the base
 * URL, the GraphQL endpoint, the bootstrap admin's password (printed once on
 * standard error on a fresh database), the server's log so far and stop().
 * env adds LINKAPI_* variables, such as a short LINKAPI_TOKEN_TTL.
 */
export async function startServer({ env: extraEnv = {} } = {}) {
  const dir = await mkdtemp(path.join(tmpdir(), 'linkapi-e2e-'));
  const bin = path.join(dir, 'linkapi');
  try {
    await run('go', ['build', '-o', bin, './cmd/linkapi'], {
      cwd: repoRoot,
      timeout: 300_000,
      maxBuffer: 16 << 20,
    });
  } catch (err) {
    await rm(dir, { recursive: true, force: true });
    throw new Error(`go build ./cmd/linkapi failed: ${err.stderr || err.message}`);
  }

  const env = { ...process.env };
  for (const k of Object.keys(env)) if (k.startsWith('LINKAPI_')) delete env[k];
  Object.assign(env, {
    LINKAPI_DATABASE_URL: `sqlite:${path.join(dir, 'db')}`,
    LINKAPI_JWT_SECRET: jwtSecret,
    // Port 0: the kernel picks a free port and the server prints the address it
    // got, so there is no window in which another process can take it.
    LINKAPI_ADDR: '127.0.0.1:0',
    // The tests save links to example.com: the server does not fetch pages, so
    // that no test reaches the internet.
    LINKAPI_FETCH_METADATA: 'false',
  }, extraEnv);
  const child = spawn(bin, ['serve'], { cwd: dir, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let log = '';
  const exited = new Promise((resolve) => {
    child.once('exit', (code, signal) => resolve({ code, signal }));
    child.once('error', (err) => resolve({ code: err.message }));
  });

  let onLog = () => {};
  child.stdout.setEncoding('utf8');
  child.stderr.setEncoding('utf8');
  child.stdout.on('data', (chunk) => { log += chunk; });
  child.stderr.on('data', (chunk) => { log += chunk; onLog(); });
  const started = new Promise((resolve, reject) => {
    onLog = () => {
      const addr = log.match(/serving GraphQL on http:\/\/(\S+)\/graphql/)?.[1];
      if (addr) resolve({ addr, password: log.match(/created admin@localhost with scope admin:write and password (\S+)/)?.[1] });
    };
    exited.then(({ code, signal }) => reject(new Error(`linkapi exited (${code ?? signal}) before listening:\n${log}`)));
  });

  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
    await exited;
    clearTimeout(timer);
    await rm(dir, { recursive: true, force: true });
  };

  let addr, password;
  try {
    ({ addr, password } = await withTimeout(started, 60_000, () => `linkapi did not listen within 60s:\n${log}`));
    const url = `http://${addr}`;
    await waitReady(`${url}/readyz`, 30_000);
    if (!password) throw new Error(`no admin password on standard error:\n${log}`);
    return {
      url,
      graphqlURL: `${url}/graphql`,
      adminEmail: 'admin@localhost',
      adminPassword: password,
      log: () => log,
      stop,
    };
  } catch (err) {
    await stop();
    throw err;
  }
}

async function waitReady(url, ms) {
  const deadline = Date.now() + ms;
  let last = '';
  while (Date.now() < deadline) {
    try {
      const res = await fetch(url);
      if (res.status === 200) return;
      last = `status ${res.status}`;
    } catch (err) {
      last = err.message;
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`${url} not ready within ${ms}ms: ${last}`);
}

function withTimeout(promise, ms, message) {
  let timer;
  return Promise.race([
    promise,
    new Promise((_, reject) => { timer = setTimeout(() => reject(new Error(message())), ms); }),
  ]).finally(() => clearTimeout(timer));
}

/**
 * Posts one GraphQL operation to the server with fetch and returns the decoded
 * body. It throws on a transport error, a non-JSON body or any GraphQL error.
 */
export async function gql(server, query, variables, token) {
  const res = await fetch(server.graphqlURL, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      accept: 'application/graphql-response+json, application/json;q=0.9',
      ...(token ? { authorization: `Bearer ${token}` } : {}),
    },
    body: JSON.stringify({ query, variables }),
  });
  const body = await res.json();
  if (res.status !== 200 || body.errors) {
    throw new Error(`status ${res.status}: ${JSON.stringify(body)}`);
  }
  return body.data;
}

/** Logs in as email and returns an access token with the given scopes (all when omitted). */
export async function login(server, email, password, scopes) {
  const data = await gql(
    server,
    'mutation Login($email: String!, $password: String!, $scopes: [String!]) { login(email: $email, password: $password, scopes: $scopes) { accessToken } }',
    { email, password, scopes },
  );
  return data.login.accessToken;
}
