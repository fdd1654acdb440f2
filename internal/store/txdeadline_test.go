package store

import (
	"context"
	"database/sql"
	"errors"
	"testing"
	"time"

	"linkapi/internal/store/storetest"
)

// heldFor is how long a test waits for a call the server never answers to
// end at its context's deadline, far past that deadline, before it fails.
const heldFor = 30 * time.Second

// heldTransaction opens a MySQL database through a proxy, begins a
// transaction with a deadline two seconds away that changes an account's
// link_count, and makes the proxy hold stmt, the statement that is to end it.
// It returns the database, the transaction, the account's id and the proxy.
func heldTransaction(t *testing.T, stmt string) (*DB, *sql.Tx, int64, *storetest.Proxy) {
	t.Helper()
	p := storetest.StartProxy(t, storetest.URL(t, "mysql"))
	db := dbtOpen(t, p.URL)
	id := dbtAccount(t, db, "held@example.com")
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	t.Cleanup(cancel)
	tx, err := db.SQL().BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.ExecContext(ctx, "UPDATE accounts SET link_count = 7 WHERE id = ?", id); err != nil {
		t.Fatal(err)
	}
	p.Hold(stmt)
	return db, tx, id, p
}

// endHeld runs end (the transaction's Commit or Rollback) and returns its
// error, failing t when it does not return within heldFor or the proxy held
// nothing.
func endHeld(t *testing.T, p *storetest.Proxy, end func() error) error {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- end() }()
	var err error
	select {
	case err = <-done:
	case <-time.After(heldFor):
		t.Fatalf("still waiting for a held statement %s after its deadline", heldFor)
	}
	select {
	case <-p.Held():
	default:
		t.Fatal("the statement never reached the server: nothing waited for it")
	}
	return err
}

// linkCount reads the account's link_count, on a connection the pool may have
// to open afresh, within heldFor.
func linkCount(t *testing.T, db *DB, id int64) int {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), heldFor)
	defer cancel()
	var n int
	if err := db.SQL().QueryRowContext(ctx, "SELECT link_count FROM accounts WHERE id = ?", id).Scan(&n); err != nil {
		t.Fatalf("the next statement: %v", err)
	}
	return n
}

// TestHeldCommitEndsAtItsDeadline sends a transaction's COMMIT to a MySQL
// server that never answers it (a proxy holds it, as a Galera node holds
// commits under flow control or while the cluster changes members): Commit
// returns the context's error at its deadline rather than waiting for the
// server, no connection stays in use, the transaction is not committed, and
// the pool serves the next statement.
func TestHeldCommitEndsAtItsDeadline(t *testing.T) {
	db, tx, id, p := heldTransaction(t, "COMMIT")
	if err := endHeld(t, p, tx.Commit); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Commit of a held COMMIT: %v, want the deadline's error", err)
	}
	if n := db.SQL().Stats().InUse; n != 0 {
		t.Errorf("connections in use after the commit failed: %d", n)
	}
	if n := linkCount(t, db, id); n != 0 {
		t.Errorf("link_count after a COMMIT that never reached the server: %d, want 0", n)
	}
}

// TestHeldRollbackEndsAtItsDeadline is the same for a ROLLBACK: Rollback,
// called before the deadline, returns at the deadline, and the connection the
// server holds is not handed out again (the pool has room for one only).
func TestHeldRollbackEndsAtItsDeadline(t *testing.T) {
	db, tx, id, p := heldTransaction(t, "ROLLBACK")
	db.SQL().SetMaxOpenConns(1)
	endHeld(t, p, tx.Rollback)
	if n := linkCount(t, db, id); n != 0 {
		t.Errorf("link_count after the rollback: %d, want 0", n)
	}
}
