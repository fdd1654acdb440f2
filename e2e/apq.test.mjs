// Automatic persisted queries through Apollo's PersistedQueryLink: the first
// request sends only the query's hash, the server answers PersistedQueryNotFound,
// the link sends the full query once, and from then on the hash alone is enough.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { ApolloClient, HttpLink, InMemoryCache, gql } from '@apollo/client';
import { PersistedQueryLink } from '@apollo/client/link/persisted-queries';
import { login, startServer } from './lib/server.mjs';

const ME = gql`
  query Me { me { email scopes } }
`;

const sha256 = (query) => createHash('sha256').update(query).digest('hex');

let server;
let token;

before(async () => {
  server = await startServer();
  token = await login(server, server.adminEmail, server.adminPassword);
});
after(async () => { await server?.stop(); });

/** A client whose every HTTP exchange is kept in client.exchanges. */
function client(linkOptions = {}) {
  const exchanges = [];
  const c = new ApolloClient({
    link: new PersistedQueryLink({ sha256, ...linkOptions }).concat(new HttpLink({
      uri: server.graphqlURL,
      headers: { authorization: `Bearer ${token}` },
      fetch: async (url, init) => {
        const res = await fetch(url, init);
        const u = new URL(url);
        const request = init.method === 'GET'
          ? Object.fromEntries([...u.searchParams].map(([k, v]) => [k, ['variables', 'extensions'].includes(k) ? JSON.parse(v) : v]))
          : JSON.parse(init.body);
        exchanges.push({ method: init.method, request, status: res.status, body: await res.clone().json() });
        return res;
      },
    })),
    cache: new InMemoryCache(),
  });
  c.exchanges = exchanges;
  return c;
}

test('hash only first, the full query after PersistedQueryNotFound, then the hash alone', async () => {
  const first = client();
  const { data } = await first.query({ query: ME });
  assert.equal(data.me.email, 'admin@localhost');

  const [miss, full] = first.exchanges;
  assert.equal(first.exchanges.length, 2);
  assert.equal(miss.request.query, undefined, 'the first request sends no query');
  assert.equal(miss.request.extensions.persistedQuery.version, 1);
  const hash = miss.request.extensions.persistedQuery.sha256Hash;
  assert.match(hash, /^[0-9a-f]{64}$/);
  assert.equal(miss.body.errors[0].message, 'PersistedQueryNotFound');
  assert.equal(miss.body.errors[0].extensions.code, 'PERSISTED_QUERY_NOT_FOUND');
  assert.equal(miss.body.data, undefined, 'a request error has no data entry');
  assert.equal(miss.status, 400, 'a request error under application/graphql-response+json');

  assert.equal(sha256(full.request.query), hash);
  assert.equal(full.request.extensions.persistedQuery.sha256Hash, hash);
  assert.equal(full.status, 200);

  // Another client, as after a page reload: the server knows the hash now.
  const second = client();
  const again = await second.query({ query: ME });
  assert.equal(again.data.me.email, 'admin@localhost');
  assert.equal(second.exchanges.length, 1);
  assert.equal(second.exchanges[0].request.query, undefined);
  assert.equal(second.exchanges[0].request.extensions.persistedQuery.sha256Hash, hash);
  assert.equal(second.exchanges[0].status, 200);
});

test('hashed queries over GET', async () => {
  const c = client({ useGETForHashedQueries: true });
  const query = gql`query MyScopes { me { scopes } }`;
  const { data } = await c.query({ query });
  assert.ok(data.me.scopes.includes('admin:write'));
  assert.deepEqual(c.exchanges.map((e) => [e.method, e.status, e.request.query === undefined]), [
    ['GET', 400, true], // hash only: not found yet
    ['POST', 200, false], // the full query, in a POST body
  ]);

  const later = client({ useGETForHashedQueries: true });
  await later.query({ query });
  assert.deepEqual(later.exchanges.map((e) => [e.method, e.status, e.request.query === undefined]), [
    ['GET', 200, true],
  ]);
});

test('a hash that does not match the query is refused', async () => {
  const res = await fetch(server.graphqlURL, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
    body: JSON.stringify({
      query: '{ me { email } }',
      extensions: { persistedQuery: { version: 1, sha256Hash: sha256('{ me { id } }') } },
    }),
  });
  const body = await res.json();
  assert.equal(res.status, 200, 'a request error under application/json');
  assert.match(body.errors[0].message, /hash does not match/);
  assert.equal(body.errors[0].extensions.code, 'BAD_REQUEST');
  assert.equal(body.data, undefined);
});
