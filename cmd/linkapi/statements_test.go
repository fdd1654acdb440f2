package main

import (
	"fmt"
	"sync"
	"sync/atomic"
	"testing"

	"gorm.io/gorm"

	"linkapi/internal/store/storetest"
)

// statementLog records every SQL statement the server sends while it is on.
type statementLog struct {
	on   atomic.Bool
	mu   sync.Mutex
	sqls []string
}

func (l *statementLog) record(db *gorm.DB) {
	if l.on.Load() {
		l.mu.Lock()
		l.sqls = append(l.sqls, db.Statement.SQL.String())
		l.mu.Unlock()
	}
}

// attach registers l after each of gorm's statement-running callbacks.
func (l *statementLog) attach(t *testing.T) func(*gorm.DB) {
	return func(db *gorm.DB) {
		cb := db.Callback()
		for _, err := range []error{
			cb.Query().After("gorm:query").Register("test:count", l.record),
			cb.Create().After("gorm:create").Register("test:count", l.record),
			cb.Update().After("gorm:update").Register("test:count", l.record),
			cb.Delete().After("gorm:delete").Register("test:count", l.record),
			cb.Row().After("gorm:row").Register("test:count", l.record),
			cb.Raw().After("gorm:raw").Register("test:count", l.record),
		} {
			if err != nil {
				t.Error(err)
			}
		}
	}
}

// during returns the statements sent while fn runs.
func (l *statementLog) during(fn func()) []string {
	l.mu.Lock()
	l.sqls = nil
	l.mu.Unlock()
	l.on.Store(true)
	fn()
	l.on.Store(false)
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]string(nil), l.sqls...)
}

// TestStatementsPerRequestDoNotGrowWithThePage seeds pages of 5 and of 100 links and
// checks that each request sends the same, small number of statements, the
// lookup of the caller's account included.
func TestStatementsPerRequestDoNotGrowWithThePage(t *testing.T) {
	queries := []struct {
		name  string
		query string
		max   int
	}{
		{"links with tags and account", `{ links(first: 100) { nodes { tags { name } account { email } } } }`, 4},
		{"me with links, tags and counts", `{ me { links(first: 100) { nodes { tags { name } } } tags(first: 100) { nodes { links { totalCount } } } } }`, 4},
		{"tags with their account", `{ tags(first: 100) { totalCount nodes { name account { email } } } }`, 4},
		// Priced 19933, just under the default complexity limit.
		{"link counts of each link's tags", tagLinkCounts, 4},
	}
	for _, size := range []int{5, 100} {
		t.Run(fmt.Sprintf("%d links", size), func(t *testing.T) {
			storetest.ForEachDB(t, func(t *testing.T, url string) {
				log := &statementLog{}
				s := startServerWith(t, url, log.attach(t))
				s.createAccount(t, "ann@example.com", "ann-password", "links:write", "tags:write", "account:write")
				token := s.login(t, "ann@example.com", "ann-password")
				for i := 0; i < size; i++ {
					s.ok(t, token, `mutation($u: String!, $t: [String!]) { createLink(input: {url: $u, tags: $t}) { id } }`,
						map[string]any{"u": fmt.Sprintf("https://example.com/%d", i), "t": []string{fmt.Sprintf("t%d", i%7), "all"}})
				}
				for _, q := range queries {
					sqls := log.during(func() { s.ok(t, token, q.query, nil) })
					if len(sqls) > q.max {
						t.Errorf("%s: got %d statements, want at most %d:\n%v", q.name, len(sqls), q.max, sqls)
					}
				}
				checkTagLinkCounts(t, s.ok(t, token, tagLinkCounts, nil), size)
			})
		})
	}
}

// tagLinkCounts asks for the number of links of every tag of a page of links, which
// Link.tags counts for all of its tags at once.
const tagLinkCounts = `{ links(first: 66) { nodes { tags { name links(first: 1) { totalCount } } } } }`

// checkTagLinkCounts checks the counts of tagLinkCounts on size links, link i
// tagged "all" and "t<i mod 7>".
func checkTagLinkCounts(t *testing.T, d map[string]any, size int) {
	t.Helper()
	want := map[string]int{"all": size}
	for i := 0; i < size; i++ {
		want[fmt.Sprintf("t%d", i%7)]++
	}
	for _, l := range get(t, d, "links", "nodes").([]any) {
		for _, tag := range get(t, l, "tags").([]any) {
			name := str(t, tag, "name")
			if got := get(t, tag, "links", "totalCount"); got != float64(want[name]) {
				t.Errorf("tag %s: totalCount %v, want %d", name, got, want[name])
			}
		}
	}
}
