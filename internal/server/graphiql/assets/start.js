// start.js renders GraphiQL against /graphql on this origin, with a sign-in pane:
// a GraphiQL plugin that runs `login` and sends the access token it returns as
// the Authorization header of every request, until it expires or its owner signs
// out. The token is kept in this tab's sessionStorage only: not in the URL, not
// in the Headers pane and not in the tabs GraphiQL saves in localStorage.
(function () {
  'use strict';
  var h = React.createElement;
  var endpoint = new URL('/graphql', window.location.href).toString();
  var storageKey = 'linkapi.graphiql.session';

  // The fields asked of login. When login returns a refresh token, ask for
  // refreshToken and refreshExpiresAt here too: renew below will use them.
  var loginMutation =
    'mutation Login($email: String!, $password: String!) {' +
    ' login(email: $email, password: $password) { accessToken expiresAt account { email } } }';

  // session holds the signed-in account ({accessToken, expiresAt, email}) and
  // tells the pane when it changes.
  var session = {
    listeners: [],
    read: function () {
      try {
        return JSON.parse(window.sessionStorage.getItem(storageKey) || 'null');
      } catch (e) {
        return null;
      }
    },
    // current returns the session while its access token is valid. Once it has
    // expired the session ends, unless renew can extend it.
    current: function () {
      var s = session.read();
      if (s && Date.parse(s.expiresAt) <= Date.now()) {
        s = session.renew(s);
        session.set(s, s ? '' : 'Your session expired; sign in again.');
      }
      return s;
    },
    // renew is where refreshSession(refreshToken) goes once login returns a
    // refresh token: it would exchange s.refreshToken for a new payload and
    // return session.fromPayload of it. Without one there is nothing to renew.
    renew: function () {
      return null;
    },
    fromPayload: function (p) {
      return { accessToken: p.accessToken, expiresAt: p.expiresAt, email: p.account && p.account.email };
    },
    set: function (s, notice) {
      if (s) {
        window.sessionStorage.setItem(storageKey, JSON.stringify(s));
      } else {
        window.sessionStorage.removeItem(storageKey);
      }
      session.listeners.forEach(function (fn) { fn(s, notice || ''); });
    },
    subscribe: function (fn) {
      session.listeners.push(fn);
      return function () {
        session.listeners = session.listeners.filter(function (g) { return g !== fn; });
      };
    },
  };

  function post(body, headers) {
    return fetch(endpoint, {
      method: 'POST',
      headers: Object.assign({ 'Content-Type': 'application/json', Accept: 'application/json' }, headers),
      body: JSON.stringify(body),
      credentials: 'omit',
    }).then(function (res) { return res.json(); });
  }

  function errorText(result) {
    var e = (result && result.errors && result.errors[0]) || {};
    var code = e.extensions && e.extensions.code;
    return (code ? code + ': ' : '') + (e.message || 'no answer');
  }

  function hasAuthorization(headers) {
    return Object.keys(headers).some(function (k) { return k.toLowerCase() === 'authorization'; });
  }

  // fetcher adds the session's bearer token to GraphiQL's requests (an
  // Authorization header typed in the Headers pane wins), keeps the session a
  // `login` run from the editor returns, and ends the session the server no
  // longer accepts.
  var base = GraphiQL.createFetcher({ url: endpoint });
  function fetcher(params, opts) {
    var headers = Object.assign({}, opts && opts.headers);
    var s = hasAuthorization(headers) ? null : session.current();
    if (s) headers.Authorization = 'Bearer ' + s.accessToken;
    var result = base(params, Object.assign({}, opts, { headers: headers }));
    if (!result || typeof result.then !== 'function') return result;
    return result.then(function (r) {
      var login = r && r.data && r.data.login;
      if (login && login.accessToken && login.expiresAt) {
        session.set(session.fromPayload(login));
      } else if (s && r && r.errors && r.errors.some(function (e) { return e.extensions && e.extensions.code === 'UNAUTHENTICATED' && !e.path; })) {
        session.set(null, 'The server no longer accepts your token; sign in again.');
      }
      return r;
    });
  }

  function useSession() {
    var st = React.useState({ s: session.current(), notice: '' });
    React.useEffect(function () {
      return session.subscribe(function (s, notice) { st[1]({ s: s, notice: notice }); });
    }, []);
    return st[0];
  }

  var field = { display: 'block', width: '100%', boxSizing: 'border-box', margin: '4px 0 12px', padding: '6px 8px', font: 'inherit' };

  function SignInPane() {
    var state = useSession();
    var email = React.useState('admin@localhost');
    var password = React.useState('');
    var busy = React.useState(false);
    var problem = React.useState('');

    function signIn(ev) {
      ev.preventDefault();
      busy[1](true);
      problem[1]('');
      post({ query: loginMutation, variables: { email: email[0], password: password[0] } })
        .then(function (r) {
          if (r.data && r.data.login) {
            password[1]('');
            session.set(session.fromPayload(r.data.login));
          } else {
            problem[1](errorText(r));
          }
        })
        .catch(function (err) { problem[1](String(err)); })
        .then(function () { busy[1](false); });
    }

    function signOut() {
      // With sessions, this also sends logout to end the session on the server.
      session.set(null, 'Signed out.');
    }

    var title = h('div', { className: 'graphiql-doc-explorer-title' }, 'Sign in');
    if (state.s) {
      return h('div', { className: 'linkapi-sign-in' },
        title,
        h('p', { role: 'status' }, 'Signed in as ', h('strong', null, state.s.email),
          ' until ' + new Date(state.s.expiresAt).toLocaleTimeString() + '.'),
        h('p', null, 'Every request from the editor carries your token. Run Me to see your account.'),
        h('button', { type: 'button', className: 'graphiql-button', onClick: signOut }, 'Sign out'));
    }
    return h('form', { className: 'linkapi-sign-in', onSubmit: signIn },
      title,
      state.notice ? h('p', { role: 'status' }, state.notice) : null,
      h('p', null, 'On a fresh database, serve printed the password of admin@localhost once.'),
      h('label', null, 'Email',
        h('input', { type: 'email', name: 'email', autoComplete: 'username', required: true, style: field,
          value: email[0], onChange: function (e) { email[1](e.target.value); } })),
      h('label', null, 'Password',
        h('input', { type: 'password', name: 'password', autoComplete: 'current-password', required: true, style: field,
          value: password[0], onChange: function (e) { password[1](e.target.value); } })),
      problem[0] ? h('p', { role: 'alert' }, problem[0]) : null,
      h('button', { type: 'submit', className: 'graphiql-button', disabled: busy[0] }, busy[0] ? 'Signing in…' : 'Sign in'));
  }

  function KeyIcon() {
    return h('svg', { viewBox: '0 0 24 24', width: 24, height: 24, fill: 'none', stroke: 'currentColor', strokeWidth: 1.5, 'aria-hidden': true },
      h('circle', { cx: 8, cy: 15, r: 4 }),
      h('path', { d: 'M11 12l9-9M16 7l3 3M14 9l2 2' }));
  }

  var signInPlugin = { title: 'Sign in', icon: KeyIcon, content: SignInPane };

  // The default document runs for a signed-out visitor: Login first, then Me.
  var defaultQuery = [
    '# linkapi. Sign in on the left',
    '# (key icon) with the password',
    '# serve printed, then run Me;',
    '# or run Login with it here.',
    'mutation Login {',
    '  login(',
    '    email: "admin@localhost"',
    '    password: "?"',
    '  ) {',
    '    expiresAt',
    '    account { email }',
    '  }',
    '}',
    '',
    'query Me {',
    '  me { email scopes }',
    '}',
    '',
  ].join('\n');

  ReactDOM.createRoot(document.getElementById('graphiql')).render(
    h(GraphiQL, {
      fetcher: fetcher,
      defaultQuery: defaultQuery,
      plugins: [signInPlugin],
      isHeadersEditorEnabled: true,
      shouldPersistHeaders: false,
    }),
  );

  // A signed-out visitor finds the pane open. (GraphiQL's visiblePlugin prop
  // leaves the pane without width on the first render; its own button does not.)
  if (!session.current()) {
    var tries = 0;
    (function openPane() {
      var button = document.querySelector('.graphiql-sidebar button[aria-label="Show Sign in"]');
      if (button) {
        button.click();
      } else if (++tries < 100) {
        setTimeout(openPane, 50);
      }
    })();
  }
})();
