package main

// The floor: the least a server can do to answer the benchmark's `me` and links
// queries, written with net/http, database/sql and encoding/json only. It does the
// same auth work as linkapi (verify the HS256 token, read the account by primary
// key, check the token's issue time and scopes) and the same SQL (the account; the
// account's links newest first, one more than the page; the tags of those links in
// one IN query), and writes the same JSON. linkapi's throughput is reported as a
// ratio of this one's.

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// The GraphQL documents the floor answers; the load generator sends exactly these.
const (
	queryMe    = `{ me { id email } }`
	queryLinks = `{ links(first: 20) { nodes { id url title tags { name } } } }`
	floorPage  = 20
)

// linkShape is one of the list pages the benchmark asks for: first links of the
// caller's, newest first, with their tags, and when full also the total count and
// each link's account.
type linkShape struct {
	scenario string
	first    int
	full     bool
}

// linkShapes are the list scenarios: the two shapes at 20 and 100 links a page.
var linkShapes = []linkShape{
	{"links", floorPage, false},
	{"links100", 100, false},
	{"linksFull", floorPage, true},
	{"linksFull100", 100, true},
}

// query is the shape's GraphQL document.
func (s linkShape) query() string {
	if s.full {
		return fmt.Sprintf(`{ links(first: %d) { totalCount nodes { id url title tags { name } account { email } } } }`, s.first)
	}
	return fmt.Sprintf(`{ links(first: %d) { nodes { id url title tags { name } } } }`, s.first)
}

// label describes the shape in the report.
func (s linkShape) label() string {
	if s.full {
		return fmt.Sprintf("`links(first: %d)` with tags, totalCount, account", s.first)
	}
	return fmt.Sprintf("`links(first: %d)` with tags", s.first)
}

func shapeOf(query string) (linkShape, bool) {
	for _, s := range linkShapes {
		if s.query() == query {
			return s, true
		}
	}
	return linkShape{}, false
}

type floor struct {
	db      *sql.DB
	secret  []byte
	account *sql.Stmt
	links   *sql.Stmt
	count   *sql.Stmt
}

// newFloor prepares the floor's fixed statements on db.
func newFloor(ctx context.Context, db *sql.DB, secret []byte) (*floor, error) {
	f := &floor{db: db, secret: secret}
	var err error
	f.account, err = db.PrepareContext(ctx, `SELECT email, scopes, password_changed_at FROM accounts WHERE id = ?`)
	if err != nil {
		return nil, err
	}
	f.links, err = db.PrepareContext(ctx, `SELECT id, url, title FROM links WHERE account_id = ? ORDER BY id DESC LIMIT ?`)
	if err != nil {
		return nil, err
	}
	f.count, err = db.PrepareContext(ctx, `SELECT COUNT(*) FROM links WHERE account_id = ?`)
	if err != nil {
		return nil, err
	}
	return f, nil
}

type floorClaims struct {
	jwt.RegisteredClaims
	Scope string `json:"scope"`
}

type floorAccount struct {
	id          int64
	email       string
	tokenScopes []string
	scopes      []string
}

// grants reports whether scopes hold need, directly or through X:write or an admin scope.
func grants(scopes []string, need string) bool {
	write := strings.TrimSuffix(need, ":read") + ":write"
	for _, s := range scopes {
		if s == need || s == write || s == "admin:write" || (s == "admin:read" && strings.HasSuffix(need, ":read")) {
			return true
		}
	}
	return false
}

func (a *floorAccount) may(need string) bool {
	return grants(a.tokenScopes, need) && grants(a.scopes, need)
}

var errFloorToken = errors.New("invalid token")

// authenticate verifies the bearer token and reads its account by primary key.
func (f *floor) authenticate(ctx context.Context, header string) (*floorAccount, error) {
	token, ok := strings.CutPrefix(header, "Bearer ")
	if !ok {
		return nil, errFloorToken
	}
	var claims floorClaims
	_, err := jwt.ParseWithClaims(token, &claims, func(*jwt.Token) (any, error) { return f.secret, nil },
		jwt.WithValidMethods([]string{"HS256"}), jwt.WithIssuer("linkapi"), jwt.WithAudience("linkapi"),
		jwt.WithExpirationRequired(), jwt.WithIssuedAt(), jwt.WithLeeway(30*time.Second))
	if err != nil || claims.IssuedAt == nil {
		return nil, errFloorToken
	}
	id, err := strconv.ParseInt(claims.Subject, 10, 64)
	if err != nil || id <= 0 {
		return nil, errFloorToken
	}
	a := &floorAccount{id: id, tokenScopes: strings.Fields(claims.Scope)}
	var scopes string
	var changed time.Time
	err = f.account.QueryRowContext(ctx, id).Scan(&a.email, &scopes, &changed)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, errFloorToken
	} else if err != nil {
		return nil, err
	}
	if claims.IssuedAt.Time.Before(changed.Truncate(time.Millisecond)) {
		return nil, errFloorToken
	}
	a.scopes = strings.Fields(scopes)
	return a, nil
}

type floorTag struct {
	Name string `json:"name"`
}

type floorLink struct {
	ID      string         `json:"id"`
	URL     string         `json:"url"`
	Title   *string        `json:"title"`
	Tags    []floorTag     `json:"tags"`
	Account *floorAccEmail `json:"account,omitempty"`
}

type floorAccEmail struct {
	Email string `json:"email"`
}

type floorPageOut struct {
	TotalCount *int        `json:"totalCount,omitempty"`
	Nodes      []floorLink `json:"nodes"`
}

type floorMe struct {
	ID    string `json:"id"`
	Email string `json:"email"`
}

// linksPage reads the newest page of the account's links with their tags.
func (f *floor) linksPage(ctx context.Context, accountID int64, first int) ([]floorLink, error) {
	rows, err := f.links.QueryContext(ctx, accountID, first+1)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	links := make([]floorLink, 0, first+1)
	var ids []int64
	for rows.Next() {
		var id int64
		var l floorLink
		if err := rows.Scan(&id, &l.URL, &l.Title); err != nil {
			return nil, err
		}
		l.ID, l.Tags = strconv.FormatInt(id, 10), []floorTag{}
		links, ids = append(links, l), append(ids, id)
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	if len(links) > first {
		links, ids = links[:first], ids[:first]
	}
	if len(ids) == 0 {
		return links, nil
	}

	index := make(map[int64]int, len(ids))
	args := make([]any, 0, len(ids)+1)
	args = append(args, accountID)
	for i, id := range ids {
		index[id] = i
		args = append(args, id)
	}
	// The same statement as linkapi's FindTagsByLinkIDs.
	q := `SELECT link_tags.link_id, tags.name FROM link_tags CROSS JOIN tags ON tags.id = link_tags.tag_id AND tags.account_id = link_tags.account_id
WHERE link_tags.account_id = ? AND link_tags.link_id IN (?` + strings.Repeat(",?", len(ids)-1) + `) ORDER BY tags.name, tags.id`
	trows, err := f.db.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	defer trows.Close()
	for trows.Next() {
		var linkID int64
		var t floorTag
		if err := trows.Scan(&linkID, &t.Name); err != nil {
			return nil, err
		}
		if i, ok := index[linkID]; ok {
			links[i].Tags = append(links[i].Tags, t)
		}
	}
	return links, trows.Err()
}

func (f *floor) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		floorError(w, http.StatusMethodNotAllowed, "POST only")
		return
	}
	var req struct {
		Query string `json:"query"`
	}
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<20)).Decode(&req); err != nil {
		floorError(w, http.StatusBadRequest, "bad request body")
		return
	}
	ctx := r.Context()
	a, err := f.authenticate(ctx, r.Header.Get("Authorization"))
	if errors.Is(err, errFloorToken) {
		floorError(w, http.StatusUnauthorized, err.Error())
		return
	} else if err != nil {
		floorError(w, http.StatusInternalServerError, "internal server error")
		return
	}
	var data any
	switch req.Query {
	case queryMe:
		if !a.may("account:read") {
			floorError(w, http.StatusOK, "forbidden")
			return
		}
		data = map[string]floorMe{"me": {ID: strconv.FormatInt(a.id, 10), Email: a.email}}
	default:
		shape, ok := shapeOf(req.Query)
		if !ok {
			floorError(w, http.StatusBadRequest, "the floor answers only the benchmark's me and links queries")
			return
		}
		if !a.may("links:read") || !a.may("tags:read") || shape.full && !a.may("account:read") {
			floorError(w, http.StatusOK, "forbidden")
			return
		}
		var page floorPageOut
		var err error
		if shape.full {
			var n int
			if err = f.count.QueryRowContext(ctx, a.id).Scan(&n); err == nil {
				page.TotalCount = &n
			}
		}
		if err == nil {
			page.Nodes, err = f.linksPage(ctx, a.id, shape.first)
		}
		if err != nil {
			floorError(w, http.StatusInternalServerError, "internal server error")
			return
		}
		if shape.full {
			// The caller's own account, read by authenticate.
			acc := &floorAccEmail{Email: a.email}
			for i := range page.Nodes {
				page.Nodes[i].Account = acc
			}
		}
		data = map[string]floorPageOut{"links": page}
	}
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(map[string]any{"data": data})
}

func floorError(w http.ResponseWriter, status int, message string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(map[string]any{"errors": []map[string]string{{"message": message}}})
}
