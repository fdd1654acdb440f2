package bookmarks

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"time"

	"linkapi/internal/linkapi"
)

// StateVersion is the version of the JSON account state that WriteState writes
// and the only one ReadState reads.
const StateVersion = 1

// MaxStateBytes is the largest JSON account state ReadState reads.
const MaxStateBytes = 256 << 20

// State is the JSON form of an account's links and tags, as `linkapi export
// --format json` writes it: keys always present and in this order, links oldest
// first (createdAt, then id), tags and each link's tags by name, times in
// RFC 3339 UTC, so that two exports compare line by line. The ids are the
// exporting server's; an import ignores them.
type State struct {
	Version int         `json:"version"`
	Tags    []StateTag  `json:"tags"`
	Links   []StateLink `json:"links"`
}

// StateTag is one tag of a State.
type StateTag struct {
	ID        int64     `json:"id,omitempty"`
	Name      string    `json:"name"`
	CreatedAt time.Time `json:"createdAt"`
}

// StateLink is one link of a State. Title, description and notes are null when
// the link has none.
type StateLink struct {
	ID          int64     `json:"id,omitempty"`
	URL         string    `json:"url"`
	Title       *string   `json:"title"`
	Description *string   `json:"description"`
	Notes       *string   `json:"notes"`
	Unread      bool      `json:"unread"`
	Archived    bool      `json:"archived"`
	Favorite    bool      `json:"favorite"`
	Tags        []string  `json:"tags"`
	CreatedAt   time.Time `json:"createdAt"`
	UpdatedAt   time.Time `json:"updatedAt"`
}

// WriteState writes links (in the order given), their tags keyed by link id and
// the account's tags as a JSON State, indented by two spaces, with a final
// newline.
func WriteState(w io.Writer, links []*linkapi.Link, linkTags map[int64][]*linkapi.Tag, tags []*linkapi.Tag) error {
	st := State{Version: StateVersion, Tags: make([]StateTag, len(tags)), Links: make([]StateLink, len(links))}
	for i, t := range tags {
		st.Tags[i] = StateTag{ID: t.ID, Name: t.Name, CreatedAt: t.CreatedAt.UTC()}
	}
	for i, l := range links {
		names := make([]string, 0, len(linkTags[l.ID]))
		for _, t := range linkTags[l.ID] {
			names = append(names, t.Name)
		}
		st.Links[i] = StateLink{ID: l.ID, URL: l.URL, Title: l.Title, Description: l.Description, Notes: l.Notes,
			Unread: l.Unread, Archived: l.Archived, Favorite: l.Favorite, Tags: names,
			CreatedAt: l.CreatedAt.UTC(), UpdatedAt: l.UpdatedAt.UTC()}
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false) // URLs with & stay as they are
	return enc.Encode(st)
}

// ReadState parses a JSON State into an import. It is strict, since the file is
// a program's: BAD_USER_INPUT, naming what is wrong, for input that is not one
// JSON object, a version other than StateVersion, a key the schema does not
// have, a link without a url, or input over MaxStateBytes. The import it
// returns is Strict, so that the store refuses it whole for one invalid entry.
func ReadState(r io.Reader) (linkapi.AccountImport, error) {
	data, err := io.ReadAll(io.LimitReader(r, MaxStateBytes+1))
	if err != nil {
		return linkapi.AccountImport{}, linkapi.Errorf(linkapi.EINVALID, "the JSON file cannot be read: %v", err)
	}
	if len(data) > MaxStateBytes {
		return linkapi.AccountImport{}, linkapi.Errorf(linkapi.EINVALID, "the JSON file is larger than %d bytes", MaxStateBytes)
	}
	// The version first, so that a later version's new keys are reported as
	// a version this program does not read rather than as unknown keys.
	var head struct {
		Version *json.RawMessage `json:"version"`
	}
	if err := json.Unmarshal(data, &head); err != nil {
		return linkapi.AccountImport{}, linkapi.Errorf(linkapi.EINVALID, "the file is not a linkapi JSON export: %s", jsonError(data, err))
	}
	if head.Version == nil {
		return linkapi.AccountImport{}, linkapi.Errorf(linkapi.EINVALID, "the file has no \"version\"; a linkapi JSON export starts with \"version\": %d", StateVersion)
	}
	var version int
	if err := json.Unmarshal(*head.Version, &version); err != nil || version != StateVersion {
		return linkapi.AccountImport{}, linkapi.Errorf(linkapi.EINVALID, "the file is version %s of the JSON export; this linkapi reads version %d", *head.Version, StateVersion)
	}
	var st State
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&st); err != nil {
		return linkapi.AccountImport{}, linkapi.Errorf(linkapi.EINVALID, "the file is not a linkapi JSON export: %s", jsonError(data, err))
	}
	in := linkapi.AccountImport{Strict: true, Tags: make([]linkapi.TagImport, len(st.Tags)), Links: make([]linkapi.LinkImport, len(st.Links))}
	for i, t := range st.Tags {
		in.Tags[i] = linkapi.TagImport{Name: t.Name, CreatedAt: t.CreatedAt}
	}
	for i, l := range st.Links {
		if l.URL == "" {
			return linkapi.AccountImport{}, linkapi.Errorf(linkapi.EINVALID, "link %d has no url", i+1)
		}
		in.Links[i] = linkapi.LinkImport{
			LinkCreate: linkapi.LinkCreate{URL: l.URL, Title: l.Title, Description: l.Description, Notes: l.Notes,
				Unread: l.Unread, Archived: l.Archived, Favorite: l.Favorite, Tags: l.Tags},
			CreatedAt: l.CreatedAt, UpdatedAt: l.UpdatedAt,
		}
	}
	return in, nil
}

// jsonError says what is wrong with data, with the line of a syntax or type
// error.
func jsonError(data []byte, err error) string {
	var offset int64 = -1
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syn):
		offset = syn.Offset
	case errors.As(err, &typ):
		offset = typ.Offset
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return "it ends too early"
	}
	if offset < 0 {
		return err.Error()
	}
	line := 1 + bytes.Count(data[:min(int(offset), len(data))], []byte("\n"))
	return fmt.Sprintf("line %d: %v", line, err)
}
