package store

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"gorm.io/gorm"

	"linkapi/internal/auth"
	"linkapi/internal/linkapi"
	"linkapi/internal/store/storetest"
)

// The gorm statements the hand-written reads replaced, kept here as what those
// must answer.

func gormLinkQuery(s *Store, ctx context.Context, filter linkapi.LinkFilter) (*gorm.DB, error) {
	names, err := linkFilterNames(filter)
	if err != nil {
		return nil, err
	}
	tn, err := s.listTenant(ctx, filter.AccountID)
	if err != nil {
		return nil, err
	}
	tx := tn.table(&linkRow{})
	if filter.TagID != nil {
		tx = tx.Where("links.id IN (?)", tn.table(&linkTagRow{}).Select("link_tags.link_id").Where("link_tags.tag_id = ?", *filter.TagID))
	}
	tagged := func(names []string) *gorm.DB {
		return tn.table(&linkTagRow{}).
			Select("link_tags.link_id").
			Joins("JOIN tags ON tags.id = link_tags.tag_id").
			Where("tags.name IN ?", names)
	}
	for _, name := range names[0] {
		tx = tx.Where("links.id IN (?)", tagged([]string{name}))
	}
	if len(names[1]) > 0 {
		tx = tx.Where("links.id IN (?)", tagged(names[1]))
	}
	if len(names[2]) > 0 {
		tx = tx.Where("links.id NOT IN (?)", tagged(names[2]))
	}
	for _, f := range []struct {
		column string
		v      *bool
	}{{"links.unread", filter.Unread}, {"links.archived", filter.Archived}, {"links.favorite", filter.Favorite}} {
		if f.v != nil {
			tx = tx.Where(f.column+" = ?", *f.v)
		}
	}
	if filter.UpdatedSince != nil {
		tx = tx.Where("links.updated_at >= ?", filter.UpdatedSince.UTC())
	}
	if filter.Search != nil && *filter.Search != "" {
		p := likePattern(*filter.Search)
		tx = tx.Where("(links.url LIKE ? ESCAPE '!' OR links.title LIKE ? ESCAPE '!')", p, p)
	}
	return tx, nil
}

func gormFindLinks(s *Store, ctx context.Context, filter linkapi.LinkFilter) (*linkapi.LinkList, error) {
	if err := checkCursor(filter.LinkPage, filter.Order); err != nil {
		return nil, err
	}
	tx, err := gormLinkQuery(s, ctx, filter)
	if err != nil {
		return nil, err
	}
	var rows []linkRow
	if err := afterCursor(tx, filter.After).Order(orderClause(filter.Order)).Limit(filter.First + 1).Find(&rows).Error; err != nil {
		return nil, err
	}
	rows, more := trimPage(rows, filter.First)
	return &linkapi.LinkList{Links: domains(rows, (*linkRow).domain), HasNextPage: more}, nil
}

func gormCountLinks(s *Store, ctx context.Context, filter linkapi.LinkFilter) (int, error) {
	tx, err := gormLinkQuery(s, ctx, filter)
	if err != nil {
		return 0, err
	}
	var n int64
	err = tx.Count(&n).Error
	return int(n), err
}

func gormFindTagsByLinkIDs(s *Store, ctx context.Context, linkIDs []int64) (map[int64][]*linkapi.Tag, error) {
	tx, _, err := s.owned(ctx, reading, &linkTagRow{})
	if err != nil {
		return nil, err
	}
	var rows []tagJoinRow
	err = tx.Select("tags.id, tags.account_id, tags.name, tags.created_at, link_tags.link_id").
		Joins("CROSS JOIN tags ON tags.id = link_tags.tag_id AND tags.account_id = link_tags.account_id").
		Where("link_tags.link_id IN ?", linkIDs).
		Order("tags.name, tags.id").Scan(&rows).Error
	if err != nil {
		return nil, err
	}
	out := map[int64][]*linkapi.Tag{}
	for i := range rows {
		out[rows[i].LinkID] = append(out[rows[i].LinkID], rows[i].domain())
	}
	return out, nil
}

func gormFindAccountsByIDs(s *Store, ctx context.Context, ids []int64) (map[int64]*linkapi.Account, error) {
	tx, _, err := s.owned(ctx, reading, &accountRow{})
	if err != nil {
		return nil, err
	}
	var rows []accountRow
	if err := tx.Where("accounts.id IN ?", ids).Find(&rows).Error; err != nil {
		return nil, err
	}
	out := make(map[int64]*linkapi.Account, len(rows))
	for i := range rows {
		out[rows[i].ID] = rows[i].domain()
	}
	return out, nil
}

// readsWorld is what seedReads made: two accounts whose links share URLs, tag
// names and times, and an administrator.
type readsWorld struct {
	s                  *Store
	db                 *DB
	ann, bob           int64
	annCtx, bobCtx     context.Context
	adminCtx           context.Context
	annLinks, bobLinks []int64
	annTag             int64
	since              time.Time
}

// seedReads gives ann 23 links and bob 9, made two at a time on one clock tick
// (so that orders by time have ties for the id to break), with titles missing,
// repeated and of characters LIKE treats apart, every flag, notes, and 0 to 3 of
// five tags of each account's own of the same names; some are changed later.
func seedReads(t *testing.T, url string) *readsWorld {
	db := dbtOpen(t, url)
	var mu sync.Mutex
	tick := time.Date(2026, 12, 3, 12, 0, 0, 123456000, time.UTC)
	calls := 0
	clock := func() time.Time {
		mu.Lock()
		defer mu.Unlock()
		calls++
		if calls%2 == 0 {
			tick = tick.Add(1500 * time.Microsecond)
		}
		return tick
	}
	s := New(db, WithClock(clock))
	sys := auth.NewContext(context.Background(), auth.System())
	w := &readsWorld{s: s, db: db}
	mk := func(email string) (int64, context.Context) {
		a, err := s.CreateAccount(sys, linkapi.AccountCreate{Email: email, Password: "password-1"})
		if err != nil {
			t.Fatal(err)
		}
		return a.ID, auth.NewContext(context.Background(), &auth.Caller{AccountID: a.ID, Scopes: auth.Expand(auth.DefaultScopes)})
	}
	w.ann, w.annCtx = mk("ann@example.com")
	w.bob, w.bobCtx = mk("bob@example.com")
	root, _ := mk("root@example.com")
	w.adminCtx = auth.NewContext(context.Background(), &auth.Caller{AccountID: root, Scopes: auth.Expand([]string{auth.AdminRead})})
	titles := []string{"", "Go", "go", "Alpha", "100% pure_go!", "Go"}
	add := func(ctx context.Context, n int) []int64 {
		var ids []int64
		for i := range n {
			in := linkapi.LinkCreate{URL: fmt.Sprintf("https://example.com/%d", i), Unread: i%2 == 0, Archived: i%3 == 0, Favorite: i%4 == 0}
			if title := titles[i%len(titles)]; title != "" {
				in.Title = &title
			}
			if i%5 == 1 {
				note := "a note"
				in.Notes = &note
			}
			if i%3 == 1 {
				icon, image := fmt.Sprintf("https://example.com/%d.ico", i), fmt.Sprintf("https://example.com/%d.png", i)
				in.FaviconURL, in.PreviewImageURL = &icon, &image
			}
			for k := range i % 4 {
				in.Tags = append(in.Tags, fmt.Sprintf("t%d", (i+k)%5))
			}
			l, err := s.CreateLink(ctx, in)
			if err != nil {
				t.Fatal(err)
			}
			ids = append(ids, l.ID)
		}
		return ids
	}
	w.annLinks = add(w.annCtx, 23)
	w.bobLinks = add(w.bobCtx, 9)
	w.since = clock()
	for _, id := range []int64{w.annLinks[3], w.annLinks[10]} {
		desc := "changed"
		if _, err := s.UpdateLink(w.annCtx, id, linkapi.LinkUpdate{Description: &desc}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s.UpdateLink(w.bobCtx, w.bobLinks[2], linkapi.LinkUpdate{Tags: []string{"t1"}}); err != nil {
		t.Fatal(err)
	}
	tags, err := s.FindTags(w.annCtx, linkapi.TagFilter{Page: linkapi.Page{First: 10}})
	if err != nil || len(tags.Tags) == 0 {
		t.Fatal(tags, err)
	}
	w.annTag = tags.Tags[0].ID
	return w
}

// readFilters are the filters the reads are compared under.
func (w *readsWorld) readFilters() map[string]linkapi.LinkFilter {
	ptr := func(b bool) *bool { return &b }
	str := func(s string) *string { return &s }
	bob := w.bob
	return map[string]linkapi.LinkFilter{
		"none":           {},
		"tag id":         {TagID: &w.annTag},
		"tag name":       {TagName: str("t1")},
		"every tag":      {Tags: []string{"t1", "t2"}},
		"any tag":        {AnyTags: []string{"t0", "t3"}},
		"no tag":         {ExcludeTags: []string{"t1"}},
		"flags":          {Unread: ptr(true), Archived: ptr(false)},
		"favorite":       {Favorite: ptr(true)},
		"search":         {Search: str("go")},
		"search escapes": {Search: str("100% pure_")},
		"updated since":  {UpdatedSince: &w.since},
		"bob's":          {AccountID: &bob},
		"all at once":    {TagName: str("t2"), ExcludeTags: []string{"t4"}, Unread: ptr(false), Search: str("example")},
	}
}

// TestHandWrittenReadsAnswerAsGorm reads every page of every filter in every
// order, as the account, another and an administrator, and each count, tags
// and accounts of them, by hand and through the gorm statements they replaced:
// the answers, errors included, are the same.
func TestHandWrittenReadsAnswerAsGorm(t *testing.T) {
	storetest.ForEachDB(t, func(t *testing.T, url string) {
		w := seedReads(t, url)
		callers := map[string]context.Context{"ann": w.annCtx, "bob": w.bobCtx, "admin": w.adminCtx}
		for cname, ctx := range callers {
			for fname, filter := range w.readFilters() {
				for order := range linkOrders {
					name := cname + ", " + fname + ", " + string(order)
					filter.Order, filter.First, filter.After = order, 4, linkapi.LinkCursor{}
					for page := 0; ; page++ {
						got, err := w.s.FindLinks(ctx, filter)
						want, werr := gormFindLinks(w.s, ctx, filter)
						if !reflect.DeepEqual(got, want) || !sameError(err, werr) {
							t.Fatalf("%s, page %d: got %s, %v; want %s, %v", name, page, listString(got), err, listString(want), werr)
						}
						if err != nil {
							break
						}
						ids := make([]int64, len(got.Links))
						for i, l := range got.Links {
							ids[i] = l.ID
						}
						tags, err := w.s.FindTagsByLinkIDs(ctx, ids, linkapi.AllTagFields)
						wantTags, werr := gormFindTagsByLinkIDs(w.s, ctx, ids)
						if !reflect.DeepEqual(tags, wantTags) || err != nil || werr != nil {
							t.Fatalf("%s, page %d: tags %v, %v; want %v, %v", name, page, tags, err, wantTags, werr)
						}
						// Asked for no field beyond the name: the same tags, timeless.
						bare, err := w.s.FindTagsByLinkIDs(ctx, ids, 0)
						if want := withoutTimes(wantTags); !reflect.DeepEqual(bare, want) || err != nil {
							t.Fatalf("%s, page %d: tags without fields %v, %v; want %v", name, page, bare, err, want)
						}
						if !got.HasNextPage {
							break
						}
						filter.After = linkapi.CursorOf(got.Links[len(got.Links)-1], order)
					}
				}
				n, err := w.s.CountLinks(ctx, filter)
				want, werr := gormCountLinks(w.s, ctx, filter)
				if n != want || !sameError(err, werr) {
					t.Errorf("%s, %s: count %d, %v; want %d, %v", cname, fname, n, err, want, werr)
				}
			}
			ids := []int64{w.ann, w.bob, w.ann, 0, -1, 99999}
			got, err := w.s.FindAccountsByIDs(ctx, ids)
			want, werr := gormFindAccountsByIDs(w.s, ctx, ids)
			if !reflect.DeepEqual(got, want) || err != nil || werr != nil {
				t.Errorf("%s: accounts %v, %v; want %v, %v", cname, got, err, want, werr)
			}
		}
		// Bad input is refused alike, before any statement.
		long := strings.Repeat("x", linkapi.MaxSearchLength+1)
		for name, filter := range map[string]linkapi.LinkFilter{
			"long search": {Search: &long},
			"bad tag":     {Tags: []string{"  "}},
			"cursor":      {Order: linkapi.OrderTitleAsc, LinkPage: linkapi.LinkPage{After: linkapi.LinkCursor{ID: 1, Order: linkapi.OrderCreatedDesc}}},
			"other's":     {AccountID: &w.ann},
		} {
			_, err := w.s.FindLinks(w.bobCtx, filter)
			_, werr := gormFindLinks(w.s, w.bobCtx, filter)
			if err == nil || !sameError(err, werr) {
				t.Errorf("%s: got %v, want %v", name, err, werr)
			}
		}
		if _, err := w.s.FindLinks(context.Background(), linkapi.LinkFilter{}); linkapi.ErrorCode(err) != linkapi.EUNAUTHENTICATED {
			t.Errorf("anonymous: got %v, want UNAUTHENTICATED", err)
		}
	})
}

func sameError(a, b error) bool {
	if a == nil || b == nil {
		return a == b
	}
	return linkapi.ErrorCode(a) == linkapi.ErrorCode(b) && a.Error() == b.Error()
}

func listString(l *linkapi.LinkList) string {
	if l == nil {
		return "nil"
	}
	var b strings.Builder
	for _, x := range l.Links {
		fmt.Fprintf(&b, "%+v ", *x)
	}
	return fmt.Sprintf("[%s] more=%v", b.String(), l.HasNextPage)
}

// TestHandWrittenReadsStayInTheAccount reads, as ann, every filter with bob's
// ids, names and URLs in play: no row of bob's comes back, and every statement
// sent begins with the tenant filter on ann's account, in its main query and in
// each subquery; as an administrator naming bob, with his.
// TestFindLinksFillsTheFieldsAsked checks that a page read for some fields
// fills those, the order's (unless NoCursors) and the ids as gorm's read of
// every field does, leaves the others zero, and pages on by its cursors as that
// read does.
func TestFindLinksFillsTheFieldsAsked(t *testing.T) {
	if got := linkFieldsColumns(linkapi.AllLinkFields); got != linkColumns {
		t.Fatalf("the columns of every field = %q, want linkColumns %q", got, linkColumns)
	}
	storetest.ForEachDB(t, func(t *testing.T, url string) {
		w := seedReads(t, url)
		asks := []linkapi.LinkFields{linkapi.LinkURL | linkapi.LinkFlags, linkapi.LinkTitle | linkapi.LinkUpdatedAt}
		for _, c := range linkFieldColumns {
			asks = append(asks, c.field)
		}
		for order := range linkOrders {
			for _, ask := range asks {
				for _, noCursors := range []bool{false, true} {
					name := fmt.Sprintf("%s, fields %b, no cursors %v", order, ask, noCursors)
					all := linkapi.LinkFilter{Order: order, LinkPage: linkapi.LinkPage{First: 3}}
					some := all
					some.Fields, some.NoCursors = ask, noCursors
					filled := ask | linkapi.OrderField(order)
					if noCursors {
						filled = ask
					}
					for page := 0; ; page++ {
						want, err := gormFindLinks(w.s, w.annCtx, all)
						if err != nil {
							t.Fatal(err)
						}
						got, err := w.s.FindLinks(w.annCtx, some)
						if err != nil {
							t.Fatalf("%s, page %d: %v", name, page, err)
						}
						if len(got.Links) != len(want.Links) || got.HasNextPage != want.HasNextPage {
							t.Fatalf("%s, page %d: %s, want %s", name, page, listString(got), listString(want))
						}
						for i, l := range got.Links {
							if wl := onlyFields(*want.Links[i], filled); !reflect.DeepEqual(*l, wl) {
								t.Fatalf("%s, page %d: link %d = %+v, want %+v", name, page, i, *l, wl)
							}
						}
						if !got.HasNextPage {
							break
						}
						all.After = linkapi.CursorOf(want.Links[len(want.Links)-1], order)
						if noCursors {
							some.After = all.After
							continue
						}
						some.After = linkapi.CursorOf(got.Links[len(got.Links)-1], order)
						if some.After != all.After {
							t.Fatalf("%s, page %d: cursor %+v, want %+v", name, page, some.After, all.After)
						}
					}
				}
			}
		}
	})
}

// withoutTimes is tags with copies of their tags, each with a zero CreatedAt.
func withoutTimes(tags map[int64][]*linkapi.Tag) map[int64][]*linkapi.Tag {
	if tags == nil {
		return nil
	}
	out := make(map[int64][]*linkapi.Tag, len(tags))
	for link, list := range tags {
		for _, t := range list {
			c := *t
			c.CreatedAt = time.Time{}
			out[link] = append(out[link], &c)
		}
	}
	return out
}

// onlyFields is l with only its ids and fields set.
func onlyFields(l linkapi.Link, fields linkapi.LinkFields) linkapi.Link {
	out := linkapi.Link{ID: l.ID, AccountID: l.AccountID}
	set := func(f linkapi.LinkFields, copy func()) {
		if fields&f != 0 {
			copy()
		}
	}
	set(linkapi.LinkURL, func() { out.URL = l.URL })
	set(linkapi.LinkTitle, func() { out.Title = l.Title })
	set(linkapi.LinkDescription, func() { out.Description = l.Description })
	set(linkapi.LinkNotes, func() { out.Notes = l.Notes })
	set(linkapi.LinkFlags, func() { out.Unread, out.Archived, out.Favorite = l.Unread, l.Archived, l.Favorite })
	set(linkapi.LinkFaviconURL, func() { out.FaviconURL = l.FaviconURL })
	set(linkapi.LinkPreviewImageURL, func() { out.PreviewImageURL = l.PreviewImageURL })
	set(linkapi.LinkCreatedAt, func() { out.CreatedAt = l.CreatedAt })
	set(linkapi.LinkUpdatedAt, func() { out.UpdatedAt = l.UpdatedAt })
	return out
}

func TestHandWrittenReadsStayInTheAccount(t *testing.T) {
	storetest.ForEachDB(t, func(t *testing.T, url string) {
		w := seedReads(t, url)
		var mu sync.Mutex
		var sent []Statement
		if err := w.db.OnStatement(func(_ context.Context, st Statement) error {
			mu.Lock()
			defer mu.Unlock()
			sent = append(sent, st)
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		during := func(fn func()) []Statement {
			mu.Lock()
			sent = nil
			mu.Unlock()
			fn()
			mu.Lock()
			defer mu.Unlock()
			return sent
		}
		confined := func(name string, sts []Statement, account int64) {
			t.Helper()
			if len(sts) != 1 {
				t.Fatalf("%s: sent %d statements, want 1: %v", name, len(sts), sts)
			}
			st := sts[0]
			// Each read of an owned table is followed at once by its filter.
			for table, owner := range map[string]string{"links": "account_id", "link_tags": "account_id", "accounts": "id"} {
				from := strings.Count(st.SQL, "FROM "+table+" ")
				owned := 0
				for _, join := range []string{"", "JOIN tags ON tags.id = link_tags.tag_id ",
					"CROSS JOIN tags ON tags.id = link_tags.tag_id AND tags.account_id = link_tags.account_id "} {
					owned += strings.Count(st.SQL, "FROM "+table+" "+join+"WHERE "+table+"."+owner+" = ?")
				}
				if from != owned {
					t.Errorf("%s: %d reads of %s, %d of them through the tenant filter:\n%s", name, from, table, owned, st.SQL)
				}
			}
			n := 0
			for _, v := range st.Vars {
				if v == any(account) {
					n++
				}
			}
			if want := strings.Count(st.SQL, "account_id = ?") + strings.Count(st.SQL, "accounts.id = ?"); n < want {
				t.Errorf("%s: %d of the %d tenant filters on account %d:\n%s %v", name, n, want, account, st.SQL, st.Vars)
			}
		}
		for fname, filter := range w.readFilters() {
			if filter.AccountID != nil {
				continue
			}
			filter.First = 100
			var page *linkapi.LinkList
			sts := during(func() {
				var err error
				if page, err = w.s.FindLinks(w.annCtx, filter); err != nil {
					t.Fatal(err)
				}
			})
			confined(fname, sts, w.ann)
			for _, l := range page.Links {
				if l.AccountID != w.ann || slices.Contains(w.bobLinks, l.ID) {
					t.Errorf("%s: ann reads link %d of account %d", fname, l.ID, l.AccountID)
				}
			}
			sts = during(func() {
				if n, err := w.s.CountLinks(w.annCtx, filter); err != nil || n != len(page.Links) {
					t.Errorf("%s: count %d, %v; want %d", fname, n, err, len(page.Links))
				}
			})
			confined(fname+", count", sts, w.ann)
		}
		sts := during(func() {
			tags, err := w.s.FindTagsByLinkIDs(w.annCtx, append(slices.Clone(w.bobLinks), w.annLinks...), linkapi.AllTagFields)
			if err != nil {
				t.Fatal(err)
			}
			for link, list := range tags {
				for _, tag := range list {
					if slices.Contains(w.bobLinks, link) || tag.AccountID != w.ann {
						t.Errorf("ann reads tag %d of account %d on link %d", tag.ID, tag.AccountID, link)
					}
				}
			}
			if len(tags) == 0 {
				t.Error("ann reads no tags of her own links")
			}
		})
		confined("tags", sts, w.ann)
		sts = during(func() {
			accounts, err := w.s.FindAccountsByIDs(w.annCtx, []int64{w.bob, w.ann})
			if err != nil || len(accounts) != 1 || accounts[w.ann] == nil {
				t.Errorf("ann reads accounts %v, %v; want hers alone", accounts, err)
			}
		})
		confined("accounts", sts, w.ann)

		bob := w.bob
		sts = during(func() {
			page, err := w.s.FindLinks(w.adminCtx, linkapi.LinkFilter{AccountID: &bob, TagName: &[]string{"t1"}[0], LinkPage: linkapi.LinkPage{First: 100}})
			if err != nil || len(page.Links) == 0 {
				t.Fatalf("admin naming bob: %v, %v", page, err)
			}
			for _, l := range page.Links {
				if l.AccountID != bob {
					t.Errorf("admin naming bob reads link %d of account %d", l.ID, l.AccountID)
				}
			}
		})
		confined("admin naming bob", sts[len(sts)-1:], bob)
	})
}

// TestHandWrittenReadsFail checks the ways a hand-written read fails: a
// statement hook's error is the read's, as are the database's and the
// context's, whether the statement was prepared or not.
func TestHandWrittenReadsFail(t *testing.T) {
	storetest.ForEachDB(t, func(t *testing.T, url string) {
		w := seedReads(t, url)
		type failKey struct{}
		refused := errors.New("refused by the hook")
		if err := w.db.OnStatement(func(ctx context.Context, st Statement) error {
			if ctx.Value(failKey{}) != nil {
				return refused
			}
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		failing := context.WithValue(w.annCtx, failKey{}, true)
		if _, err := w.s.FindLinks(failing, linkapi.LinkFilter{LinkPage: linkapi.LinkPage{First: 5}}); !errors.Is(err, refused) {
			t.Errorf("FindLinks with a refusing hook: %v", err)
		}
		if _, err := w.s.CountLinks(failing, linkapi.LinkFilter{}); !errors.Is(err, refused) {
			t.Errorf("CountLinks with a refusing hook: %v", err)
		}
		if _, err := w.s.FindTagsByLinkIDs(failing, w.annLinks, 0); !errors.Is(err, refused) {
			t.Errorf("FindTagsByLinkIDs with a refusing hook: %v", err)
		}
		if _, err := w.s.FindAccountsByIDs(failing, []int64{w.ann}); !errors.Is(err, refused) {
			t.Errorf("FindAccountsByIDs with a refusing hook: %v", err)
		}
		ended, cancel := context.WithCancel(w.annCtx)
		cancel()
		for _, search := range []string{"", "never prepared"} {
			if _, err := w.s.FindLinks(ended, linkapi.LinkFilter{Search: &search, LinkPage: linkapi.LinkPage{First: 5}}); !errors.Is(err, context.Canceled) {
				t.Errorf("FindLinks(search %q) on an ended context: %v", search, err)
			}
		}
		// A statement the database refuses: a column that is not there.
		q := tenant{account: w.ann}.selectFrom(&linkRow{}, "links.no_such_column", "")
		if _, err := w.s.query(w.annCtx, q); err == nil {
			t.Error("a read of a missing column went through")
		}
		w.db.Close()
		if _, err := w.s.FindLinks(w.annCtx, linkapi.LinkFilter{LinkPage: linkapi.LinkPage{First: 5}}); err == nil {
			t.Error("FindLinks on a closed database went through")
		}
	})
}

// TestStmtCache prepares the reads it has room for and runs the others
// unprepared, with the same answers, as it does those whose statement fails.
func TestStmtCache(t *testing.T) {
	storetest.ForEachDB(t, func(t *testing.T, url string) {
		w := seedReads(t, url)
		c := w.db.reads.stmts
		c.close()
		c.max = 1
		filter := func(tag string) linkapi.LinkFilter {
			return linkapi.LinkFilter{TagName: &tag, LinkPage: linkapi.LinkPage{First: 100}}
		}
		first := func(tag string) []*linkapi.Link {
			page, err := w.s.FindLinks(w.annCtx, filter(tag))
			if err != nil {
				t.Fatal(err)
			}
			return page.Links
		}
		all := first("t1")
		if len(all) < 3 {
			t.Fatalf("%d links tagged t1", len(all))
		}
		if len(c.stmts) != 1 {
			t.Fatalf("%d statements prepared, want 1", len(c.stmts))
		}
		// Another statement: the cache is full, and it runs unprepared.
		if _, err := w.s.CountLinks(w.annCtx, linkapi.LinkFilter{}); err != nil || len(c.stmts) != 1 {
			t.Errorf("count with a full cache: %v, %d statements prepared", err, len(c.stmts))
		}
		// The prepared one again, with other arguments.
		want, err := gormFindLinks(w.s, w.annCtx, filter("t2"))
		if got := first("t2"); err != nil || len(got) == 0 || !reflect.DeepEqual(got, want.Links) {
			t.Errorf("the prepared read again: %v, want %v, %v", got, want.Links, err)
		}
		// A prepared statement that fails is dropped, and the read runs unprepared.
		for q, st := range c.stmts {
			st.Close()
			if got := first("t1"); !reflect.DeepEqual(got, all) {
				t.Errorf("the read of a closed statement: %v, want %v", got, all)
			}
			if c.stmts[q] != nil {
				t.Error("the closed statement is still in the cache")
			}
		}
		c.max = 0
		c.close()
		if got := first("t1"); !reflect.DeepEqual(got, all) || len(c.stmts) != 0 {
			t.Errorf("with nothing prepared: %v, want %v; %d statements prepared", got, all, len(c.stmts))
		}
	})
}
