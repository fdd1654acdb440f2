package store

import (
	"time"

	"gorm.io/gorm"

	"linkapi/internal/auth"
	"linkapi/internal/linkapi"
)

// accountRow is the accounts table. Email is stored lower-cased, so the unique index
// compares it case-insensitively on every database.
type accountRow struct {
	ID                int64
	Email             string
	PasswordHash      string
	Scopes            string
	PasswordChangedAt time.Time
	CreatedAt         time.Time
	UpdatedAt         time.Time
}

func (accountRow) TableName() string { return "accounts" }

func (r *accountRow) domain() *linkapi.Account {
	scopes := auth.SplitScopes(r.Scopes)
	if scopes == nil {
		scopes = []string{}
	}
	return &linkapi.Account{
		ID:                r.ID,
		Email:             r.Email,
		Scopes:            scopes,
		CreatedAt:         r.CreatedAt.UTC(),
		UpdatedAt:         r.UpdatedAt.UTC(),
		PasswordChangedAt: r.PasswordChangedAt.UTC(),
	}
}

// linkRow is the links table. URLHash is linkapi.URLKey(URL), which
// BeforeCreate sets on every row inserted and UpdateLink on every URL changed.
type linkRow struct {
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
	URLHash         *string
	CreatedAt       time.Time
	UpdatedAt       time.Time
}

func (linkRow) TableName() string { return "links" }

// BeforeCreate keys the row by its URL, whichever write inserts it.
func (r *linkRow) BeforeCreate(*gorm.DB) error {
	r.setURL(r.URL)
	return nil
}

// setURL sets the row's URL and the key it is found by.
func (r *linkRow) setURL(url string) {
	key := linkapi.URLKey(url)
	r.URL, r.URLHash = url, &key
}

// textBytes is what the link's text costs against its account's quota.
func (r *linkRow) textBytes() int { return r.domain().TextBytes() }

func (r *linkRow) domain() *linkapi.Link {
	return &linkapi.Link{
		ID:              r.ID,
		AccountID:       r.AccountID,
		URL:             r.URL,
		Title:           r.Title,
		Description:     r.Description,
		Notes:           r.Notes,
		Unread:          r.Unread,
		Archived:        r.Archived,
		Favorite:        r.Favorite,
		FaviconURL:      r.FaviconURL,
		PreviewImageURL: r.PreviewImageURL,
		CreatedAt:       r.CreatedAt.UTC(),
		UpdatedAt:       r.UpdatedAt.UTC(),
	}
}

// tagRow is the tags table; (account_id, name) is unique.
type tagRow struct {
	ID        int64
	AccountID int64
	Name      string
	CreatedAt time.Time
}

func (tagRow) TableName() string { return "tags" }

func (r *tagRow) domain() *linkapi.Tag {
	return &linkapi.Tag{ID: r.ID, AccountID: r.AccountID, Name: r.Name, CreatedAt: r.CreatedAt.UTC()}
}

// tagJoinRow is a tag read together with a column of a join or a subquery. gorm
// does not fill an embedded unexported struct, hence the fields spelled out.
type tagJoinRow struct {
	ID        int64
	AccountID int64
	Name      string
	CreatedAt time.Time
	LinkID    int64
	LinkCount int
}

func (r *tagJoinRow) domain() *linkapi.Tag {
	return (&tagRow{ID: r.ID, AccountID: r.AccountID, Name: r.Name, CreatedAt: r.CreatedAt}).domain()
}

// linkTagRow pairs a link with a tag of the same account; the composite foreign
// keys make a pair across accounts impossible in the database itself.
type linkTagRow struct {
	LinkID    int64 `gorm:"primaryKey;autoIncrement:false"`
	TagID     int64 `gorm:"primaryKey;autoIncrement:false"`
	AccountID int64
	CreatedAt time.Time
}

func (linkTagRow) TableName() string { return "link_tags" }

func domains[R any, D any](rows []R, f func(*R) D) []D {
	out := make([]D, len(rows))
	for i := range rows {
		out[i] = f(&rows[i])
	}
	return out
}
