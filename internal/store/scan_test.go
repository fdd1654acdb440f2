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

func TestDialectColumnsCastTextOnlyOnSQLite(t *testing.T) {
	storetest.ForEachDB(t, func(t *testing.T, url string) {
		db := dbtOpen(t, url)
		got := db.reads.tagTimeJoinColumns
		if db.Dialect() == DialectSQLite {
			if got != "tags.id, tags.account_id, CAST(tags.name AS TEXT), CAST(tags.created_at AS TEXT), group_concat(link_tags.link_id)" {
				t.Errorf("tag columns on SQLite = %q", got)
			}
		} else if got != "tags.id, tags.account_id, tags.name, tags.created_at, group_concat(link_tags.link_id)" {
			t.Errorf("tag columns on %s = %q, want the columns as they are", db.Dialect(), got)
		} else {
			// The lists of a tag's links are not cut short (mysqlurl).
			var n int64
			if err := db.reads.pool.QueryRow("SELECT @@SESSION.group_concat_max_len").Scan(&n); err != nil || n < 1<<20 {
				t.Errorf("group_concat_max_len %d, %v; want at least 1 MiB", n, err)
			}
		}
	})
}

// TestParseUTCReadsAsTimeParseDoes checks the fast reading of the SQLite
// driver's layout against time.Parse, on the times it reads and on text it
// must leave to the layouts.
func TestParseUTCReadsAsTimeParseDoes(t *testing.T) {
	const layout = "2006-01-02 15:04:05.999999999-07:00"
	base := time.Date(2026, 12, 3, 12, 20, 12, 0, time.UTC)
	var written []string // as the driver writes them: parseUTC must read each
	for _, ns := range []int{0, 1, 10, 258677000, 258677001, 999999999, 100000000, 120000} {
		written = append(written, base.Add(time.Duration(ns)).Format(layout))
	}
	written = append(written, "2024-02-29 00:00:00+00:00", "1999-12-31 23:59:59.5+00:00", "0001-01-01 00:00:00+00:00")
	for _, text := range written {
		if _, ok := parseUTC(text); !ok {
			t.Errorf("parseUTC(%q) left to the layouts a time the driver writes", text)
		}
	}
	// What it may leave to the layouts, but must not read otherwise than they do.
	others := []string{"2026-12-03 13:20:12.258677+01:00", "2026-12-03T12:20:12+00:00", "2026-12-03 12:20:12.+00:00",
		"2026-12-03 12:20:12.1234567890+00:00", "2026-02-30 12:20:12+00:00", "2026-13-03 12:20:12+00:00",
		"2026-12-03 24:20:12+00:00", "2026-12-03 12:60:12+00:00", "2026-12-03 12:20:60+00:00",
		"2026-12-0x 12:20:12+00:00", "2026-12-03 12:20:12,5+00:00", "2026-12-03 12:20:12.5x+00:00",
		"2026-00-03 12:20:12+00:00", "2026-12-00 12:20:12+00:00", "2026-12-03 12:20+00:00", "+2026-12-03 12:20:12+00:00"}
	for _, text := range append(written, others...) {
		got, ok := parseUTC(text)
		if !ok {
			continue
		}
		want, err := time.ParseInLocation(layout, text, time.UTC)
		if err != nil || !got.Equal(want) || got.Location() != time.UTC {
			t.Errorf("parseUTC(%q) = %v, want %v (%v)", text, got, want, err)
		}
	}
}

// TestColumnScanners checks what each scanner takes from either driver, and
// that it refuses what it cannot read.
func TestColumnScanners(t *testing.T) {
	var n int64
	for src, want := range map[any]int64{int64(7): 7, int64(-3): -3, "": 0} {
		if s, ok := src.(string); ok && s == "" {
			continue
		}
		if err := (intScan{&n}).Scan(src); err != nil || n != want {
			t.Errorf("intScan(%v) = %d, %v", src, n, err)
		}
	}
	for text, want := range map[string]int64{"0": 0, "42": 42, "-42": -42, "9223372036854775807": 9223372036854775807} {
		if err := (intScan{&n}).Scan([]byte(text)); err != nil || n != want {
			t.Errorf("intScan(%q) = %d, %v", text, n, err)
		}
	}
	for _, src := range []any{nil, "7", []byte(""), []byte("-"), []byte("4x"), []byte("12345678901234567890"), 1.5} {
		if err := (intScan{&n}).Scan(src); err == nil {
			t.Errorf("intScan(%#v) took it", src)
		}
	}
	var b bool
	for src, want := range map[any]bool{int64(1): true, int64(0): false} {
		if err := (boolScan{&b}).Scan(src); err != nil || b != want {
			t.Errorf("boolScan(%v) = %v, %v", src, b, err)
		}
	}
	if err := (boolScan{&b}).Scan([]byte("1")); err != nil || !b {
		t.Errorf("boolScan(\"1\") = %v, %v", b, err)
	}
	if err := (boolScan{&b}).Scan(nil); err == nil {
		t.Error("boolScan(nil) took it")
	}
	var str string
	for _, src := range []any{"ann", []byte("ann")} {
		if err := (strScan{&str}).Scan(src); err != nil || str != "ann" {
			t.Errorf("strScan(%#v) = %q, %v", src, str, err)
		}
	}
	if err := (strScan{&str}).Scan(nil); err == nil {
		t.Error("strScan(nil) took it")
	}
	opt := new(string)
	if err := (optScan{&opt}).Scan(nil); err != nil || opt != nil {
		t.Errorf("optScan(nil) = %v, %v", opt, err)
	}
	if err := (optScan{&opt}).Scan([]byte("title")); err != nil || opt == nil || *opt != "title" {
		t.Errorf("optScan(title) = %v, %v", opt, err)
	}
	if err := (optScan{&opt}).Scan(int64(1)); err == nil {
		t.Error("optScan(1) took it")
	}
}
