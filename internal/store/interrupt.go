package store

import (
	"context"
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
	"reflect"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"modernc.org/libc"
	sqlite3 "modernc.org/sqlite/lib"
)

// The drivers do not stop a statement at the database when its context ends:
// SQLite's watches the context only while it prepares a statement, not while it
// steps through its rows (where a COUNT or a LIKE scan spends all its time), and
// MySQL's closes its connection, which leaves the statement running on the server
// until it is done. interruptingConnector closes that gap for both: each
// statement of its connections is stopped at the database when its context
// ends, however far it has got.

const (
	// interruptTimeout bounds the connection that a MySQL KILL is sent on.
	interruptTimeout = 5 * time.Second
	// sqliteInterruptRepeat is how often an interrupt is repeated until the
	// SQLite statement it is meant for gives up.
	sqliteInterruptRepeat = 10 * time.Millisecond
)

// interruptingConnector opens connections through base and wraps them so that
// their statements are interrupted when their contexts end. stopper returns, for
// a new connection, the function that stops the statement running on it; repeat
// is as for interruptingConn.
type interruptingConnector struct {
	base    driver.Connector
	stopper func(ctx context.Context, c driver.Conn) (func(), error)
	repeat  time.Duration
	// afterDrop also stops a statement whose connection the driver dropped
	// because its context ended, as MySQL's driver does, before the stop had
	// run: the statement may still run on the server.
	afterDrop bool
	// endStatements ends transactions with COMMIT and ROLLBACK sent as
	// statements of the connection, under the transaction's context, rather
	// than through the driver's Commit and Rollback, which take no context:
	// MySQL's driver waits for their answer for ever, so a server that holds a
	// commit (a Galera node under flow control or in a membership change, a
	// donor during a state transfer) would hold the request past its deadline.
	endStatements bool
}

func (ic *interruptingConnector) Driver() driver.Driver { return ic.base.Driver() }

func (ic *interruptingConnector) Connect(ctx context.Context) (driver.Conn, error) {
	c, err := ic.base.Connect(ctx)
	if err != nil {
		return nil, err
	}
	if !contextual(c) {
		c.Close()
		return nil, fmt.Errorf("database driver connection %T does not take contexts", c)
	}
	stop, err := ic.stopper(ctx, c)
	if err != nil {
		c.Close()
		return nil, err
	}
	return &interruptingConn{Conn: c, stop: stop, repeat: ic.repeat, afterDrop: ic.afterDrop, endStatements: ic.endStatements}, nil
}

// contextual reports whether c has every context-taking method that
// interruptingConn passes statements through.
func contextual(c driver.Conn) bool {
	_, q := c.(driver.QueryerContext)
	_, e := c.(driver.ExecerContext)
	_, p := c.(driver.ConnPrepareContext)
	_, b := c.(driver.ConnBeginTx)
	return q && e && p && b
}

// dsnConnector is the connector of a driver that has none of its own.
type dsnConnector struct {
	dsn string
	drv driver.Driver
}

func (d dsnConnector) Connect(context.Context) (driver.Conn, error) { return d.drv.Open(d.dsn) }
func (d dsnConnector) Driver() driver.Driver                        { return d.drv }

// sqliteStopper interrupts a SQLite connection with sqlite3_interrupt, which makes
// its running statement fail with SQLITE_INTERRUPT at its next step. The driver
// keeps its sqlite3 handle to itself, so it is read from the connection's "db"
// field; a driver without that field is refused here, when the first connection
// opens, rather than left unable to stop a statement.
func sqliteStopper(_ context.Context, c driver.Conn) (func(), error) {
	handle := sqliteHandle(c)
	if handle == 0 {
		return nil, fmt.Errorf("sqlite driver %T has no connection handle to interrupt its statements with", c)
	}
	return func() {
		tls := libc.NewTLS()
		defer tls.Close()
		sqlite3.Xsqlite3_interrupt(tls, handle)
	}, nil
}

// sqliteHandle returns the sqlite3 pointer of a modernc.org/sqlite
// connection, or 0.
func sqliteHandle(c driver.Conn) uintptr {
	v := reflect.ValueOf(c)
	if v.Kind() != reflect.Pointer || v.Elem().Kind() != reflect.Struct {
		return 0
	}
	f := v.Elem().FieldByName("db")
	if !f.IsValid() || f.Kind() != reflect.Uintptr {
		return 0
	}
	return uintptr(f.Uint())
}

// mysqlStopper learns a new MySQL connection's id and ends it at the server with
// KILL CONNECTION, sent on a connection of its own from base so that a full pool
// does not delay it. The driver has already closed the interrupted connection on
// its side, so nothing is lost; killing the connection rather than its query
// also stops a statement the server had not started when the kill arrived,
// which KILL QUERY would let run to its end. A kill that fails leaves the
// statement to finish on its own; there is no one to report the failure to.
func mysqlStopper(base driver.Connector) func(ctx context.Context, c driver.Conn) (func(), error) {
	return func(ctx context.Context, c driver.Conn) (func(), error) {
		id, err := mysqlConnectionID(ctx, c)
		if err != nil {
			return nil, err
		}
		kill := "KILL CONNECTION " + strconv.FormatInt(id, 10)
		return func() {
			go func() {
				ctx, cancel := context.WithTimeout(context.Background(), interruptTimeout)
				defer cancel()
				k, err := base.Connect(ctx)
				if err != nil {
					return
				}
				defer k.Close()
				if e, ok := k.(driver.ExecerContext); ok {
					_, _ = e.ExecContext(ctx, kill, nil) // "unknown thread" when it is already over
				}
			}()
		}, nil
	}
}

func mysqlConnectionID(ctx context.Context, c driver.Conn) (int64, error) {
	rows, err := c.(driver.QueryerContext).QueryContext(ctx, "SELECT CONNECTION_ID()", nil)
	if err != nil {
		return 0, err
	}
	defer rows.Close()
	v := make([]driver.Value, 1)
	if err := rows.Next(v); err != nil {
		return 0, err
	}
	switch id := v[0].(type) {
	case int64:
		return id, nil
	case uint64:
		return int64(id), nil
	case []byte:
		return strconv.ParseInt(string(id), 10, 64)
	}
	return 0, fmt.Errorf("mysql: CONNECTION_ID() returned %T", v[0])
}

// interruptingConn is a driver connection whose statements are stopped when their
// contexts end. Everything else passes through to Conn.
type interruptingConn struct {
	driver.Conn
	stop          func()
	repeat        time.Duration // how often stop is repeated until the statement is over; 0 for once
	afterDrop     bool          // as for interruptingConnector
	endStatements bool          // as for interruptingConnector

	mu     sync.Mutex // orders stop against the end of a statement and Close
	closed bool
	// broken marks a connection whose transaction was left open because its
	// context ended before it could be ended: the pool must not hand it out
	// again, and closing it rolls the transaction back at the server.
	broken atomic.Bool
}

var (
	_ driver.ConnPrepareContext = (*interruptingConn)(nil)
	_ driver.ConnBeginTx        = (*interruptingConn)(nil)
	_ driver.ExecerContext      = (*interruptingConn)(nil)
	_ driver.QueryerContext     = (*interruptingConn)(nil)
	_ driver.Pinger             = (*interruptingConn)(nil)
	_ driver.SessionResetter    = (*interruptingConn)(nil)
	_ driver.Validator          = (*interruptingConn)(nil)
	_ driver.NamedValueChecker  = (*interruptingConn)(nil)
)

// watch arranges for the statement about to start to be stopped if ctx ends
// before the returned function is called, which the caller does once the
// statement is over. The lock makes sure that a stop never lands on a later
// statement, nor on a closed connection. When the connection has a repeat, the
// stop is repeated until the statement is over: SQLite forgets an interrupt that
// arrives before its statement's first step.
func (c *interruptingConn) watch(ctx context.Context) (end func()) {
	if ctx.Done() == nil {
		return func() {}
	}
	over, stopped := false, false
	finished := make(chan struct{})
	release := context.AfterFunc(ctx, func() {
		for {
			c.mu.Lock()
			if over || c.closed {
				c.mu.Unlock()
				return
			}
			c.stop()
			stopped = true
			c.mu.Unlock()
			if c.repeat <= 0 {
				return
			}
			select {
			case <-finished:
				return
			case <-time.After(c.repeat):
			}
		}
	})
	var once sync.Once
	return func() {
		once.Do(func() {
			release()
			c.mu.Lock()
			over = true
			// The driver may have seen the context end first, dropped the
			// connection and returned before the stop above ran; the statement
			// then still runs on the server, and only a stop reaches it. A
			// connection that is still valid finished its statement.
			if c.afterDrop && !stopped && ctx.Err() != nil && !valid(c.Conn) {
				c.stop()
			}
			c.mu.Unlock()
			close(finished)
		})
	}
}

// valid reports whether the driver still holds c usable.
func valid(c driver.Conn) bool {
	v, ok := c.(driver.Validator)
	return !ok || v.IsValid()
}

func (c *interruptingConn) Close() error {
	c.mu.Lock()
	c.closed = true
	c.mu.Unlock()
	return c.Conn.Close()
}

func (c *interruptingConn) QueryContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Rows, error) {
	end := c.watch(ctx)
	rows, err := c.Conn.(driver.QueryerContext).QueryContext(ctx, query, args)
	if err != nil {
		end()
		return nil, err
	}
	return &interruptingRows{Rows: rows, end: end}, nil
}

func (c *interruptingConn) ExecContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Result, error) {
	defer c.watch(ctx)()
	return c.Conn.(driver.ExecerContext).ExecContext(ctx, query, args)
}

// PrepareContext prepares a statement whose executions are interrupted like the
// connection's own; a driver statement that does not take contexts is refused.
func (c *interruptingConn) PrepareContext(ctx context.Context, query string) (driver.Stmt, error) {
	s, err := c.Conn.(driver.ConnPrepareContext).PrepareContext(ctx, query)
	if err != nil {
		return nil, err
	}
	_, q := s.(driver.StmtQueryContext)
	_, e := s.(driver.StmtExecContext)
	if !q || !e {
		s.Close()
		return nil, fmt.Errorf("database driver statement %T does not take contexts", s)
	}
	return &interruptingStmt{Stmt: s, c: c}, nil
}

func (c *interruptingConn) Prepare(query string) (driver.Stmt, error) {
	return c.PrepareContext(context.Background(), query)
}

func (c *interruptingConn) BeginTx(ctx context.Context, opts driver.TxOptions) (driver.Tx, error) {
	tx, err := c.Conn.(driver.ConnBeginTx).BeginTx(ctx, opts)
	if err != nil || !c.endStatements {
		return tx, err
	}
	return &interruptingTx{c: c, ctx: ctx}, nil
}

// interruptingTx is a transaction of a connection with endStatements: its
// COMMIT and ROLLBACK are statements like the others, stopped when the
// transaction's context (the one it began with) ends. The driver's own
// transaction holds nothing but its connection, so it is not needed to end it.
type interruptingTx struct {
	c   *interruptingConn
	ctx context.Context
}

func (t *interruptingTx) Commit() error { return t.end("COMMIT") }

func (t *interruptingTx) Rollback() error { return t.end("ROLLBACK") }

// end sends stmt under the transaction's context. When that context has
// already ended, nothing can be sent: the connection is marked broken, so that
// the pool closes it, which rolls the transaction back at the server; a commit
// then fails with the context's error, a rollback succeeds.
func (t *interruptingTx) end(stmt string) error {
	if err := t.ctx.Err(); err != nil {
		t.c.broken.Store(true)
		if stmt == "ROLLBACK" {
			return nil
		}
		return err
	}
	_, err := t.c.ExecContext(t.ctx, stmt, nil)
	if err != nil && t.ctx.Err() != nil {
		// Stopped at its deadline, the statement's outcome at the server is
		// not known, nor whether the driver kept the connection.
		t.c.broken.Store(true)
		return errors.Join(t.ctx.Err(), err)
	}
	return err
}

func (c *interruptingConn) Ping(ctx context.Context) error {
	if p, ok := c.Conn.(driver.Pinger); ok {
		return p.Ping(ctx)
	}
	return nil
}

func (c *interruptingConn) ResetSession(ctx context.Context) error {
	if c.broken.Load() {
		return driver.ErrBadConn
	}
	if r, ok := c.Conn.(driver.SessionResetter); ok {
		return r.ResetSession(ctx)
	}
	return nil
}

func (c *interruptingConn) IsValid() bool {
	if c.broken.Load() {
		return false
	}
	if v, ok := c.Conn.(driver.Validator); ok {
		return v.IsValid()
	}
	return true
}

func (c *interruptingConn) CheckNamedValue(nv *driver.NamedValue) error {
	if n, ok := c.Conn.(driver.NamedValueChecker); ok {
		return n.CheckNamedValue(nv)
	}
	return driver.ErrSkip
}

// interruptingStmt is a prepared statement of an interruptingConn.
type interruptingStmt struct {
	driver.Stmt
	c *interruptingConn
}

func (s *interruptingStmt) QueryContext(ctx context.Context, args []driver.NamedValue) (driver.Rows, error) {
	end := s.c.watch(ctx)
	rows, err := s.Stmt.(driver.StmtQueryContext).QueryContext(ctx, args)
	if err != nil {
		end()
		return nil, err
	}
	return &interruptingRows{Rows: rows, end: end}, nil
}

func (s *interruptingStmt) ExecContext(ctx context.Context, args []driver.NamedValue) (driver.Result, error) {
	defer s.c.watch(ctx)()
	return s.Stmt.(driver.StmtExecContext).ExecContext(ctx, args)
}

func (s *interruptingStmt) CheckNamedValue(nv *driver.NamedValue) error {
	if n, ok := s.Stmt.(driver.NamedValueChecker); ok {
		return n.CheckNamedValue(nv)
	}
	return s.c.CheckNamedValue(nv)
}

// interruptingRows ends its statement's watch when it is closed; the optional
// column and result-set interfaces pass through, with database/sql's defaults
// where the driver lacks them.
type interruptingRows struct {
	driver.Rows
	end func()
}

func (r *interruptingRows) Close() error {
	err := r.Rows.Close()
	r.end()
	return err
}

func (r *interruptingRows) HasNextResultSet() bool {
	n, ok := r.Rows.(driver.RowsNextResultSet)
	return ok && n.HasNextResultSet()
}

func (r *interruptingRows) NextResultSet() error {
	if n, ok := r.Rows.(driver.RowsNextResultSet); ok {
		return n.NextResultSet()
	}
	return io.EOF
}

func (r *interruptingRows) ColumnTypeScanType(i int) reflect.Type {
	if t, ok := r.Rows.(driver.RowsColumnTypeScanType); ok {
		return t.ColumnTypeScanType(i)
	}
	return reflect.TypeFor[any]()
}

func (r *interruptingRows) ColumnTypeDatabaseTypeName(i int) string {
	if t, ok := r.Rows.(driver.RowsColumnTypeDatabaseTypeName); ok {
		return t.ColumnTypeDatabaseTypeName(i)
	}
	return ""
}

func (r *interruptingRows) ColumnTypeLength(i int) (int64, bool) {
	if t, ok := r.Rows.(driver.RowsColumnTypeLength); ok {
		return t.ColumnTypeLength(i)
	}
	return 0, false
}

func (r *interruptingRows) ColumnTypeNullable(i int) (bool, bool) {
	if t, ok := r.Rows.(driver.RowsColumnTypeNullable); ok {
		return t.ColumnTypeNullable(i)
	}
	return false, false
}

func (r *interruptingRows) ColumnTypePrecisionScale(i int) (int64, int64, bool) {
	if t, ok := r.Rows.(driver.RowsColumnTypePrecisionScale); ok {
		return t.ColumnTypePrecisionScale(i)
	}
	return 0, 0, false
}
