package store

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"linkapi/internal/linkapi"
	"linkapi/internal/store/storetest"
)

// planLinks is how many links seedPlanAccount gives the account whose plans
// TestLinkPlansUseIndexes reads.
const planLinks = 100_000

// seedPlanAccount gives a new account planLinks links, fast, in a handful of
// INSERT ... SELECT statements: link n is unread when n%4 == 0, archived when
// n%3 == 0, favorite when n%50 == 0, titled "title n%1000" unless n%10 == 0,
// tagged "t<n%10>", created n minutes before start and changed n seconds after
// its creation. Another account gets a tenth as many, so that the tenant filter
// has something to leave out. It returns the first account's id.
// digits is a derived table of the numbers 0 to 9, as column d.
const digits = "(SELECT 0 AS d UNION ALL SELECT 1 UNION ALL SELECT 2 UNION ALL SELECT 3 UNION ALL SELECT 4 " +
	"UNION ALL SELECT 5 UNION ALL SELECT 6 UNION ALL SELECT 7 UNION ALL SELECT 8 UNION ALL SELECT 9)"

func seedPlanAccount(t *testing.T, db *DB) int64 {
	t.Helper()
	ann := dbtAccount(t, db, "plans@example.com")
	bob := dbtAccount(t, db, "other@example.com")
	for _, seed := range []struct {
		account int64
		n       int
	}{{ann, planLinks}, {bob, planLinks / 10}} {
		dbtMustExec(t, db, `INSERT INTO links (account_id, url, url_hash, title, unread, archived, favorite, created_at, updated_at)
			SELECT ?, CONCAT('https://example.com/', n), SHA2(CONCAT('https://example.com/', n), 256),
				CASE WHEN n % 10 = 0 THEN NULL ELSE CONCAT('title ', n % 1000) END,
				n % 4 = 0, n % 3 = 0, n % 50 = 0,
				TIMESTAMPADD(MINUTE, -n, '2025-01-01 00:00:00'), TIMESTAMPADD(SECOND, n, TIMESTAMPADD(MINUTE, -n, '2025-01-01 00:00:00'))
			FROM (SELECT d1.d + 10 * d2.d + 100 * d3.d + 1000 * d4.d + 10000 * d5.d + 1 AS n
				FROM `+digits+` d1, `+digits+` d2, `+digits+` d3, `+digits+` d4, `+digits+` d5) seq
			WHERE n <= ?`, seed.account, seed.n)
		for i := 0; i < 10; i++ {
			dbtMustExec(t, db, `INSERT INTO tags (account_id, name, created_at) VALUES (?, ?, ?)`, seed.account, fmt.Sprintf("t%d", i), time.Now().UTC())
		}
		dbtMustExec(t, db, `INSERT INTO link_tags (link_id, tag_id, account_id, created_at)
			SELECT links.id, tags.id, links.account_id, links.created_at FROM links
			JOIN tags ON tags.account_id = links.account_id AND tags.name = CONCAT('t', CAST(SUBSTRING(links.url, 21) AS UNSIGNED) % 10)
			WHERE links.account_id = ?`, seed.account)
	}
	for _, table := range []string{"links", "tags", "link_tags"} {
		dbtMustExec(t, db, "ANALYZE TABLE "+table)
	}
	return ann
}

// planShape is a first page of links whose plan TestLinkPlansUseIndexes reads.
type planShape struct {
	name   string
	filter linkapi.LinkFilter
}

func planShapes() []planShape {
	yes, no := true, false
	since := time.Date(2024, 12, 1, 0, 0, 0, 0, time.UTC)
	search := "title 99"
	filters := []planShape{
		{"no filter", linkapi.LinkFilter{}},
		{"unread", linkapi.LinkFilter{Unread: &yes}},
		{"not archived", linkapi.LinkFilter{Archived: &no}},
		{"favorite", linkapi.LinkFilter{Favorite: &yes}},
		{"reading list (unread, not archived)", linkapi.LinkFilter{Unread: &yes, Archived: &no}},
		{"tags all of", linkapi.LinkFilter{Tags: []string{"t1", "t2"}}},
		{"anyTags", linkapi.LinkFilter{AnyTags: []string{"t1", "t2"}}},
		{"excludeTags", linkapi.LinkFilter{ExcludeTags: []string{"t1"}}},
		{"updatedSince", linkapi.LinkFilter{UpdatedSince: &since}},
		{"search", linkapi.LinkFilter{Search: &search}},
	}
	var out []planShape
	for _, order := range []linkapi.LinkOrder{linkapi.OrderCreatedDesc, linkapi.OrderCreatedAsc, linkapi.OrderUpdatedDesc, linkapi.OrderTitleAsc} {
		for _, f := range filters {
			f.filter.Order = order
			f.filter.First = linkapi.DefaultPageSize
			out = append(out, planShape{string(order) + ", " + f.name, f.filter})
		}
	}
	return out
}

// TestLinkPlansUseIndexes seeds an account of 100,000 links on MySQL or
// MariaDB and reads, with EXPLAIN, the plan of the first page of links under
// every order and every filter, and the second page of the plainest: none reads
// a table whole (type ALL), and every read of links goes through an index in
// the page's order (no filesort), so that the page stops after 21 rows. The
// plans are logged (go test -v) for docs/performance.md.
func TestLinkPlansUseIndexes(t *testing.T) {
	db := dbtOpen(t, storetest.URL(t, "mysql"))
	ann := seedPlanAccount(t, db)
	var mu sync.Mutex
	var sent []Statement
	if err := db.OnStatement(func(_ context.Context, st Statement) error {
		mu.Lock()
		defer mu.Unlock()
		sent = append(sent, st)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	s := New(db)
	ctx := ctxAs(ann)
	shapes := planShapes()
	for _, order := range []linkapi.LinkOrder{linkapi.OrderCreatedDesc, linkapi.OrderTitleAsc} {
		page, err := s.FindLinks(ctx, linkapi.LinkFilter{Order: order, LinkPage: linkapi.LinkPage{First: 20}})
		if err != nil || len(page.Links) != 20 {
			t.Fatalf("first page: %v, %v", page, err)
		}
		after := linkapi.CursorOf(page.Links[19], order)
		shapes = append(shapes, planShape{string(order) + ", second page", linkapi.LinkFilter{Order: order, LinkPage: linkapi.LinkPage{First: 20, After: after}}})
	}
	for _, shape := range shapes {
		mu.Lock()
		sent = nil
		mu.Unlock()
		if _, err := s.FindLinks(ctx, shape.filter); err != nil {
			t.Fatalf("%s: %v", shape.name, err)
		}
		mu.Lock()
		sts := sent
		mu.Unlock()
		if len(sts) != 1 {
			t.Fatalf("%s: sent %d statements, want 1", shape.name, len(sts))
		}
		plan := explain(t, db.SQL(), sts[0])
		t.Logf("%s:\n%s", shape.name, plan)
		for _, row := range plan.rows {
			if row["type"] == "ALL" {
				t.Errorf("%s: reads %s whole:\n%s", shape.name, row["table"], plan)
			}
			if row["table"] == "links" && (row["key"] == "" || strings.Contains(row["Extra"], "filesort")) {
				t.Errorf("%s: reads links without an index in its order:\n%s", shape.name, plan)
			}
		}
	}
}

// plan is the answer of EXPLAIN, a row a table read.
type plan struct {
	columns []string
	rows    []map[string]string
}

func (p plan) String() string {
	var b strings.Builder
	for _, r := range p.rows {
		fmt.Fprintf(&b, "  %s %s type=%s key=%s rows=%s %s\n", r["select_type"], r["table"], r["type"], r["key"], r["rows"], r["Extra"])
	}
	return b.String()
}

// explain runs EXPLAIN on the statement st.
func explain(t testing.TB, db *sql.DB, st Statement) plan {
	t.Helper()
	rows, err := db.Query("EXPLAIN "+st.SQL, st.Vars...)
	if err != nil {
		t.Fatalf("EXPLAIN %s: %v", st.SQL, err)
	}
	defer rows.Close()
	var p plan
	if p.columns, err = rows.Columns(); err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		vals := make([]sql.NullString, len(p.columns))
		ptrs := make([]any, len(vals))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			t.Fatal(err)
		}
		row := map[string]string{}
		for i, c := range p.columns {
			row[c] = vals[i].String
		}
		p.rows = append(p.rows, row)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return p
}
