package linkapi

import "context"

// MaxBulkItems bounds the items of one bulk mutation.
const MaxBulkItems = 100

// LinkPatch is what a bulk update changes on every link it names: tag names to
// put on (created when missing) and to take off, and the reading-list state
// (nil: left as it is).
type LinkPatch struct {
	AddTags    []string
	RemoveTags []string
	Unread     *bool
	Archived   *bool
	Favorite   *bool
}

// SetsState says whether the patch changes any link's state.
func (p LinkPatch) SetsState() bool { return p.Unread != nil || p.Archived != nil || p.Favorite != nil }

// BulkItemError is why item Index of a bulk write failed.
type BulkItemError struct {
	Index int
	Err   *Error
}

// BulkResult answers a bulk write: Links[i] is item i's link, nil where Errors
// names i.
type BulkResult struct {
	Links  []*Link
	Errors []BulkItemError
}

// BulkLinkService writes links in bulk. Each item succeeds or fails on its own,
// with the code its single-item counterpart would return; the ones that succeed
// are written. A batch of no items or more than MaxBulkItems is BAD_USER_INPUT
// and writes nothing.
type BulkLinkService interface {
	// CreateLinks creates each link as CreateLink would.
	CreateLinks(ctx context.Context, in []LinkCreate) (*BulkResult, error)
	// UpdateLinks applies patch to each link; an id that is not positive, is not
	// found, or repeats an earlier item, fails its item (NOT_FOUND, BAD_USER_INPUT).
	// A patch that changes nothing, or names a bad tag, is BAD_USER_INPUT.
	UpdateLinks(ctx context.Context, ids []int64, patch LinkPatch) (*BulkResult, error)
	// DeleteLinks deletes each link, answering it as it was; ids fail as in
	// UpdateLinks.
	DeleteLinks(ctx context.Context, ids []int64) (*BulkResult, error)
}
