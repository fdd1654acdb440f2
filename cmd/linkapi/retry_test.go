package main

import (
	"context"
	"net/http"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"

	mysqldriver "github.com/go-sql-driver/mysql"

	"linkapi/internal/store"
	"linkapi/internal/store/storetest"
)

// insertIntoLinks matches the statement that inserts a link (not a tag pair).
var insertIntoLinks = regexp.MustCompile("(?i)^INSERT INTO [`\"]?links[`\"]? ")

// refuseLinkInserts makes the first n inserts of a link on db fail with MySQL's
// error number code, as a deadlock or a Galera certification failure does
// (n < 0: every one), and counts the inserts tried.
func refuseLinkInserts(t *testing.T, n int64, code uint16, tried *atomic.Int64) func(*store.DB) {
	return func(db *store.DB) {
		err := db.OnStatement(func(_ context.Context, st store.Statement) error {
			if !insertIntoLinks.MatchString(st.SQL) {
				return nil
			}
			if k := tried.Add(1); n < 0 || k <= n {
				return &mysqldriver.MySQLError{Number: code, Message: "Deadlock found when trying to get lock; try restarting transaction"}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
}

// metric returns the line of /metrics that begins with name, or "".
func metric(t *testing.T, s *testServer, name string) string {
	t.Helper()
	status, body := getText(t, s.URL+"/metrics")
	if status != http.StatusOK {
		t.Fatalf("/metrics: %d", status)
	}
	for _, line := range strings.Split(body, "\n") {
		if strings.HasPrefix(line, name+" ") {
			return line
		}
	}
	return ""
}

const createTaggedLink = `mutation { createLink(input: {url: "https://example.com/a", tags: ["fresh"]}) { id tags { name } } }`

// TestTransactionRetriedOnDeadlock refuses a createLink's transaction twice with
// error 1213 and once with 1205: the request succeeds, with one link and one
// tag written, and /metrics counts the retries by error.
func TestTransactionRetriedOnDeadlock(t *testing.T) {
	storetest.ForEachDB(t, func(t *testing.T, url string) {
		var deadlocks, waits atomic.Int64
		s := startServerWith(t, url, func(db *store.DB) {
			refuseLinkInserts(t, 2, 1213, &deadlocks)(db)
		})
		s.createAccount(t, "ann@example.com", "correct horse battery", "links:write", "tags:write")
		token := s.login(t, "ann@example.com", "correct horse battery")
		data := s.ok(t, token, createTaggedLink, nil)
		if got := str(t, data, "createLink", "tags", 0, "name"); got != "fresh" {
			t.Errorf("tag of the link: got %q, want fresh", got)
		}
		if got := deadlocks.Load(); got != 3 {
			t.Errorf("inserts tried: got %d, want 3 (two refused, one that went through)", got)
		}
		db := openDB(t, url)
		if n := queryInt(t, db.SQL(), "SELECT COUNT(*) FROM links"); n != 1 {
			t.Errorf("links: got %d, want 1", n)
		}
		if n := queryInt(t, db.SQL(), "SELECT COUNT(*) FROM tags"); n != 1 {
			t.Errorf("tags: got %d, want 1", n)
		}
		if got, want := metric(t, s, `linkapi_db_transaction_retries_total{error="1213"}`), `linkapi_db_transaction_retries_total{error="1213"} 2`; got != want {
			t.Errorf("/metrics: got %q, want %q", got, want)
		}

		w := startServerWith(t, url, refuseLinkInserts(t, 1, 1205, &waits))
		r := w.do(t, token, `mutation { createLink(input: {url: "https://example.com/b"}) { id } }`, nil)
		if r.Code() != "" {
			t.Fatalf("createLink after a lock wait timeout: %s", r.Raw)
		}
		if got, want := metric(t, w, `linkapi_db_transaction_retries_total{error="1205"}`), `linkapi_db_transaction_retries_total{error="1205"} 1`; got != want {
			t.Errorf("/metrics: got %q, want %q", got, want)
		}
	})
}

// TestTransactionRetriesExhausted refuses every attempt: the request fails
// with INTERNAL_SERVER_ERROR after the last one, writes nothing, and /metrics
// counts it.
func TestTransactionRetriesExhausted(t *testing.T) {
	storetest.ForEachDB(t, func(t *testing.T, url string) {
		var tried atomic.Int64
		s := startServerWith(t, url, refuseLinkInserts(t, -1, 1213, &tried))
		s.createAccount(t, "ann@example.com", "correct horse battery", "links:write", "tags:write")
		token := s.login(t, "ann@example.com", "correct horse battery")
		r := s.do(t, token, createTaggedLink, nil)
		if r.Code() != "INTERNAL_SERVER_ERROR" {
			t.Fatalf("createLink refused every time: got %s, want INTERNAL_SERVER_ERROR", r.Raw)
		}
		if got := tried.Load(); got != 5 {
			t.Errorf("attempts: got %d, want 5", got)
		}
		db := openDB(t, url)
		if n := queryInt(t, db.SQL(), "SELECT COUNT(*) FROM links") + queryInt(t, db.SQL(), "SELECT COUNT(*) FROM tags"); n != 0 {
			t.Errorf("links and tags written: %d, want 0", n)
		}
		if got, want := metric(t, s, "linkapi_db_transaction_retries_exhausted_total"), "linkapi_db_transaction_retries_exhausted_total 1"; got != want {
			t.Errorf("/metrics: got %q, want %q", got, want)
		}
		if got, want := metric(t, s, `linkapi_db_transaction_retries_total{error="1213"}`), `linkapi_db_transaction_retries_total{error="1213"} 4`; got != want {
			t.Errorf("/metrics: got %q, want %q", got, want)
		}
	})
}

// TestBulkWriteRetriedAnswersOnce refuses the first attempt of a createLinks
// whose second item duplicates its first: the retried transaction answers each
// item once, the duplicate failing alone.
func TestBulkWriteRetriedAnswersOnce(t *testing.T) {
	storetest.ForEachDB(t, func(t *testing.T, url string) {
		var tried atomic.Int64
		s := startServerWith(t, url, refuseLinkInserts(t, 1, 1213, &tried))
		s.createAccount(t, "ann@example.com", "correct horse battery", "links:write", "tags:write")
		token := s.login(t, "ann@example.com", "correct horse battery")
		data := s.ok(t, token, `mutation { createLinks(inputs: [{url: "https://example.com/a"}, {url: "https://example.com/a"}]) {
			links { id } errors { index code } } }`, nil)
		errs, _ := get(t, data, "createLinks", "errors").([]any)
		if len(errs) != 1 || str(t, errs[0], "code") != "CONFLICT" {
			t.Errorf("errors: got %v, want one CONFLICT", errs)
		}
		if tried.Load() != 2 {
			t.Errorf("inserts tried: got %d, want 2", tried.Load())
		}
		if get(t, data, "createLinks", "links", 0) == nil {
			t.Errorf("first item: got no link")
		}
	})
}
