package mysqlurl

import (
	"strings"
	"testing"
	"time"
)

// TestParse keeps the user's parameters, sets the ones linkapi relies on, and
// refuses multiStatements.
func TestParse(t *testing.T) {
	cfg, err := Parse("mysql://us%40er:p%3Ass@db.example:3307/app?timeout=2s&readTimeout=3s&tls=preferred&sql_mode=ANSI_QUOTES")
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	if cfg.User != "us@er" || cfg.Passwd != "p:ss" || cfg.Addr != "db.example:3307" || cfg.DBName != "app" {
		t.Errorf("user %q, password %q, addr %q, db %q", cfg.User, cfg.Passwd, cfg.Addr, cfg.DBName)
	}
	if !cfg.ParseTime || cfg.Loc != time.UTC || cfg.MultiStatements {
		t.Errorf("parseTime %v, loc %v, multiStatements %v; want true, UTC, false", cfg.ParseTime, cfg.Loc, cfg.MultiStatements)
	}
	if cfg.Timeout != 2*time.Second || cfg.ReadTimeout != 3*time.Second || cfg.TLSConfig != "preferred" || cfg.Params["sql_mode"] != "ANSI_QUOTES" {
		t.Errorf("user parameters lost: %+v", cfg)
	}
	dsn := cfg.FormatDSN()
	if !strings.Contains(dsn, "charset=utf8mb4") {
		t.Errorf("DSN %q has no charset=utf8mb4", dsn)
	}
	// The store's lists of a tag's links need more than MySQL's 1024 bytes.
	if got := cfg.Params["group_concat_max_len"]; got != GroupConcatMaxLen {
		t.Errorf("group_concat_max_len %q, want %s", got, GroupConcatMaxLen)
	}
	if cfg, err := Parse("mysql://root@localhost/app?group_concat_max_len=4194304"); err != nil || cfg.Params["group_concat_max_len"] != "4194304" {
		t.Errorf("a URL's own group_concat_max_len: %v, %v", cfg, err)
	}

	cfg, err = Parse("mysql://root@localhost/app?multiStatements=true")
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	if cfg.MultiStatements || cfg.Addr != "localhost:3306" {
		t.Errorf("multiStatements %v, addr %q; want false, localhost:3306", cfg.MultiStatements, cfg.Addr)
	}
}
