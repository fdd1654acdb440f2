package auth

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"linkapi/internal/linkapi"
)

func verifiedHits(tk *Tokens) int {
	tk.verified.mu.Lock()
	defer tk.verified.mu.Unlock()
	return tk.verified.hits
}

// TestRememberedTokenTimes checks that a token Parse remembers is held to the
// clock on every use as parsing it again would hold it: accepted within the
// leeway past exp, refused after it with the same error, and refused while its
// iat is in the future; and that what Parse returns from memory is what it
// returned the first time.
func TestRememberedTokenTimes(t *testing.T) {
	tk := newTestTokens(t)
	tok, exp, err := tk.Issue(42, []string{LinksRead})
	if err != nil {
		t.Fatal(err)
	}
	first, err := tk.Parse(tok)
	if err != nil {
		t.Fatal(err)
	}
	again, err := tk.Parse(tok)
	if err != nil {
		t.Fatal(err)
	}
	if verifiedHits(tk) != 1 {
		t.Fatalf("hits = %d, want 1: the second Parse did not use the remembered token", verifiedHits(tk))
	}
	if !again.IssuedAt.Equal(first.IssuedAt.Time) || again.Scope != first.Scope || again.Subject != first.Subject ||
		again.ID != first.ID || !again.ExpiresAt.Equal(first.ExpiresAt.Time) {
		t.Errorf("remembered claims %+v, want %+v", again, first)
	}

	for _, c := range []struct {
		name string
		now  time.Time
		ok   bool
	}{
		{"within the leeway past exp", exp.Add(leeway - time.Millisecond), true},
		{"at exp and the leeway", exp.Add(leeway), false},
		{"long expired", exp.Add(time.Hour), false},
		{"before iat, past the leeway", testNow.Add(-leeway - time.Second), false},
		{"back at now", testNow, true},
	} {
		tk.Now = func() time.Time { return c.now }
		fresh := newTestTokens(t)
		fresh.Now = tk.Now
		_, got := tk.Parse(tok)
		_, want := fresh.Parse(tok)
		if (got == nil) != c.ok || (want == nil) != c.ok {
			t.Errorf("%s: remembered %v, parsed anew %v, want ok=%v", c.name, got, want, c.ok)
		}
		if got != nil && errReason(got) != errReason(want) {
			t.Errorf("%s: remembered %q, parsed anew %q", c.name, errReason(got), errReason(want))
		}
		if got != nil && !errors.Is(got, jwt.ErrTokenInvalidClaims) {
			t.Errorf("%s: %v is not ErrTokenInvalidClaims", c.name, got)
		}
	}
}

// TestRememberedTokenOtherKeys checks that what one Tokens remembers is no
// other's: a token verified under the old key is refused by a Tokens that
// has dropped it, and a changed byte is a token not remembered.
func TestRememberedTokenOtherKeys(t *testing.T) {
	tk := newTestTokens(t)
	tok, _, err := tk.Issue(42, []string{LinksRead})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tk.Parse(tok); err != nil {
		t.Fatal(err)
	}
	rotated, err := NewTokens([]byte("another secret of at least thirty-two bytes"), 15*time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	rotated.Now = tk.Now
	if _, err := rotated.Parse(tok); err == nil {
		t.Error("a Tokens without the key accepts the token")
	}
	i := len(tok) - 10
	flipped := byte('A')
	if tok[i] == 'A' {
		flipped = 'B'
	}
	tampered := tok[:i] + string(flipped) + tok[i+1:]
	if _, err := tk.Parse(tampered); err == nil {
		t.Error("a token with a changed signature is accepted")
	}
	if verifiedHits(tk) != 0 {
		t.Errorf("hits = %d, want 0", verifiedHits(tk))
	}
}

// TestRememberedTokenAccountChecks checks that Authenticate, given a token it
// remembers, still refuses it for a deleted account, a password changed after
// it was issued or an ended session, and narrows it to the account's scopes.
func TestRememberedTokenAccountChecks(t *testing.T) {
	a, store := newTestAuthenticator(t)
	ctx := context.Background()
	tok, _, err := a.Tokens.issueAt(42, []string{LinksWrite, TagsRead}, testNow, "7")
	if err != nil {
		t.Fatal(err)
	}
	for range 2 {
		if _, err := a.Authenticate(ctx, tok); err != nil {
			t.Fatal(err)
		}
	}
	if verifiedHits(a.Tokens) != 1 {
		t.Fatalf("hits = %d, want 1", verifiedHits(a.Tokens))
	}
	set := func(f func(*linkapi.Account)) {
		store.mu.Lock()
		defer store.mu.Unlock()
		f(store.accounts[42])
	}

	set(func(acc *linkapi.Account) { acc.Scopes = []string{LinksRead} })
	c, err := a.Authenticate(ctx, tok)
	if err != nil {
		t.Fatal(err)
	}
	if c.Has(LinksWrite) || c.Has(TagsRead) || !c.Has(LinksRead) {
		t.Errorf("scopes after narrowing = %v, want links:read", c.Scopes)
	}

	set(func(acc *linkapi.Account) { acc.EndedSessions = []int64{7} })
	if _, err := a.Authenticate(ctx, tok); linkapi.ErrorCode(err) != linkapi.EUNAUTHENTICATED {
		t.Errorf("ended session: %v, want UNAUTHENTICATED", err)
	}
	set(func(acc *linkapi.Account) {
		acc.EndedSessions = nil
		acc.PasswordChangedAt = testNow.Add(time.Millisecond)
	})
	if _, err := a.Authenticate(ctx, tok); linkapi.ErrorCode(err) != linkapi.EUNAUTHENTICATED {
		t.Errorf("password changed after issue: %v, want UNAUTHENTICATED", err)
	}
	set(func(acc *linkapi.Account) { acc.PasswordChangedAt = testNow.Add(-time.Hour) })
	store.mu.Lock()
	delete(store.accounts, 42)
	store.mu.Unlock()
	if _, err := a.Authenticate(ctx, tok); linkapi.ErrorCode(err) != linkapi.EUNAUTHENTICATED {
		t.Errorf("deleted account: %v, want UNAUTHENTICATED", err)
	}
}

// TestRememberedTokensBounded checks that the memory holds at most
// MaxVerifiedTokens tokens, forgetting the expired ones first.
func TestRememberedTokensBounded(t *testing.T) {
	var v verifiedTokens
	exp := &jwt.NumericDate{Time: testNow.Add(time.Minute)}
	old := &jwt.NumericDate{Time: testNow.Add(-time.Minute)}
	live := &verifiedClaims{Claims: Claims{RegisteredClaims: jwt.RegisteredClaims{ExpiresAt: exp}}}
	dead := &verifiedClaims{Claims: Claims{RegisteredClaims: jwt.RegisteredClaims{ExpiresAt: old}}}
	key := func(i int) (k [32]byte) { k[0], k[1], k[2] = byte(i), byte(i>>8), byte(i>>16); return k }
	for i := range MaxVerifiedTokens {
		c := live
		if i%2 == 0 {
			c = dead
		}
		v.put(key(i), c, testNow)
	}
	v.put(key(MaxVerifiedTokens), live, testNow)
	if got, want := len(v.m), MaxVerifiedTokens/2+1; got != want {
		t.Errorf("after one more when full: %d tokens, want %d (the expired ones forgotten)", got, want)
	}
	for i := range 3 * MaxVerifiedTokens {
		v.put(key(MaxVerifiedTokens+1+i), live, testNow)
	}
	if len(v.m) > MaxVerifiedTokens {
		t.Errorf("%d tokens, want at most %d", len(v.m), MaxVerifiedTokens)
	}
	if _, ok := v.get(key(4 * MaxVerifiedTokens)); !ok {
		t.Error("the last token put is not there")
	}
}
