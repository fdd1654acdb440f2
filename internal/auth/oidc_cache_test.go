package auth

import (
	"net/http"
	"testing"
	"time"
)

// TestCacheLifetime checks how a key set answer's Cache-Control is read.
func TestCacheLifetime(t *testing.T) {
	for _, c := range []struct {
		values []string
		want   time.Duration
	}{
		{nil, -1},
		{[]string{"public"}, -1},
		{[]string{"public, max-age=300"}, 5 * time.Minute},
		{[]string{"MAX-AGE=60, must-revalidate"}, time.Minute},
		{[]string{`max-age="120"`}, 2 * time.Minute},
		{[]string{"max-age=0"}, 0},
		{[]string{"max-age=300, no-cache"}, 0},
		{[]string{"no-store"}, 0},
		{[]string{"max-age=-5"}, -1},
		{[]string{"max-age=lots"}, -1},
		{[]string{"max-age=99999999999999999999"}, -1},
		{[]string{"max-age=31536000"}, maxOIDCRefresh},
		{[]string{"public", "max-age=30"}, 30 * time.Second},
	} {
		h := http.Header{}
		for _, v := range c.values {
			h.Add("Cache-Control", v)
		}
		if got := cacheLifetime(h); got != c.want {
			t.Errorf("cacheLifetime(%q) = %v, want %v", c.values, got, c.want)
		}
	}
}

// TestRefreshAfter checks that the cache lifetime is honoured within a minute
// (UnknownKID) and a day, and Refresh applies without one.
func TestRefreshAfter(t *testing.T) {
	o := &OIDC{cfg: OIDCConfig{Refresh: 15 * time.Minute, UnknownKID: time.Minute}}
	for age, want := range map[time.Duration]time.Duration{
		-1:               15 * time.Minute,
		0:                time.Minute,
		30 * time.Second: time.Minute,
		6 * time.Hour:    6 * time.Hour,
		48 * time.Hour:   maxOIDCRefresh,
	} {
		o.cacheFor.Store(int64(age))
		if got := o.refreshAfter(); got != want {
			t.Errorf("refreshAfter with a cache lifetime of %v = %v, want %v", age, got, want)
		}
	}
}
