package graph

import (
	"linkapi/internal/auth"
	"linkapi/internal/linkapi"
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
}
