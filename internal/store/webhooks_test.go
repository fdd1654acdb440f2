package store

import (
	"context"
	"errors"
	"regexp"
	"sort"
	"strconv"
	"sync"
	"testing"
	"time"

	"linkapi/internal/auth"
	"linkapi/internal/linkapi"
	"linkapi/internal/store/storetest"
)

const whSecret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"

func whCreate(t *testing.T, s *Store, ctx context.Context, events ...string) *linkapi.Webhook {
	t.Helper()
	w, err := s.CreateWebhook(ctx, linkapi.WebhookCreate{URL: "https://hooks.example/in", Events: events, Secret: whSecret})
	if err != nil {
		t.Fatal(err)
	}
	return w
}

func whAdmin(account int64) context.Context {
	return auth.NewContext(context.Background(), &auth.Caller{AccountID: account, Scopes: auth.Expand([]string{auth.AdminWrite})})
}

// whDeliveries reads every delivery straight from the table: webhook id and
// event type, in the order they were written.
func whDeliveries(t *testing.T, db *DB) []string {
	t.Helper()
	var rows []struct {
		WebhookID int64
		EventType string
		Status    string
	}
	if err := db.orm.Raw(`SELECT webhook_id, event_type, status FROM webhook_deliveries ORDER BY id`).Scan(&rows).Error; err != nil {
		t.Fatal(err)
	}
	out := []string{}
	for _, r := range rows {
		out = append(out, formatInt64(r.WebhookID)+" "+r.EventType+" "+r.Status)
	}
	return out
}

func formatInt64(n int64) string { return strconv.FormatInt(n, 10) }

// TestWebhooksAreConfinedToTheirAccount: each account lists, deletes and reads
// the deliveries of its own webhooks only; another's is NOT_FOUND; an
// administrator sees and deletes every account's.
func TestWebhooksAreConfinedToTheirAccount(t *testing.T) {
	storetest.ForEachDB(t, func(t *testing.T, url string) {
		db := dbtOpen(t, url)
		s := New(db)
		ann, bob, root := dbtAccount(t, db, "ann@example.com"), dbtAccount(t, db, "bob@example.com"), dbtAccount(t, db, "root@example.com")
		annHook := whCreate(t, s, ctAs(ann), linkapi.EventLinkCreated)
		bobHook := whCreate(t, s, ctAs(bob), linkapi.EventTagCreated, linkapi.EventLinkCreated, linkapi.EventLinkCreated)
		if got := bobHook.Events; len(got) != 2 || got[0] != linkapi.EventLinkCreated || got[1] != linkapi.EventTagCreated {
			t.Errorf("events = %v, want [link.created tag.created] (repeats dropped, in the documented order)", got)
		}
		list, err := s.FindWebhooks(ctAs(ann))
		if err != nil || len(list) != 1 || list[0].ID != annHook.ID {
			t.Fatalf("ann's webhooks = %v, %v; want hers alone", list, err)
		}
		if err := s.DeleteWebhook(ctAs(ann), bobHook.ID); linkapi.ErrorCode(err) != linkapi.ENOTFOUND {
			t.Errorf("ann deleting bob's webhook: got %v, want NOT_FOUND", err)
		}
		if _, err := s.FindWebhookDeliveries(ctAs(ann), bobHook.ID, linkapi.Page{First: 10}); linkapi.ErrorCode(err) != linkapi.ENOTFOUND {
			t.Errorf("ann reading bob's deliveries: got %v, want NOT_FOUND", err)
		}
		all, err := s.FindWebhooks(whAdmin(root))
		if err != nil || len(all) != 2 {
			t.Fatalf("the administrator's webhooks = %v, %v; want both", all, err)
		}
		if _, err := s.FindWebhookDeliveries(whAdmin(root), bobHook.ID, linkapi.Page{First: 10}); err != nil {
			t.Errorf("the administrator reading bob's deliveries: %v", err)
		}
		if err := s.DeleteWebhook(whAdmin(root), bobHook.ID); err != nil {
			t.Errorf("the administrator deleting bob's webhook: %v", err)
		}
		if list, _ := s.FindWebhooks(ctAs(bob)); len(list) != 0 {
			t.Errorf("bob's webhooks after the administrator deleted his: %v", list)
		}
		if err := s.DeleteWebhook(ctAs(ann), annHook.ID); err != nil {
			t.Errorf("ann deleting her webhook: %v", err)
		}
		if err := s.DeleteWebhook(ctAs(ann), annHook.ID); linkapi.ErrorCode(err) != linkapi.ENOTFOUND {
			t.Errorf("deleting it again: got %v, want NOT_FOUND", err)
		}
	})
}

// TestCreateWebhookRefusesBadInput: no events, an unknown one, and more than
// MaxWebhooks are BAD_USER_INPUT, and nothing is created.
func TestCreateWebhookRefusesBadInput(t *testing.T) {
	storetest.ForEachDB(t, func(t *testing.T, url string) {
		db := dbtOpen(t, url)
		s := New(db)
		ann := dbtAccount(t, db, "ann@example.com")
		for _, events := range [][]string{nil, {}, {"link.renamed"}, {linkapi.EventLinkCreated, "LINK.CREATED"}} {
			_, err := s.CreateWebhook(ctAs(ann), linkapi.WebhookCreate{URL: "https://hooks.example/in", Events: events, Secret: whSecret})
			if linkapi.ErrorCode(err) != linkapi.EINVALID {
				t.Errorf("events %q: got %v, want BAD_USER_INPUT", events, err)
			}
		}
		long := "https://hooks.example/" + string(make([]byte, linkapi.MaxWebhookURLLength))
		if _, err := s.CreateWebhook(ctAs(ann), linkapi.WebhookCreate{URL: long, Events: []string{linkapi.EventLinkCreated}, Secret: whSecret}); linkapi.ErrorCode(err) != linkapi.EINVALID {
			t.Errorf("a long URL: got %v, want BAD_USER_INPUT", err)
		}
		for i := 0; i < linkapi.MaxWebhooks; i++ {
			whCreate(t, s, ctAs(ann), linkapi.EventLinkCreated)
		}
		if _, err := s.CreateWebhook(ctAs(ann), linkapi.WebhookCreate{URL: "https://hooks.example/in", Events: []string{linkapi.EventLinkCreated}, Secret: whSecret}); linkapi.ErrorCode(err) != linkapi.EINVALID {
			t.Errorf("webhook %d: got %v, want BAD_USER_INPUT", linkapi.MaxWebhooks+1, err)
		}
		if list, _ := s.FindWebhooks(ctAs(ann)); len(list) != linkapi.MaxWebhooks {
			t.Errorf("%d webhooks, want %d", len(list), linkapi.MaxWebhooks)
		}
	})
}

var deliveryInsert = regexp.MustCompile("(?i)^INSERT INTO [`\"]?webhook_deliveries[`\"]?")

// TestEventsAreEnqueuedWithTheirChange: a write enqueues one delivery for each
// of its changes that each of the account's webhooks wants, and none for
// another account's; a write that fails after its deliveries were inserted
// leaves neither its change nor its deliveries.
func TestEventsAreEnqueuedWithTheirChange(t *testing.T) {
	storetest.ForEachDB(t, func(t *testing.T, url string) {
		db := dbtOpen(t, url)
		injected := errors.New("injected after the outbox write")
		if err := db.OnStatement(func(ctx context.Context, st Statement) error {
			if ctx.Value(ctFailKey{}) != nil && deliveryInsert.MatchString(st.SQL) {
				return injected
			}
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		s := New(db)
		ann, bob := dbtAccount(t, db, "ann@example.com"), dbtAccount(t, db, "bob@example.com")
		links := whCreate(t, s, ctAs(ann), linkapi.EventLinkCreated, linkapi.EventLinkDeleted)
		tags := whCreate(t, s, ctAs(ann), linkapi.EventTagCreated)
		whCreate(t, s, ctAs(bob), linkapi.EventLinkCreated, linkapi.EventTagCreated)

		before := ctSnapshot(t, db)
		failing := context.WithValue(ctAs(ann), ctFailKey{}, true)
		if _, err := s.CreateLink(failing, linkapi.LinkCreate{URL: "https://example.com/a", Tags: []string{"x"}}); !errors.Is(err, injected) {
			t.Fatalf("the failing write: got %v, want the injected error", err)
		}
		if after := ctSnapshot(t, db); after != before {
			t.Errorf("the failed write left rows:\nbefore\n%s\nafter\n%s", before, after)
		}
		if got := whDeliveries(t, db); len(got) != 0 {
			t.Errorf("the failed write left deliveries %v", got)
		}

		link, err := s.CreateLink(ctAs(ann), linkapi.LinkCreate{URL: "https://example.com/a", Tags: []string{"x"}})
		if err != nil {
			t.Fatal(err)
		}
		if err := s.DeleteLink(ctAs(ann), link.ID); err != nil {
			t.Fatal(err)
		}
		got := whDeliveries(t, db)
		want := []string{
			formatInt64(links.ID) + " link.created PENDING",
			formatInt64(tags.ID) + " tag.created PENDING",
			formatInt64(links.ID) + " link.deleted PENDING",
		}
		sort.Strings(got)
		sort.Strings(want)
		if len(got) != len(want) {
			t.Fatalf("deliveries %v, want %v", got, want)
		}
		for i := range got {
			if got[i] != want[i] {
				t.Errorf("deliveries %v, want %v", got, want)
				break
			}
		}
		list, err := s.FindWebhookDeliveries(ctAs(ann), links.ID, linkapi.Page{First: 1})
		if err != nil || len(list.Deliveries) != 1 || !list.HasNextPage || list.Deliveries[0].EventType != linkapi.EventLinkDeleted {
			t.Fatalf("first page of deliveries: %+v, %v; want link.deleted, more to come", list, err)
		}
		next, err := s.FindWebhookDeliveries(ctAs(ann), links.ID, linkapi.Page{First: 1, After: list.Deliveries[0].ID})
		if err != nil || len(next.Deliveries) != 1 || next.HasNextPage || next.Deliveries[0].EventType != linkapi.EventLinkCreated {
			t.Fatalf("second page of deliveries: %+v, %v; want link.created, the last", next, err)
		}
	})
}

// TestOutboxIsBounded: a webhook whose outbox holds MaxPendingDeliveries gets
// no more and is disabled, saying why; the account's other webhooks still get
// the event.
func TestOutboxIsBounded(t *testing.T) {
	storetest.ForEachDB(t, func(t *testing.T, url string) {
		db := dbtOpen(t, url)
		s := New(db)
		ann := dbtAccount(t, db, "ann@example.com")
		full := whCreate(t, s, ctAs(ann), linkapi.EventLinkCreated)
		other := whCreate(t, s, ctAs(ann), linkapi.EventLinkCreated)
		now := time.Now().UTC()
		rows := make([]deliveryRow, linkapi.MaxPendingDeliveries)
		for i := range rows {
			msg, _ := newMessageID()
			rows[i] = deliveryRow{AccountID: ann, WebhookID: full.ID, MessageID: msg, EventType: linkapi.EventLinkCreated,
				Payload: "{}", Status: string(linkapi.DeliveryPending), CreatedAt: now, NextAttemptAt: &now}
		}
		if err := db.orm.CreateInBatches(rows, 200).Error; err != nil {
			t.Fatal(err)
		}
		if _, err := s.CreateLink(ctAs(ann), linkapi.LinkCreate{URL: "https://example.com/one-more"}); err != nil {
			t.Fatal(err)
		}
		var n int64
		db.orm.Raw(`SELECT COUNT(*) FROM webhook_deliveries WHERE webhook_id = ?`, full.ID).Scan(&n)
		if n != linkapi.MaxPendingDeliveries {
			t.Errorf("the full webhook has %d deliveries, want %d", n, linkapi.MaxPendingDeliveries)
		}
		db.orm.Raw(`SELECT COUNT(*) FROM webhook_deliveries WHERE webhook_id = ?`, other.ID).Scan(&n)
		if n != 1 {
			t.Errorf("the other webhook has %d deliveries, want 1", n)
		}
		list, err := s.FindWebhooks(ctAs(ann))
		if err != nil || len(list) != 2 {
			t.Fatal(list, err)
		}
		if list[0].DisabledAt == nil || list[0].DisabledReason == "" {
			t.Errorf("the full webhook: disabled %v (%q), want disabled with a reason", list[0].DisabledAt, list[0].DisabledReason)
		}
		if list[1].DisabledAt != nil {
			t.Errorf("the other webhook is disabled")
		}
	})
}

// TestClaimDeliveries: a claim takes due deliveries only, leases them so that
// the next claim does not take them again until the lease ends, and concurrent
// claims never take the same delivery. RecordAttempt moves a delivery on.
func TestClaimDeliveries(t *testing.T) {
	storetest.ForEachDB(t, func(t *testing.T, url string) {
		db := dbtOpen(t, url)
		s := New(db)
		ann := dbtAccount(t, db, "ann@example.com")
		hook := whCreate(t, s, ctAs(ann), linkapi.EventLinkCreated)
		const n = 40
		inputs := make([]linkapi.LinkCreate, n)
		for i := range inputs {
			inputs[i] = linkapi.LinkCreate{URL: "https://example.com/" + formatInt64(int64(i+1))}
		}
		if _, err := s.CreateLinks(ctAs(ann), inputs); err != nil {
			t.Fatal(err)
		}
		ctx := context.Background()
		now := time.Now().UTC().Add(time.Second)
		var mu sync.Mutex
		seen := map[int64]int{}
		var wg sync.WaitGroup
		for w := 0; w < 4; w++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for {
					got, err := s.ClaimDeliveries(ctx, now, time.Minute, 3)
					if err != nil {
						t.Error(err)
						return
					}
					if len(got) == 0 {
						return
					}
					mu.Lock()
					for _, d := range got {
						seen[d.ID]++
						if d.URL != "https://hooks.example/in" || d.Secret != whSecret || d.WebhookID != hook.ID || len(d.Payload) == 0 {
							t.Errorf("claimed %+v: want the webhook's URL, secret and the payload", d)
						}
					}
					mu.Unlock()
				}
			}()
		}
		wg.Wait()
		if len(seen) != n {
			t.Errorf("claimed %d deliveries, want %d", len(seen), n)
		}
		for id, k := range seen {
			if k != 1 {
				t.Errorf("delivery %d claimed %d times", id, k)
			}
		}
		if again, err := s.ClaimDeliveries(ctx, now.Add(59*time.Second), time.Minute, n); err != nil || len(again) != 0 {
			t.Errorf("claiming within the lease: %d, %v; want none", len(again), err)
		}
		taken, err := s.ClaimDeliveries(ctx, now.Add(61*time.Second), time.Minute, n)
		if err != nil || len(taken) != n {
			t.Fatalf("claiming after the lease: %d, %v; want all %d", len(taken), err, n)
		}
		later := now.Add(time.Hour)
		at := now.Add(62 * time.Second)
		if err := s.RecordAttempt(ctx, taken[0].ID, linkapi.DeliveryAttempt{At: at, Status: 200, Delivered: true}); err != nil {
			t.Fatal(err)
		}
		if err := s.RecordAttempt(ctx, taken[1].ID, linkapi.DeliveryAttempt{At: at, Status: 500, Error: "HTTP 500", Retry: &later}); err != nil {
			t.Fatal(err)
		}
		if err := s.RecordAttempt(ctx, taken[2].ID, linkapi.DeliveryAttempt{At: at, Error: "connection refused"}); err != nil {
			t.Fatal(err)
		}
		list, err := s.FindWebhookDeliveries(ctAs(ann), hook.ID, linkapi.Page{First: n})
		if err != nil {
			t.Fatal(err)
		}
		byID := map[int64]*linkapi.WebhookDelivery{}
		for _, d := range list.Deliveries {
			byID[d.ID] = d
		}
		if d := byID[taken[0].ID]; d.Status != linkapi.DeliveryDelivered || d.Attempts != 1 || d.LastStatus == nil || *d.LastStatus != 200 || d.NextAttemptAt != nil {
			t.Errorf("delivered: %+v", d)
		}
		if d := byID[taken[1].ID]; d.Status != linkapi.DeliveryPending || d.Attempts != 1 || d.LastStatus == nil || *d.LastStatus != 500 || d.NextAttemptAt == nil || !d.NextAttemptAt.Equal(later.Truncate(time.Microsecond)) {
			t.Errorf("to retry: %+v", d)
		}
		if d := byID[taken[2].ID]; d.Status != linkapi.DeliveryFailed || d.LastStatus != nil || d.LastError != "connection refused" || d.FinishedAt == nil {
			t.Errorf("failed: %+v", d)
		}
		if pruned, err := s.PruneDeliveries(ctx, at.Add(linkapi.DeliveryRetention+time.Second)); err != nil || pruned != 2 {
			t.Errorf("pruning: %d, %v; want the 2 finished", pruned, err)
		}
	})
}
