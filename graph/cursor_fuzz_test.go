package graph

import (
	"encoding/base64"
	"math"
	"testing"

	"linkapi/internal/linkapi"
)

// FuzzDecodeCursor checks that decodeCursor never panics, that whatever it
// accepts names a positive id that encodeCursor round-trips, that anything else
// is BAD_USER_INPUT, and that encodeCursor of any positive id decodes back to
// it. Seeds beyond these are in testdata/fuzz/FuzzDecodeCursor.
func FuzzDecodeCursor(f *testing.F) {
	b64 := base64.RawURLEncoding.EncodeToString
	for _, seed := range []struct {
		s  string
		id int64
	}{
		{encodeCursor(1), 1},
		{encodeCursor(math.MaxInt64), math.MaxInt64},
		{"", 0},
		{"djE6", -1},               // "v1:"
		{b64([]byte("v1:0")), 0},   // not positive
		{b64([]byte("v1:-5")), -5}, // negative
		{b64([]byte("v1:+5")), 5},  // a sign ParseInt allows
		{b64([]byte("v1:9223372036854775808")), 7}, // overflows int64
		{b64([]byte("v2:5")), 5},                   // another version
		{b64([]byte("v1:5\x00")), 5},
		{b64([]byte("v1: 5")), 5},
		{"djE6NQ==", 5}, // padded
		{"djE6NR", 5},   // non-zero trailing bits
		{"djE6N+", 5},   // standard alphabet
		{"!!!!", 1},
	} {
		f.Add(seed.s, seed.id)
	}
	f.Fuzz(func(t *testing.T, s string, n int64) {
		id, err := decodeCursor(s)
		switch {
		case err == nil && id <= 0:
			t.Fatalf("decodeCursor(%q) = %d, want a positive id or an error", s, id)
		case err == nil:
			if back, err := decodeCursor(encodeCursor(id)); err != nil || back != id {
				t.Fatalf("decodeCursor(%q) = %d, but encodeCursor(%d) decodes to %d, %v", s, id, id, back, err)
			}
		case linkapi.ErrorCode(err) != linkapi.EINVALID:
			t.Fatalf("decodeCursor(%q) error code = %q, want %q", s, linkapi.ErrorCode(err), linkapi.EINVALID)
		}

		if n <= 0 {
			return
		}
		if back, err := decodeCursor(encodeCursor(n)); err != nil || back != n {
			t.Fatalf("encodeCursor(%d) = %q decodes to %d, %v", n, encodeCursor(n), back, err)
		}
	})
}
