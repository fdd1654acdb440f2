package store

// The hottest reads, written by hand
//
// Every list request reads a page of links, the tags of its links and, often,
// the page's count and its links' account. Through gorm each of those
// statements was built anew from clauses and callbacks, and Find scanned its
// rows by reflection: about a fifth of what the store spent on a page. These
// reads write their SQL themselves and run it on the pool under gorm:
//
//   - a selectSQL is begun only by tenant.selectFrom, which writes the tenant
//     filter, from tenant.filter as tenant.table does for gorm, before any other
//     condition; a subquery on an owned table is begun the same way, so it
//     carries its own filter. Nothing else writes FROM an owned table here;
//   - Store.query runs it, through a prepared statement when the dialect gains
//     by one (see stmtCache), and calls the statement hooks of OnStatement as
//     gorm's callbacks do, so that what counts or fails statements sees these;
//   - the rows are scanned straight into the domain types, each column through
//     a scanner that takes what either driver gives without reflection.
//
// What they answer is what the gorm statements they replace answered
// (reads_test.go compares the two on every filter, order and cursor).

import (
	"context"
	"database/sql"
	"errors"
	"strconv"
	"strings"
	"sync"

	"linkapi/internal/linkapi"
)

// selectSQL is a hand-written SELECT with its arguments.
type selectSQL struct {
	b    []byte
	args []any
}

// selectFrom begins a SELECT of columns from t's table, joined with joins (""
// for none), through the tenant filter: every condition added later is ANDed to
// it.
func (tn tenant) selectFrom(t table, columns, joins string) *selectSQL {
	q := &selectSQL{b: make([]byte, 0, 640), args: make([]any, 0, 8)}
	q.b = append(q.b, "SELECT "...)
	q.b = append(q.b, columns...)
	q.b = append(q.b, " FROM "...)
	q.b = append(q.b, t.TableName()...)
	if joins != "" {
		q.b = append(q.b, ' ')
		q.b = append(q.b, joins...)
	}
	q.b = append(q.b, " WHERE "...)
	if cond, ok := tn.filter(t); ok {
		q.b = append(q.b, cond...)
		q.args = append(q.args, tn.account)
	} else {
		q.b = append(q.b, "1 = 1"...)
	}
	return q
}

// where adds a condition, with its arguments; a condition with OR comes in
// parentheses.
func (q *selectSQL) where(cond string, args ...any) *selectSQL {
	q.b = append(q.b, " AND "...)
	q.b = append(q.b, cond...)
	q.args = append(q.args, args...)
	return q
}

// in adds column [NOT] IN (sub).
func (q *selectSQL) in(column string, not bool, sub *selectSQL) *selectSQL {
	q.b = append(q.b, " AND "...)
	q.b = append(q.b, column...)
	if not {
		q.b = append(q.b, " NOT"...)
	}
	q.b = append(q.b, " IN ("...)
	q.b = append(q.b, sub.b...)
	q.b = append(q.b, ')')
	q.args = append(q.args, sub.args...)
	return q
}

// inList adds column IN (?, ...), a placeholder for each of values.
func inList[V any](q *selectSQL, column string, values []V) *selectSQL {
	if len(values) == 0 {
		q.b = append(q.b, " AND 1 = 0"...)
		return q
	}
	q.b = append(q.b, " AND "...)
	q.b = append(q.b, column...)
	q.b = append(q.b, " IN (?"...)
	q.b = append(q.b, strings.Repeat(",?", len(values)-1)...)
	q.b = append(q.b, ')')
	for _, v := range values {
		q.args = append(q.args, v)
	}
	return q
}

// groupBy adds GROUP BY columns, before orderBy.
func (q *selectSQL) groupBy(columns string) *selectSQL {
	q.b = append(q.b, " GROUP BY "...)
	q.b = append(q.b, columns...)
	return q
}

// orderBy ends the statement with ORDER BY order and, when limit is positive,
// LIMIT limit.
//
// The limit is written into the statement, not bound: SQLite's planner looks at
// the value bound to a LIMIT parameter, so that binding one expires the
// statement just prepared, and each execution was prepared twice (on a page of
// 20 links, 57 µs of the process's CPU with LIMIT ?, 37 µs without). A page has
// a handful of sizes, so that its statements stay few.
func (q *selectSQL) orderBy(order string, limit int) *selectSQL {
	q.b = append(q.b, " ORDER BY "...)
	q.b = append(q.b, order...)
	if limit > 0 {
		q.b = append(q.b, " LIMIT "...)
		q.b = strconv.AppendInt(q.b, int64(limit), 10)
	}
	return q
}

// statementHooks are the functions OnStatement registered, which the
// hand-written reads call as gorm's callbacks call them for its statements.
type statementHooks struct {
	mu  sync.RWMutex
	fns []func(context.Context, Statement) error
}

func (h *statementHooks) add(fn func(context.Context, Statement) error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.fns = append(h.fns, fn)
}

// run calls every hook on st, and returns the first error one returns.
func (h *statementHooks) run(ctx context.Context, st Statement) error {
	h.mu.RLock()
	fns := h.fns
	h.mu.RUnlock()
	var first error
	for _, fn := range fns {
		if err := fn(ctx, st); err != nil && first == nil {
			first = err
		}
	}
	return first
}

// stmtCache holds a prepared statement for each hand-written read it has seen,
// up to max of them; past max it prepares no more, and the reads it has no
// statement for run unprepared.
//
// It prepares on SQLite only. SQLite's driver parses a prepared statement again
// at each execution, so that preparing saves it only the statement's setting
// up: in BenchmarkLinkPage 0 to 4% of the store's CPU, never more. On MySQL a
// prepared read is parsed once per connection and its rows come in the binary
// protocol, but the same benchmark put the CPU within its noise (a median 5%
// less at one shape, 4% more at another, ±10% between runs) for 20 fewer
// allocations a page, linkbench could not tell the two apart at a load average
// of 12 to 23, and every statement prepared on every connection of every
// instance counts against the server's max_prepared_stmt_count: not kept.
type stmtCache struct {
	pool *sql.DB
	max  int // 0: prepare nothing

	mu    sync.RWMutex
	stmts map[string]*sql.Stmt
}

// maxPreparedSQLite bounds the statements a stmtCache keeps on SQLite: a
// page's read differs by filter and order, the tags read by the number of
// links.
const maxPreparedSQLite = 256

func newStmtCache(pool *sql.DB, dialect string) *stmtCache {
	c := &stmtCache{pool: pool, stmts: map[string]*sql.Stmt{}}
	if dialect == DialectSQLite {
		c.max = maxPreparedSQLite
	}
	return c
}

// stmt returns the prepared statement of query, preparing it when there is room;
// nil when the read is to run unprepared.
func (c *stmtCache) stmt(ctx context.Context, query string) *sql.Stmt {
	if c.max == 0 {
		return nil
	}
	c.mu.RLock()
	st, full := c.stmts[query], len(c.stmts) >= c.max
	c.mu.RUnlock()
	if st != nil || full {
		return st
	}
	st, err := c.pool.PrepareContext(ctx, query)
	if err != nil {
		return nil // the read runs unprepared, and meets the error itself if it lasts
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if have := c.stmts[query]; have != nil || len(c.stmts) >= c.max {
		st.Close()
		return have
	}
	c.stmts[query] = st
	return st
}

// drop takes st, which failed, out of the cache and closes it; reads that hold
// it already finish first.
func (c *stmtCache) drop(query string, st *sql.Stmt) {
	c.mu.Lock()
	if c.stmts[query] == st {
		delete(c.stmts, query)
	}
	c.mu.Unlock()
	st.Close()
}

// close closes every statement the cache holds.
func (c *stmtCache) close() {
	c.mu.Lock()
	defer c.mu.Unlock()
	for q, st := range c.stmts {
		st.Close()
		delete(c.stmts, q)
	}
}

// query runs q, a read begun with tenant.selectFrom, and calls the statement
// hooks on it before its rows are read. A read whose prepared statement fails
// while its context lasts runs again unprepared, and the statement is dropped:
// one that a connection could not prepare does not fail the read.
func (s *Store) query(ctx context.Context, q *selectSQL) (*sql.Rows, error) {
	text := string(q.b)
	var rows *sql.Rows
	err := errUnprepared
	if st := s.reads.stmts.stmt(ctx, text); st != nil {
		if rows, err = st.QueryContext(ctx, q.args...); err != nil && ctx.Err() == nil {
			s.reads.stmts.drop(text, st)
			err = errUnprepared
		}
	}
	if err == errUnprepared {
		rows, err = s.reads.pool.QueryContext(ctx, text, q.args...)
	}
	herr := s.reads.hooks.run(ctx, Statement{SQL: text, Vars: q.args})
	if err != nil {
		return nil, err
	}
	if herr != nil {
		rows.Close()
		return nil, herr
	}
	return rows, nil
}

// errUnprepared says that a read is to run unprepared.
var errUnprepared = errors.New("store: run unprepared")

// reads is what the hand-written reads of a database share.
type reads struct {
	pool  *sql.DB
	hooks *statementHooks
	stmts *stmtCache
	// The columns each read selects, for the database's dialect.
	// tagJoinColumns, without the tag's time, and tagTimeJoinColumns with it.
	tagJoinColumns, tagTimeJoinColumns, accountColumns string
	// linkColumns holds, by linkapi.LinkFields, the columns of a page of links
	// that fills those fields, for the database's dialect.
	linkColumns sync.Map
	dialect     string
}

func newReads(pool *sql.DB, dialect string, hooks *statementHooks) *reads {
	return &reads{
		pool: pool, hooks: hooks, stmts: newStmtCache(pool, dialect),
		dialect:            dialect,
		tagJoinColumns:     dialectColumns(dialect, tagColumns+", group_concat(link_tags.link_id)"),
		tagTimeJoinColumns: dialectColumns(dialect, tagColumns+", *tags.created_at, group_concat(link_tags.link_id)"),
		accountColumns:     dialectColumns(dialect, accountColumns),
	}
}

// linkColumnsOf returns the columns a page of links selects to fill fields.
func (r *reads) linkColumnsOf(fields linkapi.LinkFields) string {
	if cols, ok := r.linkColumns.Load(fields); ok {
		return cols.(string)
	}
	cols := dialectColumns(r.dialect, linkFieldsColumns(fields))
	r.linkColumns.Store(fields, cols)
	return cols
}
