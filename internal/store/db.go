package store

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"time"

	mysqldriver "github.com/go-sql-driver/mysql"
	"github.com/libtnb/sqlite"
	"github.com/pressly/goose/v3"
	gormmysql "gorm.io/driver/mysql"
	"gorm.io/gorm"
	"gorm.io/gorm/logger"

	"linkapi/internal/linkapi"
	"linkapi/internal/store/mysqlurl"
)

// Dialect names returned by Dialect.
const (
	DialectSQLite = "sqlite"
	DialectMySQL  = "mysql"
)

const pingTimeout = 5 * time.Second

//go:embed migrations/sqlite/*.sql migrations/mysql/*.sql
var migrationFiles embed.FS

// DB is a database the store works on, SQLite or MySQL, as Open opened it. It is
// what the commands and the tests hold: they open, migrate, check and close it and
// hand it to New, and they never see gorm, which stays inside this package.
type DB struct {
	orm  *gorm.DB
	pool *sql.DB
	// sqlitePath is the SQLite file, "" for MySQL and in-memory SQLite.
	sqlitePath string
	// tx counts the transactions the stores on the database ran again.
	tx *txStats
	// hooks are those of OnStatement; reads is what the hand-written reads
	// of the stores on the database share (see reads.go).
	hooks *statementHooks
	reads *reads
}

// Open connects to the database named by url, which is either sqlite:PATH (the file
// is created if missing) or mysql://USER[:PASS]@HOST:PORT/DB[?params], and checks
// that it answers. It does not migrate; call Migrate for that. Every error it
// returns has a one-line message that never contains the password.
func Open(ctx context.Context, url string) (*DB, error) {
	var (
		sqlDB      *sql.DB
		dialector  gorm.Dialector
		sqlitePath string
		err        error
	)
	switch {
	case strings.HasPrefix(url, "sqlite:"):
		sqlDB, sqlitePath, err = openSQLite(ctx, strings.TrimPrefix(url, "sqlite:"))
		if err != nil {
			return nil, err
		}
		dialector = &sqlite.Dialector{DriverName: sqlite.DriverName, Conn: sqlDB}
	case strings.HasPrefix(url, "mysql:"):
		sqlDB, err = openMySQL(ctx, url)
		if err != nil {
			return nil, err
		}
		dialector = gormmysql.New(gormmysql.Config{Conn: sqlDB})
	default:
		return nil, unsupportedScheme(url)
	}

	db, err := gorm.Open(dialector, &gorm.Config{
		TranslateError: true,
		Logger:         logger.Default.LogMode(logger.Silent),
		// Timestamps are UTC and cut to microseconds, the precision of MySQL's
		// DATETIME(6), so a value read back equals the value written on both
		// databases.
		NowFunc: func() time.Time { return time.Now().UTC().Truncate(time.Microsecond) },
	})
	if err == nil {
		err = registerGuard(db)
	}
	if err != nil {
		sqlDB.Close()
		return nil, oneLine("database: cannot initialise gorm", err)
	}
	hooks := &statementHooks{}
	return &DB{orm: db, pool: sqlDB, sqlitePath: sqlitePath, tx: &txStats{}, hooks: hooks,
		reads: newReads(sqlDB, db.Dialector.Name(), hooks)}, nil
}

// Close closes the database's connections. A Store on it fails from then on.
func (db *DB) Close() error {
	db.reads.stmts.close()
	return db.pool.Close()
}

// SQL returns the database's connection pool, for what works below the store:
// the pool's statistics, and tests that read or write rows directly.
func (db *DB) SQL() *sql.DB {
	return db.pool
}

// Statement is a statement the store has sent, as OnStatement reports it.
type Statement struct {
	SQL  string // with ? for each of Vars
	Vars []any
}

// hooks numbers the callbacks OnStatement registers, which gorm tells apart by name.
var hooks atomic.Int64

// OnStatement calls fn after each statement a Store on db sends, with the
// statement's context, before the Store sees its result; an error fn returns
// becomes the statement's. It is for tests that count the statements of a request
// or hold one; it does not see transactions begin and end, nor migrations.
// Statements sent through gorm and the hand-written reads alike reach it.
func (db *DB) OnStatement(fn func(ctx context.Context, st Statement) error) error {
	name := fmt.Sprintf("store:on-statement-%d", hooks.Add(1))
	hook := func(tx *gorm.DB) {
		if tx.DryRun { // a subquery built for its SQL, never sent
			return
		}
		st := Statement{SQL: tx.Statement.SQL.String(), Vars: tx.Statement.Vars}
		if err := fn(tx.Statement.Context, st); err != nil {
			_ = tx.AddError(err)
		}
	}
	cb := db.orm.Callback()
	for _, err := range []error{
		cb.Query().After("gorm:query").Register(name, hook),
		cb.Create().After("gorm:create").Register(name, hook),
		cb.Update().After("gorm:update").Register(name, hook),
		cb.Delete().After("gorm:delete").Register(name, hook),
		cb.Row().After("gorm:row").Register(name, hook),
		cb.Raw().After("gorm:raw").Register(name, hook),
	} {
		if err != nil {
			return fmt.Errorf("database: registering a statement hook: %w", err)
		}
	}
	db.hooks.add(fn)
	return nil
}

func unsupportedScheme(raw string) error {
	scheme, _, ok := strings.Cut(raw, ":")
	if !ok || scheme == "" || strings.ContainsAny(scheme, "/\\.@ ") {
		return errors.New("database: unsupported URL (want sqlite:PATH or mysql://USER[:PASS]@HOST:PORT/DB)")
	}
	return fmt.Errorf("database: unsupported URL scheme %q (want sqlite: or mysql://)", scheme)
}

// openSQLite opens the SQLite file at path, a file name with an optional query of
// driver parameters, with foreign keys on, a busy timeout, WAL and transactions
// that take the write lock when they begin. It also returns the file's path, ""
// for an in-memory database.
func openSQLite(ctx context.Context, path string) (*sql.DB, string, error) {
	name, query, _ := strings.Cut(path, "?")
	if name == "" {
		return nil, "", errors.New("database: sqlite URL has no file name (want sqlite:PATH, e.g. sqlite:linkapi.db)")
	}
	params, err := url.ParseQuery(query)
	if err != nil {
		return nil, "", oneLine(fmt.Sprintf("database: bad parameters in sqlite URL for %q", name), err)
	}
	memory := name == ":memory:" || strings.Contains(query, "mode=memory")
	if !memory && !strings.HasPrefix(name, "file:") {
		// SQLite reports a missing directory as "out of memory (14)".
		dir := filepath.Dir(name)
		if fi, err := os.Stat(dir); err != nil || !fi.IsDir() {
			return nil, "", fmt.Errorf("database: cannot open sqlite database %q: directory %q does not exist", name, dir)
		}
	}
	pragmas := []string{"foreign_keys(1)", "busy_timeout(5000)"}
	if !memory {
		pragmas = append(pragmas, "journal_mode(WAL)", "synchronous(NORMAL)")
	}
	params["_pragma"] = append(pragmas, params["_pragma"]...)
	// IMMEDIATE transactions take the write lock at BEGIN, so two writers wait for
	// each other through busy_timeout instead of one failing with SQLITE_BUSY when
	// it upgrades a read lock.
	if params.Get("_txlock") == "" {
		params.Set("_txlock", "immediate")
	}
	// Times are written as 2006-01-02 15:04:05.999999999-07:00, the layout the
	// earlier driver wrote and the first the driver reads; without it the driver
	// writes time.Time.String, monotonic reading and all.
	if params.Get("_time_format") == "" {
		params.Set("_time_format", "sqlite")
	}
	// and read back in time.UTC, as MySQL's are, rather than in a zone named
	// +00:00.
	if params.Get("_timezone") == "" {
		params.Set("_timezone", "UTC")
	}

	// sql.Open connects nothing: it only finds the driver modernc.org/sqlite
	// registered, to be wrapped so that a statement stops at its deadline.
	probe, err := sql.Open(sqlite.DriverName, "")
	if err != nil {
		return nil, "", oneLine(fmt.Sprintf("database: cannot open sqlite database %q", name), err)
	}
	drv := probe.Driver()
	probe.Close()
	sqlDB := sql.OpenDB(&interruptingConnector{
		base:    dsnConnector{dsn: name + "?" + params.Encode(), drv: drv},
		stopper: sqliteStopper,
		repeat:  sqliteInterruptRepeat,
	})
	if memory {
		// Every connection to :memory: is a database of its own.
		sqlDB.SetMaxOpenConns(1)
		sqlDB.SetMaxIdleConns(1)
		sqlDB.SetConnMaxLifetime(0)
		sqlDB.SetConnMaxIdleTime(0)
	} else {
		sqlDB.SetMaxOpenConns(4)
		sqlDB.SetMaxIdleConns(4)
		sqlDB.SetConnMaxIdleTime(10 * time.Minute)
	}
	pctx, cancel := context.WithTimeout(ctx, pingTimeout)
	defer cancel()
	if err := pingSQLite(pctx, sqlDB); err != nil {
		sqlDB.Close()
		return nil, "", oneLine(fmt.Sprintf("database: cannot open sqlite database %q", name), err)
	}
	file := ""
	if !memory {
		file = strings.TrimPrefix(name, "file:")
	}
	return sqlDB, file, nil
}

func openMySQL(ctx context.Context, raw string) (*sql.DB, error) {
	cfg, err := mysqlurl.Parse(raw)
	if err != nil {
		return nil, err
	}
	connector, err := mysqldriver.NewConnector(cfg)
	if err != nil {
		return nil, oneLine("database: bad mysql configuration", err)
	}
	sqlDB := sql.OpenDB(&interruptingConnector{base: connector, stopper: mysqlStopper(connector), afterDrop: true, endStatements: true})
	sqlDB.SetMaxOpenConns(20)
	sqlDB.SetMaxIdleConns(20)
	sqlDB.SetConnMaxLifetime(5 * time.Minute)
	sqlDB.SetConnMaxIdleTime(time.Minute)

	pctx, cancel := context.WithTimeout(ctx, pingTimeout)
	defer cancel()
	if err := sqlDB.PingContext(pctx); err != nil {
		sqlDB.Close()
		return nil, oneLine(fmt.Sprintf("database: cannot reach mysql at %s (database %q)", cfg.Addr, cfg.DBName), err)
	}
	return sqlDB, nil
}

// Dialect returns "sqlite" or "mysql", the kind of database db is.
func (db *DB) Dialect() string {
	return db.orm.Dialector.Name()
}

// Ready reports whether the database answers, within a short timeout, and, on
// a node of a Galera cluster, whether the node is ready for clients and synced
// with the cluster (wsrep_ready, and wsrep_local_state 4, Synced): a node that
// is cut off from the primary component refuses queries, one that is joining
// or catching up (Joiner, Joined) delays reads that wait for the cluster's
// writes, and a donor or a desynced node (Donor/Desynced) may hold writes for
// the whole of a state transfer, so its instance should get no traffic. It
// backs /readyz; its error is a *NotReadyError.
func (db *DB) Ready(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	if err := db.pool.PingContext(ctx); err != nil {
		return &NotReadyError{Reason: "database does not answer", err: oneLine("database: not ready", err)}
	}
	if db.Dialect() != DialectMySQL {
		return nil
	}
	vars, err := db.showGlobal(ctx, "VARIABLES", "wsrep_on")
	if err != nil {
		return &NotReadyError{Reason: "database does not answer", err: oneLine("database: not ready", err)}
	}
	if vars["wsrep_on"] != "ON" {
		return nil // not a Galera node
	}
	status, err := db.showGlobal(ctx, "STATUS", "wsrep_ready", "wsrep_local_state", "wsrep_local_state_comment", "wsrep_cluster_status")
	if err != nil {
		return &NotReadyError{Reason: "database does not answer", err: oneLine("database: not ready", err)}
	}
	if status["wsrep_ready"] != "ON" || status["wsrep_local_state"] != wsrepSynced {
		reason := fmt.Sprintf("galera node is not ready: wsrep_ready=%s, wsrep_local_state_comment=%s, wsrep_cluster_status=%s",
			orNone(status["wsrep_ready"]), orNone(status["wsrep_local_state_comment"]), orNone(status["wsrep_cluster_status"]))
		return &NotReadyError{Reason: reason, err: errors.New("database: " + reason)}
	}
	return nil
}

// wsrepSynced is wsrep_local_state of a Galera node that is synced with the
// cluster.
const wsrepSynced = "4"

// NotReadyError is why Ready finds the database not ready. Reason says it in
// words that may be shown to anyone who asks /readyz (no address, no
// credentials); Error, for the log, may say more.
type NotReadyError struct {
	Reason string
	err    error
}

func (e *NotReadyError) Error() string { return e.err.Error() }
func (e *NotReadyError) Unwrap() error { return e.err }

// ReadyReason returns Reason, for /readyz.
func (e *NotReadyError) ReadyReason() string { return e.Reason }

func orNone(s string) string {
	if s == "" {
		return "(none)"
	}
	return s
}

// showGlobal returns the named global variables or status values ("VARIABLES"
// or "STATUS") the server has; one it lacks is absent.
func (db *DB) showGlobal(ctx context.Context, what string, names ...string) (map[string]string, error) {
	q := "SHOW GLOBAL " + what + " WHERE Variable_name IN (?" + strings.Repeat(", ?", len(names)-1) + ")"
	args := make([]any, len(names))
	for i, n := range names {
		args[i] = n
	}
	rows, err := db.pool.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[string]string{}
	for rows.Next() {
		var k, v string
		if err := rows.Scan(&k, &v); err != nil {
			return nil, err
		}
		out[strings.ToLower(k)] = v
	}
	return out, rows.Err()
}

// Migrate applies the pending schema migrations of db's dialect, holding the
// migration lock (see migrationlock.go) so that instances that start at once
// apply each migration once. Calling it on an up-to-date database does nothing.
func (db *DB) Migrate(ctx context.Context) (err error) {
	p, err := db.migrationProvider()
	if err != nil {
		return err
	}
	locker, err := db.migrationLocker()
	if err != nil {
		return err
	}
	if locker != nil {
		if err := locker.Lock(ctx, db.pool); err != nil {
			return oneLine("database: cannot take the migration lock", err)
		}
		defer func() {
			if uerr := locker.Unlock(ctx, db.pool); uerr != nil && err == nil {
				err = oneLine("database: cannot release the migration lock", uerr)
			}
		}()
	}
	if _, err := p.Up(ctx); err != nil {
		return oneLine("database: migration failed", err)
	}
	if err := db.backfillURLHashes(ctx); err != nil {
		return oneLine("database: migration failed: keying links by URL", err)
	}
	return nil
}

// backfillBatch is how many links backfillURLHashes keys per transaction.
const backfillBatch = 1000

// backfillURLHashes sets links.url_hash, which migration 00006 adds empty, on
// every link that lacks it: SQL cannot normalise a URL as linkapi.NormalizeURL
// does. Every link the store writes has its hash, so after the first run this
// finds nothing to do.
func (db *DB) backfillURLHashes(ctx context.Context) error {
	for {
		rows, err := db.pool.QueryContext(ctx, "SELECT id, url FROM links WHERE url_hash IS NULL ORDER BY id LIMIT ?", backfillBatch)
		if err != nil {
			return err
		}
		type link struct {
			id  int64
			url string
		}
		var batch []link
		for rows.Next() {
			var l link
			if err := rows.Scan(&l.id, &l.url); err != nil {
				rows.Close()
				return err
			}
			batch = append(batch, l)
		}
		rows.Close()
		if err := rows.Err(); err != nil || len(batch) == 0 {
			return err
		}
		tx, err := db.pool.BeginTx(ctx, nil)
		if err != nil {
			return err
		}
		for _, l := range batch {
			if _, err := tx.ExecContext(ctx, "UPDATE links SET url_hash = ? WHERE id = ?", linkapi.URLKey(l.url), l.id); err != nil {
				tx.Rollback()
				return err
			}
		}
		if err := tx.Commit(); err != nil {
			return err
		}
	}
}

// MigrationVersion returns the schema version db is at and the latest version
// this build knows; they differ when migrations are pending.
func (db *DB) MigrationVersion(ctx context.Context) (current, latest int64, err error) {
	p, err := db.migrationProvider()
	if err != nil {
		return 0, 0, err
	}
	current, latest, err = p.GetVersions(ctx)
	if err != nil {
		return 0, 0, oneLine("database: cannot read the migration version", err)
	}
	return current, latest, nil
}

func (db *DB) migrationProvider() (*goose.Provider, error) {
	var dialect goose.Dialect
	switch name := db.Dialect(); name {
	case DialectSQLite:
		dialect = goose.DialectSQLite3
	case DialectMySQL:
		dialect = goose.DialectMySQL
	default:
		return nil, fmt.Errorf("database: no migrations for dialect %q", name)
	}
	fsys, err := fs.Sub(migrationFiles, "migrations/"+db.Dialect())
	if err != nil {
		return nil, oneLine("database: embedded migrations", err)
	}
	p, err := goose.NewProvider(dialect, db.pool, fsys, goose.WithDisableGlobalRegistry(true))
	if err != nil {
		return nil, oneLine("database: loading migrations", err)
	}
	return p, nil
}

// lineError is an error with a one-line message that wraps the error it came from,
// so errors.Is and errors.As still see the cause.
type lineError struct {
	msg string
	err error
}

func (e *lineError) Error() string { return e.msg }
func (e *lineError) Unwrap() error { return e.err }

// oneLine returns an error reading "prefix: cause" on a single line.
func oneLine(prefix string, err error) error {
	cause := strings.Join(strings.Fields(err.Error()), " ")
	return &lineError{msg: prefix + ": " + cause, err: err}
}

// pingSQLite opens the first connection, trying again while the file is busy.
// Connections opened at once on a new file (several instances or commands
// started together) race to switch it to WAL, which needs the file to itself:
// the losers get SQLITE_BUSY at once, without waiting through busy_timeout.
func pingSQLite(ctx context.Context, db *sql.DB) error {
	for {
		err := db.PingContext(ctx)
		if err == nil || !strings.Contains(err.Error(), "SQLITE_BUSY") {
			return err
		}
		select {
		case <-ctx.Done():
			return err
		case <-time.After(20 * time.Millisecond):
		}
	}
}
