package store

import (
	"context"
	"database/sql/driver"
	"errors"
	"io"
	"sync"
	"testing"
	"time"

	"linkapi/internal/store/storetest"
)

// TestEndlessStatementStopsWithItsContext runs a statement that never ends by
// itself on a real SQLite database: it ends when its context does, and the one
// connection it ran on answers the next statement.
func TestEndlessStatementStopsWithItsContext(t *testing.T) {
	db := dbtOpen(t, storetest.SQLiteURL(t))
	sqlDB := db.SQL()
	sqlDB.SetMaxOpenConns(1)
	const endless = `WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) SELECT COUNT(*) FROM c`
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	var n int64
	if err := sqlDB.QueryRowContext(ctx, endless).Scan(&n); err == nil {
		t.Fatalf("the endless statement ended with %d and no error", n)
	}
	if err := sqlDB.QueryRowContext(context.Background(), "SELECT 1").Scan(&n); err != nil || n != 1 {
		t.Fatalf("the next statement: %d, %v", n, err)
	}
	// The interrupted statement was in a transaction that is rolled back whole.
	ctx, cancel = context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	tx, err := sqlDB.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.ExecContext(ctx, "INSERT INTO accounts (email, password_hash, password_changed_at, created_at, updated_at) VALUES ('a@x', 'h', '2026-01-01', '2026-01-01', '2026-01-01')"); err != nil {
		t.Fatal(err)
	}
	if err := tx.QueryRowContext(ctx, endless).Scan(&n); err == nil {
		t.Fatal("the endless statement in a transaction ended with no error")
	}
	tx.Rollback()
	if got := dbtCount(t, db, "accounts"); got != 0 {
		t.Errorf("accounts after the rolled-back transaction: %d", got)
	}
}

// fakeConn is a driver connection whose rows block in Next until release says so.
type fakeConn struct {
	value   driver.Value // the one value its rows hold
	release func() bool  // whether Next may return; nil for at once
	stmt    driver.Stmt  // what PrepareContext returns
}

func (c *fakeConn) Prepare(string) (driver.Stmt, error) { return c.stmt, nil }
func (c *fakeConn) Close() error                        { return nil }
func (c *fakeConn) Begin() (driver.Tx, error)           { return nil, errors.New("no transactions") }
func (c *fakeConn) BeginTx(context.Context, driver.TxOptions) (driver.Tx, error) {
	return nil, errors.New("no transactions")
}
func (c *fakeConn) PrepareContext(context.Context, string) (driver.Stmt, error) { return c.stmt, nil }
func (c *fakeConn) ExecContext(context.Context, string, []driver.NamedValue) (driver.Result, error) {
	return driver.RowsAffected(0), nil
}
func (c *fakeConn) QueryContext(context.Context, string, []driver.NamedValue) (driver.Rows, error) {
	return &fakeRows{c: c}, nil
}

type fakeRows struct {
	c    *fakeConn
	done bool
}

func (r *fakeRows) Columns() []string { return []string{"v"} }
func (r *fakeRows) Close() error      { return nil }
func (r *fakeRows) Next(dest []driver.Value) error {
	for r.c.release != nil && !r.c.release() {
		time.Sleep(time.Millisecond)
	}
	if r.done {
		return io.EOF
	}
	r.done = true
	dest[0] = r.c.value
	return nil
}

// plainConn is a driver connection that takes no contexts.
type plainConn struct{ driver.Conn }

func (plainConn) Close() error { return nil }

// stops counts the calls of a stop function.
type stops struct {
	mu sync.Mutex
	n  int
}

func (s *stops) stop() { s.mu.Lock(); s.n++; s.mu.Unlock() }
func (s *stops) count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.n
}

func interrupting(t *testing.T, c driver.Conn, s *stops, repeat time.Duration) *interruptingConn {
	t.Helper()
	ic := &interruptingConnector{
		base:    dsnConnector{drv: fakeDriver{c}},
		stopper: func(context.Context, driver.Conn) (func(), error) { return s.stop, nil },
		repeat:  repeat,
	}
	conn, err := ic.Connect(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return conn.(*interruptingConn)
}

type fakeDriver struct{ c driver.Conn }

func (d fakeDriver) Open(string) (driver.Conn, error) { return d.c, nil }

// TestInterruptOnlyTheStatementOfTheContext: a statement whose context ends while
// it runs is stopped, again and again while it does not give up when the
// connection repeats; one that is over, or on a closed connection, is not.
func TestInterruptOnlyTheStatementOfTheContext(t *testing.T) {
	var s stops
	fake := &fakeConn{value: int64(1)}
	fake.release = func() bool { return s.count() >= 3 }
	conn := interrupting(t, fake, &s, time.Millisecond)
	ctx, cancel := context.WithCancel(context.Background())
	rows, err := conn.QueryContext(ctx, "q", nil)
	if err != nil {
		t.Fatal(err)
	}
	cancel()
	if err := rows.Next(make([]driver.Value, 1)); err != nil {
		t.Fatal(err)
	}
	rows.Close()
	after := s.count()
	if after < 3 {
		t.Fatalf("stops while the statement ran: %d, want at least 3", after)
	}

	// Over before its context ends: no stop.
	var quiet stops
	conn = interrupting(t, &fakeConn{value: int64(1)}, &quiet, time.Millisecond)
	ctx, cancel = context.WithCancel(context.Background())
	rows, err = conn.QueryContext(ctx, "q", nil)
	if err != nil {
		t.Fatal(err)
	}
	rows.Close()
	if _, err := conn.ExecContext(ctx, "e", nil); err != nil {
		t.Fatal(err)
	}
	cancel()
	// Open when its connection closes: no stop either.
	ctx, cancel = context.WithCancel(context.Background())
	defer cancel()
	if _, err = conn.QueryContext(ctx, "q", nil); err != nil {
		t.Fatal(err)
	}
	conn.Close()
	cancel()
	time.Sleep(10 * time.Millisecond) // give a wrong stop the time to happen
	if n := quiet.count(); n != 0 {
		t.Errorf("stops of statements that were over or closed: %d", n)
	}
}

// TestInterruptingConnectorRefusals: a driver connection or statement that takes
// no contexts, or a SQLite driver without its handle, is refused at once rather
// than left unable to stop a statement; MySQL's connection id is read as an
// integer or text, and nothing else.
func TestInterruptingConnectorRefusals(t *testing.T) {
	ic := &interruptingConnector{
		base:    dsnConnector{drv: fakeDriver{plainConn{}}},
		stopper: func(context.Context, driver.Conn) (func(), error) { return func() {}, nil },
	}
	if _, err := ic.Connect(context.Background()); err == nil {
		t.Error("a connection that takes no contexts was accepted")
	}
	var s stops
	conn := interrupting(t, &fakeConn{stmt: plainStmt{}}, &s, 0)
	if _, err := conn.PrepareContext(context.Background(), "q"); err == nil {
		t.Error("a statement that takes no contexts was accepted")
	}
	if _, err := sqliteStopper(context.Background(), &fakeConn{}); err == nil {
		t.Error("a SQLite connection without a handle was accepted")
	}
	for _, tc := range []struct {
		value driver.Value
		want  int64
		ok    bool
	}{{int64(42), 42, true}, {uint64(43), 43, true}, {[]byte("44"), 44, true}, {[]byte("x"), 0, false}, {1.5, 0, false}} {
		id, err := mysqlConnectionID(context.Background(), &fakeConn{value: tc.value})
		if (err == nil) != tc.ok || id != tc.want {
			t.Errorf("CONNECTION_ID() of %#v: got %d, %v", tc.value, id, err)
		}
	}
}

// plainStmt is a driver statement that takes no contexts.
type plainStmt struct{ driver.Stmt }

func (plainStmt) Close() error { return nil }
