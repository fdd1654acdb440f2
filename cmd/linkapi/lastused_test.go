package main

import (
	"context"
	"errors"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"linkapi/internal/store"
	"linkapi/internal/store/storetest"
)

var (
	updateLastUsed = regexp.MustCompile("(?i)^UPDATE [`\"]?api_tokens[`\"]? SET [`\"]?last_used_at")
	selectAPIToken = regexp.MustCompile("(?i)^SELECT .* FROM [`\"]?api_tokens[`\"]? WHERE secret_hash")
)

// TestLastUsedWriteFailureFailsNoRequest makes every write of an API token's
// last use fail: requests with the token are answered all the same, and the
// failure is logged and counted.
func TestLastUsedWriteFailureFailsNoRequest(t *testing.T) {
	storetest.ForEachDB(t, func(t *testing.T, url string) {
		var refused atomic.Int64
		s := startServerWith(t, url, func(db *store.DB) {
			err := db.OnStatement(func(_ context.Context, st store.Statement) error {
				if updateLastUsed.MatchString(st.SQL) {
					refused.Add(1)
					return errors.New("disk full")
				}
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
		})
		s.createAccount(t, "ann@example.com", "correct horse battery", "links:write", "account:write")
		ann := s.login(t, "ann@example.com", "correct horse battery")
		secret := str(t, s.ok(t, ann, createTokenMutation, map[string]any{"n": "script", "s": []string{"links:read"}}), "createApiToken", "token")
		d := s.ok(t, secret, `{ links { totalCount } }`, nil)
		if get(t, d, "links", "totalCount") != float64(0) {
			t.Errorf("links through the token: got %v", d)
		}
		if refused.Load() != 1 {
			t.Fatalf("writes of last use tried: got %d, want 1", refused.Load())
		}
		if got, want := metric(t, s, "linkapi_db_last_used_write_failures_total"), "linkapi_db_last_used_write_failures_total 1"; got != want {
			t.Errorf("/metrics: got %q, want %q", got, want)
		}
		if !strings.Contains(s.Log.String(), "could not record the use of an API token") {
			t.Errorf("the log does not mention the failed write:\n%s", s.Log.String())
		}
	})
}

// TestLastUsedNeverMovesBack has another instance record a later use of an API
// token between this instance's read of the token and its write: the later
// time stays.
func TestLastUsedNeverMovesBack(t *testing.T) {
	storetest.ForEachDB(t, func(t *testing.T, url string) {
		later := time.Now().UTC().Add(time.Hour).Truncate(time.Second)
		var raced atomic.Bool
		s := startServerWith(t, url, func(db *store.DB) {
			err := db.OnStatement(func(ctx context.Context, st store.Statement) error {
				if selectAPIToken.MatchString(st.SQL) && raced.CompareAndSwap(false, true) {
					_, err := db.SQL().ExecContext(ctx, "UPDATE api_tokens SET last_used_at = ?", later)
					return err
				}
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
		})
		s.createAccount(t, "ann@example.com", "correct horse battery", "links:write", "account:write")
		ann := s.login(t, "ann@example.com", "correct horse battery")
		secret := str(t, s.ok(t, ann, createTokenMutation, map[string]any{"n": "script", "s": []string{"links:read"}}), "createApiToken", "token")
		s.ok(t, secret, `{ links { totalCount } }`, nil)
		if !raced.Load() {
			t.Fatal("the token was never read")
		}
		db := openDB(t, url)
		var got time.Time
		if err := db.SQL().QueryRow("SELECT last_used_at FROM api_tokens").Scan(&got); err != nil {
			t.Fatal(err)
		}
		if !got.Equal(later) {
			t.Errorf("last_used_at: got %v, want the later %v", got, later)
		}
	})
}
