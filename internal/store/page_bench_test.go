package store

import (
	"context"
	"fmt"
	"os"
	"syscall"
	"testing"
	"time"

	"linkapi/internal/auth"
	"linkapi/internal/linkapi"
	"linkapi/internal/store/storetest"
)

// BenchmarkLinkPage makes the store's reads of one links page as linkbench's
// list scenarios make them (the page, the tags of its links, and for the full
// shape the count; the links' account, the caller's, comes from what the
// request's authentication read), on SQLite and, with
// LINKAPI_TEST_MYSQL_URL, on MySQL, at 20 and 100 links a page:
//
//	go test -run '^$' -bench LinkPage -count 6 ./internal/store/
//
// The difference between the two page sizes, divided by 80, is what one more
// link of a page costs the store. It reads with prepared statements and
// without, whichever newStmtCache chooses for the dialect.
func BenchmarkLinkPage(b *testing.B) {
	dialects := []string{"sqlite"}
	if os.Getenv(storetest.EnvMySQLURL) != "" {
		dialects = append(dialects, "mysql")
	}
	for _, dialect := range dialects {
		b.Run(dialect, func(b *testing.B) {
			s, ctx := seedPageBench(b, storetest.URL(b, dialect))
			cache := s.reads.stmts
			chosen := cache.max
			b.Cleanup(func() { cache.max = chosen })
			for _, prepared := range []bool{false, true} {
				cache.close()
				cache.max = 0
				if prepared {
					cache.max = maxPreparedSQLite
				}
				for _, first := range []int{20, 100} {
					for _, full := range []bool{false, true} {
						b.Run(fmt.Sprintf("prepared=%v/first=%d/full=%v", prepared, first, full), func(b *testing.B) {
							b.ReportAllocs()
							start := processCPU(b)
							for b.Loop() {
								readPage(b, s, ctx, first, full)
							}
							b.ReportMetric(float64((processCPU(b)-start).Microseconds())/float64(b.N), "cpu-µs/op")
						})
					}
				}
			}
		})
	}
}

// processCPU is the CPU time the process has spent, user and system: on MySQL
// the benchmark's wall time is mostly the server's, which this leaves out.
func processCPU(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// readPage reads what a links page with tags (and, when full, totalCount and
// each link's account) reads from the store.
func readPage(b *testing.B, s *Store, ctx context.Context, first int, full bool) {
	// linkbench's pages select id, url and title of each link.
	filter := linkapi.LinkFilter{LinkPage: linkapi.LinkPage{First: first}, Fields: linkapi.LinkURL | linkapi.LinkTitle}
	page, err := s.FindLinks(ctx, filter)
	if err != nil || len(page.Links) != first {
		b.Fatalf("FindLinks: %d links, %v", len(page.Links), err)
	}
	ids := make([]int64, len(page.Links))
	for i, l := range page.Links {
		ids[i] = l.ID
	}
	tags, err := s.FindTagsByLinkIDs(ctx, ids, 0)
	if err != nil || len(tags) != first {
		b.Fatalf("FindTagsByLinkIDs: %d links, %v", len(tags), err)
	}
	if !full {
		return
	}
	if n, err := s.CountLinks(ctx, filter); err != nil || n < first {
		b.Fatalf("CountLinks: %d, %v", n, err)
	}
}

// seedPageBench makes an account of 120 links with 3 of its 20 tags each, as
// linkbench seeds them, and returns a store and the account's context.
func seedPageBench(b testing.TB, url string) (*Store, context.Context) {
	ctx := context.Background()
	db, err := Open(ctx, url)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { db.Close() })
	if err := db.Migrate(ctx); err != nil {
		b.Fatal(err)
	}
	s := New(db)
	a, err := s.CreateAccount(auth.NewContext(ctx, auth.System()), linkapi.AccountCreate{Email: "ann@example.com", Password: "password-1"})
	if err != nil {
		b.Fatal(err)
	}
	ctx = auth.NewContext(ctx, &auth.Caller{AccountID: a.ID, Scopes: auth.Expand(auth.DefaultScopes)})
	title := "A page worth keeping"
	var ins []linkapi.LinkCreate
	for i := range 120 {
		ins = append(ins, linkapi.LinkCreate{URL: fmt.Sprintf("https://example.com/articles/%d", i), Title: &title,
			Tags: []string{fmt.Sprintf("t%d", i%20), fmt.Sprintf("t%d", (i+7)%20), fmt.Sprintf("t%d", (i+13)%20)}})
	}
	for len(ins) > 0 {
		n := min(len(ins), linkapi.MaxBulkItems)
		if res, err := s.CreateLinks(ctx, ins[:n]); err != nil || len(res.Errors) > 0 {
			b.Fatal(err, res)
		}
		ins = ins[n:]
	}
	return s, ctx
}
