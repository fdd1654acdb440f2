// Package auth holds what authorisation needs outside the data layer: the scope
// names and how they imply one another, the caller carried in a request context,
// password hashing, and the signed access tokens.
package auth

import (
	"math/bits"
	"strings"

	"linkapi/internal/linkapi"
)

// Scope names, as they appear in tokens, in the schema and in the database.
const (
	LinksRead    = "links:read"
	LinksWrite   = "links:write"
	TagsRead     = "tags:read"
	TagsWrite    = "tags:write"
	AccountRead  = "account:read"
	AccountWrite = "account:write"
	AdminRead    = "admin:read"
	AdminWrite   = "admin:write"
)

// AllScopes lists every scope in the canonical order used for output.
var AllScopes = []string{
	LinksRead, LinksWrite,
	TagsRead, TagsWrite,
	AccountRead, AccountWrite,
	AdminRead, AdminWrite,
}

// DefaultScopes are the scopes a new account gets unless told otherwise.
var DefaultScopes = []string{LinksWrite, TagsWrite, AccountWrite}

// implies is the one implication table: each scope maps to the scopes it directly
// implies. Expand computes the transitive closure from it.
var implies = map[string][]string{
	LinksRead:    nil,
	LinksWrite:   {LinksRead},
	TagsRead:     nil,
	TagsWrite:    {TagsRead},
	AccountRead:  nil,
	AccountWrite: {AccountRead},
	AdminRead:    {LinksRead, TagsRead, AccountRead},
	AdminWrite:   {AdminRead, LinksWrite, TagsWrite, AccountWrite},
}

// scopeRank gives each known scope its position in AllScopes.
var scopeRank = func() map[string]int {
	m := make(map[string]int, len(AllScopes))
	for i, s := range AllScopes {
		m[s] = i
	}
	return m
}()

// Known reports whether name is a scope this package defines.
func Known(name string) bool {
	_, ok := scopeRank[name]
	return ok
}

// Normalize trims the names, drops empty ones and duplicates and returns them in
// AllScopes order. An unknown name is a BAD_USER_INPUT error that names it. The
// result is never nil.
func Normalize(names []string) ([]string, error) {
	set := make(map[string]bool, len(names))
	for _, n := range names {
		n = strings.TrimSpace(n)
		if n == "" {
			continue
		}
		if !Known(n) {
			return nil, linkapi.Errorf(linkapi.EINVALID, "unknown scope %q", n)
		}
		set[n] = true
	}
	return ordered(set), nil
}

// SplitScopes splits a space-separated scope string (a token's scope claim, an
// account's stored scopes, a command-line flag) into its names, unchecked.
func SplitScopes(s string) []string {
	return strings.Fields(s)
}

// ParseScopeString splits a space-separated scope string and normalizes it.
func ParseScopeString(s string) ([]string, error) {
	return Normalize(SplitScopes(s))
}

// scopeSet is a set of known scopes, bit i standing for AllScopes[i].
type scopeSet uint16

// closures holds, for each known scope, the set of it and every scope it
// implies, computed once from the implies table.
var closures = func() map[string]scopeSet {
	m := make(map[string]scopeSet, len(AllScopes))
	var visit func(s string, into *scopeSet)
	visit = func(s string, into *scopeSet) {
		bit := scopeSet(1) << scopeRank[s]
		if *into&bit != 0 {
			return
		}
		*into |= bit
		for _, t := range implies[s] {
			visit(t, into)
		}
	}
	for _, s := range AllScopes {
		var set scopeSet
		visit(s, &set)
		m[s] = set
	}
	return m
}()

// expandSet returns the set of every scope names imply, names included;
// unknown names are ignored.
func expandSet(names []string) scopeSet {
	var set scopeSet
	for _, n := range names {
		set |= closures[strings.TrimSpace(n)]
	}
	return set
}

// names returns the members of set in AllScopes order, never nil.
func (set scopeSet) names() []string {
	out := make([]string, 0, bits.OnesCount16(uint16(set)))
	for i, s := range AllScopes {
		if set&(1<<i) != 0 {
			out = append(out, s)
		}
	}
	return out
}

// Expand returns every scope implied by names, including names themselves, in
// AllScopes order. Unknown names are ignored.
func Expand(names []string) []string {
	return expandSet(names).names()
}

// Implies reports whether the held scopes, expanded, include want.
func Implies(held []string, want string) bool {
	rank, ok := scopeRank[want]
	return ok && expandSet(held)&(1<<rank) != 0
}

// Effective returns the scopes a request may use: those the token carries and the
// account currently holds, both expanded, in AllScopes order.
func Effective(token, account []string) []string {
	return (expandSet(token) & expandSet(account)).names()
}

// knownScopes keeps the known names of a stored scope list, deduplicated and in
// AllScopes order, ignoring anything unknown.
func knownScopes(names []string) []string {
	set := make(map[string]bool, len(names))
	for _, n := range names {
		if n = strings.TrimSpace(n); Known(n) {
			set[n] = true
		}
	}
	return ordered(set)
}

// ordered returns the members of set in AllScopes order.
func ordered(set map[string]bool) []string {
	out := make([]string, 0, len(set))
	for _, s := range AllScopes {
		if set[s] {
			out = append(out, s)
		}
	}
	return out
}
