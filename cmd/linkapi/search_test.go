package main

import (
	"bytes"
	"database/sql"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"linkapi/internal/linkapi"
	"linkapi/internal/store"
	"linkapi/internal/store/storetest"
)

// seedLongLinks gives an account n links whose URLs are about 2 KB of "a", the
// worst case for a substring search, straight in the database.
func seedLongLinks(t *testing.T, db *sql.DB, accountID int64, n int) {
	t.Helper()
	now := time.Now().UTC()
	long := strings.Repeat("a", 2000)
	const batch = 500
	tx, err := db.Begin()
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback()
	for i := 0; i < n; i += batch {
		var q strings.Builder
		var args []any
		q.WriteString("INSERT INTO links (account_id, url, created_at, updated_at) VALUES ")
		for j := i; j < min(i+batch, n); j++ {
			if j > i {
				q.WriteString(", ")
			}
			q.WriteString("(?, ?, ?, ?)")
			args = append(args, accountID, fmt.Sprintf("https://e.x/%d/%s", j, long), now, now)
		}
		if _, err := tx.Exec(q.String(), args...); err != nil {
			t.Fatal(err)
		}
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
}

// TestSlowSearchStopsAtItsDeadline sends searches that take the database many
// seconds each, more of them at once than SQLite has connections, to a server
// with a short deadline. Each answers TIMEOUT before the client's patience (many
// times the deadline, far less than the search takes) runs out, so the database
// has stopped working on it; another account's request right after is answered,
// and on MySQL no statement of theirs is left running on the server.
func TestSlowSearchStopsAtItsDeadline(t *testing.T) {
	storetest.ForEachDB(t, func(t *testing.T, url string) {
		quick := startServer(t, url)
		ann := quick.createAccount(t, "ann@example.com", "ann-password", "links:read")
		quick.createAccount(t, "bob@example.com", "bob-password", "links:read", "links:write")
		annToken := quick.login(t, "ann@example.com", "ann-password")
		bobToken := quick.login(t, "bob@example.com", "bob-password")
		quick.ok(t, bobToken, `mutation { createLink(input: {url: "https://example.com/"}) { id } }`, nil)
		db := openDB(t, url)
		seedLongLinks(t, db.SQL(), ann, 20000)

		slow := startServerEnv(t, url, nil, map[string]string{"LINKAPI_REQUEST_TIMEOUT": "200ms"})
		search := strings.Repeat("a", linkapi.MaxSearchLength-1) + "b"
		patient := &http.Client{Timeout: 5 * time.Second}
		var wg sync.WaitGroup
		codes := make([]string, 6)
		for i := range codes {
			wg.Add(1)
			go func() {
				defer wg.Done()
				body, _ := json.Marshal(map[string]any{
					"query":     `query($s: String) { links(search: $s) { totalCount nodes { id } } }`,
					"variables": map[string]any{"s": search},
				})
				req, _ := http.NewRequest(http.MethodPost, slow.URL+"/graphql", bytes.NewReader(body))
				req.Header.Set("Content-Type", "application/json")
				req.Header.Set("Authorization", "Bearer "+annToken)
				res, err := patient.Do(req)
				if err != nil {
					codes[i] = "no answer: " + err.Error()
					return
				}
				defer res.Body.Close()
				var r gqlResponse
				if err := json.NewDecoder(res.Body).Decode(&r); err != nil {
					codes[i] = "not JSON: " + err.Error()
					return
				}
				codes[i] = r.Code()
			}()
		}
		wg.Wait()
		for i, code := range codes {
			if code != "TIMEOUT" {
				t.Errorf("slow search %d: got %q, want TIMEOUT", i, code)
			}
		}
		// Bob's count has the same 200ms deadline, which a loaded machine can miss
		// now and then; a few tries are far shorter than the searches would take
		// if their statements still held the connections.
		var bob *gqlResponse
		for range 5 {
			if bob = slow.do(t, bobToken, linksCountQuery, nil); bob.Code() != "TIMEOUT" {
				break
			}
		}
		if len(bob.Errors) > 0 || get(t, bob.Data, "links", "totalCount") != float64(1) {
			t.Errorf("bob's links after the slow searches: got %+v, want a totalCount of 1", bob)
		}
		if db.Dialect() == store.DialectMySQL {
			waitForNoSearchStatements(t, db.SQL())
		}
	})
}

// waitForNoSearchStatements waits until no connection to the test database runs
// a LIKE search. A killed statement takes a moment to unwind; one that was not
// killed runs for far longer than this waits.
func waitForNoSearchStatements(t *testing.T, db *sql.DB) {
	t.Helper()
	const q = `SELECT COUNT(*) FROM information_schema.PROCESSLIST
		WHERE DB = DATABASE() AND ID <> CONNECTION_ID() AND INFO LIKE '%ESCAPE%'`
	var n int64
	for range 300 {
		if n = queryInt(t, db, q); n == 0 {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Errorf("%d search statements still run on the server after their requests timed out", n)
}

// TestSearchLengthIsBounded searches with the longest search allowed, made of the
// characters that escape to two bytes and of four-byte ones, which finds its link,
// and with one character more, which is refused, as is the 40,000-character
// pattern SQLite would call too complex.
func TestSearchLengthIsBounded(t *testing.T) {
	forEachServer(t, func(t *testing.T, s *testServer) {
		s.createAccount(t, "ann@example.com", "ann-password", "links:read", "links:write")
		token := s.login(t, "ann@example.com", "ann-password")
		longest := strings.Repeat("%_!😀", linkapi.MaxSearchLength/4)
		s.ok(t, token, `mutation($t: String) { createLink(input: {url: "https://example.com/", title: $t}) { id } }`,
			map[string]any{"t": "<" + longest + ">"})
		s.ok(t, token, `mutation { createLink(input: {url: "https://example.org/", title: "other"}) { id } }`, nil)
		const q = `query($s: String) { links(search: $s) { totalCount nodes { url } } }`

		d := s.ok(t, token, q, map[string]any{"s": longest})
		if n := get(t, d, "links", "totalCount"); n != float64(1) {
			t.Errorf("the longest search: totalCount %v, want 1", n)
		}
		if u := str(t, d, "links", "nodes", 0, "url"); u != "https://example.com/" {
			t.Errorf("the longest search found %s", u)
		}
		for name, search := range map[string]string{
			"one character more": longest + "a",
			"a% x 20000":         strings.Repeat("a%", 20000),
		} {
			r := s.do(t, token, q, map[string]any{"s": search})
			if r.Code() != "BAD_USER_INPUT" {
				t.Errorf("%s: got %q (%.200s), want BAD_USER_INPUT", name, r.Code(), r.Raw)
			}
			if r.Data != nil && r.Data["links"] != nil {
				t.Errorf("%s: answered with data %v", name, r.Data)
			}
		}
	})
}
