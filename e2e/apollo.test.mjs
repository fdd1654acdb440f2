// Drives the real server with Apollo Client 4, as a front end would: login, the
// normalised cache, relayStylePagination with fetchMore, and the errors a caller
// sees for a refused scope and for a bad token.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  ApolloClient,
  CombinedGraphQLErrors,
  HttpLink,
  InMemoryCache,
  ServerError,
  gql,
} from '@apollo/client';
import { relayStylePagination } from '@apollo/client/utilities';
import { login, startServer } from './lib/server.mjs';

const LOGIN = gql`
  mutation Login($email: String!, $password: String!, $scopes: [String!]) {
    login(email: $email, password: $password, scopes: $scopes) {
      accessToken
      tokenType
      scopes
      account { id email }
    }
  }
`;

const CREATE_LINK = gql`
  mutation CreateLink($input: CreateLinkInput!) {
    createLink(input: $input) { id url title }
  }
`;

const LINK = gql`
  query Link($id: ID!) {
    link(id: $id) { id url title }
  }
`;

const UPDATE_LINK = gql`
  mutation UpdateLink($id: ID!, $input: UpdateLinkInput!) {
    updateLink(id: $id, input: $input) { id title }
  }
`;

const LINKS = gql`
  query Links($first: Int, $after: String) {
    links(first: $first, after: $after) {
      totalCount
      edges { cursor node { id url } }
      pageInfo { hasNextPage endCursor }
    }
  }
`;

const ACCOUNTS = gql`
  query Accounts { accounts { nodes { id email } } }
`;

let server;
let token;

before(async () => {
  server = await startServer();
  token = await login(server, server.adminEmail, server.adminPassword);
});
after(async () => { await server?.stop(); });

/**
 * A client on the server with an optional bearer token. Its requests are counted
 * in client.requests, so a test can tell a cache hit from a round trip.
 */
function client(bearer, typePolicies) {
  const requests = [];
  const c = new ApolloClient({
    link: new HttpLink({
      uri: server.graphqlURL,
      headers: bearer ? { authorization: `Bearer ${bearer}` } : {},
      fetch: (url, init) => {
        requests.push(JSON.parse(init.body).operationName);
        return fetch(url, init);
      },
    }),
    cache: new InMemoryCache({ typePolicies }),
  });
  c.requests = requests;
  return c;
}

test('login with the bootstrap admin', async () => {
  const anonymous = client();
  const { data } = await anonymous.mutate({
    mutation: LOGIN,
    variables: { email: server.adminEmail, password: server.adminPassword },
  });
  assert.equal(data.login.tokenType, 'Bearer');
  assert.equal(data.login.account.email, 'admin@localhost');
  assert.ok(data.login.scopes.includes('admin:write'), `scopes: ${data.login.scopes}`);
  assert.match(data.login.accessToken, /^[\w-]+\.[\w-]+\.[\w-]+$/);
  const me = await client(data.login.accessToken).query({ query: gql`query Me { me { email } }` });
  assert.equal(me.data.me.email, 'admin@localhost');
});

test('a mutation result updates the normalised cache without a refetch', async () => {
  const c = client(token);
  const { data: created } = await c.mutate({
    mutation: CREATE_LINK,
    variables: { input: { url: 'https://example.com/cache', title: 'before' } },
  });
  const id = created.createLink.id;

  const seen = [];
  const watched = c.watchQuery({ query: LINK, variables: { id } });
  const sub = watched.subscribe((result) => { if (result.data?.link) seen.push(result.data.link.title); });
  try {
    const first = await c.query({ query: LINK, variables: { id } });
    assert.equal(first.data.link.title, 'before');
    await until(() => seen.includes('before'));
    const before = c.requests.length;

    const { data: updated } = await c.mutate({
      mutation: UPDATE_LINK,
      variables: { id, input: { title: 'after' } },
    });
    assert.equal(updated.updateLink.title, 'after');
    assert.equal(c.requests.length, before + 1, 'only the mutation went to the server');

    // The cached Link (normalised as Link:<id>) now has the new title: read
    // straight from the cache, by a cache-only query and by the watching query.
    assert.equal(c.readQuery({ query: LINK, variables: { id } }).link.title, 'after');
    assert.equal(c.cache.extract()[`Link:${id}`].title, 'after');
    const cached = await c.query({ query: LINK, variables: { id }, fetchPolicy: 'cache-only' });
    assert.equal(cached.data.link.title, 'after');
    await until(() => seen.at(-1) === 'after');
    assert.deepEqual(c.requests, ['CreateLink', 'Link', 'UpdateLink'], 'no refetch of Link');
  } finally {
    sub.unsubscribe();
  }
});

test('relayStylePagination with fetchMore over the links connection', async () => {
  const c = client(token, { Query: { fields: { links: relayStylePagination(['tag', 'search', 'accountId']) } } });
  for (let i = 0; i < 7; i++) {
    await c.mutate({ mutation: CREATE_LINK, variables: { input: { url: `https://example.com/page/${i}` } } });
  }

  const pageSize = 3;
  const query = c.watchQuery({ query: LINKS, variables: { first: pageSize } });
  const sub = query.subscribe(() => {});
  try {
    let { data } = await query.refetch();
    const total = data.links.totalCount;
    assert.ok(total >= 7, `totalCount ${total}`);
    assert.equal(data.links.edges.length, pageSize);

    // Each fetchMore answers one page; the type policy merges it into the
    // cached list that the watching query shows.
    let page = data;
    let pages = 1;
    while (page.links.pageInfo.hasNextPage) {
      ({ data: page } = await query.fetchMore({ variables: { after: page.links.pageInfo.endCursor } }));
      assert.ok(page.links.edges.length <= pageSize);
      pages++;
      assert.ok(pages <= total, 'pagination does not end');
    }
    // The watching query is told of the merge as the cache broadcasts it.
    await until(() => query.getCurrentResult().data.links.edges.length === total);
    data = query.getCurrentResult().data;
    const ids = data.links.edges.map((e) => e.node.id);
    assert.equal(ids.length, total, 'every page merged into one list');
    assert.equal(new Set(ids).size, total, 'no link twice');
    assert.equal(pages, Math.ceil(total / pageSize));
    assert.equal(data.links.pageInfo.hasNextPage, false);

    // The merged list is in the cache: read it back without a request.
    const before = c.requests.length;
    const cached = c.readQuery({ query: LINKS, variables: { first: pageSize } });
    assert.deepEqual(cached.links.edges.map((e) => e.node.id), ids);
    assert.equal(c.requests.length, before);
  } finally {
    sub.unsubscribe();
  }
});

test('a refused scope arrives as CombinedGraphQLErrors with code FORBIDDEN', async () => {
  const { data } = await client().mutate({
    mutation: LOGIN,
    variables: { email: server.adminEmail, password: server.adminPassword, scopes: ['links:read'] },
  });
  assert.deepEqual(data.login.scopes, ['links:read']);
  const narrow = client(data.login.accessToken);

  await assert.rejects(narrow.query({ query: ACCOUNTS }), (err) => {
    assert.ok(CombinedGraphQLErrors.is(err), `got ${err?.constructor?.name}: ${err}`);
    assert.equal(err.errors[0].extensions.code, 'FORBIDDEN');
    assert.deepEqual(err.errors[0].path, ['accounts']);
    return true;
  });
  await assert.rejects(
    narrow.mutate({ mutation: CREATE_LINK, variables: { input: { url: 'https://example.com/no' } } }),
    (err) => {
      assert.ok(CombinedGraphQLErrors.is(err), `got ${err?.constructor?.name}: ${err}`);
      assert.equal(err.errors[0].extensions.code, 'FORBIDDEN');
      return true;
    },
  );
});

test('a bad token arrives as a ServerError with status 401', async () => {
  for (const bad of ['not-a-jwt', `${token.slice(0, -4)}AAAA`]) {
    await assert.rejects(client(bad).query({ query: LINKS }), (err) => {
      assert.ok(ServerError.is(err), `got ${err?.constructor?.name}: ${err}`);
      assert.equal(err.statusCode, 401);
      assert.equal(err.response.headers.get('www-authenticate'), 'Bearer error="invalid_token"');
      assert.equal(JSON.parse(err.bodyText).errors[0].extensions.code, 'UNAUTHENTICATED');
      return true;
    });
  }
});

async function until(predicate, ms = 5000) {
  const deadline = Date.now() + ms;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${predicate}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}
