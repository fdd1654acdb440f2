package main

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/go-sql-driver/mysql"
	_ "modernc.org/sqlite" // registers the "sqlite" driver

	"linkapi/internal/auth"
	"linkapi/internal/linkapi"
	"linkapi/internal/store"
	"linkapi/internal/store/mysqlurl"
)

// benchPassword is every seeded account's password; benchScopes their scopes.
const (
	benchPassword = "bench-password-1"
	benchScopes   = "links:write tags:write account:write"
)

// benchDB is the scratch database of one run.
type benchDB struct {
	dialect string
	url     string // as LINKAPI_DATABASE_URL
	sqlite  string // the SQLite file, for the floor
	mysql   *mysql.Config
	version string
	cleanup func()
}

// newBenchDB makes an empty database: a SQLite file in a new temporary directory,
// or the MySQL database named by mysqlURL, dropped first if it exists.
func newBenchDB(ctx context.Context, dialect, mysqlURL string) (*benchDB, error) {
	switch dialect {
	case "sqlite":
		dir, err := os.MkdirTemp("", "linkbench-db-")
		if err != nil {
			return nil, err
		}
		path := filepath.Join(dir, "bench.db")
		return &benchDB{dialect: dialect, url: "sqlite:" + path, sqlite: path, cleanup: func() { os.RemoveAll(dir) }}, nil
	case "mysql":
		cfg, err := parseMySQLURL(mysqlURL)
		if err != nil {
			return nil, err
		}
		admin := cfg.Clone()
		admin.DBName = ""
		db, err := sql.Open("mysql", admin.FormatDSN())
		if err != nil {
			return nil, err
		}
		defer db.Close()
		name := "`" + cfg.DBName + "`"
		if _, err := db.ExecContext(ctx, "DROP DATABASE IF EXISTS "+name); err != nil {
			return nil, fmt.Errorf("mysql at %s: %w", cfg.Addr, err)
		}
		if _, err := db.ExecContext(ctx, "CREATE DATABASE "+name+" CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci"); err != nil {
			return nil, fmt.Errorf("mysql at %s: %w", cfg.Addr, err)
		}
		b := &benchDB{dialect: dialect, url: mysqlURL, mysql: cfg}
		db.QueryRowContext(ctx, "SELECT VERSION()").Scan(&b.version)
		b.cleanup = func() {
			db, err := sql.Open("mysql", admin.FormatDSN())
			if err == nil {
				db.Exec("DROP DATABASE IF EXISTS " + name)
				db.Close()
			}
		}
		return b, nil
	}
	return nil, fmt.Errorf("--db must be sqlite or mysql, not %q", dialect)
}

// benchDBFromURL describes the database at a LINKAPI_DATABASE_URL made by newBenchDB.
func benchDBFromURL(raw string) (*benchDB, error) {
	if path, ok := strings.CutPrefix(raw, "sqlite:"); ok {
		return &benchDB{dialect: "sqlite", url: raw, sqlite: path}, nil
	}
	cfg, err := parseMySQLURL(raw)
	if err != nil {
		return nil, err
	}
	return &benchDB{dialect: "mysql", url: raw, mysql: cfg}, nil
}

var dbNameRE = regexp.MustCompile(`^[A-Za-z0-9_]+$`)

// parseMySQLURL reads mysql://USER[:PASS]@HOST:PORT/DB as linkapi does, and
// checks that the database may be dropped and re-created by name.
func parseMySQLURL(raw string) (*mysql.Config, error) {
	cfg, err := mysqlurl.Parse(raw)
	if err != nil {
		return nil, err
	}
	if !dbNameRE.MatchString(cfg.DBName) {
		return nil, fmt.Errorf("the MySQL database name %q must be letters, digits and underscores (it is dropped and re-created)", cfg.DBName)
	}
	return cfg, nil
}

// openSQL opens the database with database/sql alone, for the floor.
func (b *benchDB) openSQL() (*sql.DB, error) {
	if b.dialect == "mysql" {
		db, err := sql.Open("mysql", b.mysql.FormatDSN())
		if err != nil {
			return nil, err
		}
		db.SetMaxOpenConns(20)
		db.SetMaxIdleConns(20)
		return db, nil
	}
	db, err := sql.Open("sqlite", b.sqlite+"?_pragma=busy_timeout(5000)&_pragma=journal_mode(WAL)&_pragma=synchronous(NORMAL)")
	if err != nil {
		return nil, err
	}
	db.SetMaxOpenConns(4)
	db.SetMaxIdleConns(4)
	return db, nil
}

// seedSpec is the shape of the seeded data.
type seedSpec struct {
	Accounts, Links, TagsPerLink, TagPool int
}

func benchEmail(account int) string { return "bench" + strconv.Itoa(account) + "@example.com" }
func tagName(i int) string          { return fmt.Sprintf("tag%02d", i) }

// linkTags returns the pool indexes of the tags on link i: TagsPerLink distinct
// ones, spread over the pool.
func (s seedSpec) linkTags(i int) []int {
	out := make([]int, 0, s.TagsPerLink)
	for k := 0; len(out) < min(s.TagsPerLink, s.TagPool); k++ {
		t := (i + k*7) % s.TagPool
		dup := false
		for _, o := range out {
			dup = dup || o == t
		}
		if !dup {
			out = append(out, t)
		}
	}
	return out
}

// link is the text of link i and its account.
func (s seedSpec) link(i int) *linkapi.Link {
	a := i/s.Links + 1
	desc := "Seeded by linkbench."
	return &linkapi.Link{AccountID: int64(a), URL: fmt.Sprintf("https://example.com/%d/%d", a, i%s.Links), Title: linkTitle(i), Description: &desc}
}

// linkTitle is link i's title; every tenth link has none.
func linkTitle(i int) *string {
	if i%10 == 9 {
		return nil
	}
	t := "Bench link " + strconv.Itoa(i)
	return &t
}

// seed migrates the database through the store and bulk-inserts the accounts (one
// argon2id hash of benchPassword shared by all), their tags, links and link tags.
// Account a (from 1) owns links (a-1)*Links+1 ... and tags (a-1)*TagPool+1 ...
// It writes those ids itself rather than take the database's auto-increment
// numbers, which need not be consecutive (a Galera cluster's
// auto_increment_increment leaves gaps), so it wants a database with no account
// yet, whose ids cannot collide with its own.
func seed(ctx context.Context, dbURL string, s seedSpec) error {
	sdb, err := store.Open(ctx, dbURL)
	if err != nil {
		return err
	}
	defer sdb.Close()
	if err := sdb.Migrate(ctx); err != nil {
		return err
	}
	db := sdb.SQL()
	var accounts int
	if err := db.QueryRowContext(ctx, "SELECT COUNT(*) FROM accounts").Scan(&accounts); err != nil {
		return err
	}
	if accounts > 0 {
		return fmt.Errorf("seeding: the database already has %d accounts; seed numbers its rows from 1 and wants an empty one", accounts)
	}
	hash, err := auth.HashPassword(benchPassword)
	if err != nil {
		return err
	}
	now := time.Now().UTC().Truncate(time.Microsecond)
	changed := now.Add(-time.Hour)

	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	// Each account's usage counters, as the store would have kept them.
	text := make([]int, s.Accounts)
	for i := range s.Accounts * s.Links {
		text[i/s.Links] += s.link(i).TextBytes()
	}
	err = insertRows(ctx, tx, "accounts", "id, email, password_hash, scopes, password_changed_at, created_at, updated_at, link_count, text_bytes", s.Accounts,
		func(i int) []any {
			return []any{i + 1, benchEmail(i + 1), hash, benchScopes, changed, now, now, s.Links, text[i]}
		})
	if err != nil {
		return err
	}
	err = insertRows(ctx, tx, "tags", "id, account_id, name, created_at", s.Accounts*s.TagPool,
		func(i int) []any { return []any{i + 1, i/s.TagPool + 1, tagName(i % s.TagPool), now} })
	if err != nil {
		return err
	}
	err = insertRows(ctx, tx, "links", "id, account_id, url, title, description, created_at, updated_at", s.Accounts*s.Links,
		func(i int) []any {
			l := s.link(i)
			return []any{i + 1, l.AccountID, l.URL, l.Title, l.Description, now, now}
		})
	if err != nil {
		return err
	}
	per := len(s.linkTags(0))
	err = insertRows(ctx, tx, "link_tags", "link_id, tag_id, account_id, created_at", s.Accounts*s.Links*per,
		func(j int) []any {
			i := j / per
			a := i/s.Links + 1
			return []any{i + 1, (a-1)*s.TagPool + s.linkTags(i)[j%per] + 1, a, now}
		})
	if err != nil {
		return err
	}
	return tx.Commit()
}

// insertRows inserts n rows in multi-row INSERTs of up to 500 rows.
func insertRows(ctx context.Context, tx *sql.Tx, table, columns string, n int, row func(i int) []any) error {
	const batch = 500
	ncol := strings.Count(columns, ",") + 1
	one := "(?" + strings.Repeat(",?", ncol-1) + ")"
	for start := 0; start < n; start += batch {
		end := min(start+batch, n)
		args := make([]any, 0, (end-start)*ncol)
		for i := start; i < end; i++ {
			args = append(args, row(i)...)
		}
		q := "INSERT INTO " + table + " (" + columns + ") VALUES " + one + strings.Repeat(","+one, end-start-1)
		if _, err := tx.ExecContext(ctx, q, args...); err != nil {
			return fmt.Errorf("seeding %s: %w", table, err)
		}
	}
	return nil
}

// mintToken returns an access token for account, issued by linkapi's own
// auth.Tokens as login would issue it; a negative ttl gives one that expired
// that long ago.
func mintToken(secret []byte, account int, ttl time.Duration) (string, error) {
	life, issued := ttl, time.Now()
	if ttl < 0 {
		life, issued = -ttl, issued.Add(2*ttl)
	}
	tokens, err := auth.NewTokens(secret, life)
	if err != nil {
		return "", err
	}
	tokens.Now = func() time.Time { return issued }
	token, _, err := tokens.Issue(int64(account), auth.SplitScopes(benchScopes))
	return token, err
}

// sessionTokens logs each of the first n bench accounts in twice through the
// API at base, logs the second session out, and returns a bearer header of
// each account's first session.
func sessionTokens(ctx context.Context, base string, n int) ([]string, error) {
	post := func(query string, vars map[string]any) (map[string]any, error) {
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, base+"/graphql", bytes.NewReader(graphQLBody(query, vars)))
		if err != nil {
			return nil, err
		}
		req.Header.Set("Content-Type", "application/json")
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			return nil, err
		}
		defer res.Body.Close()
		var body struct {
			Data   map[string]any `json:"data"`
			Errors []any          `json:"errors"`
		}
		if err := json.NewDecoder(res.Body).Decode(&body); err != nil || len(body.Errors) > 0 || body.Data == nil {
			return nil, fmt.Errorf("linkbench: %s: status %d, errors %v, %v", strings.Fields(query)[1], res.StatusCode, body.Errors, err)
		}
		return body.Data, nil
	}
	const login = `mutation($e: String!, $p: String!) { login(email: $e, password: $p) { accessToken refreshToken } }`
	tokens := make([]string, n)
	for a := range tokens {
		vars := map[string]any{"e": benchEmail(a + 1), "p": benchPassword}
		first, err := post(login, vars)
		if err != nil {
			return nil, err
		}
		second, err := post(login, vars)
		if err != nil {
			return nil, err
		}
		refresh := second["login"].(map[string]any)["refreshToken"]
		if _, err := post(`mutation($r: String) { logout(refreshToken: $r) }`, map[string]any{"r": refresh}); err != nil {
			return nil, err
		}
		tokens[a] = "Bearer " + first["login"].(map[string]any)["accessToken"].(string)
	}
	return tokens, nil
}
