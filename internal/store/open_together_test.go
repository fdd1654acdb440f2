package store

import (
	"context"
	"path/filepath"
	"sync"
	"testing"
)

// TestOpenSQLiteTogether opens one new SQLite file from many goroutines at
// once, as instances or commands started together do: each open succeeds,
// although their first connections race to switch the file to WAL.
func TestOpenSQLiteTogether(t *testing.T) {
	for round := range 5 {
		url := "sqlite:" + filepath.Join(t.TempDir(), "together.db")
		var wg sync.WaitGroup
		errs := make([]error, 16)
		for i := range errs {
			wg.Go(func() {
				db, err := Open(context.Background(), url)
				if err == nil {
					err = db.Close()
				}
				errs[i] = err
			})
		}
		wg.Wait()
		for i, err := range errs {
			if err != nil {
				t.Errorf("round %d, open %d: %v", round, i, err)
			}
		}
	}
}
