package webhooks

import (
	"context"
	"errors"
	"net/url"
	"strings"

	"linkapi/internal/linkapi"
	"linkapi/internal/safehttp"
)

// Store is what Service needs of the store: the webhook operations, with the
// secret made here.
type Store interface {
	CreateWebhook(ctx context.Context, in linkapi.WebhookCreate) (*linkapi.Webhook, error)
	FindWebhooks(ctx context.Context) ([]*linkapi.Webhook, error)
	DeleteWebhook(ctx context.Context, id int64) error
	FindWebhookDeliveries(ctx context.Context, webhookID int64, p linkapi.Page) (*linkapi.WebhookDeliveryList, error)
}

// Service implements linkapi.WebhookService on a Store: it checks a new
// webhook's URL and makes its secret.
type Service struct {
	Store Store
	// Net is the guard's configuration, the same as the worker's, so that a URL
	// refused at delivery is refused at creation too.
	Net safehttp.Options
}

var _ linkapi.WebhookService = (*Service)(nil)

// CreateWebhook checks that rawURL is an http or https URL without credentials
// whose host resolves to public addresses only (BAD_USER_INPUT otherwise), then
// makes the webhook with a new secret.
func (s *Service) CreateWebhook(ctx context.Context, rawURL string, events []string) (*linkapi.Webhook, string, error) {
	u, err := url.Parse(strings.TrimSpace(rawURL))
	if err != nil || !u.IsAbs() || u.Host == "" {
		return nil, "", linkapi.Errorf(linkapi.EINVALID, "url must be an absolute http or https URL")
	}
	if len(rawURL) > linkapi.MaxWebhookURLLength {
		return nil, "", linkapi.Errorf(linkapi.EINVALID, "url is longer than %d bytes", linkapi.MaxWebhookURLLength)
	}
	if err := safehttp.CheckTarget(ctx, u, s.Net); err != nil {
		var refused *safehttp.RefusedError
		if errors.As(err, &refused) {
			return nil, "", linkapi.Errorf(linkapi.EINVALID, "url: %s", strings.TrimPrefix(err.Error(), "safehttp: "))
		}
		return nil, "", linkapi.Errorf(linkapi.EINVALID, "url: its host does not resolve: %v", err)
	}
	secret, err := NewSecret()
	if err != nil {
		return nil, "", err
	}
	w, err := s.Store.CreateWebhook(ctx, linkapi.WebhookCreate{URL: u.String(), Events: events, Secret: secret})
	if err != nil {
		return nil, "", err
	}
	return w, secret, nil
}

// FindWebhooks lists the caller's webhooks (every account's for an
// administrator).
func (s *Service) FindWebhooks(ctx context.Context) ([]*linkapi.Webhook, error) {
	return s.Store.FindWebhooks(ctx)
}

// DeleteWebhook deletes a webhook with its deliveries. NOT_FOUND.
func (s *Service) DeleteWebhook(ctx context.Context, id int64) error {
	return s.Store.DeleteWebhook(ctx, id)
}

// FindWebhookDeliveries lists a webhook's deliveries, newest first. NOT_FOUND.
func (s *Service) FindWebhookDeliveries(ctx context.Context, webhookID int64, p linkapi.Page) (*linkapi.WebhookDeliveryList, error) {
	return s.Store.FindWebhookDeliveries(ctx, webhookID, p)
}
