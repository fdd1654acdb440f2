package linkapi

import (
	"context"
	"time"
)

// The event types a webhook may subscribe to: one for each kind of change of a
// link or a tag that the change feed records.
const (
	EventLinkCreated = "link.created"
	EventLinkUpdated = "link.updated"
	EventLinkDeleted = "link.deleted"
	EventTagCreated  = "tag.created"
	EventTagUpdated  = "tag.updated"
	EventTagDeleted  = "tag.deleted"
)

// EventTypes lists every event type, in the order the documentation gives them.
var EventTypes = []string{EventLinkCreated, EventLinkUpdated, EventLinkDeleted, EventTagCreated, EventTagUpdated, EventTagDeleted}

// Limits of webhooks.
const (
	// MaxWebhooks is how many webhooks an account may have.
	MaxWebhooks = 10
	// MaxWebhookURLLength bounds a webhook's URL.
	MaxWebhookURLLength = 2048
	// MaxPendingDeliveries bounds a webhook's outbox: the deliveries not yet
	// delivered nor given up. An event that would pass it is not enqueued, and
	// the webhook is disabled instead, saying why; delete it and create it anew
	// once its receiver works.
	MaxPendingDeliveries = 1000
	// DeliveryRetention is how long finished deliveries (delivered or failed)
	// stay in the delivery log.
	DeliveryRetention = 7 * 24 * time.Hour
)

// Webhook is an account's subscription to events, delivered to URL.
type Webhook struct {
	ID        int64
	AccountID int64
	URL       string
	Events    []string
	CreatedAt time.Time
	// DisabledAt is set once the webhook no longer receives new events, with
	// DisabledReason saying why (its outbox was full).
	DisabledAt     *time.Time
	DisabledReason string
}

// WebhookCreate is what a new webhook is made of; Secret is the Standard
// Webhooks secret (whsec_ and base64) its deliveries are signed with.
type WebhookCreate struct {
	URL    string
	Events []string
	Secret string
}

// DeliveryStatus is where a delivery stands.
type DeliveryStatus string

// The statuses of a delivery.
const (
	DeliveryPending   DeliveryStatus = "PENDING"
	DeliveryDelivered DeliveryStatus = "DELIVERED"
	DeliveryFailed    DeliveryStatus = "FAILED"
)

// WebhookDelivery is one event sent, or to be sent, to one webhook.
type WebhookDelivery struct {
	ID        int64
	AccountID int64
	WebhookID int64
	// MessageID is the webhook-id header, the same on every attempt.
	MessageID string
	EventType string
	Status    DeliveryStatus
	Attempts  int
	CreatedAt time.Time
	// NextAttemptAt is when the next attempt is due; nil once finished.
	NextAttemptAt *time.Time
	LastAttemptAt *time.Time
	// LastStatus is the HTTP status of the last attempt; nil when it got no
	// answer (LastError says why).
	LastStatus *int
	LastError  string
	FinishedAt *time.Time
}

// WebhookDeliveryList is a page of deliveries, newest first.
type WebhookDeliveryList struct {
	Deliveries  []*WebhookDelivery
	HasNextPage bool
}

// WebhookService manages the caller's webhooks.
type WebhookService interface {
	// CreateWebhook makes a webhook for the caller's own account and returns it
	// with its secret, which is never shown again. BAD_USER_INPUT for a URL that
	// is not http or https, names a private address, or for unknown or no event
	// types, or past MaxWebhooks.
	CreateWebhook(ctx context.Context, url string, events []string) (*Webhook, string, error)
	// FindWebhooks lists the caller's webhooks (every account's for an
	// administrator), oldest first.
	FindWebhooks(ctx context.Context) ([]*Webhook, error)
	// DeleteWebhook deletes a webhook and its deliveries: the caller's own, or any
	// with admin:write. NOT_FOUND.
	DeleteWebhook(ctx context.Context, id int64) error
	// FindWebhookDeliveries lists a webhook's deliveries, newest first. NOT_FOUND
	// for another account's webhook unless the caller is an administrator.
	FindWebhookDeliveries(ctx context.Context, webhookID int64, p Page) (*WebhookDeliveryList, error)
}

// OutboundDelivery is a delivery a worker has taken, with what it needs to send
// it.
type OutboundDelivery struct {
	ID        int64
	WebhookID int64
	URL       string
	Secret    string
	MessageID string
	Payload   []byte
	// Attempts counts the attempts before this one.
	Attempts int
}

// DeliveryAttempt is the outcome of one attempt.
type DeliveryAttempt struct {
	At time.Time
	// Status is the HTTP status received, 0 for none.
	Status int
	Error  string
	// Delivered is set for a 2xx answer; otherwise Retry, when set, is when to
	// try again, and a nil Retry gives up (the delivery fails).
	Delivered bool
	Retry     *time.Time
}
