package auth

import (
	"context"
	"slices"
	"strings"
	"testing"

	"linkapi/internal/linkapi"
)

func TestExpand(t *testing.T) {
	tests := []struct {
		scope string
		want  []string
	}{
		{LinksRead, []string{LinksRead}},
		{LinksWrite, []string{LinksRead, LinksWrite}},
		{TagsRead, []string{TagsRead}},
		{TagsWrite, []string{TagsRead, TagsWrite}},
		{AccountRead, []string{AccountRead}},
		{AccountWrite, []string{AccountRead, AccountWrite}},
		{AdminRead, []string{LinksRead, TagsRead, AccountRead, AdminRead}},
		{AdminWrite, AllScopes},
	}
	if len(tests) != len(AllScopes) {
		t.Fatalf("table covers %d scopes, want %d", len(tests), len(AllScopes))
	}
	for _, tt := range tests {
		t.Run(tt.scope, func(t *testing.T) {
			if got := Expand([]string{tt.scope}); !slices.Equal(got, tt.want) {
				t.Errorf("Expand(%s) = %v, want %v", tt.scope, got, tt.want)
			}
		})
	}
}

func TestImplicationTableCoversEveryScope(t *testing.T) {
	for _, s := range AllScopes {
		if _, ok := implies[s]; !ok {
			t.Errorf("scope %s missing from the implication table", s)
		}
	}
	for s, imp := range implies {
		if !Known(s) {
			t.Errorf("table key %s is not in AllScopes", s)
		}
		for _, i := range imp {
			if !Known(i) {
				t.Errorf("%s implies unknown scope %s", s, i)
			}
		}
	}
}

func TestWriteImpliesRead(t *testing.T) {
	for _, s := range AllScopes {
		if !strings.HasSuffix(s, ":write") {
			continue
		}
		read := strings.TrimSuffix(s, ":write") + ":read"
		if !Implies([]string{s}, read) {
			t.Errorf("Implies([%s], %s) = false, want true", s, read)
		}
		if Implies([]string{read}, s) {
			t.Errorf("Implies([%s], %s) = true, want false", read, s)
		}
	}
}

func TestAdminReadImpliesEveryRead(t *testing.T) {
	for _, s := range AllScopes {
		want := strings.HasSuffix(s, ":read")
		if got := Implies([]string{AdminRead}, s); got != want {
			t.Errorf("Implies([admin:read], %s) = %v, want %v", s, got, want)
		}
	}
}

func TestNothingNonAdminImpliesAdmin(t *testing.T) {
	var nonAdmin []string
	for _, s := range AllScopes {
		if !strings.HasPrefix(s, "admin:") {
			nonAdmin = append(nonAdmin, s)
		}
	}
	for _, admin := range []string{AdminRead, AdminWrite} {
		if Implies(nonAdmin, admin) {
			t.Errorf("Implies(%v, %s) = true, want false", nonAdmin, admin)
		}
	}
	if Implies([]string{AdminRead}, AdminWrite) {
		t.Errorf("Implies([admin:read], admin:write) = true, want false")
	}
}

func TestExpandIgnoresUnknown(t *testing.T) {
	got := Expand([]string{"nope", " links:write ", "", "admin"})
	want := []string{LinksRead, LinksWrite}
	if !slices.Equal(got, want) {
		t.Errorf("Expand = %v, want %v", got, want)
	}
	if got := Expand(nil); got == nil || len(got) != 0 {
		t.Errorf("Expand(nil) = %#v, want empty non-nil", got)
	}
}

func TestNormalize(t *testing.T) {
	tests := []struct {
		name     string
		in       []string
		want     []string
		wantCode string
	}{
		{"nil", nil, []string{}, ""},
		{"empties", []string{"", "  "}, []string{}, ""},
		{"order", []string{AdminWrite, LinksRead, TagsWrite}, []string{LinksRead, TagsWrite, AdminWrite}, ""},
		{"dedupe and trim", []string{" links:read", "links:read ", LinksRead}, []string{LinksRead}, ""},
		{"implied kept as given", []string{LinksWrite}, []string{LinksWrite}, ""},
		{"unknown", []string{LinksRead, "links:delete"}, nil, linkapi.EINVALID},
		{"case matters", []string{"Links:Read"}, nil, linkapi.EINVALID},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Normalize(tt.in)
			if code := linkapi.ErrorCode(err); code != tt.wantCode {
				t.Fatalf("Normalize(%q) error code = %q (%v), want %q", tt.in, code, err, tt.wantCode)
			}
			if err != nil {
				if msg := linkapi.ErrorMessage(err); !strings.Contains(msg, strings.TrimSpace(tt.in[len(tt.in)-1])) {
					t.Errorf("message %q does not name the unknown scope", msg)
				}
				return
			}
			if got == nil || !slices.Equal(got, tt.want) {
				t.Errorf("Normalize(%q) = %#v, want %#v", tt.in, got, tt.want)
			}
		})
	}
}

func TestParseScopeString(t *testing.T) {
	got, err := ParseScopeString("  tags:write\tlinks:read  links:read ")
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{LinksRead, TagsWrite}; !slices.Equal(got, want) {
		t.Errorf("ParseScopeString = %v, want %v", got, want)
	}
	if _, err := ParseScopeString("links:read bogus"); linkapi.ErrorCode(err) != linkapi.EINVALID {
		t.Errorf("ParseScopeString(bogus) code = %q, want %q", linkapi.ErrorCode(err), linkapi.EINVALID)
	}
}

func TestEffective(t *testing.T) {
	tests := []struct {
		name           string
		token, account []string
		want           []string
	}{
		{"write token, read account", []string{LinksWrite}, []string{LinksRead}, []string{LinksRead}},
		{"admin token, plain account", []string{AdminWrite}, DefaultScopes, []string{LinksRead, LinksWrite, TagsRead, TagsWrite, AccountRead, AccountWrite}},
		{"narrow token, admin account", []string{TagsRead}, []string{AdminWrite}, []string{TagsRead}},
		{"account lost everything", []string{LinksWrite}, nil, []string{}},
		{"empty token", nil, []string{AdminWrite}, []string{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Effective(tt.token, tt.account); !slices.Equal(got, tt.want) {
				t.Errorf("Effective(%v, %v) = %v, want %v", tt.token, tt.account, got, tt.want)
			}
		})
	}
}

func TestCaller(t *testing.T) {
	var nilCaller *Caller
	if nilCaller.Has(LinksRead) || nilCaller.CanReadAll() || nilCaller.CanWriteAll() {
		t.Errorf("nil caller holds something")
	}
	if nilCaller.HasAll([]string{LinksRead}) {
		t.Errorf("nil caller HasAll = true, want false")
	}

	c := &Caller{AccountID: 7, Scopes: Expand([]string{LinksWrite, TagsRead})}
	tests := []struct {
		scopes []string
		want   bool
	}{
		{nil, true},
		{[]string{LinksRead}, true},
		{[]string{LinksWrite, TagsRead}, true},
		{[]string{LinksWrite, TagsWrite}, false},
		{[]string{AdminRead}, false},
		{[]string{"bogus"}, false},
	}
	for _, tt := range tests {
		if got := c.HasAll(tt.scopes); got != tt.want {
			t.Errorf("HasAll(%v) = %v, want %v", tt.scopes, got, tt.want)
		}
	}
	if c.CanReadAll() || c.CanWriteAll() {
		t.Errorf("plain caller can cross accounts")
	}

	sys := System()
	if sys.AccountID != 0 || !sys.CanReadAll() || !sys.CanWriteAll() || !slices.Equal(sys.Scopes, AllScopes) {
		t.Errorf("System() = %+v, want every scope and account 0", sys)
	}

	ctx := context.Background()
	if got := FromContext(ctx); got != nil {
		t.Errorf("FromContext(empty) = %+v, want nil", got)
	}
	if got := FromContext(NewContext(ctx, c)); got != c {
		t.Errorf("FromContext = %p, want %p", got, c)
	}
}

// fixpointExpand is Expand computed naively from the implies table: add what
// the set implies until nothing changes.
func fixpointExpand(names []string) map[string]bool {
	set := map[string]bool{}
	for _, n := range names {
		if n = strings.TrimSpace(n); Known(n) {
			set[n] = true
		}
	}
	for changed := true; changed; {
		changed = false
		for s := range set {
			for _, t := range implies[s] {
				if !set[t] {
					set[t], changed = true, true
				}
			}
		}
	}
	return set
}

// TestScopeSetsMatchTheTable checks Expand, Implies and Effective on every
// subset of the scopes (with an unknown name and padding beside them) against
// the implication table closed by a naive fixpoint.
func TestScopeSetsMatchTheTable(t *testing.T) {
	subset := func(bits int) []string {
		out := []string{"links:delete", " "}
		for i, s := range AllScopes {
			if bits&(1<<i) != 0 {
				out = append(out, " "+s)
			}
		}
		return out
	}
	n := 1 << len(AllScopes)
	for a := range n {
		held := subset(a)
		want := fixpointExpand(held)
		got := Expand(held)
		if got == nil || len(got) != len(want) {
			t.Fatalf("Expand(%q) = %v, want %v", held, got, want)
		}
		for i, s := range got {
			if !want[s] || (i > 0 && scopeRank[got[i-1]] >= scopeRank[s]) {
				t.Fatalf("Expand(%q) = %v, want %v in AllScopes order", held, got, want)
			}
		}
		for _, s := range append(AllScopes, "links:delete", " links:read") {
			if Implies(held, s) != want[s] {
				t.Fatalf("Implies(%q, %q) = %v, want %v", held, s, !want[s], want[s])
			}
		}
		for b := 0; b < n; b += 7 {
			other := subset(b)
			wantB := fixpointExpand(other)
			eff := Effective(held, other)
			count := 0
			for s := range want {
				if wantB[s] {
					count++
				}
			}
			if eff == nil || len(eff) != count {
				t.Fatalf("Effective(%q, %q) = %v, want %d scopes", held, other, eff, count)
			}
			for _, s := range eff {
				if !want[s] || !wantB[s] {
					t.Fatalf("Effective(%q, %q) = %v holds %s", held, other, eff, s)
				}
			}
		}
	}
}
