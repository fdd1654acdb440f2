package bookmarks

import (
	"context"
	"io"

	"linkapi/internal/linkapi"
)

// Service imports and exports bookmark files through the store; the API and the
// command line both go through it.
type Service struct {
	Store linkapi.ImportService
}

// Import reads a bookmark file from r into the account (the caller's own when
// accountID is nil). BAD_USER_INPUT for a file that cannot be read, and the
// store's codes.
func (s Service) Import(ctx context.Context, accountID *int64, r io.Reader) (*linkapi.ImportResult, error) {
	links, err := ReadImports(r)
	if err != nil {
		return nil, err
	}
	return s.Store.ImportLinks(ctx, accountID, links)
}

// Export writes the account's links to w as a bookmark file. With maxText above
// zero, an account whose URLs, titles and descriptions hold more text than that
// is refused with BAD_USER_INPUT before a link is read, so that a small request
// cannot make the server build a huge answer.
func (s Service) Export(ctx context.Context, accountID *int64, w io.Writer, maxText int64) error {
	if maxText > 0 {
		size, err := s.Store.ExportSize(ctx, accountID)
		if err != nil {
			return err
		}
		if size > maxText {
			return linkapi.Errorf(linkapi.EINVALID, "the account's links hold more than %d MiB of text, more than the API exports; use `linkapi export --email EMAIL --file FILE`", maxText>>20)
		}
	}
	links, tags, err := s.Store.ExportLinks(ctx, accountID)
	if err != nil {
		return err
	}
	return WriteLinks(w, links, tags)
}

// ImportState reads a JSON account state (see [State]) from r into the account,
// in one transaction: URLs the account has already, or that come twice, are
// skipped; one invalid entry refuses the whole with BAD_USER_INPUT naming it,
// and nothing is written.
func (s Service) ImportState(ctx context.Context, accountID *int64, r io.Reader) (*linkapi.ImportResult, error) {
	in, err := ReadState(r)
	if err != nil {
		return nil, err
	}
	return s.Store.ImportAccount(ctx, accountID, in)
}

// ExportState writes the account's links and tags to w as a JSON account state.
func (s Service) ExportState(ctx context.Context, accountID *int64, w io.Writer) error {
	links, linkTags, err := s.Store.ExportLinks(ctx, accountID)
	if err != nil {
		return err
	}
	tags, err := s.Store.ExportTags(ctx, accountID)
	if err != nil {
		return err
	}
	return WriteState(w, links, linkTags, tags)
}
