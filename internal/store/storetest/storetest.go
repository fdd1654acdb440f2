// Package storetest gives tests a database of their own: a fresh SQLite file
// always, and a fresh MySQL/MariaDB database when LINKAPI_TEST_MYSQL_URL is set.
// It hands out database URLs, not connections, so it does not import the store
// package and the store's own tests may use it.
package storetest

import (
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"testing"

	"github.com/go-sql-driver/mysql"

	"linkapi/internal/store/mysqlurl"
)

// EnvMySQLURL names the environment variable holding a mysql:// URL of a scratch
// database, e.g. mysql://root@127.0.0.1:3306/linkapi_test. Its user must be
// allowed to create and drop databases; the database in the URL is only used as
// the prefix of the names of the databases made for each test.
const EnvMySQLURL = "LINKAPI_TEST_MYSQL_URL"

// ForEachDB runs fn as the subtest "sqlite" with the URL of a new SQLite file in a
// temporary directory and, when LINKAPI_TEST_MYSQL_URL is set, as the subtest
// "mysql" with the URL of a new, empty MySQL database that is dropped when the
// subtest ends. Neither database is migrated.
func ForEachDB(t *testing.T, fn func(t *testing.T, url string)) {
	t.Helper()
	t.Run("sqlite", func(t *testing.T) {
		fn(t, SQLiteURL(t))
	})
	if os.Getenv(EnvMySQLURL) == "" {
		t.Logf("%s is not set: not testing on MySQL", EnvMySQLURL)
		return
	}
	t.Run("mysql", func(t *testing.T) {
		fn(t, MySQLURL(t))
	})
}

// URL returns the URL of a new, empty database of the dialect "sqlite" or
// "mysql". For "mysql" it skips the test when LINKAPI_TEST_MYSQL_URL is unset.
func URL(t testing.TB, dialect string) string {
	t.Helper()
	switch dialect {
	case "sqlite":
		return SQLiteURL(t)
	case "mysql":
		if os.Getenv(EnvMySQLURL) == "" {
			t.Skipf("%s is not set", EnvMySQLURL)
		}
		return MySQLURL(t)
	default:
		t.Fatalf("storetest: unknown dialect %q (want sqlite or mysql)", dialect)
		return ""
	}
}

// SQLiteURL returns sqlite:PATH for a file in a new temporary directory.
func SQLiteURL(t testing.TB) string {
	t.Helper()
	return "sqlite:" + filepath.Join(t.TempDir(), "test.db")
}

var unsafeName = regexp.MustCompile(`[^A-Za-z0-9_]`)

// MySQLURL creates a database named after the one in LINKAPI_TEST_MYSQL_URL plus
// a random suffix, drops it when t ends, and returns the URL naming it. It fails
// t when the variable is unset or the server cannot be reached.
func MySQLURL(t testing.TB) string {
	t.Helper()
	raw := os.Getenv(EnvMySQLURL)
	if raw == "" {
		t.Fatalf("storetest: %s is not set", EnvMySQLURL)
	}
	cfg, err := mysqlurl.Parse(raw)
	if err != nil {
		t.Fatalf("storetest: %s: %v", EnvMySQLURL, err)
	}
	u, _ := url.Parse(raw) // mysqlurl.Parse has read it; only its path changes below
	base := unsafeName.ReplaceAllString(cfg.DBName, "_")
	if base == "" {
		base = "linkapi_test"
	}
	if len(base) > 40 {
		base = base[:40]
	}
	suffix := make([]byte, 6)
	if _, err := rand.Read(suffix); err != nil {
		t.Fatalf("storetest: random suffix: %v", err)
	}
	name := base + "_" + hex.EncodeToString(suffix)

	server := serverConn(t, cfg)
	if _, err := server.Exec("CREATE DATABASE `" + name + "` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci"); err != nil {
		server.Close()
		t.Fatalf("storetest: create database %s: %v", name, err)
	}
	t.Cleanup(func() {
		defer server.Close()
		if _, err := server.Exec("DROP DATABASE IF EXISTS `" + name + "`"); err != nil {
			t.Errorf("storetest: drop database %s: %v", name, err)
		}
	})

	v := *u
	v.Path = "/" + name
	return v.String()
}

// serverConn opens a connection to the server of cfg, without choosing a
// database.
func serverConn(t testing.TB, cfg *mysql.Config) *sql.DB {
	t.Helper()
	cfg = cfg.Clone()
	cfg.DBName = ""
	connector, err := mysql.NewConnector(cfg)
	if err != nil {
		t.Fatalf("storetest: mysql config: %v", err)
	}
	db := sql.OpenDB(connector)
	db.SetMaxOpenConns(1)
	if err := db.Ping(); err != nil {
		db.Close()
		t.Fatalf("storetest: cannot reach mysql at %s (from %s): %v", cfg.Addr, EnvMySQLURL, err)
	}
	return db
}
