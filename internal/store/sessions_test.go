package store

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"linkapi/internal/auth"
	"linkapi/internal/linkapi"
	"linkapi/internal/store/storetest"
)

var testLimits = linkapi.SessionLimits{Access: 15 * time.Minute, Refresh: 24 * time.Hour, MaxAge: 72 * time.Hour}

// sessionFixture is a store on a fresh database with a clock the test moves,
// and two accounts.
type sessionFixture struct {
	s        *Store
	db       *DB
	clock    time.Time
	ann, bob int64
	seq      int
}

func newSessionFixture(t *testing.T, url string) *sessionFixture {
	t.Helper()
	f := &sessionFixture{db: dbtOpen(t, url), clock: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}
	f.s = New(f.db, WithClock(func() time.Time { return f.clock }))
	sys := auth.NewContext(context.Background(), auth.System())
	for _, a := range []struct {
		id    *int64
		email string
	}{{&f.ann, "ann@example.com"}, {&f.bob, "bob@example.com"}} {
		acc, err := f.s.CreateAccount(sys, linkapi.AccountCreate{Email: a.email, Password: "password-" + a.email})
		if err != nil {
			t.Fatal(err)
		}
		*a.id = acc.ID
	}
	return f
}

// hash returns a new refresh token hash.
func (f *sessionFixture) hash() string {
	f.seq++
	return auth.HashAPIToken(fmt.Sprintf("refresh-%d", f.seq))
}

func (f *sessionFixture) start(t *testing.T, account int64) (*linkapi.Session, string) {
	t.Helper()
	h := f.hash()
	sess, err := f.s.StartSession(context.Background(), linkapi.SessionStart{
		AccountID: account, Scopes: []string{auth.LinksRead}, UserAgent: "test/1", Address: "192.0.2.1",
		RefreshHash: h, Limits: testLimits,
	})
	if err != nil {
		t.Fatal(err)
	}
	return sess, h
}

func (f *sessionFixture) refresh(hash string, account int64) (*linkapi.Session, string, error) {
	next := f.hash()
	sess, err := f.s.RefreshSession(context.Background(), linkapi.SessionRefresh{
		Hash: hash, NextHash: next, Account: account, UserAgent: "test/2", Address: "192.0.2.2", Limits: testLimits,
	})
	return sess, next, err
}

func (f *sessionFixture) as(account int64, scopes ...string) context.Context {
	return auth.NewContext(context.Background(), &auth.Caller{AccountID: account, Scopes: auth.Expand(scopes)})
}

func (f *sessionFixture) liveIDs(t *testing.T, account int64) []int64 {
	t.Helper()
	list, err := f.s.FindSessions(f.as(account, auth.AccountRead))
	if err != nil {
		t.Fatal(err)
	}
	var ids []int64
	for _, s := range list {
		ids = append(ids, s.ID)
	}
	return ids
}

func (f *sessionFixture) ended(t *testing.T, account int64) []int64 {
	t.Helper()
	a, err := f.s.FindAccountForToken(context.Background(), account)
	if err != nil {
		t.Fatal(err)
	}
	return a.EndedSessions
}

func (f *sessionFixture) count(t *testing.T, query string, args ...any) int64 {
	t.Helper()
	var n int64
	if err := f.db.SQL().QueryRow(query, args...).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

func wantCode(t *testing.T, what string, err error, want string) {
	t.Helper()
	if got := linkapi.ErrorCode(err); got != want {
		t.Errorf("%s: got %q (%v), want %q", what, got, err, want)
	}
}

// TestSessionRotation follows one session through rotation: the new token
// works, the spent one is refused without harm inside the race window and ends
// the session after it, and the ended session's access tokens are named for
// refusal until they would have expired.
func TestSessionRotation(t *testing.T) {
	storetest.ForEachDB(t, func(t *testing.T, url string) {
		f := newSessionFixture(t, url)
		sess, h1 := f.start(t, f.ann)
		if !slices.Equal(sess.Scopes, []string{auth.LinksRead}) || sess.UserAgent != "test/1" || sess.Address != "192.0.2.1" {
			t.Errorf("started session: got %+v", sess)
		}
		if want := f.clock.Add(testLimits.Refresh); !sess.RefreshExpiresAt.Equal(want) {
			t.Errorf("refresh expiry: got %s, want %s", sess.RefreshExpiresAt, want)
		}

		f.clock = f.clock.Add(time.Minute)
		got, h2, err := f.refresh(h1, 0)
		if err != nil {
			t.Fatal(err)
		}
		if got.ID != sess.ID || got.UserAgent != "test/2" || !got.LastUsedAt.Equal(f.clock) {
			t.Errorf("refreshed session: got %+v, want session %d used now by test/2", got, sess.ID)
		}

		// A second use within the race window: refused, nothing changes.
		f.clock = f.clock.Add(RefreshRaceWindow - time.Millisecond)
		_, _, err = f.refresh(h1, 0)
		wantCode(t, "spent token within the race window", err, linkapi.EUNAUTHENTICATED)
		if got := f.liveIDs(t, f.ann); !slices.Equal(got, []int64{sess.ID}) {
			t.Errorf("live sessions after a raced refresh: got %v, want [%d]", got, sess.ID)
		}
		// The newest token still works.
		_, h3, err := f.refresh(h2, 0)
		if err != nil {
			t.Fatalf("newest token after a raced refresh: %v", err)
		}

		// Past the window the spent token is reuse: the whole session ends, the
		// newest token with it.
		f.clock = f.clock.Add(RefreshRaceWindow)
		_, _, err = f.refresh(h1, 0)
		wantCode(t, "reused token", err, linkapi.EUNAUTHENTICATED)
		_, _, err = f.refresh(h3, 0)
		wantCode(t, "newest token after reuse", err, linkapi.EUNAUTHENTICATED)
		if got := f.liveIDs(t, f.ann); len(got) != 0 {
			t.Errorf("live sessions after reuse: got %v, want none", got)
		}
		if got := f.ended(t, f.ann); !slices.Equal(got, []int64{sess.ID}) {
			t.Errorf("ended sessions for authentication: got %v, want [%d]", got, sess.ID)
		}
		// Once its access tokens would have expired, it is nothing to refuse;
		// the next login drops it.
		f.clock = f.clock.Add(testLimits.Access + AccountCacheTTL)
		if got := f.ended(t, f.ann); len(got) != 0 {
			t.Errorf("ended sessions after the access lifetime: got %v, want none", got)
		}
		f.start(t, f.ann)
		if n := f.count(t, "SELECT COUNT(*) FROM sessions WHERE id = ?", sess.ID); n != 0 {
			t.Errorf("the over session is still kept after a login")
		}
		if n := f.count(t, "SELECT COUNT(*) FROM refresh_tokens WHERE session_id = ?", sess.ID); n != 0 {
			t.Errorf("its refresh tokens are still kept: %d", n)
		}
	})
}

// TestSessionRefusals checks each refresh that must fail, and that it changes
// nothing.
func TestSessionRefusals(t *testing.T) {
	storetest.ForEachDB(t, func(t *testing.T, url string) {
		f := newSessionFixture(t, url)
		sess, h := f.start(t, f.ann)
		rows := func() string {
			t.Helper()
			return fmt.Sprint(f.count(t, "SELECT COUNT(*) FROM refresh_tokens"),
				f.count(t, "SELECT COUNT(*) FROM refresh_tokens WHERE used_at IS NOT NULL"),
				f.count(t, "SELECT COUNT(*) FROM sessions WHERE ended_at IS NULL"))
		}
		before := rows()
		_, _, err := f.refresh(auth.HashAPIToken("never issued"), 0)
		wantCode(t, "unknown token", err, linkapi.EUNAUTHENTICATED)
		_, _, err = f.refresh(h, f.bob)
		wantCode(t, "another account's token", err, linkapi.EUNAUTHENTICATED)
		_, err = f.s.EndSessionByRefreshToken(context.Background(), h, f.bob)
		wantCode(t, "logout with another account's token", err, linkapi.EUNAUTHENTICATED)
		wantCode(t, "revoking another account's session", f.s.RevokeSession(f.as(f.bob, auth.AccountWrite), sess.ID), linkapi.ENOTFOUND)
		wantCode(t, "revoking a missing session", f.s.RevokeSession(f.as(f.ann, auth.AccountWrite), sess.ID+100), linkapi.ENOTFOUND)
		wantCode(t, "logout without a session", f.s.EndCallerSession(f.as(f.ann, auth.AccountWrite)), linkapi.EINVALID)
		if got := rows(); got != before {
			t.Errorf("refused requests changed the rows: got %s, want %s", got, before)
		}

		// Idle: the token lapses unused.
		f.clock = f.clock.Add(testLimits.Refresh)
		_, _, err = f.refresh(h, 0)
		wantCode(t, "idle-expired token", err, linkapi.EUNAUTHENTICATED)
		if got := rows(); got != before {
			t.Errorf("an expired refresh changed the rows: got %s, want %s", got, before)
		}
		if got := f.liveIDs(t, f.ann); len(got) != 0 {
			t.Errorf("an idle-expired session is listed: %v", got)
		}

		// Absolute: refreshing never carries a session past its max age.
		_, h = f.start(t, f.ann)
		for range 4 {
			f.clock = f.clock.Add(testLimits.Refresh - time.Hour)
			var err error
			var got *linkapi.Session
			if got, h, err = f.refresh(h, f.ann); err != nil {
				wantCode(t, "refresh at the max age", err, linkapi.EUNAUTHENTICATED)
				break
			}
			if got.RefreshExpiresAt.After(got.ExpiresAt) {
				t.Errorf("refresh expiry %s is past the session's %s", got.RefreshExpiresAt, got.ExpiresAt)
			}
		}
		if got := f.liveIDs(t, f.ann); len(got) != 0 {
			t.Errorf("a session past its max age is listed: %v", got)
		}
	})
}

// TestSessionEnds ends sessions each way: logout by refresh token and by the
// caller's own, revocation, a password change, account deletion.
func TestSessionEnds(t *testing.T) {
	storetest.ForEachDB(t, func(t *testing.T, url string) {
		f := newSessionFixture(t, url)
		s1, h1 := f.start(t, f.ann)
		s2, _ := f.start(t, f.ann)
		s3, _ := f.start(t, f.ann)
		sb, hb := f.start(t, f.bob)
		f.clock = f.clock.Add(time.Second)
		if got := f.liveIDs(t, f.ann); !slices.Equal(got, []int64{s3.ID, s2.ID, s1.ID}) {
			t.Fatalf("live sessions: got %v, want [%d %d %d]", got, s3.ID, s2.ID, s1.ID)
		}
		if _, err := f.s.EndSessionByRefreshToken(context.Background(), h1, f.ann); err != nil {
			t.Fatal(err)
		}
		if _, err := f.s.EndSessionByRefreshToken(context.Background(), h1, 0); err != nil {
			t.Errorf("ending an ended session again: %v", err)
		}
		_, _, err := f.refresh(h1, 0)
		wantCode(t, "refresh after logout", err, linkapi.EUNAUTHENTICATED)
		ctx := auth.NewContext(context.Background(), &auth.Caller{AccountID: f.ann, SessionID: s2.ID})
		if err := f.s.EndCallerSession(ctx); err != nil {
			t.Fatal(err)
		}
		wantCode(t, "logout twice", f.s.EndCallerSession(ctx), linkapi.ENOTFOUND)
		if err := f.s.RevokeSession(f.as(f.ann, auth.AccountWrite), s3.ID); err != nil {
			t.Fatal(err)
		}
		wantCode(t, "revoke twice", f.s.RevokeSession(f.as(f.ann, auth.AccountWrite), s3.ID), linkapi.ENOTFOUND)
		if got := f.liveIDs(t, f.ann); len(got) != 0 {
			t.Errorf("live sessions after logout and revocation: got %v", got)
		}
		if got := f.ended(t, f.ann); !slices.Equal(slices.Sorted(slices.Values(got)), []int64{s1.ID, s2.ID, s3.ID}) {
			t.Errorf("ended sessions: got %v, want [%d %d %d]", got, s1.ID, s2.ID, s3.ID)
		}
		if got := f.ended(t, f.bob); len(got) != 0 {
			t.Errorf("bob's ended sessions: got %v, want none", got)
		}

		// A password change ends every session of the account, and only its.
		s4, h4 := f.start(t, f.ann)
		ctx = auth.NewContext(context.Background(), &auth.Caller{AccountID: f.ann, Scopes: auth.Expand([]string{auth.AccountWrite})})
		if err := f.s.ChangePassword(ctx, "password-ann@example.com", "a new password for ann"); err != nil {
			t.Fatal(err)
		}
		_, _, err = f.refresh(h4, 0)
		wantCode(t, "refresh after a password change", err, linkapi.EUNAUTHENTICATED)
		if got := f.ended(t, f.ann); !slices.Contains(got, s4.ID) {
			t.Errorf("ended sessions after a password change: got %v, want %d among them", got, s4.ID)
		}
		sys := auth.NewContext(context.Background(), auth.System())
		_, hb2, err := f.refresh(hb, 0)
		if err != nil {
			t.Fatalf("bob's session after ann's password change: %v", err)
		}
		if err := f.s.SetPassword(sys, f.bob, "an operator's password"); err != nil {
			t.Fatal(err)
		}
		_, _, err = f.refresh(hb2, 0)
		wantCode(t, "refresh after set-password", err, linkapi.EUNAUTHENTICATED)

		// Deleting an account deletes its sessions and refresh tokens.
		if err := f.s.DeleteAccount(sys, f.bob); err != nil {
			t.Fatal(err)
		}
		if n := f.count(t, "SELECT COUNT(*) FROM sessions WHERE account_id = ?", f.bob); n != 0 {
			t.Errorf("sessions of a deleted account: %d (session %d)", n, sb.ID)
		}
		if n := f.count(t, "SELECT COUNT(*) FROM refresh_tokens WHERE account_id = ?", f.bob); n != 0 {
			t.Errorf("refresh tokens of a deleted account: %d", n)
		}
	})
}

// TestRefreshSessionConcurrent refreshes one token from many goroutines at
// once: exactly one wins, the others are refused, and the session goes on with
// the winner's token.
func TestRefreshSessionConcurrent(t *testing.T) {
	storetest.ForEachDB(t, func(t *testing.T, url string) {
		db := dbtOpen(t, url)
		s := New(db)
		sys := auth.NewContext(context.Background(), auth.System())
		acc, err := s.CreateAccount(sys, linkapi.AccountCreate{Email: "ann@example.com", Password: "password-1"})
		if err != nil {
			t.Fatal(err)
		}
		first := auth.HashAPIToken("first")
		if _, err := s.StartSession(context.Background(), linkapi.SessionStart{AccountID: acc.ID, RefreshHash: first, Limits: testLimits}); err != nil {
			t.Fatal(err)
		}
		const n = 8
		start := make(chan struct{})
		errs := make([]error, n)
		var wg sync.WaitGroup
		for i := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				_, errs[i] = s.RefreshSession(context.Background(), linkapi.SessionRefresh{
					Hash: first, NextHash: auth.HashAPIToken(fmt.Sprint("next-", i)), Limits: testLimits,
				})
			}()
		}
		close(start)
		wg.Wait()
		winner := -1
		for i, err := range errs {
			switch {
			case err == nil && winner >= 0:
				t.Errorf("refreshes %d and %d both won", winner, i)
			case err == nil:
				winner = i
			default:
				wantCode(t, fmt.Sprint("refresh ", i), err, linkapi.EUNAUTHENTICATED)
			}
		}
		if winner < 0 {
			t.Fatalf("no refresh won: %v", errs)
		}
		if _, err := s.RefreshSession(context.Background(), linkapi.SessionRefresh{
			Hash: auth.HashAPIToken(fmt.Sprint("next-", winner)), NextHash: auth.HashAPIToken("after"), Limits: testLimits,
		}); err != nil {
			t.Errorf("the winner's token: %v", err)
		}
		for i := range n {
			if i == winner {
				continue
			}
			if _, err := s.RefreshSession(context.Background(), linkapi.SessionRefresh{
				Hash: auth.HashAPIToken(fmt.Sprint("next-", i)), NextHash: auth.HashAPIToken(fmt.Sprint("loser-", i)), Limits: testLimits,
			}); linkapi.ErrorCode(err) != linkapi.EUNAUTHENTICATED {
				t.Errorf("loser %d's next token was kept: %v", i, err)
			}
		}
	})
}

// TestSpentTokenFromAnotherClientIsReuse: within the race window, a spent
// refresh token presented by another client than the one that spent it is
// reuse, not a race. A thief who refreshes first does not keep the session
// because its owner retries soon after: the owner's retry ends it, the thief's
// new token with it.
func TestSpentTokenFromAnotherClientIsReuse(t *testing.T) {
	storetest.ForEachDB(t, func(t *testing.T, url string) {
		f := newSessionFixture(t, url)
		sess, h1 := f.start(t, f.ann) // the owner, test/1 at 192.0.2.1
		f.clock = f.clock.Add(time.Second)
		_, thief, err := f.refresh(h1, 0) // the thief, test/2 at 192.0.2.2
		if err != nil {
			t.Fatal(err)
		}
		f.clock = f.clock.Add(time.Second)
		_, err = f.s.RefreshSession(context.Background(), linkapi.SessionRefresh{
			Hash: h1, NextHash: f.hash(), UserAgent: "test/1", Address: "192.0.2.1", Limits: testLimits,
		})
		wantCode(t, "the owner's retry after the thief's refresh", err, linkapi.EUNAUTHENTICATED)
		if got := f.liveIDs(t, f.ann); len(got) != 0 {
			t.Errorf("live sessions after another client's reuse within the window: got %v, want none (session %d)", got, sess.ID)
		}
		_, _, err = f.refresh(thief, 0)
		wantCode(t, "the thief's token after the reuse", err, linkapi.EUNAUTHENTICATED)
	})
}
