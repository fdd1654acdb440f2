package store

// Webhooks and their outbox
//
// A webhook's deliveries are enqueued by recordChanges, in the transaction of
// the change they tell of, so that an event is sent if, and only if, its change
// committed. The server's worker (internal/webhooks) takes due deliveries with
// ClaimDeliveries, sends them, and records each attempt with RecordAttempt.
//
// Taking a delivery moves its next_attempt_at past the end of the attempt (a
// lease) in a short transaction of its own; the attempt runs outside it. On
// MySQL and MariaDB the rows are read with SELECT ... FOR UPDATE SKIP LOCKED, so
// that several instances polling at once each take different deliveries, and a
// delivery taken by one is not due for another until its lease ends: each
// event is sent by one instance (again only if the first died mid-attempt, or
// could not write the outcome for as long as the worker tries, and the lease
// ran out: at least once, with the same webhook-id). SQLite has no row locks;
// its writers take turns on the whole database, so a claim is atomic there too,
// but SQLite serves a single instance.

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"

	"linkapi/internal/linkapi"
)

// webhookRow is the webhooks table.
type webhookRow struct {
	ID             int64
	AccountID      int64
	URL            string
	Events         string
	Secret         string
	CreatedAt      time.Time
	DisabledAt     *time.Time
	DisabledReason *string
}

func (webhookRow) TableName() string         { return "webhooks" }
func (webhookRow) ownerColumn() string       { return "account_id" }
func (r *webhookRow) setOwner(account int64) { r.AccountID = account }

func (r *webhookRow) domain() *linkapi.Webhook {
	w := &linkapi.Webhook{ID: r.ID, AccountID: r.AccountID, URL: r.URL, Events: strings.Fields(r.Events), CreatedAt: r.CreatedAt.UTC()}
	if r.DisabledAt != nil {
		at := r.DisabledAt.UTC()
		w.DisabledAt = &at
	}
	if r.DisabledReason != nil {
		w.DisabledReason = *r.DisabledReason
	}
	return w
}

func (r *webhookRow) wants(eventType string) bool {
	return slices.Contains(strings.Fields(r.Events), eventType)
}

// deliveryRow is the webhook_deliveries table, the outbox.
type deliveryRow struct {
	ID            int64
	AccountID     int64
	WebhookID     int64
	MessageID     string
	EventType     string
	Payload       string
	Status        string
	Attempts      int
	CreatedAt     time.Time
	NextAttemptAt *time.Time
	LastAttemptAt *time.Time
	LastStatus    *int
	LastError     *string
	FinishedAt    *time.Time
}

func (deliveryRow) TableName() string         { return "webhook_deliveries" }
func (deliveryRow) ownerColumn() string       { return "account_id" }
func (r *deliveryRow) setOwner(account int64) { r.AccountID = account }

func utcPtr(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	u := t.UTC()
	return &u
}

func (r *deliveryRow) domain() *linkapi.WebhookDelivery {
	d := &linkapi.WebhookDelivery{
		ID: r.ID, AccountID: r.AccountID, WebhookID: r.WebhookID, MessageID: r.MessageID, EventType: r.EventType,
		Status: linkapi.DeliveryStatus(r.Status), Attempts: r.Attempts, CreatedAt: r.CreatedAt.UTC(),
		NextAttemptAt: utcPtr(r.NextAttemptAt), LastAttemptAt: utcPtr(r.LastAttemptAt), LastStatus: r.LastStatus,
		FinishedAt: utcPtr(r.FinishedAt),
	}
	if r.LastError != nil {
		d.LastError = *r.LastError
	}
	return d
}

// normalizeEvents checks event types against linkapi.EventTypes and returns
// them without repeats, in the order of EventTypes. BAD_USER_INPUT for none or
// an unknown one.
func normalizeEvents(events []string) ([]string, error) {
	if len(events) == 0 {
		return nil, linkapi.Errorf(linkapi.EINVALID, "events must name at least one of %s", strings.Join(linkapi.EventTypes, ", "))
	}
	for _, e := range events {
		if !slices.Contains(linkapi.EventTypes, e) {
			return nil, linkapi.Errorf(linkapi.EINVALID, "unknown event type %q; known: %s", e, strings.Join(linkapi.EventTypes, ", "))
		}
	}
	var out []string
	for _, e := range linkapi.EventTypes {
		if slices.Contains(events, e) {
			out = append(out, e)
		}
	}
	return out, nil
}

// CreateWebhook makes a webhook for the caller's own account, administrator or
// not. The URL must already have been checked for a public address (the store
// makes no connections). BAD_USER_INPUT for a URL too long, no or unknown
// event types, or past MaxWebhooks.
func (s *Store) CreateWebhook(ctx context.Context, in linkapi.WebhookCreate) (*linkapi.Webhook, error) {
	c, err := caller(ctx)
	if err != nil {
		return nil, err
	}
	if c.AccountID == 0 {
		return nil, linkapi.Errorf(linkapi.EINVALID, "webhooks belong to an account")
	}
	if len(in.URL) > linkapi.MaxWebhookURLLength {
		return nil, linkapi.Errorf(linkapi.EINVALID, "url is longer than %d bytes", linkapi.MaxWebhookURLLength)
	}
	if !strings.HasPrefix(in.Secret, "whsec_") {
		return nil, linkapi.Errorf(linkapi.EINTERNAL, "store: a webhook secret starts with whsec_")
	}
	events, err := normalizeEvents(in.Events)
	if err != nil {
		return nil, err
	}
	row := webhookRow{URL: in.URL, Events: strings.Join(events, " "), Secret: in.Secret, CreatedAt: s.now().UTC().Truncate(time.Microsecond)}
	err = s.transact(ctx, writing, c.AccountID, func(tx tenant) error {
		if err := lockAccount(tx); err != nil {
			return err
		}
		var n int64
		if err := tx.table(&webhookRow{}).Count(&n).Error; err != nil {
			return err
		}
		if n >= linkapi.MaxWebhooks {
			return linkapi.Errorf(linkapi.EINVALID, "an account has at most %d webhooks; delete some first", linkapi.MaxWebhooks)
		}
		return translate(createOne(tx, &row), "webhook")
	})
	if err != nil {
		return nil, err
	}
	return row.domain(), nil
}

// FindWebhooks lists the caller's webhooks, every account's for an
// administrator, oldest first.
func (s *Store) FindWebhooks(ctx context.Context) ([]*linkapi.Webhook, error) {
	tx, _, err := s.owned(ctx, reading, &webhookRow{})
	if err != nil {
		return nil, err
	}
	var rows []webhookRow
	if err := tx.Order("webhooks.id").Find(&rows).Error; err != nil {
		return nil, err
	}
	out := make([]*linkapi.Webhook, len(rows))
	for i := range rows {
		out[i] = rows[i].domain()
	}
	return out, nil
}

// DeleteWebhook deletes a webhook with its deliveries, pending ones included:
// the caller's own, any for an administrator. NOT_FOUND.
func (s *Store) DeleteWebhook(ctx context.Context, id int64) error {
	return s.deleteOwned(ctx, &webhookRow{}, id, "webhook")
}

// FindWebhookDeliveries lists a webhook's deliveries, newest first, after p.After
// (a delivery id). NOT_FOUND for a webhook the caller may not read.
func (s *Store) FindWebhookDeliveries(ctx context.Context, webhookID int64, p linkapi.Page) (*linkapi.WebhookDeliveryList, error) {
	tn, _, err := s.tenantOf(ctx, reading)
	if err != nil {
		return nil, err
	}
	var n int64
	if err := tn.table(&webhookRow{}).Where("webhooks.id = ?", webhookID).Count(&n).Error; err != nil {
		return nil, err
	}
	if n == 0 {
		return nil, linkapi.Errorf(linkapi.ENOTFOUND, "webhook not found")
	}
	q := tn.table(&deliveryRow{}).Where("webhook_deliveries.webhook_id = ?", webhookID)
	if p.After > 0 {
		q = q.Where("webhook_deliveries.id < ?", p.After)
	}
	var rows []deliveryRow
	if err := q.Order("webhook_deliveries.id DESC").Limit(p.First + 1).Find(&rows).Error; err != nil {
		return nil, err
	}
	rows, more := trimPage(rows, p.First)
	out := &linkapi.WebhookDeliveryList{Deliveries: make([]*linkapi.WebhookDelivery, len(rows)), HasNextPage: more}
	for i := range rows {
		out.Deliveries[i] = rows[i].domain()
	}
	return out, nil
}

// eventType names the webhook event of a change.
func eventType(c change) string {
	return strings.ToLower(c.objectType) + "." + strings.ToLower(string(c.kind))
}

// eventPayload is the JSON body of a delivery, in the Standard Webhooks shape:
// type, timestamp and data, which names the object and the change.
type eventPayload struct {
	Type      string    `json:"type"`
	Timestamp time.Time `json:"timestamp"`
	Data      eventData `json:"data"`
}

type eventData struct {
	ID         string `json:"id"`
	ObjectType string `json:"objectType"`
	Kind       string `json:"kind"`
	AccountID  string `json:"accountId"`
	Seq        int64  `json:"seq"`
}

// newMessageID returns a webhook-id: msg_ and 24 random hex digits.
func newMessageID() (string, error) {
	b := make([]byte, 12)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	return "msg_" + hex.EncodeToString(b), nil
}

// deliveryBatch is how many deliveries go in one INSERT.
const deliveryBatch = 500

// enqueueEvents writes, in tx, the deliveries of the changes rows record to the
// account's enabled webhooks that want them: one statement to read the
// webhooks, and for an account that has some, one to count their outboxes and
// the inserts. A webhook whose outbox would pass linkapi.MaxPendingDeliveries
// gets none of them and is disabled.
func enqueueEvents(tx tenant, at time.Time, cs []change, rows []changeRow) error {
	var hooks []webhookRow
	if err := tx.table(&webhookRow{}).Where("webhooks.disabled_at IS NULL").Order("webhooks.id").Find(&hooks).Error; err != nil {
		return err
	}
	if len(hooks) == 0 {
		return nil
	}
	wanted := map[int64][]int{} // webhook id -> indexes of cs
	var ids []int64
	for _, h := range hooks {
		for i, c := range cs {
			if h.wants(eventType(c)) {
				wanted[h.ID] = append(wanted[h.ID], i)
			}
		}
		if len(wanted[h.ID]) > 0 {
			ids = append(ids, h.ID)
		}
	}
	if len(ids) == 0 {
		return nil
	}
	type pending struct {
		WebhookID int64
		N         int64
	}
	var counts []pending
	err := tx.table(&deliveryRow{}).Select("webhook_deliveries.webhook_id, COUNT(*) AS n").
		Where("webhook_deliveries.webhook_id IN ? AND webhook_deliveries.status = ?", ids, string(linkapi.DeliveryPending)).
		Group("webhook_deliveries.webhook_id").Scan(&counts).Error
	if err != nil {
		return err
	}
	waiting := map[int64]int64{}
	for _, c := range counts {
		waiting[c.WebhookID] = c.N
	}
	var out []deliveryRow
	var full []int64
	for _, id := range ids {
		idx := wanted[id]
		if waiting[id]+int64(len(idx)) > linkapi.MaxPendingDeliveries {
			full = append(full, id)
			continue
		}
		for _, i := range idx {
			c := cs[i]
			body, err := json.Marshal(eventPayload{Type: eventType(c), Timestamp: at, Data: eventData{
				ID: strconv.FormatInt(c.id, 10), ObjectType: c.objectType, Kind: string(c.kind),
				AccountID: strconv.FormatInt(tx.account, 10), Seq: rows[i].Seq,
			}})
			if err != nil {
				return err
			}
			msg, err := newMessageID()
			if err != nil {
				return err
			}
			due := at
			out = append(out, deliveryRow{WebhookID: id, MessageID: msg, EventType: eventType(c), Payload: string(body),
				Status: string(linkapi.DeliveryPending), CreatedAt: at, NextAttemptAt: &due})
		}
	}
	if len(full) > 0 {
		reason := fmt.Sprintf("its outbox held %d undelivered events; new events are no longer enqueued", linkapi.MaxPendingDeliveries)
		err := tx.table(&webhookRow{}).Where("webhooks.id IN ?", full).
			Updates(map[string]any{"disabled_at": at, "disabled_reason": reason}).Error
		if err != nil {
			return err
		}
	}
	return create(tx, out, deliveryBatch)
}

// outboxReason is why the worker's statements cross accounts.
const outboxReason = "the webhook worker sends every account's deliveries"

// ClaimDeliveries takes up to n deliveries due at now, oldest due first, and
// leases them until now+lease: no other claim takes them before then. See the
// top of this file for what holds with several instances.
func (s *Store) ClaimDeliveries(ctx context.Context, now time.Time, lease time.Duration, n int) ([]*linkapi.OutboundDelivery, error) {
	now = now.UTC().Truncate(time.Microsecond)
	// A read without a lock first: an outbox with nothing due, the usual
	// case, costs one indexed read and no write lock (SQLite's transactions
	// here take the database's write lock at BEGIN).
	var due int64
	err := s.unscoped(ctx, outboxReason).Model(&deliveryRow{}).Select("id").
		Where("status = ? AND next_attempt_at <= ?", string(linkapi.DeliveryPending), now).Limit(1).Scan(&due).Error
	if err != nil || due == 0 {
		return nil, err
	}
	var out []*linkapi.OutboundDelivery
	err = s.inTransaction(s.unscoped(ctx, outboxReason), func(tx *gorm.DB) error {
		out = nil // an attempt before this one may have claimed some
		q := tx.Model(&deliveryRow{}).
			Where("status = ? AND next_attempt_at <= ?", string(linkapi.DeliveryPending), now).
			Order("next_attempt_at, id").Limit(n)
		if s.db.Dialector.Name() == "mysql" {
			q = q.Clauses(clause.Locking{Strength: clause.LockingStrengthUpdate, Options: clause.LockingOptionsSkipLocked})
		}
		var ids []int64
		if err := q.Pluck("id", &ids).Error; err != nil {
			return err
		}
		if len(ids) == 0 {
			return nil
		}
		until := now.Add(lease)
		if err := tx.Model(&deliveryRow{}).Where("id IN ?", ids).Update("next_attempt_at", until).Error; err != nil {
			return err
		}
		type claimed struct {
			ID        int64
			WebhookID int64
			MessageID string
			Payload   string
			Attempts  int
			URL       string
			Secret    string
		}
		var rows []claimed
		err := tx.Table("webhook_deliveries AS d").
			Select("d.id, d.webhook_id, d.message_id, d.payload, d.attempts, w.url, w.secret").
			Joins("JOIN webhooks AS w ON w.id = d.webhook_id").
			Where("d.id IN ?", ids).Order("d.next_attempt_at, d.id").Scan(&rows).Error
		if err != nil {
			return err
		}
		for _, r := range rows {
			out = append(out, &linkapi.OutboundDelivery{ID: r.ID, WebhookID: r.WebhookID, URL: r.URL, Secret: r.Secret,
				MessageID: r.MessageID, Payload: []byte(r.Payload), Attempts: r.Attempts})
		}
		return nil
	})
	return out, err
}

// maxErrorLength bounds the last_error kept.
const maxErrorLength = 500

// RecordAttempt writes the outcome of one attempt of delivery id: delivered,
// due again at a.Retry, or failed for good. A delivery deleted meanwhile (its
// webhook was) is no error. A deadlock or a lock wait timeout is retried.
func (s *Store) RecordAttempt(ctx context.Context, id int64, a linkapi.DeliveryAttempt) error {
	at := a.At.UTC().Truncate(time.Microsecond)
	set := map[string]any{"attempts": gorm.Expr("attempts + 1"), "last_attempt_at": at, "last_status": nil, "last_error": nil}
	if a.Status != 0 {
		set["last_status"] = a.Status
	}
	if a.Error != "" {
		msg := a.Error
		if len(msg) > maxErrorLength {
			msg = msg[:maxErrorLength]
		}
		set["last_error"] = msg
	}
	switch {
	case a.Delivered:
		set["status"], set["next_attempt_at"], set["finished_at"] = string(linkapi.DeliveryDelivered), nil, at
	case a.Retry != nil:
		set["next_attempt_at"] = a.Retry.UTC().Truncate(time.Microsecond)
	default:
		set["status"], set["next_attempt_at"], set["finished_at"] = string(linkapi.DeliveryFailed), nil, at
	}
	// In a transaction of its own so that a deadlock with a concurrent claim
	// or a lock wait that ran out is retried: an outcome not written leaves
	// the delivery leased, to be sent again once the lease ends.
	return s.inTransaction(s.unscoped(ctx, outboxReason), func(tx *gorm.DB) error {
		return tx.Model(&deliveryRow{}).
			Where("id = ? AND status = ?", id, string(linkapi.DeliveryPending)).Updates(set).Error
	})
}

// ReleaseDelivery gives back a delivery taken but not attempted (the worker
// stopped), due again at at, its attempts unchanged.
func (s *Store) ReleaseDelivery(ctx context.Context, id int64, at time.Time) error {
	return s.unscoped(ctx, outboxReason).Model(&deliveryRow{}).
		Where("id = ? AND status = ?", id, string(linkapi.DeliveryPending)).Update("next_attempt_at", at.UTC().Truncate(time.Microsecond)).Error
}

// PruneDeliveries deletes the deliveries that finished more than
// linkapi.DeliveryRetention before now, and returns how many.
func (s *Store) PruneDeliveries(ctx context.Context, now time.Time) (int64, error) {
	res := s.unscoped(ctx, "the delivery log's retention is the same for every account").
		Where("finished_at IS NOT NULL AND finished_at < ?", now.UTC().Add(-linkapi.DeliveryRetention)).Delete(&deliveryRow{})
	return res.RowsAffected, res.Error
}
