package main

import (
	"context"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"linkapi/internal/store"
	"linkapi/internal/store/storetest"
)

// instance is one serve of startTogether: its address once it listens, its
// output, and how it ended.
type instance struct {
	addr string
	log  *syncBuffer
	err  error
}

// startTogether runs n serves at once on the database of vars and returns them
// once each listens or has ended; they stop when t ends.
func startTogether(t *testing.T, n int, vars map[string]string) []*instance {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	out := make([]*instance, n)
	var listening, running sync.WaitGroup
	for i := range out {
		in := &instance{log: &syncBuffer{}}
		out[i] = in
		var once sync.Once
		p := &Program{
			Stdin: strings.NewReader(""), Stdout: in.log, Stderr: in.log, Getenv: env(vars),
			Listening: func(addr string) { in.addr = addr; once.Do(listening.Done) },
		}
		listening.Add(1)
		running.Go(func() {
			in.err = p.Run(ctx, []string{"serve", "--addr", "127.0.0.1:0"})
			once.Do(listening.Done)
		})
	}
	t.Cleanup(func() { cancel(); running.Wait() })
	waited := make(chan struct{})
	go func() { listening.Wait(); close(waited) }()
	select {
	case <-waited:
	case <-time.After(2 * time.Minute):
		t.Fatalf("%d instances started together did not all listen within 2 minutes", n)
	}
	return out
}

// TestStartTogether starts four instances at once on one empty database: every
// one becomes ready, each migration is applied once, and exactly one of them
// creates the first administrator and prints its password.
func TestStartTogether(t *testing.T) {
	storetest.ForEachDB(t, func(t *testing.T, url string) {
		const n = 4
		ins := startTogether(t, n, map[string]string{"LINKAPI_DATABASE_URL": url, "LINKAPI_JWT_SECRET": testSecret})
		created, others := 0, 0
		for i, in := range ins {
			if in.addr == "" {
				t.Fatalf("instance %d did not start: %v\n%s", i, in.err, in.log.String())
			}
			res, err := http.Get("http://" + in.addr + "/readyz")
			if err != nil {
				t.Fatalf("instance %d: /readyz: %v", i, err)
			}
			res.Body.Close()
			if res.StatusCode != http.StatusOK {
				t.Errorf("instance %d: /readyz %d, want 200", i, res.StatusCode)
			}
			log := in.log.String()
			if strings.Contains(log, "created "+AdminEmail+" with scope admin:write and password") {
				created++
			}
			if strings.Contains(log, AdminEmail+" was just created by another instance") {
				others++
			}
		}
		// An instance that finds the account already there says nothing about it.
		if created != 1 || others > n-1 {
			t.Errorf("instances that created %s: %d, that saw another create it: %d; want exactly one creator", AdminEmail, created, others)
		}

		db, err := store.Open(context.Background(), url)
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		var accounts int
		if err := db.SQL().QueryRow("SELECT COUNT(*) FROM accounts").Scan(&accounts); err != nil {
			t.Fatal(err)
		}
		if accounts != 1 {
			t.Errorf("accounts after starting together: got %d, want 1", accounts)
		}
		var versions, records int
		if err := db.SQL().QueryRow("SELECT COUNT(DISTINCT version_id), COUNT(*) FROM goose_db_version WHERE version_id > 0").Scan(&versions, &records); err != nil {
			t.Fatal(err)
		}
		if versions == 0 || versions != records {
			t.Errorf("goose_db_version: %d records of %d versions; want each migration once", records, versions)
		}
	})
}
