package store

import (
	"strings"
	"testing"
	"time"

	"linkapi/internal/store/storetest"
)

// TestTimeScanReadsWhatTheSQLiteDriverReads checks timeScan against the values
// the driver would have turned into times, and that it refuses the others.
func TestTimeScanReadsWhatTheSQLiteDriverReads(t *testing.T) {
	want := time.Date(2026, 12, 3, 12, 20, 12, 258677000, time.UTC)
	for _, src := range []any{
		want,
		"2026-12-03 12:20:12.258677+00:00",
		"2026-12-03T12:20:12.258677+00:00",
		"2026-12-03 12:20:12.258677",
		"2026-12-03T12:20:12.258677Z",
		[]byte("2026-12-03 12:20:12.258677+00:00"),
		"2026-12-03 13:20:12.258677+01:00",
		"2026-12-03 12:20:12.258677 +0000 UTC",
		"2026-12-03 12:20:12.258677 +0000 UTC m=+0.000000001",
	} {
		var got time.Time
		if err := (timeScan{&got}).Scan(src); err != nil || !got.Equal(want) {
			t.Errorf("Scan(%v) = %v, %v; want %v", src, got, err, want)
		}
	}
	var got time.Time
	if err := (timeScan{&got}).Scan("2026-12-03"); err != nil || !got.Equal(time.Date(2026, 12, 3, 0, 0, 0, 0, time.UTC)) {
		t.Errorf("Scan(a date) = %v, %v", got, err)
	}
	for _, src := range []any{"yesterday", "", int64(5), nil} {
		if err := (timeScan{&got}).Scan(src); err == nil || !strings.Contains(err.Error(), "as a time") {
			t.Errorf("Scan(%#v) = %v, want an error", src, err)
		}
	}
}

func TestTimesAsTextCastsOnlyOnSQLite(t *testing.T) {
	storetest.ForEachDB(t, func(t *testing.T, url string) {
		db := dbtOpen(t, url)
		got := timesAsText(db.orm, tagJoinColumns)
		if db.Dialect() == DialectSQLite {
			if got != "tags.id, tags.account_id, tags.name, CAST(tags.created_at AS TEXT), link_tags.link_id" {
				t.Errorf("timesAsText on SQLite = %q", got)
			}
		} else if got != tagJoinColumns {
			t.Errorf("timesAsText on %s = %q, want the columns as they are", db.Dialect(), got)
		}
	})
}
