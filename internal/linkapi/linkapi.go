package linkapi

import (
	"context"
	"time"
)

// Pagination bounds for every list. The lists that are not paged (a link's tags,
// an account's API tokens) are bounded at write time to MaxPageSize too.
const (
	DefaultPageSize = 20
	MaxPageSize     = 100
	MaxTagsPerLink  = MaxPageSize
	MaxAPITokens    = MaxPageSize
)

// Account owns links and tags. Scopes are the names the account holds, as stored.
type Account struct {
	ID                int64
	Email             string
	Scopes            []string
	CreatedAt         time.Time
	UpdatedAt         time.Time
	PasswordChangedAt time.Time
	// EndedSessions, filled in only for authentication, are the sessions of the
	// account that are over while access tokens issued for them may not yet have
	// expired: a token of one of them is refused.
	EndedSessions []int64
}

// Link is a URL saved by an account. Unread, Archived and Favorite are its
// reading-list state; Notes are the account's own words on it; FaviconURL and
// PreviewImageURL come from the page's metadata.
type Link struct {
	ID              int64
	AccountID       int64
	URL             string
	Title           *string
	Description     *string
	Notes           *string
	Unread          bool
	Archived        bool
	Favorite        bool
	FaviconURL      *string
	PreviewImageURL *string
	CreatedAt       time.Time
	UpdatedAt       time.Time
}

// Tag is a name an account gives to some of its links. LinkCount, when not nil, is
// the number of links carrying the tag, counted when the tag was read in a list.
type Tag struct {
	ID        int64
	AccountID int64
	Name      string
	CreatedAt time.Time
	LinkCount *int
}

// TagFields is a set of the fields of a Tag beyond ID, AccountID and Name.
type TagFields uint8

// The fields of a Tag a TagFields names.
const (
	TagCreatedAt TagFields = 1 << iota

	AllTagFields = 1<<iota - 1
)

// Page selects a window of a list, newest first: at most First items with an ID
// below After (0 means from the start).
type Page struct {
	First int
	After int64
}

// LinkOrder is the order of a list of links; ties are broken by ID in the same
// direction.
type LinkOrder string

// The orders of links. The zero LinkOrder is OrderCreatedDesc.
const (
	OrderCreatedDesc LinkOrder = "CREATED_DESC"
	OrderCreatedAsc  LinkOrder = "CREATED_ASC"
	OrderUpdatedDesc LinkOrder = "UPDATED_DESC"
	OrderTitleAsc    LinkOrder = "TITLE_ASC"
)

// Or returns o, or OrderCreatedDesc when o is the zero LinkOrder.
func (o LinkOrder) Or() LinkOrder {
	if o == "" {
		return OrderCreatedDesc
	}
	return o
}

// LinkCursor is where a page of links resumes: after the link ID, whose sort key
// under Order is At (the CREATED and UPDATED orders) or Title (TITLE_ASC;
// NoTitle for a link without one). The zero LinkCursor is the start.
type LinkCursor struct {
	Order   LinkOrder
	ID      int64
	At      time.Time
	Title   string
	NoTitle bool
}

// CursorOf returns the cursor that resumes after l under order.
func CursorOf(l *Link, order LinkOrder) LinkCursor {
	c := LinkCursor{Order: order.Or(), ID: l.ID}
	switch c.Order {
	case OrderUpdatedDesc:
		c.At = l.UpdatedAt
	case OrderTitleAsc:
		if l.Title == nil {
			c.NoTitle = true
		} else {
			c.Title = *l.Title
		}
	default:
		c.At = l.CreatedAt
	}
	return c
}

// LinkPage selects a window of a list of links: at most First, after After, in
// After.Order.
type LinkPage struct {
	First int
	After LinkCursor
}

// MaxFilterTags bounds each list of tag names a links filter takes.
const MaxFilterTags = 20

// LinkFilter selects links. AccountID, when set, confines the list to one account;
// the store still applies the caller's tenant filter on top. Every filter set
// applies; Order (zero: OrderCreatedDesc) must be the cursor's.
type LinkFilter struct {
	LinkPage
	Order        LinkOrder
	AccountID    *int64
	TagID        *int64 // links carrying this tag
	TagName      *string
	Search       *string // substring of URL or title
	Unread       *bool
	Archived     *bool
	Favorite     *bool
	Tags         []string // links carrying every one of these names
	AnyTags      []string // links carrying at least one
	ExcludeTags  []string // links carrying none
	UpdatedSince *time.Time
	// Fields names the fields of each Link to fill, for a read that needs only
	// some; zero fills every field. ID, AccountID and what Order sorts by
	// (and so the cursor of each link) are always filled, unless NoCursors.
	Fields LinkFields
	// NoCursors says that the caller takes no cursor of the page's links, so
	// that what Order sorts by is filled only when Fields names it.
	NoCursors bool
}

// LinkFields is a set of the fields of a Link beyond ID and AccountID.
type LinkFields uint16

// The fields of a Link a LinkFields names.
const (
	LinkURL LinkFields = 1 << iota
	LinkTitle
	LinkDescription
	LinkNotes
	LinkFlags // Unread, Archived and Favorite
	LinkFaviconURL
	LinkPreviewImageURL
	LinkCreatedAt
	LinkUpdatedAt

	AllLinkFields = 1<<iota - 1
)

// OrderField is the field of a Link that order sorts by, before ID.
func OrderField(order LinkOrder) LinkFields {
	switch order.Or() {
	case OrderUpdatedDesc:
		return LinkUpdatedAt
	case OrderTitleAsc:
		return LinkTitle
	}
	return LinkCreatedAt
}

// TagFilter selects tags.
type TagFilter struct {
	Page
	AccountID *int64
	LinkID    *int64 // tags on this link
}

// AccountFilter selects accounts.
type AccountFilter struct {
	Page
}

// LinkList is one page of links.
type LinkList struct {
	Links       []*Link
	HasNextPage bool
}

// TagList is one page of tags.
type TagList struct {
	Tags        []*Tag
	HasNextPage bool
}

// AccountList is one page of accounts.
type AccountList struct {
	Accounts    []*Account
	HasNextPage bool
}

// LinkCreate holds the fields of a new link. Tags are names, created when missing.
type LinkCreate struct {
	URL         string
	Title       *string
	Description *string
	Notes       *string
	Unread      bool
	Archived    bool
	Favorite    bool
	Tags        []string
	AccountID   *int64
	// FaviconURL and PreviewImageURL come from the page's metadata, never from
	// the client.
	FaviconURL      *string
	PreviewImageURL *string
}

// PageMetadata is what a page says about itself, as a link stores it; a nil
// field is one the page did not give.
type PageMetadata struct {
	Title           *string
	Description     *string
	FaviconURL      *string
	PreviewImageURL *string
}

// LinkUpdate holds the fields to change; nil leaves a field as it is.
type LinkUpdate struct {
	URL         *string
	Title       *string
	Description *string
	Notes       *string
	Unread      *bool
	Archived    *bool
	Favorite    *bool
	// Tags, when not nil, is the link's whole set of tag names: missing tags are
	// created, and tags not named are taken off the link (not deleted).
	Tags []string
}

// TagCreate holds the fields of a new tag.
type TagCreate struct {
	Name      string
	AccountID *int64
}

// AccountCreate holds the fields of a new account. Nil Scopes means the default
// scopes; an empty slice means none.
type AccountCreate struct {
	Email    string
	Password string
	Scopes   []string
}

// LinkService reads and writes links. Every method confines itself to the caller's
// account (from the context) unless the caller is an administrator.
type LinkService interface {
	// FindLinkByID returns NOT_FOUND if the link does not exist or is another account's.
	FindLinkByID(ctx context.Context, id int64) (*Link, error)
	// FindLinkByURL returns the caller's own link whose URL normalises as url
	// does (NormalizeURL); NOT_FOUND when there is none, BAD_USER_INPUT for a
	// URL that is not http or https.
	FindLinkByURL(ctx context.Context, url string) (*Link, error)
	// FindLinks returns FORBIDDEN when filter.AccountID names another account and the
	// caller is not an administrator.
	FindLinks(ctx context.Context, filter LinkFilter) (*LinkList, error)
	// CountLinks counts what FindLinks would list without paging.
	CountLinks(ctx context.Context, filter LinkFilter) (int, error)
	// FindLinksByTagIDs and FindLinksByAccountIDs return, keyed by parent id, the
	// page FindLinks would list for each tag (TagID) or account (AccountID) the
	// caller may read, all with one query; a parent with an empty page is absent.
	// Their pages are in OrderCreatedDesc.
	FindLinksByTagIDs(ctx context.Context, tagIDs []int64, p LinkPage) (map[int64]*LinkList, error)
	FindLinksByAccountIDs(ctx context.Context, accountIDs []int64, p LinkPage) (map[int64]*LinkList, error)
	// CountLinksByAccountIDs returns the number of links of each account, keyed by
	// account id; an account with none is absent.
	CountLinksByAccountIDs(ctx context.Context, accountIDs []int64) (map[int64]int, error)
	// CreateLink returns BAD_USER_INPUT for a bad URL or tag name or when the
	// account's Quota has no room, FORBIDDEN for another account's AccountID.
	CreateLink(ctx context.Context, in LinkCreate) (*Link, error)
	// CheckLinkCreate returns the error CreateLink would return for in before
	// writing anything (a bad URL, text or tag, another account's AccountID, a
	// URL the account has already), without writing, so that a caller can refuse
	// it before fetching the page. CreateLink checks it all again.
	CheckLinkCreate(ctx context.Context, in LinkCreate) error
	// FindLinkToWrite returns the link when the caller may change it: NOT_FOUND
	// for another account's link unless the caller holds admin:write.
	FindLinkToWrite(ctx context.Context, id int64) (*Link, error)
	// SetLinkMetadata stores the page's metadata on a link the caller may write:
	// the fields m gives replace the link's, those it leaves nil stay. NOT_FOUND;
	// CONFLICT when the link's URL is no longer url (it changed while the page
	// was read); BAD_USER_INPUT when the text would take the account past its
	// Quota.
	SetLinkMetadata(ctx context.Context, id int64, url string, m PageMetadata) (*Link, error)
	// UpdateLink returns NOT_FOUND or BAD_USER_INPUT (also for longer text past the
	// account's Quota).
	UpdateLink(ctx context.Context, id int64, upd LinkUpdate) (*Link, error)
	// DeleteLink returns NOT_FOUND.
	DeleteLink(ctx context.Context, id int64) error
	// TagLink joins a link and a tag of the same account; NOT_FOUND otherwise.
	TagLink(ctx context.Context, linkID, tagID int64) (*Link, error)
	// UntagLink removes the pair; NOT_FOUND when either is not found.
	UntagLink(ctx context.Context, linkID, tagID int64) (*Link, error)
}

// TagService reads and writes tags, confined like LinkService.
type TagService interface {
	FindTagByID(ctx context.Context, id int64) (*Tag, error)
	FindTags(ctx context.Context, filter TagFilter) (*TagList, error)
	CountTags(ctx context.Context, filter TagFilter) (int, error)
	// FindTagsByLinkIDs returns the tags on each link, sorted by name, keyed by
	// link id, with their ID, AccountID and Name, and of their other fields
	// those fields names.
	FindTagsByLinkIDs(ctx context.Context, linkIDs []int64, fields TagFields) (map[int64][]*Tag, error)
	// CountLinksByTagIDs returns the number of links carrying each tag, keyed by
	// tag id; a tag with none is absent.
	CountLinksByTagIDs(ctx context.Context, tagIDs []int64) (map[int64]int, error)
	// FindTagsByAccountIDs returns, keyed by account id, the page FindTags would
	// list for each account the caller may read, with one query; an account with
	// an empty page is absent.
	FindTagsByAccountIDs(ctx context.Context, accountIDs []int64, p Page) (map[int64]*TagList, error)
	// CountTagsByAccountIDs returns the number of tags of each account, keyed by
	// account id; an account with none is absent.
	CountTagsByAccountIDs(ctx context.Context, accountIDs []int64) (map[int64]int, error)
	// CreateTag returns CONFLICT when the account already has the name.
	CreateTag(ctx context.Context, in TagCreate) (*Tag, error)
	// RenameTag returns NOT_FOUND, BAD_USER_INPUT or CONFLICT.
	RenameTag(ctx context.Context, id int64, name string) (*Tag, error)
	DeleteTag(ctx context.Context, id int64) error
}

// AccountService reads and writes accounts. A caller sees only its own account
// unless it is an administrator.
type AccountService interface {
	FindAccountByID(ctx context.Context, id int64) (*Account, error)
	// FindAccountsByIDs returns the accounts the caller may see among ids, keyed by id.
	FindAccountsByIDs(ctx context.Context, ids []int64) (map[int64]*Account, error)
	FindAccounts(ctx context.Context, filter AccountFilter) (*AccountList, error)
	CountAccounts(ctx context.Context, filter AccountFilter) (int, error)
	// CreateAccount returns BAD_USER_INPUT or CONFLICT (email taken).
	CreateAccount(ctx context.Context, in AccountCreate) (*Account, error)
	// SetAccountScopes returns NOT_FOUND or BAD_USER_INPUT (unknown scope).
	SetAccountScopes(ctx context.Context, id int64, scopes []string) (*Account, error)
	DeleteAccount(ctx context.Context, id int64) error
	// ChangePassword changes the caller's own password; BAD_USER_INPUT when the
	// current password is wrong (ErrWrongPassword) or the new one is unacceptable.
	ChangePassword(ctx context.Context, current, next string) error
}

// ExternalIdentity links an account of an OpenID Connect provider, named by its
// issuer and subject, to a local account, whose caller its tokens become.
type ExternalIdentity struct {
	ID        int64
	AccountID int64
	Issuer    string
	Subject   string
	CreatedAt time.Time
}

// APIToken is a long-lived bearer token an account makes for its scripts. Only a
// hash of its secret is kept; the secret is shown once, when it is made.
type APIToken struct {
	ID         int64
	AccountID  int64
	Name       string
	Scopes     []string
	CreatedAt  time.Time
	LastUsedAt *time.Time
	ExpiresAt  time.Time
	// EndedAt is when the token stopped working, for one still listed: its
	// expiry, or the password change of its account made after it. Nil while it
	// works.
	EndedAt *time.Time
	// EndReason says why it stopped: APITokenExpired or APITokenPasswordChanged;
	// empty while it works.
	EndReason string
}

// Why an API token stopped working.
const (
	APITokenExpired         = "EXPIRED"
	APITokenPasswordChanged = "PASSWORD_CHANGED"
)

// EndedByPasswordChange reports whether a password change at changedAt ended t,
// as it ends every credential issued before it.
func (t *APIToken) EndedByPasswordChange(changedAt time.Time) bool {
	return t.CreatedAt.Before(changedAt.Truncate(time.Millisecond))
}

// SetEnd records whether and when t stopped working by now, its account's
// password having last changed at passwordChangedAt; the earlier end wins.
func (t *APIToken) SetEnd(passwordChangedAt, now time.Time) {
	t.EndedAt, t.EndReason = nil, ""
	switch {
	case t.EndedByPasswordChange(passwordChangedAt) && passwordChangedAt.Before(t.ExpiresAt):
		at := passwordChangedAt.UTC()
		t.EndedAt, t.EndReason = &at, APITokenPasswordChanged
	case !now.Before(t.ExpiresAt):
		at := t.ExpiresAt
		t.EndedAt, t.EndReason = &at, APITokenExpired
	}
}

// Active reports whether t worked when it was read.
func (t *APIToken) Active() bool { return t.EndedAt == nil }

// APITokenCreate holds the fields of a new API token. Nil ExpiresIn means the
// default lifetime.
type APITokenCreate struct {
	Name      string
	Scopes    []string
	ExpiresIn *time.Duration
}

// API token lifetimes.
const (
	DefaultAPITokenLifetime = 90 * 24 * time.Hour
	MaxAPITokenLifetime     = 366 * 24 * time.Hour
	MinAPITokenLifetime     = time.Minute
	MaxAPITokenNameLength   = 100
)

// APITokenService manages the caller's API tokens.
type APITokenService interface {
	// CreateAPIToken makes a token for the caller's own account and returns it with
	// its secret. BAD_USER_INPUT for a bad name, lifetime or unknown scope;
	// FORBIDDEN for a scope the caller does not hold, or when the caller is itself
	// an API token.
	CreateAPIToken(ctx context.Context, in APITokenCreate) (*APIToken, string, error)
	// FindAPITokens lists the caller's own tokens, newest first, each saying
	// whether it still works (EndedAt, EndReason).
	FindAPITokens(ctx context.Context) ([]*APIToken, error)
	// RevokeAPIToken deletes a token: the caller's own, or any for an administrator.
	// NOT_FOUND.
	RevokeAPIToken(ctx context.Context, id int64) error
}

// LinkImport is one link of an import: a LinkCreate with its original dates
// (zero for now; an UpdatedAt before CreatedAt is taken as CreatedAt).
type LinkImport struct {
	LinkCreate
	CreatedAt time.Time
	UpdatedAt time.Time
}

// TagImport is one tag of an import, which may carry no link: its name and
// original date (zero for now).
type TagImport struct {
	Name      string
	CreatedAt time.Time
}

// AccountImport is the whole of an import: tags that may have no links, and
// links. With Strict, an entry that fails validation (a bad URL, an over-long
// title, a bad tag name, too many tags) refuses the whole import with
// BAD_USER_INPUT naming the entry, and nothing is written; without it, such
// links are counted Invalid and left out and such tag names dropped, as a
// bookmark file from another service is read.
type AccountImport struct {
	Tags   []TagImport
	Links  []LinkImport
	Strict bool
}

// ImportResult counts what an import did.
type ImportResult struct {
	Imported int // links created
	Skipped  int // URLs the account already had, or that came twice
	Invalid  int // entries refused by validation (not http(s), too long, ...)
	TagsMade int // tags created on the way
}

// MaxImportLinks bounds one import.
const MaxImportLinks = 100000

// ImportService brings links in and takes them out in bulk.
type ImportService interface {
	// ImportLinks adds links to the caller's account (or, for an administrator, the
	// named one), skipping URLs the account already has and entries that fail
	// validation, in one transaction. FORBIDDEN, NOT_FOUND or BAD_USER_INPUT; an
	// import past the account's Quota imports nothing (BAD_USER_INPUT).
	ImportLinks(ctx context.Context, accountID *int64, links []LinkImport) (*ImportResult, error)
	// ImportAccount is ImportLinks for an AccountImport: its tags too, and in
	// strict mode a refusal of the whole for one bad entry.
	ImportAccount(ctx context.Context, accountID *int64, in AccountImport) (*ImportResult, error)
	// ExportTags returns every tag of the account, by name. FORBIDDEN or NOT_FOUND.
	ExportTags(ctx context.Context, accountID *int64) ([]*Tag, error)
	// ExportLinks returns every link of the account with its tags, oldest first
	// by CreatedAt, then by ID.
	ExportLinks(ctx context.Context, accountID *int64) ([]*Link, map[int64][]*Tag, error)
	// ExportSize returns the length of the URLs, titles and descriptions an
	// export of the account would hold. FORBIDDEN or NOT_FOUND.
	ExportSize(ctx context.Context, accountID *int64) (int64, error)
}

// MaxExportText bounds the text (URLs, titles, descriptions) of an export asked
// for through the API, so that one small request cannot make the server build an
// answer of tens of megabytes; `linkapi export` has no such bound.
const MaxExportText = 4 << 20

// ErrWrongPassword is ChangePassword's answer to a wrong current password; callers
// that limit password guessing tell it from other refusals by identity.
var ErrWrongPassword = Errorf(EINVALID, "current password is incorrect")
