// start.js renders GraphiQL against /graphql on this origin, with a sign-in pane:
// a GraphiQL plugin that runs `login` and sends the access token it returns as
// the Authorization header of every request. Before the access token expires,
// or when the server refuses it, the pane spends the session's refresh token
// with `refreshSession` for new ones, one refresh at a time (a refresh token
// works once); signing out runs `logout`, which ends the session on the server.
// The tokens are kept in this tab's sessionStorage only: not in the URL, not in
// the Headers pane and not in the tabs GraphiQL saves in localStorage.
(function () {
  'use strict';
  var h = React.createElement;
  var endpoint = new URL('/graphql', window.location.href).toString();
  var storageKey = 'linkapi.graphiql.session';

  var payloadFields = 'accessToken expiresAt refreshToken refreshExpiresAt account { email }';
  var loginMutation =
    'mutation Login($email: String!, $password: String!) {' +
    ' login(email: $email, password: $password) { ' + payloadFields + ' } }';
  var refreshMutation =
    'mutation Refresh($refreshToken: String!) {' +
    ' refreshSession(refreshToken: $refreshToken) { ' + payloadFields + ' } }';
  var logoutMutation = 'mutation Logout($refreshToken: String) { logout(refreshToken: $refreshToken) }';

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

  // refused tells whether the server refused the request's token as a whole
  // (UNAUTHENTICATED without a path), rather than one field of it.
  function refused(r) {
    return !!(r && r.errors && r.errors.some(function (e) {
      return e.extensions && e.extensions.code === 'UNAUTHENTICATED' && !e.path;
    }));
  }

  // session holds the signed-in account ({accessToken, expiresAt, renewAt,
  // refreshToken, refreshExpiresAt, email}) and tells the pane when it changes.
  var session = {
    listeners: [],
    pending: null, // the refresh under way, which every request waits for
    read: function () {
      try {
        return JSON.parse(window.sessionStorage.getItem(storageKey) || 'null');
      } catch (e) {
        return null;
      }
    },
    // fromPayload keeps a login or refreshSession answer, to be renewed once
    // four fifths of the access token's life have passed.
    fromPayload: function (p) {
      var life = Math.max(0, Date.parse(p.expiresAt) - Date.now());
      return {
        accessToken: p.accessToken, expiresAt: p.expiresAt, renewAt: Date.now() + life * 0.8,
        refreshToken: p.refreshToken || null, refreshExpiresAt: p.refreshExpiresAt || null,
        email: p.account && p.account.email,
      };
    },
    // fresh resolves to the session with an access token that is not about to
    // expire, renewing it first when it is; to null when signed out.
    fresh: function () {
      if (session.pending) return session.pending;
      var s = session.read();
      if (!s || Date.now() < s.renewAt) return Promise.resolve(s);
      return session.renew(s);
    },
    // renew spends s's refresh token for new tokens, once however many requests
    // ask at the same time. Without a refresh token, or when the server refuses
    // it, the session ends.
    renew: function (s) {
      if (session.pending) return session.pending;
      if (!s.refreshToken || (s.refreshExpiresAt && Date.parse(s.refreshExpiresAt) <= Date.now())) {
        session.set(null, 'Your session expired; sign in again.');
        return Promise.resolve(null);
      }
      session.pending = post({ query: refreshMutation, variables: { refreshToken: s.refreshToken } })
        .then(function (r) {
          if (r.data && r.data.refreshSession) {
            var next = session.fromPayload(r.data.refreshSession);
            session.set(next);
            return next;
          }
          session.set(null, 'Your session ended (' + errorText(r) + '); sign in again.');
          return null;
        }, function (err) {
          // The network, not the session: keep it, and try again next time.
          return Promise.reject(err);
        })
        .finally(function () { session.pending = null; });
      return session.pending;
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

  function hasAuthorization(headers) {
    return Object.keys(headers).some(function (k) { return k.toLowerCase() === 'authorization'; });
  }

  // fetcher adds the session's bearer token to GraphiQL's requests (an
  // Authorization header typed in the Headers pane wins), renewing it first when
  // it is about to expire; when the server refuses the token it renews and sends
  // the request once more. It keeps the session a `login` run from the editor
  // returns.
  // Plain JSON answers (the server streams none), so that the fetcher reads them.
  var base = GraphiQL.createFetcher({ url: endpoint, enableIncrementalDelivery: false });
  function fetcher(params, opts) {
    var typed = hasAuthorization(Object.assign({}, opts && opts.headers));
    function send(s) {
      var headers = Object.assign({}, opts && opts.headers);
      if (s) headers.Authorization = 'Bearer ' + s.accessToken;
      return base(params, Object.assign({}, opts, { headers: headers }));
    }
    function keepLogin(r) {
      var login = r && r.data && r.data.login;
      if (login && login.accessToken && login.expiresAt) session.set(session.fromPayload(login));
      return r;
    }
    if (typed) return send(null);
    return session.fresh().then(function (s) {
      var result = send(s);
      if (!s || !result || typeof result.then !== 'function') return result;
      return result.then(function (r) {
        if (!refused(r)) return keepLogin(r);
        var now = session.read();
        var retry = now && now.accessToken !== s.accessToken ? Promise.resolve(now) : session.renew(s);
        return retry.then(function (next) { return next ? send(next) : r; });
      });
    }).then(keepLogin);
  }

  function useSession() {
    var st = React.useState({ s: session.read(), notice: '' });
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

    // signOut ends the session on the server (its refresh token and access
    // tokens at once) and forgets it here, whatever the server answers.
    function signOut() {
      var s = session.read();
      busy[1](true);
      var done = function (notice) {
        busy[1](false);
        session.set(null, notice);
      };
      if (!s || !s.refreshToken) return done('Signed out.');
      post({ query: logoutMutation, variables: { refreshToken: s.refreshToken } }, { Authorization: 'Bearer ' + s.accessToken })
        .then(function (r) {
          done(r.data && r.data.logout ? 'Signed out.' : 'Signed out here; the server answered ' + errorText(r) + '.');
        }, function (err) {
          done('Signed out here; the server could not be told (' + String(err) + ').');
        });
    }

    var title = h('div', { className: 'graphiql-doc-explorer-title' }, 'Sign in');
    if (state.s) {
      return h('div', { className: 'linkapi-sign-in' },
        title,
        h('p', { role: 'status' }, 'Signed in as ', h('strong', null, state.s.email), '.'),
        h('p', null, state.s.refreshToken
          ? 'Every request from the editor carries your token, renewed before it expires' +
            (state.s.refreshExpiresAt ? ' (if unused, the session lapses at ' + new Date(state.s.refreshExpiresAt).toLocaleString() + ')' : '') + '.'
          : 'Every request from the editor carries your token, until ' + new Date(state.s.expiresAt).toLocaleTimeString() + '.'),
        h('p', null, 'Run Me to see your account.'),
        h('button', { type: 'button', className: 'graphiql-button', onClick: signOut, disabled: busy[0] }, 'Sign out'));
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
    '# or run Login with it here:',
    '# that signs you in too.',
    'mutation Login {',
    '  login(',
    '    email: "admin@localhost"',
    '    password: "?"',
    '  ) {',
    '    accessToken',
    '    refreshToken',
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
  if (!session.read()) {
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
