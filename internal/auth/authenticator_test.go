package auth

import (
	"context"
	"errors"
	"slices"
	"sync"
	"testing"
	"time"

	"linkapi/internal/linkapi"
)

// fakeStore is an in-memory CredentialStore.
type fakeStore struct {
	mu       sync.Mutex
	accounts map[int64]*linkapi.Account
	hashes   map[int64]string
	err      error // returned by every call when set
	// afterCredentials, when set, runs after FindCredentialsByEmail has read, to
	// stand for a write that commits while a login is under way.
	afterCredentials func()
}

func (s *fakeStore) FindCredentialsByEmail(_ context.Context, email string) (*linkapi.Account, string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.err != nil {
		return nil, "", s.err
	}
	for id, a := range s.accounts {
		if a.Email == email {
			acc := *a
			if s.afterCredentials != nil {
				defer s.afterCredentials()
			}
			return &acc, s.hashes[id], nil
		}
	}
	return nil, "", linkapi.Errorf(linkapi.ENOTFOUND, "account not found")
}

func (s *fakeStore) FindAccountForToken(_ context.Context, id int64) (*linkapi.Account, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.err != nil {
		return nil, s.err
	}
	a, ok := s.accounts[id]
	if !ok {
		return nil, linkapi.Errorf(linkapi.ENOTFOUND, "account not found")
	}
	acc := *a
	return &acc, nil
}

const testPassword = "s3cret password"

var (
	testHashOnce sync.Once
	testHash     string
)

// newTestAuthenticator returns an authenticator over one account, 42,
// ann@example.com, holding links:write and tags:read, with its clock at testNow.
func newTestAuthenticator(t *testing.T) (*Authenticator, *fakeStore) {
	t.Helper()
	testHashOnce.Do(func() {
		h, err := HashPassword(testPassword)
		if err != nil {
			t.Fatal(err)
		}
		testHash = h
	})
	store := &fakeStore{
		accounts: map[int64]*linkapi.Account{42: {
			ID:                42,
			Email:             "ann@example.com",
			Scopes:            []string{LinksWrite, TagsRead},
			PasswordChangedAt: testNow.Add(-time.Hour),
		}},
		hashes: map[int64]string{42: testHash},
	}
	return &Authenticator{Store: store, Tokens: newTestTokens(t)}, store
}

func TestLogin(t *testing.T) {
	a, _ := newTestAuthenticator(t)
	ctx := context.Background()

	iss, err := a.Login(ctx, "  Ann@Example.COM ", testPassword, nil)
	if err != nil {
		t.Fatalf("Login: %v", err)
	}
	if iss.TokenType != "Bearer" || iss.Account.ID != 42 || iss.AccessToken == "" {
		t.Errorf("Issued = %+v, want a Bearer token for account 42", iss)
	}
	if want := []string{LinksWrite, TagsRead}; !slices.Equal(iss.Scopes, want) {
		t.Errorf("Scopes = %v, want %v", iss.Scopes, want)
	}
	if !iss.ExpiresAt.Equal(testNow.Add(15 * time.Minute).Truncate(time.Millisecond)) {
		t.Errorf("ExpiresAt = %v", iss.ExpiresAt)
	}
	c, err := a.Tokens.Parse(iss.AccessToken)
	if err != nil {
		t.Fatal(err)
	}
	if c.Scope != "links:write tags:read" || c.Subject != "42" {
		t.Errorf("claims scope, sub = %q, %q", c.Scope, c.Subject)
	}
}

func TestLoginBadCredentialsIdentical(t *testing.T) {
	a, _ := newTestAuthenticator(t)
	ctx := context.Background()
	_, errWrong := a.Login(ctx, "ann@example.com", "wrong password", nil)
	_, errUnknown := a.Login(ctx, "bob@example.com", testPassword, nil)
	for name, err := range map[string]error{"wrong password": errWrong, "unknown email": errUnknown} {
		if got := linkapi.ErrorCode(err); got != linkapi.EUNAUTHENTICATED {
			t.Errorf("%s: code = %q, want %q", name, got, linkapi.EUNAUTHENTICATED)
		}
	}
	if m1, m2 := linkapi.ErrorMessage(errWrong), linkapi.ErrorMessage(errUnknown); m1 != m2 {
		t.Errorf("wrong password message %q != unknown email message %q", m1, m2)
	}
}

func TestLoginScopes(t *testing.T) {
	tests := []struct {
		name     string
		scopes   []string
		want     []string
		wantCode string
	}{
		{"narrowed", []string{LinksRead}, []string{LinksRead}, ""},
		{"held and implied", []string{TagsRead, LinksWrite, LinksRead}, []string{LinksRead, LinksWrite, TagsRead}, ""},
		{"empty list means none", []string{}, []string{}, ""},
		{"unknown", []string{"links:delete"}, nil, linkapi.EINVALID},
		{"not held", []string{LinksRead, TagsWrite}, nil, linkapi.EFORBIDDEN},
		{"admin not held", []string{AdminRead}, nil, linkapi.EFORBIDDEN},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a, _ := newTestAuthenticator(t)
			iss, err := a.Login(context.Background(), "ann@example.com", testPassword, tt.scopes)
			if got := linkapi.ErrorCode(err); got != tt.wantCode {
				t.Fatalf("code = %q (%v), want %q", got, err, tt.wantCode)
			}
			if err != nil {
				if iss != nil {
					t.Errorf("Issued = %+v on error, want nil", iss)
				}
				return
			}
			if !slices.Equal(iss.Scopes, tt.want) {
				t.Errorf("Scopes = %v, want %v", iss.Scopes, tt.want)
			}
			caller, err := a.Authenticate(context.Background(), iss.AccessToken)
			if err != nil {
				t.Fatal(err)
			}
			if want := Expand(tt.want); !slices.Equal(caller.Scopes, want) {
				t.Errorf("caller scopes = %v, want %v", caller.Scopes, want)
			}
		})
	}
}

func TestLoginStoreError(t *testing.T) {
	a, store := newTestAuthenticator(t)
	boom := errors.New("database is down")
	store.err = boom
	if _, err := a.Login(context.Background(), "ann@example.com", testPassword, nil); !errors.Is(err, boom) {
		t.Errorf("Login error = %v, want %v", err, boom)
	}
}

func TestAuthenticate(t *testing.T) {
	a, _ := newTestAuthenticator(t)
	ctx := context.Background()
	tok, _, err := a.Tokens.Issue(42, []string{LinksWrite})
	if err != nil {
		t.Fatal(err)
	}
	c, err := a.Authenticate(ctx, tok)
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{LinksRead, LinksWrite}; c.AccountID != 42 || !slices.Equal(c.Scopes, want) {
		t.Errorf("caller = %+v, want account 42 with %v", c, want)
	}

	for _, bad := range []string{"", "junk", tok + "x"} {
		if _, err := a.Authenticate(ctx, bad); linkapi.ErrorCode(err) != linkapi.EUNAUTHENTICATED {
			t.Errorf("Authenticate(%q) code = %q, want %q", bad, linkapi.ErrorCode(err), linkapi.EUNAUTHENTICATED)
		}
	}
}

func TestAuthenticateDeletedAccount(t *testing.T) {
	a, store := newTestAuthenticator(t)
	tok, _, err := a.Tokens.Issue(42, []string{LinksWrite})
	if err != nil {
		t.Fatal(err)
	}
	delete(store.accounts, 42)
	if _, err := a.Authenticate(context.Background(), tok); linkapi.ErrorCode(err) != linkapi.EUNAUTHENTICATED {
		t.Errorf("code = %q (%v), want %q", linkapi.ErrorCode(err), err, linkapi.EUNAUTHENTICATED)
	}
}

func TestAuthenticateStoreError(t *testing.T) {
	a, store := newTestAuthenticator(t)
	tok, _, err := a.Tokens.Issue(42, nil)
	if err != nil {
		t.Fatal(err)
	}
	boom := errors.New("database is down")
	store.err = boom
	if _, err := a.Authenticate(context.Background(), tok); !errors.Is(err, boom) {
		t.Errorf("error = %v, want %v", err, boom)
	}
}

func TestAuthenticatePasswordChange(t *testing.T) {
	// The password changes at .500600 within a second; tokens are issued in the
	// same second, just before and just after.
	changed := time.Date(2025, 3, 14, 15, 9, 26, 500_600_000, time.UTC)
	tests := []struct {
		name     string
		issued   time.Time
		wantCode string
	}{
		{"long before", changed.Add(-time.Minute), linkapi.EUNAUTHENTICATED},
		{"same second, before", changed.Add(-2 * time.Millisecond), linkapi.EUNAUTHENTICATED},
		{"same second, just before", changed.Add(-time.Millisecond), linkapi.EUNAUTHENTICATED},
		{"same millisecond, after", changed.Add(100 * time.Microsecond), ""},
		{"same second, after", changed.Add(time.Millisecond), ""},
		{"later", changed.Add(time.Minute), ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a, store := newTestAuthenticator(t)
			store.accounts[42].PasswordChangedAt = changed
			a.Tokens.Now = func() time.Time { return tt.issued }
			tok, _, err := a.Tokens.Issue(42, []string{LinksRead})
			if err != nil {
				t.Fatal(err)
			}
			a.Tokens.Now = func() time.Time { return changed.Add(2 * time.Minute) }
			_, err = a.Authenticate(context.Background(), tok)
			if got := linkapi.ErrorCode(err); got != tt.wantCode {
				t.Errorf("code = %q (%v), want %q", got, err, tt.wantCode)
			}
		})
	}
}

func TestAuthenticateScopesNarrowedAfterIssue(t *testing.T) {
	a, store := newTestAuthenticator(t)
	iss, err := a.Login(context.Background(), "ann@example.com", testPassword, nil)
	if err != nil {
		t.Fatal(err)
	}
	store.accounts[42].Scopes = []string{LinksRead}
	c, err := a.Authenticate(context.Background(), iss.AccessToken)
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{LinksRead}; !slices.Equal(c.Scopes, want) {
		t.Errorf("scopes = %v, want %v", c.Scopes, want)
	}
	if c.Has(LinksWrite) || c.Has(TagsRead) {
		t.Errorf("caller keeps a scope the account lost: %v", c.Scopes)
	}

	store.accounts[42].Scopes = nil
	c, err = a.Authenticate(context.Background(), iss.AccessToken)
	if err != nil {
		t.Fatalf("account with no scopes: %v, want a caller with nothing", err)
	}
	if len(c.Scopes) != 0 {
		t.Errorf("scopes = %v, want none", c.Scopes)
	}
}

// TestLoginRacingAPasswordChange: a password change that commits after a login
// has read the old hash, while the login still checks it, ends the token that
// login then issues.
func TestLoginRacingAPasswordChange(t *testing.T) {
	a, store := newTestAuthenticator(t)
	clock := testNow
	a.Tokens.Now = func() time.Time { clock = clock.Add(10 * time.Millisecond); return clock }
	store.afterCredentials = func() {
		// The change lands 5 ms after the read, before the token is signed.
		store.accounts[42].PasswordChangedAt = clock.Add(5 * time.Millisecond)
	}
	iss, err := a.Login(context.Background(), "ann@example.com", testPassword, nil)
	if err != nil {
		t.Fatal(err)
	}
	store.afterCredentials = nil
	if _, err := a.Authenticate(context.Background(), iss.AccessToken); linkapi.ErrorCode(err) != linkapi.EUNAUTHENTICATED {
		t.Errorf("token from a login that read the old password: got %v, want UNAUTHENTICATED", err)
	}
}
