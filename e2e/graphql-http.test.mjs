// Runs the GraphQL-over-HTTP audit suite of the graphql-http package against the
// real server. Every MUST has to pass. A SHOULD has to pass unless it is listed in
// shouldFailures with the reason we do not follow it; a listed SHOULD that starts
// passing fails too, so that the list stays true. MAYs are only reported.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { serverAudits } from 'graphql-http';
import { startServer } from './lib/server.mjs';

/** SHOULDs we knowingly fail, by audit id, with the reason. */
const shouldFailures = {};

let server;
before(async () => { server = await startServer(); });
after(async () => { await server?.stop(); });

test('GraphQL over HTTP audits (graphql-http serverAudits)', async (t) => {
  for (const audit of serverAudits({ url: () => server.graphqlURL })) {
    const level = audit.name.split(' ')[0];
    await t.test(`${audit.id} ${audit.name}`, async (t) => {
      const result = await audit.fn();
      const failure = result.status === 'ok' ? '' : await describe(result);
      if (level === 'MUST') {
        assert.equal(failure, '', `${audit.name}: ${failure}`);
      } else if (level === 'SHOULD') {
        const known = shouldFailures[audit.id];
        if (known) {
          assert.notEqual(failure, '', `${audit.id} now passes: remove it from shouldFailures`);
          t.diagnostic(`known SHOULD failure: ${failure}; why: ${known}`);
          t.todo(known);
        } else {
          assert.equal(failure, '', `${audit.name}: ${failure}`);
        }
      } else if (failure) {
        t.diagnostic(`optional, not followed: ${failure}`);
      }
    });
  }
});

async function describe(result) {
  const res = result.response;
  let body = '';
  try {
    body = (await res.text()).slice(0, 300);
  } catch {
    // The audit already read the body.
  }
  return `${result.reason} (got ${res.status} ${res.headers.get('content-type') ?? ''} ${body})`.trim();
}
