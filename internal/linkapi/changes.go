package linkapi

import (
	"context"
	"time"
)

// ChangeKind says what a change did to its object.
type ChangeKind string

// The kinds of change.
const (
	ChangeCreated ChangeKind = "CREATED"
	ChangeUpdated ChangeKind = "UPDATED"
	ChangeDeleted ChangeKind = "DELETED"
)

// The object types a change names.
const (
	ObjectLink = "Link"
	ObjectTag  = "Tag"
)

// ChangeRetention is how long the change feed keeps a change, deletions
// included; a cursor that points before what was pruned is CURSOR_EXPIRED.
const ChangeRetention = 30 * 24 * time.Hour

// Change is one row of the change feed: a creation, update or deletion of a link
// or a tag, recorded in the transaction that made it.
type Change struct {
	Kind       ChangeKind
	ObjectType string
	ObjectID   int64
	AccountID  int64
	At         time.Time
	// Position is where the change stands in the feed it was read from; a
	// cursor made of it reads the changes after it.
	Position ChangePosition
}

// ChangePosition is a place in a change feed. Account names the account whose
// feed it is, Seq counting that account's changes in commit order; Account 0 is
// an administrator's feed of every account, Seq then being the row's id.
type ChangePosition struct {
	Account int64
	Seq     int64
}

// ChangeFilter selects a page of the change feed: at most First changes after
// After (from the oldest kept, when nil), of the named account, or, when
// AccountID is nil, the caller's own (every account's, for an administrator).
type ChangeFilter struct {
	First     int
	After     *ChangePosition
	AccountID *int64
}

// ChangeList is one page of the change feed. End is the position after the
// page's last change, or the filter's After when the page is empty.
type ChangeList struct {
	Changes     []*Change
	HasNextPage bool
	End         ChangePosition
}

// ChangeService reads the change feed.
type ChangeService interface {
	// FindChanges returns a page of changes in the feed's order. FORBIDDEN for
	// another account's AccountID, BAD_USER_INPUT for a position of another
	// feed, CURSOR_EXPIRED when changes after After have been pruned.
	FindChanges(ctx context.Context, filter ChangeFilter) (*ChangeList, error)
	// LatestChange returns the position of the newest change of the feed
	// FindChanges would read for accountID, so that reading after it later
	// lists only what came after now.
	LatestChange(ctx context.Context, accountID *int64) (ChangePosition, error)
	// FindLinksByIDs and FindTagsByIDs return, keyed by id, those of ids the
	// caller may read and that still exist, with one statement.
	FindLinksByIDs(ctx context.Context, ids []int64) (map[int64]*Link, error)
	FindTagsByIDs(ctx context.Context, ids []int64) (map[int64]*Tag, error)
	// PruneChanges deletes the changes older than ChangeRetention and returns
	// how many it deleted.
	PruneChanges(ctx context.Context) (int64, error)
}
