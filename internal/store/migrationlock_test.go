package store

import (
	"context"
	"errors"
	"sync"
	"testing"

	"linkapi/internal/store/storetest"
)

// TestMigrateWaitsForTheLock holds the migration lock as another instance
// would and finds that Migrate waits for it, applying nothing, until its context
// ends; once the lock is free, Migrate applies every migration.
func TestMigrateWaitsForTheLock(t *testing.T) {
	storetest.ForEachDB(t, func(t *testing.T, url string) {
		ctx := context.Background()
		db, err := Open(ctx, url)
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		holder, err := db.migrationLocker()
		if err != nil || holder == nil {
			t.Fatalf("migrationLocker: %v, %v", holder, err)
		}
		if err := holder.Lock(ctx, db.pool); err != nil {
			t.Fatalf("taking the lock: %v", err)
		}

		waiting, cancel := context.WithCancel(ctx)
		done := make(chan error, 1)
		go func() { done <- db.Migrate(waiting) }()
		// Migrate polls the lock; ending its context is the only way it returns
		// while the lock is held.
		cancel()
		if err := <-done; !errors.Is(err, context.Canceled) {
			t.Fatalf("Migrate while the lock is held: got %v, want context.Canceled", err)
		}
		current, _, err := db.MigrationVersion(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if current != 0 {
			t.Fatalf("schema version while the lock was held: got %d, want 0", current)
		}

		if err := holder.Unlock(ctx, db.pool); err != nil {
			t.Fatalf("releasing the lock: %v", err)
		}
		if err := db.Migrate(ctx); err != nil {
			t.Fatalf("Migrate once the lock is free: %v", err)
		}
		current, latest, err := db.MigrationVersion(ctx)
		if err != nil || current != latest {
			t.Fatalf("after Migrate: version %d of %d, %v", current, latest, err)
		}
	})
}

// TestMigrateTogether migrates one empty database from several connections at
// once, as instances starting together do: every one succeeds and each
// migration is recorded once.
func TestMigrateTogether(t *testing.T) {
	storetest.ForEachDB(t, func(t *testing.T, url string) {
		ctx := context.Background()
		const n = 4
		dbs := make([]*DB, n)
		for i := range dbs {
			db, err := Open(ctx, url)
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			dbs[i] = db
		}
		var wg sync.WaitGroup
		errs := make([]error, n)
		for i, db := range dbs {
			wg.Go(func() { errs[i] = db.Migrate(ctx) })
		}
		wg.Wait()
		for i, err := range errs {
			if err != nil {
				t.Errorf("Migrate %d: %v", i, err)
			}
		}
		wantEachMigrationOnce(t, dbs[0])
	})
}

// wantEachMigrationOnce fails t unless goose recorded every migration this build
// knows exactly once.
func wantEachMigrationOnce(t *testing.T, db *DB) {
	t.Helper()
	_, latest, err := db.MigrationVersion(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	rows, err := db.pool.Query("SELECT version_id, COUNT(*) FROM goose_db_version WHERE version_id > 0 GROUP BY version_id ORDER BY version_id")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var last int64
	for rows.Next() {
		var v, count int64
		if err := rows.Scan(&v, &count); err != nil {
			t.Fatal(err)
		}
		if count != 1 {
			t.Errorf("migration %d recorded %d times, want once", v, count)
		}
		last = v
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	if last != latest {
		t.Errorf("last migration recorded: got %d, want %d", last, latest)
	}
}
