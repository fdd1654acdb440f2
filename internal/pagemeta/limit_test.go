package pagemeta_test

import (
	"context"
	"errors"
	"sync"
	"testing"

	"linkapi/internal/pagemeta"
)

// blocking is a Fetcher whose fetches wait until released, counting those begun.
type blocking struct {
	mu      sync.Mutex
	begun   int
	started chan struct{}
	release chan struct{}
}

func (b *blocking) Fetch(ctx context.Context, url string) (pagemeta.Page, error) {
	b.mu.Lock()
	b.begun++
	b.mu.Unlock()
	b.started <- struct{}{}
	<-b.release
	return pagemeta.Page{Title: url}, nil
}

type keyCtx struct{}

func TestLimit(t *testing.T) {
	b := &blocking{started: make(chan struct{}, 16), release: make(chan struct{})}
	f := pagemeta.Limit(b, pagemeta.Limits{PerCaller: 2, Total: 3}, func(ctx context.Context) string {
		k, _ := ctx.Value(keyCtx{}).(string)
		return k
	})
	as := func(k string) context.Context { return context.WithValue(context.Background(), keyCtx{}, k) }
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	start := func(k string) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := f.Fetch(as(k), "u")
			errs <- err
		}()
		<-b.started
	}
	start("ann")
	start("ann")
	if _, err := f.Fetch(as("ann"), "u"); !errors.Is(err, pagemeta.ErrBusy) {
		t.Fatalf("ann's third fetch at once: got %v, want ErrBusy", err)
	}
	start("bob")
	if _, err := f.Fetch(as("cid"), "u"); !errors.Is(err, pagemeta.ErrBusy) {
		t.Fatalf("a fetch past the total: got %v, want ErrBusy", err)
	}
	close(b.release)
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Errorf("an admitted fetch: got %v", err)
		}
	}
	if b.begun != 3 {
		t.Errorf("got %d fetches begun, want 3 (the refused ones make no request)", b.begun)
	}
	if _, err := f.Fetch(as("ann"), "u"); err != nil {
		t.Errorf("after the others ended: got %v, want room again", err)
	}
}
