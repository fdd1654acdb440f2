// start.js renders GraphiQL against /graphql on this origin. The bearer token goes
// in the Headers pane; it is not kept in the browser's storage.
(function () {
  var defaultQuery = [
    '# linkapi. Log in (the first start prints the admin password once):',
    '#   mutation { login(email: "admin@localhost", password: "...") { accessToken } }',
    '# then open Headers below and put in { "Authorization": "Bearer <accessToken>" }',
    '',
    '{',
    '  me {',
    '    email',
    '    scopes',
    '  }',
    '}',
    '',
  ].join('\n');

  var fetcher = GraphiQL.createFetcher({ url: new URL('/graphql', window.location.href).toString() });
  ReactDOM.createRoot(document.getElementById('graphiql')).render(
    React.createElement(GraphiQL, {
      fetcher: fetcher,
      defaultQuery: defaultQuery,
      isHeadersEditorEnabled: true,
      shouldPersistHeaders: false,
    }),
  );
})();
