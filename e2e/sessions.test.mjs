// Keeps an Apollo Client 4 front end signed in across access-token expiry, as
// docs/tokens.md shows: an ErrorLink catches UNAUTHENTICATED, refreshes the
// session once for every request that failed together, and retries the
// operation with the new token; after logout the refresh fails and the app is
// signed out. The server issues access tokens that live one second (plus the
// 30 s leeway the server allows on expiry).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  ApolloClient,
  ApolloLink,
  CombinedGraphQLErrors,
  HttpLink,
  InMemoryCache,
  ServerError,
  gql,
} from '@apollo/client';
import { ErrorLink } from '@apollo/client/link/error';
import { SetContextLink } from '@apollo/client/link/context';
import { from, switchMap } from 'rxjs';
import { startServer } from './lib/server.mjs';

const LOGIN = gql`
  mutation Login($email: String!, $password: String!) {
    login(email: $email, password: $password) { accessToken refreshToken refreshExpiresAt }
  }
`;
const ME = gql`query Me { me { id email } }`;
const SESSIONS = gql`query Sessions { sessions { id current } }`;
const LOGOUT = gql`mutation Logout { logout }`;
const REFRESH = 'mutation Refresh($r: String!) { refreshSession(refreshToken: $r) { accessToken refreshToken } }';

let server;
before(async () => { server = await startServer({ env: { LINKAPI_TOKEN_TTL: '1s' } }); });
after(async () => { await server?.stop(); });

/**
 * The front end: its tokens, whether it is signed out, and an Apollo Client
 * whose link chain refreshes on UNAUTHENTICATED.
 */
function frontEnd(graphqlURL) {
  const app = { access: null, refresh: null, signedOut: false, refreshes: 0 };
  // One refresh at a time: requests that fail together wait for the same one,
  // so a refresh token is never sent twice (a second use would end the session).
  let inflight = null;
  const refresh = () => (inflight ??= (async () => {
    // Without the Authorization header: the expired token would be refused first.
    const res = await fetch(graphqlURL, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ query: REFRESH, variables: { r: app.refresh } }),
    });
    const body = await res.json();
    const next = body.data?.refreshSession;
    if (!next) {
      Object.assign(app, { access: null, refresh: null, signedOut: true });
      throw new Error(`signed out: ${body.errors?.[0]?.message}`);
    }
    app.refreshes++;
    app.access = next.accessToken;
    app.refresh = next.refreshToken;
  })().finally(() => { inflight = null; }));

  const unauthenticated = (error) =>
    (ServerError.is(error) && error.statusCode === 401) ||
    (CombinedGraphQLErrors.is(error) && error.errors.some((e) => e.extensions?.code === 'UNAUTHENTICATED'));

  const retryOnUnauthenticated = new ErrorLink(({ error, operation, forward }) => {
    if (!unauthenticated(error) || !app.refresh || operation.getContext().retried) return;
    operation.setContext({ retried: true });
    return from(refresh()).pipe(switchMap(() => forward(operation)));
  });
  const bearer = new SetContextLink((prev) => ({
    headers: { ...prev.headers, ...(app.access ? { authorization: `Bearer ${app.access}` } : {}) },
  }));
  app.client = new ApolloClient({
    link: ApolloLink.from([retryOnUnauthenticated, bearer, new HttpLink({ uri: graphqlURL })]),
    cache: new InMemoryCache(),
  });
  app.signIn = async (email, password) => {
    const { data } = await app.client.mutate({ mutation: LOGIN, variables: { email, password } });
    app.access = data.login.accessToken;
    app.refresh = data.login.refreshToken;
  };
  return app;
}

/** Resolves once the server refuses token, polling: the wait is the token's. */
async function refused(token, within = 60_000) {
  const deadline = Date.now() + within;
  for (;;) {
    const res = await fetch(server.graphqlURL, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
      body: JSON.stringify({ query: '{ me { id } }' }),
    });
    await res.arrayBuffer();
    if (res.status === 401) return;
    if (Date.now() > deadline) throw new Error(`token still accepted after ${within} ms`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

test('an expired access token is refreshed and the operations retried; after logout the app is signed out', async () => {
  const app = frontEnd(server.graphqlURL);
  await app.signIn(server.adminEmail, server.adminPassword);
  const first = app.access;
  const me = await app.client.query({ query: ME, fetchPolicy: 'network-only' });
  assert.equal(me.data.me.email, server.adminEmail);
  assert.equal(app.refreshes, 0);

  await refused(first);
  // Two operations fail together on the expired token: one refresh serves both.
  const [again, sessions] = await Promise.all([
    app.client.query({ query: ME, fetchPolicy: 'network-only' }),
    app.client.query({ query: SESSIONS, fetchPolicy: 'network-only' }),
  ]);
  assert.equal(again.data.me.email, server.adminEmail);
  assert.equal(app.refreshes, 1, 'one refresh for both operations');
  assert.notEqual(app.access, first);
  assert.equal(sessions.data.sessions.filter((s) => s.current).length, 1);

  const out = await app.client.mutate({ mutation: LOGOUT });
  assert.equal(out.data.logout, true);
  // Logout ends the access token at once; the link's refresh then fails too.
  await assert.rejects(app.client.query({ query: ME, fetchPolicy: 'network-only' }), /signed out/);
  assert.equal(app.signedOut, true);
  assert.equal(app.refresh, null);
  assert.equal(app.refreshes, 1);
});
