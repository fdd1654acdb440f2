package graph

import (
	"context"
	"errors"
	"reflect"
	"testing"

	"linkapi/internal/linkapi"
)

func withTestReads() context.Context {
	return context.WithValue(context.Background(), readsContextKey{}, &reads{m: map[readKey]map[int64]*readBatch{}})
}

// TestLoadReadsEachParentOnce checks that load reads a parent once per root
// field, whoever asks, and reads only the parents not read yet.
func TestLoadReadsEachParentOnce(t *testing.T) {
	ctx := withTestReads()
	var asked [][]int64
	fetch := func(ids []int64) (map[int64]int, error) {
		asked = append(asked, ids)
		out := map[int64]int{}
		for _, id := range ids {
			if id != 3 {
				out[id] = int(id) * 10
			}
		}
		return out, nil
	}
	p := linkapi.Page{First: 1}
	got, fresh, err := load(ctx, linkCountOfTag, p, []int64{1, 2, 1}, fetch)
	if err != nil || !fresh || !reflect.DeepEqual(got, map[int64]int{1: 10, 2: 20}) {
		t.Fatalf("first load = %v, %v, %v", got, fresh, err)
	}
	got, fresh, err = load(ctx, linkCountOfTag, p, []int64{2, 3}, fetch)
	if err != nil || !fresh || !reflect.DeepEqual(got, map[int64]int{2: 20}) {
		t.Fatalf("second load = %v, %v, %v", got, fresh, err)
	}
	if _, fresh, _ = load(ctx, linkCountOfTag, p, []int64{1, 3}, fetch); fresh {
		t.Error("a load of parents all read reported reading")
	}
	// Parents read together, asked again alone or together, answer only for
	// themselves.
	for _, c := range []struct {
		parents []int64
		want    map[int64]int
	}{{[]int64{1}, map[int64]int{1: 10}}, {[]int64{2, 1}, map[int64]int{1: 10, 2: 20}}, {[]int64{3, 3}, map[int64]int{}}} {
		if got, fresh, err := load(ctx, linkCountOfTag, p, c.parents, fetch); err != nil || fresh || !reflect.DeepEqual(got, c.want) {
			t.Errorf("load of %v again = %v, %v, %v; want %v", c.parents, got, fresh, err, c.want)
		}
	}
	// Another kind, or another page, is another read.
	load(ctx, linkCountOfAccount, p, []int64{1}, fetch)
	load(ctx, linkCountOfTag, linkapi.Page{First: 2}, []int64{1}, fetch)
	if want := [][]int64{{1, 2}, {3}, {1}, {1}}; !reflect.DeepEqual(asked, want) {
		t.Errorf("fetched %v, want %v", asked, want)
	}
	// Outside a handler nothing is kept.
	asked = nil
	load(context.Background(), linkCountOfTag, p, []int64{2, 1, 2}, fetch)
	load(context.Background(), linkCountOfTag, p, []int64{1}, fetch)
	if want := [][]int64{{1, 2}, {1}}; !reflect.DeepEqual(asked, want) {
		t.Errorf("without reads fetched %v, want %v", asked, want)
	}
}

// TestLoadFailures checks that a failed read fails every field that waits for
// it, that a read that panics fails them with INTERNAL instead of leaving them
// waiting, and that a waiter whose request ends stops waiting.
func TestLoadFailures(t *testing.T) {
	ctx := withTestReads()
	broken := errors.New("broken")
	calls := 0
	fail := func([]int64) (map[int64]int, error) { calls++; return nil, broken }
	for i := 0; i < 2; i++ {
		if _, _, err := load(ctx, linkCountOfTag, linkapi.Page{}, []int64{1}, fail); !errors.Is(err, broken) {
			t.Errorf("load %d: got %v, want the read's error", i, err)
		}
	}
	if calls != 1 {
		t.Errorf("a failed read was tried %d times, want 1", calls)
	}

	func() {
		defer func() {
			if recover() == nil {
				t.Error("the fetch's panic did not reach the caller")
			}
		}()
		load(ctx, linkCountOfTag, linkapi.Page{}, []int64{2}, func([]int64) (map[int64]int, error) { panic("boom") })
	}()
	if _, _, err := load(ctx, linkCountOfTag, linkapi.Page{}, []int64{2}, fail); linkapi.ErrorCode(err) != linkapi.EINTERNAL {
		t.Errorf("after a panicked read: got %v, want INTERNAL", err)
	}

	started, release := make(chan struct{}), make(chan struct{})
	go load(ctx, linkCountOfTag, linkapi.Page{}, []int64{3}, func([]int64) (map[int64]int, error) {
		close(started)
		<-release
		return nil, nil
	})
	<-started
	ended, cancel := context.WithCancel(ctx)
	cancel()
	if _, _, err := load(ended, linkCountOfTag, linkapi.Page{}, []int64{3}, fail); !errors.Is(err, context.Canceled) {
		t.Errorf("waiting with an ended request: got %v, want context.Canceled", err)
	}
	close(release)
}
