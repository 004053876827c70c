package storagetest

import (
	"context"
	"errors"
	"io"
	"strconv"
	"sync"
	"testing"

	"github.com/slipwayhq/slipway/storage"
)

// testPutIf: create-only and compare-and-swap writes, then concurrent
// writers incrementing one counter with compare-and-swap: every
// successful write counts, none is lost.
func testPutIf(t *testing.T, st storage.Store, _ Options) {
	c, ok := st.(storage.Conditional)
	if !ok {
		t.Fatalf("%T does not implement storage.Conditional", st)
	}
	ctx := t.Context()
	if err := c.PutIf(ctx, "c/new", []byte("one"), "", nil); err != nil {
		t.Fatalf("create: %v", err)
	}
	for name, err := range map[string]error{
		"create existing":   c.PutIf(ctx, "c/new", []byte("two"), "", nil),
		"replace changed":   c.PutIf(ctx, "c/new", []byte("two"), "", []byte("uno")),
		"replace longer":    c.PutIf(ctx, "c/new", []byte("two"), "", []byte("one!")),
		"replace missing":   c.PutIf(ctx, "c/missing", []byte("two"), "", []byte("one")),
		"replace truncated": c.PutIf(ctx, "c/new", []byte("two"), "", []byte("on")),
	} {
		if !errors.Is(err, storage.ErrPrecondition) {
			t.Errorf("%s: %v, want ErrPrecondition", name, err)
		}
	}
	if got, _ := mustGet(t, st, "c/new"); string(got) != "one" {
		t.Fatalf("after refused writes: %q", got)
	}
	if err := c.PutIf(ctx, "c/new", []byte("two"), "", []byte("one")); err != nil {
		t.Fatalf("replace: %v", err)
	}
	if err := c.PutIf(ctx, "../x", []byte("x"), "", nil); !errors.Is(err, storage.ErrInvalidKey) {
		t.Fatalf("bad key: %v", err)
	}

	const writers, rounds = 4, 6
	mustPut(t, st, "c/counter", []byte("0"), "")
	var mu sync.Mutex
	won := 0
	var wg sync.WaitGroup
	for range writers {
		wg.Go(func() {
			for range rounds {
				cur, err := read(ctx, st, "c/counter")
				if err != nil {
					continue // replaced while read (S3 reads with If-Match)
				}
				n, _ := strconv.Atoi(string(cur))
				err = c.PutIf(ctx, "c/counter", []byte(strconv.Itoa(n+1)), "", cur)
				if err == nil {
					mu.Lock()
					won++
					mu.Unlock()
				} else if !errors.Is(err, storage.ErrPrecondition) {
					t.Error(err)
				}
			}
		})
	}
	wg.Wait()
	got, _ := mustGet(t, st, "c/counter")
	if string(got) != strconv.Itoa(won) || won == 0 {
		t.Fatalf("counter %s after %d successful compare-and-swap writes: a write was lost", got, won)
	}
}

func read(ctx context.Context, st storage.Store, key string) ([]byte, error) {
	rc, _, err := st.Get(ctx, key)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	return io.ReadAll(rc)
}
