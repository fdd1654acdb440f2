package graph

import (
	"time"

	"linkapi/internal/auth"
	"linkapi/internal/linkapi"
	"linkapi/internal/pagemeta"
)

// Resolver holds the services the resolvers call. Resolvers stay thin: they read
// arguments, make one service call and convert the result.
type Resolver struct {
	LinkService     linkapi.LinkService
	TagService      linkapi.TagService
	AccountService  linkapi.AccountService
	APITokenService linkapi.APITokenService
	ImportService   linkapi.ImportService
	ChangeService   linkapi.ChangeService
	BulkService     linkapi.BulkLinkService
	SessionService  linkapi.SessionService
	WebhookService  linkapi.WebhookService
	Auth            *auth.Authenticator
	// Pages fetches pages' metadata; nil when the server does not fetch them.
	Pages pagemeta.Fetcher
	// FetchBudget bounds the time all the fetches of one request take together.
	FetchBudget time.Duration
}
