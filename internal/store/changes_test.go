package store

import (
	"context"
	"errors"
	"fmt"
	"math/rand"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"linkapi/internal/auth"
	"linkapi/internal/linkapi"
	"linkapi/internal/store/storetest"
)

// ctAs returns a context whose caller is account, with every scope an owner has.
func ctAs(account int64) context.Context {
	return auth.NewContext(context.Background(), &auth.Caller{AccountID: account,
		Scopes: []string{auth.LinksWrite, auth.TagsWrite, auth.AccountWrite}})
}

// ctRow is a feed row as the test reads it, straight from the table.
type ctRow struct {
	AccountID  int64
	Seq        int64
	Kind       string
	ObjectType string
	ObjectID   int64
}

func (r ctRow) key() string {
	return fmt.Sprintf("%d %s %s %d", r.AccountID, r.Kind, r.ObjectType, r.ObjectID)
}

func ctRows(t *testing.T, db *DB) []ctRow {
	t.Helper()
	var rows []ctRow
	if err := db.orm.Raw(`SELECT account_id, seq, kind, object_type, object_id FROM changes ORDER BY account_id, seq`).Scan(&rows).Error; err != nil {
		t.Fatal(err)
	}
	return rows
}

// ctWant is what a writer expects the feed to hold: for each object, in the
// order it made them, the changes that succeeded.
type ctWant struct {
	mu  sync.Mutex
	per map[string][]string // "account type id" -> kinds in order
	n   int
}

func (w *ctWant) add(account int64, kind linkapi.ChangeKind, typ string, id int64) {
	w.mu.Lock()
	defer w.mu.Unlock()
	k := fmt.Sprintf("%d %s %d", account, typ, id)
	w.per[k] = append(w.per[k], string(kind))
	w.n++
}

// TestChangesUnderConcurrentWriters has writers of two accounts make a seeded
// random mix of link and tag writes at once, some of which fail, and checks that
// the feed holds exactly one row for each write that succeeded and none for one
// that failed, that each account's rows are numbered 1..n without a gap, and
// that each object's changes are numbered in the order they were made: commit
// order, since a writer makes its next write only after the last committed.
func TestChangesUnderConcurrentWriters(t *testing.T) {
	storetest.ForEachDB(t, func(t *testing.T, url string) {
		db := dbtOpen(t, url)
		s := New(db)
		accounts := []int64{dbtAccount(t, db, "ann@example.com"), dbtAccount(t, db, "bob@example.com")}
		want := &ctWant{per: map[string][]string{}}
		const writers, ops = 4, 30
		var wg sync.WaitGroup
		errc := make(chan error, len(accounts)*writers)
		for _, account := range accounts {
			for w := 0; w < writers; w++ {
				wg.Add(1)
				go func(account int64, seed int64) {
					defer wg.Done()
					errc <- ctWriter(s, ctAs(account), account, rand.New(rand.NewSource(seed)), ops, want)
				}(account, account*100+int64(w))
			}
		}
		wg.Wait()
		close(errc)
		for err := range errc {
			if err != nil {
				t.Fatal(err)
			}
		}
		rows := ctRows(t, db)
		if len(rows) != want.n {
			t.Errorf("feed rows: got %d, want %d, one for each write that succeeded", len(rows), want.n)
		}
		got := map[string][]string{}
		next := map[int64]int64{}
		for _, r := range rows {
			next[r.AccountID]++
			if r.Seq != next[r.AccountID] {
				t.Fatalf("account %d: seq %d where %d was next: the numbering has a gap or a repeat", r.AccountID, r.Seq, next[r.AccountID])
			}
			k := fmt.Sprintf("%d %s %d", r.AccountID, r.ObjectType, r.ObjectID)
			got[k] = append(got[k], r.Kind)
		}
		for _, account := range accounts {
			var last int64
			if err := db.orm.Raw(`SELECT change_seq FROM accounts WHERE id = ?`, account).Scan(&last).Error; err != nil {
				t.Fatal(err)
			}
			if last != next[account] {
				t.Errorf("account %d: change_seq %d, but %d rows", account, last, next[account])
			}
		}
		for k, kinds := range want.per {
			if !slices.Equal(got[k], kinds) {
				t.Errorf("%s: feed holds %v, want %v in that order", k, got[k], kinds)
			}
		}
		for k := range got {
			if want.per[k] == nil {
				t.Errorf("%s: feed holds %v for an object no write changed", k, got[k])
			}
		}

		// The feed as the account reads it, a page at a time, is the same rows in
		// the same order.
		for _, account := range accounts {
			var read []string
			var after *linkapi.ChangePosition
			for {
				page, err := s.FindChanges(ctAs(account), linkapi.ChangeFilter{First: 7, After: after})
				if err != nil {
					t.Fatal(err)
				}
				for _, c := range page.Changes {
					read = append(read, fmt.Sprintf("%d %s %s %d", c.AccountID, c.Kind, c.ObjectType, c.ObjectID))
				}
				end := page.End
				after = &end
				if !page.HasNextPage {
					break
				}
			}
			var direct []string
			for _, r := range rows {
				if r.AccountID == account {
					direct = append(direct, r.key())
				}
			}
			if !slices.Equal(read, direct) {
				t.Errorf("account %d: FindChanges read %d changes %v,\nthe table holds %d %v", account, len(read), read, len(direct), direct)
			}
		}
	})
}

// ctWriter makes ops random writes on objects of its own, recording in want
// those that succeeded, and fails only on an error it did not expect.
func ctWriter(s *Store, ctx context.Context, account int64, rnd *rand.Rand, ops int, want *ctWant) error {
	var links, tags, gone []int64
	paired := map[[2]int64]bool{}
	pick := func(ids []int64) int64 { return ids[rnd.Intn(len(ids))] }
	for i := 0; i < ops; i++ {
		switch op := rnd.Intn(9); {
		case op == 0 || len(links) == 0:
			l, err := s.CreateLink(ctx, linkapi.LinkCreate{URL: fmt.Sprintf("https://example.com/%d/%d", account, rnd.Int63())})
			if err != nil {
				return err
			}
			links = append(links, l.ID)
			want.add(account, linkapi.ChangeCreated, linkapi.ObjectLink, l.ID)
		case op == 1 || len(tags) == 0:
			tg, err := s.CreateTag(ctx, linkapi.TagCreate{Name: fmt.Sprintf("t%d", rnd.Int63())})
			if err != nil {
				return err
			}
			tags = append(tags, tg.ID)
			want.add(account, linkapi.ChangeCreated, linkapi.ObjectTag, tg.ID)
		case op == 2:
			id := pick(links)
			title := fmt.Sprint(i)
			if _, err := s.UpdateLink(ctx, id, linkapi.LinkUpdate{Title: &title}); err != nil {
				return err
			}
			want.add(account, linkapi.ChangeUpdated, linkapi.ObjectLink, id)
		case op == 3:
			id := pick(links)
			if err := s.DeleteLink(ctx, id); err != nil {
				return err
			}
			links = slices.DeleteFunc(links, func(x int64) bool { return x == id })
			gone = append(gone, id)
			want.add(account, linkapi.ChangeDeleted, linkapi.ObjectLink, id)
		case op == 4:
			l, tg := pick(links), pick(tags)
			if _, err := s.TagLink(ctx, l, tg); err != nil {
				return err
			}
			if !paired[[2]int64{l, tg}] { // tagging again changes nothing
				want.add(account, linkapi.ChangeUpdated, linkapi.ObjectLink, l)
			}
			paired[[2]int64{l, tg}] = true
		case op == 5:
			l, tg := pick(links), pick(tags)
			if _, err := s.UntagLink(ctx, l, tg); err != nil {
				return err
			}
			if paired[[2]int64{l, tg}] {
				want.add(account, linkapi.ChangeUpdated, linkapi.ObjectLink, l)
			}
			delete(paired, [2]int64{l, tg})
		case op == 6:
			id := pick(tags)
			if _, err := s.RenameTag(ctx, id, fmt.Sprintf("r%d", rnd.Int63())); err != nil {
				return err
			}
			want.add(account, linkapi.ChangeUpdated, linkapi.ObjectTag, id)
		case op == 7:
			id := pick(tags)
			if err := s.DeleteTag(ctx, id); err != nil {
				return err
			}
			tags = slices.DeleteFunc(tags, func(x int64) bool { return x == id })
			for p := range paired {
				if p[1] == id {
					delete(paired, p)
				}
			}
			want.add(account, linkapi.ChangeDeleted, linkapi.ObjectTag, id)
		case op == 8 && len(gone) > 0:
			// Writes that fail record nothing.
			title := "x"
			if _, err := s.UpdateLink(ctx, pick(gone), linkapi.LinkUpdate{Title: &title}); linkapi.ErrorCode(err) != linkapi.ENOTFOUND {
				return fmt.Errorf("updating a deleted link: got %v, want NOT_FOUND", err)
			}
			if err := s.DeleteLink(ctx, pick(gone)); linkapi.ErrorCode(err) != linkapi.ENOTFOUND {
				return fmt.Errorf("deleting a deleted link: got %v, want NOT_FOUND", err)
			}
		}
	}
	return nil
}

// ctFailKey marks a context whose statement inserting feed rows fails after it
// has run, as a failure between the feed write and the commit would.
type ctFailKey struct{}

var feedInsert = regexp.MustCompile("(?i)^INSERT INTO [`\"]?changes[`\"]?")

// ctSnapshot is every row of the tables a write of links or tags touches.
func ctSnapshot(t *testing.T, db *DB) string {
	t.Helper()
	var b strings.Builder
	for _, q := range []string{
		`SELECT id, link_count, text_bytes, change_seq FROM accounts ORDER BY id`,
		`SELECT id, account_id, url, COALESCE(title, ''), COALESCE(description, '') FROM links ORDER BY id`,
		`SELECT id, account_id, name FROM tags ORDER BY id`,
		`SELECT link_id, tag_id FROM link_tags ORDER BY link_id, tag_id`,
		`SELECT account_id, seq, kind, object_type, object_id FROM changes ORDER BY id`,
	} {
		rows, err := db.orm.Raw(q).Rows()
		if err != nil {
			t.Fatal(err)
		}
		cols, _ := rows.Columns()
		for rows.Next() {
			vals := make([]any, len(cols))
			ptrs := make([]any, len(cols))
			for i := range vals {
				ptrs[i] = &vals[i]
			}
			if err := rows.Scan(ptrs...); err != nil {
				t.Fatal(err)
			}
			for _, v := range vals {
				if bs, ok := v.([]byte); ok {
					v = string(bs)
				}
				fmt.Fprintf(&b, "%v ", v)
			}
			b.WriteString("\n")
		}
		rows.Close()
		b.WriteString("--\n")
	}
	return b.String()
}

// TestChangesRollBackWithTheirWrite fails each kind of write after its feed rows
// were inserted and checks that neither the write nor its feed rows remain, then
// lets it succeed and checks that both do.
func TestChangesRollBackWithTheirWrite(t *testing.T) {
	storetest.ForEachDB(t, func(t *testing.T, url string) {
		db := dbtOpen(t, url)
		injected := errors.New("injected after the feed write")
		if err := db.OnStatement(func(ctx context.Context, st Statement) error {
			if ctx.Value(ctFailKey{}) != nil && feedInsert.MatchString(st.SQL) {
				return injected
			}
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		s := New(db)
		ann := dbtAccount(t, db, "ann@example.com")
		link := dbtLink(t, db, ann, "https://example.com/kept")
		tag := dbtTag(t, db, ann, "kept")
		other := dbtTag(t, db, ann, "other")
		if err := dbtInsertPair(db, link, other, ann); err != nil {
			t.Fatal(err)
		}
		title := "new title"
		for _, w := range []struct {
			name  string
			write func(ctx context.Context) error
		}{
			{"createLink", func(ctx context.Context) error {
				_, err := s.CreateLink(ctx, linkapi.LinkCreate{URL: "https://example.com/new", Tags: []string{"kept", "fresh"}})
				return err
			}},
			{"updateLink", func(ctx context.Context) error {
				_, err := s.UpdateLink(ctx, link, linkapi.LinkUpdate{Title: &title})
				return err
			}},
			{"tagLink", func(ctx context.Context) error { _, err := s.TagLink(ctx, link, tag); return err }},
			{"untagLink", func(ctx context.Context) error { _, err := s.UntagLink(ctx, link, other); return err }},
			{"createTag", func(ctx context.Context) error {
				_, err := s.CreateTag(ctx, linkapi.TagCreate{Name: "made"})
				return err
			}},
			{"renameTag", func(ctx context.Context) error { _, err := s.RenameTag(ctx, tag, "renamed"); return err }},
			{"importLinks", func(ctx context.Context) error {
				_, err := s.ImportLinks(ctx, nil, []linkapi.LinkImport{{LinkCreate: linkapi.LinkCreate{URL: "https://example.com/imported", Tags: []string{"imp"}}}})
				return err
			}},
			{"deleteTag", func(ctx context.Context) error { return s.DeleteTag(ctx, other) }},
			{"deleteLink", func(ctx context.Context) error { return s.DeleteLink(ctx, link) }},
		} {
			before := ctSnapshot(t, db)
			err := w.write(context.WithValue(ctAs(ann), ctFailKey{}, true))
			if !errors.Is(err, injected) {
				t.Fatalf("%s failing after its feed write: got %v, want the injected error", w.name, err)
			}
			if after := ctSnapshot(t, db); after != before {
				t.Errorf("%s rolled back, yet the tables changed:\nbefore\n%s\nafter\n%s", w.name, before, after)
			}
			feed := len(ctRows(t, db))
			if err := w.write(ctAs(ann)); err != nil {
				t.Fatalf("%s: %v", w.name, err)
			}
			if after := ctSnapshot(t, db); after == before || len(ctRows(t, db)) <= feed {
				t.Errorf("%s succeeded, yet recorded no change:\n%s", w.name, after)
			}
		}
	})
}

// TestChangesExpire prunes changes older than the retention, keeps younger ones
// and the newest of all, and answers CURSOR_EXPIRED for a cursor before what
// was pruned, without waiting: the store's clock is moved instead.
func TestChangesExpire(t *testing.T) {
	storetest.ForEachDB(t, func(t *testing.T, url string) {
		db := dbtOpen(t, url)
		now := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
		var mu sync.Mutex
		clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
		advance := func(d time.Duration) { mu.Lock(); now = now.Add(d); mu.Unlock() }
		s := New(db, WithClock(clock))
		ann, bob := dbtAccount(t, db, "ann@example.com"), dbtAccount(t, db, "bob@example.com")
		asAnn := ctAs(ann)
		start, err := s.LatestChange(asAnn, nil)
		if err != nil || start != (linkapi.ChangePosition{Account: ann}) {
			t.Fatalf("LatestChange of a new account: %+v, %v", start, err)
		}
		l1, err := s.CreateLink(asAnn, linkapi.LinkCreate{URL: "https://example.com/1"})
		if err != nil {
			t.Fatal(err)
		}
		first, _ := s.LatestChange(asAnn, nil)
		if err := s.DeleteLink(asAnn, l1.ID); err != nil {
			t.Fatal(err)
		}
		if _, err := s.CreateLink(ctAs(bob), linkapi.LinkCreate{URL: "https://example.com/b"}); err != nil {
			t.Fatal(err)
		}
		advance(linkapi.ChangeRetention - time.Hour)
		if n, err := s.PruneChanges(context.Background()); err != nil || n != 0 {
			t.Fatalf("pruning within the retention: %d, %v; want 0", n, err)
		}
		if _, err := s.FindChanges(asAnn, linkapi.ChangeFilter{First: 10, After: &start}); err != nil {
			t.Fatalf("a cursor within the retention: %v", err)
		}
		advance(2 * time.Hour)
		// Ann writes again; her first two changes and bob's one are past the retention.
		if _, err := s.CreateLink(asAnn, linkapi.LinkCreate{URL: "https://example.com/2"}); err != nil {
			t.Fatal(err)
		}
		if n, err := s.PruneChanges(context.Background()); err != nil || n != 3 {
			t.Fatalf("pruning past the retention: %d, %v; want 3", n, err)
		}
		for name, after := range map[string]linkapi.ChangePosition{"the start": start, "the first change": first} {
			if _, err := s.FindChanges(asAnn, linkapi.ChangeFilter{First: 10, After: &after}); linkapi.ErrorCode(err) != linkapi.ECURSOREXPIRED {
				t.Errorf("a cursor at %s, pruned past: got %v, want CURSOR_EXPIRED", name, err)
			}
		}
		// Bob's feed has nothing left, but he had a change after his start.
		if _, err := s.FindChanges(ctAs(bob), linkapi.ChangeFilter{First: 10, After: &linkapi.ChangePosition{Account: bob}}); linkapi.ErrorCode(err) != linkapi.ECURSOREXPIRED {
			t.Errorf("bob's start, all pruned: got %v, want CURSOR_EXPIRED", err)
		}
		if page, err := s.FindChanges(ctAs(bob), linkapi.ChangeFilter{First: 10, After: &linkapi.ChangePosition{Account: bob, Seq: 1}}); err != nil || len(page.Changes) != 0 {
			t.Errorf("bob's latest cursor, all pruned: got %v, %v; want an empty page", page, err)
		}
		if _, err := s.FindChanges(ctAs(bob), linkapi.ChangeFilter{First: 10, After: &linkapi.ChangePosition{Account: bob, Seq: 9}}); linkapi.ErrorCode(err) != linkapi.EINVALID {
			t.Errorf("a cursor past bob's newest change: got %v, want BAD_USER_INPUT", err)
		}
		second := linkapi.ChangePosition{Account: ann, Seq: 2}
		page, err := s.FindChanges(asAnn, linkapi.ChangeFilter{First: 10, After: &second})
		if err != nil || len(page.Changes) != 1 || page.Changes[0].Position.Seq != 3 {
			t.Fatalf("a cursor at the last pruned change: got %+v, %v; want change 3", page, err)
		}
		if _, err := s.FindChanges(ctAs(bob), linkapi.ChangeFilter{First: 10, After: &second}); linkapi.ErrorCode(err) != linkapi.EINVALID {
			t.Errorf("ann's cursor in bob's feed: got %v, want BAD_USER_INPUT", err)
		}
		// The pruner never empties the feed, so that an administrator's cursor
		// before the oldest row kept is known to be expired.
		advance(2 * linkapi.ChangeRetention)
		if n, err := s.PruneChanges(context.Background()); err != nil || n != 0 {
			t.Fatalf("pruning the newest row: %d, %v; want 0", n, err)
		}
		admin := auth.NewContext(context.Background(), &auth.Caller{AccountID: bob, Scopes: []string{auth.AdminRead}})
		if _, err := s.FindChanges(admin, linkapi.ChangeFilter{First: 10, After: &linkapi.ChangePosition{Seq: 1}}); linkapi.ErrorCode(err) != linkapi.ECURSOREXPIRED {
			t.Errorf("an administrator's cursor before the oldest kept: got %v, want CURSOR_EXPIRED", err)
		}
	})
}
