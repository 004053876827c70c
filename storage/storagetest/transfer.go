package storagetest

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/slipwayhq/slipway/storage"
)

func testListManyKeys(t *testing.T, st storage.Store, _ Options) {
	const n = 1100 // more than one S3 ListObjects page (1000)
	want := make([]string, n)
	for i := range want {
		want[i] = fmt.Sprintf("many/%04d", i)
	}
	putAll(t, st, want, 8)
	got := keys(mustList(t, st, "many/"))
	if len(got) != n {
		t.Fatalf("List returned %d keys, want %d", len(got), n)
	}
	for i := range got {
		if got[i] != want[i] {
			t.Fatalf("List[%d] = %q, want %q (not sorted or missing)", i, got[i], want[i])
		}
	}
}

// putAll writes each key (content = key) with `workers` goroutines.
func putAll(t *testing.T, st storage.Store, keys []string, workers int) {
	t.Helper()
	ch := make(chan string)
	errs := make(chan error, workers)
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for k := range ch {
				if err := st.Put(t.Context(), k, strings.NewReader(k), int64(len(k)), "text/plain"); err != nil {
					errs <- fmt.Errorf("Put(%q): %w", k, err)
					return
				}
			}
		})
	}
	for _, k := range keys {
		ch <- k
	}
	close(ch)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
}

func testContentType(t *testing.T, st storage.Store, opts Options) {
	ctx := t.Context()
	mustPut(t, st, "ct/release.json", []byte("{}"), "application/json")
	info, err := st.Stat(ctx, "ct/release.json")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(info.ContentType, "application/json") {
		t.Errorf("ContentType = %q, want application/json", info.ContentType)
	}
	if !opts.StoresContentType {
		return
	}
	mustPut(t, st, "ct/blob", []byte("x"), "application/x-slipway-test")
	if _, info := mustGet(t, st, "ct/blob"); info.ContentType != "application/x-slipway-test" {
		t.Errorf("stored ContentType = %q", info.ContentType)
	}
	mustPut(t, st, "ct/default", []byte("x"), "")
	if info, _ := st.Stat(ctx, "ct/default"); info.ContentType != "application/octet-stream" {
		t.Errorf("default ContentType = %q, want application/octet-stream", info.ContentType)
	}
}

func testURL(t *testing.T, st storage.Store, opts Options) {
	ctx := t.Context()
	data := bytes.Repeat([]byte("slipway "), 1000)
	key := "releases/desktop/2.0.0/slipway desktop+beta.tar.gz" // space and plus need escaping
	mustPut(t, st, key, data, "application/gzip")
	u, err := st.URL(ctx, key, time.Minute)
	if err != nil {
		t.Fatalf("URL: %v", err)
	}
	status, body, header, err := fetch(ctx, u)
	if err != nil || status != http.StatusOK {
		t.Fatalf("fetch %s: status %d, %v", u, status, err)
	}
	if !bytes.Equal(body, data) {
		t.Fatalf("fetched %d bytes, differ from the %d put", len(body), len(data))
	}
	if opts.StoresContentType && header.Get("Content-Type") != "application/gzip" {
		t.Errorf("fetched Content-Type %q, want application/gzip", header.Get("Content-Type"))
	}
}

func testExpiredURL(t *testing.T, st storage.Store, opts Options) {
	if !opts.URLsExpire {
		t.Skip("backend URLs do not expire")
	}
	ctx := t.Context()
	mustPut(t, st, "exp/x", []byte("x"), "")
	if _, err := st.URL(ctx, "exp/x", 8*24*time.Hour); err == nil {
		t.Error("URL with an 8-day ttl accepted")
	}
	u, err := st.URL(ctx, "exp/x", time.Second)
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(2100 * time.Millisecond) // let it expire (S3 counts whole seconds)
	status, _, _, err := fetch(ctx, u)
	if err != nil {
		t.Fatal(err)
	}
	if status != http.StatusForbidden {
		t.Errorf("expired URL answered %d, want 403", status)
	}
}

func testConcurrentPuts(t *testing.T, st storage.Store, _ Options) {
	const writers = 8
	// Same key: the result is exactly one writer's bytes, never a mix.
	versions := make([][]byte, writers)
	for i := range versions {
		versions[i] = bytes.Repeat([]byte{byte('a' + i)}, 256<<10)
	}
	var wg sync.WaitGroup
	errs := make([]error, writers)
	for i := range writers {
		wg.Go(func() {
			errs[i] = st.Put(t.Context(), "same/key", bytes.NewReader(versions[i]), int64(len(versions[i])), "")
		})
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			t.Fatalf("concurrent Put: %v", err)
		}
	}
	got, _ := mustGet(t, st, "same/key")
	if len(got) != len(versions[0]) || !bytes.Equal(got, bytes.Repeat(got[:1], len(got))) {
		t.Fatalf("concurrent writes to one key produced a torn object (%d bytes)", len(got))
	}
	if l := mustList(t, st, "same/"); len(l) != 1 {
		t.Errorf("List = %v, want only same/key (no temp files)", keys(l))
	}
}

// testLarge streams a generated object through Put and Get without ever
// holding it in memory, comparing SHA-256 digests.
func testLarge(t *testing.T, st storage.Store, opts Options) {
	ctx := t.Context()
	size := opts.LargeSize
	src := io.LimitReader(rand.NewChaCha8([32]byte{1, 2, 3}), size)
	hIn := sha256.New()
	if err := st.Put(ctx, "large/blob.bin", io.TeeReader(src, hIn), size, "application/octet-stream"); err != nil {
		t.Fatalf("Put large: %v", err)
	}
	rc, info, err := st.Get(ctx, "large/blob.bin")
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	hOut := sha256.New()
	n, err := io.Copy(hOut, rc)
	if err != nil {
		t.Fatal(err)
	}
	if n != size || info.Size != size || !bytes.Equal(hIn.Sum(nil), hOut.Sum(nil)) {
		t.Fatalf("large object: read %d bytes (info %d), want %d; digests equal: %v",
			n, info.Size, size, bytes.Equal(hIn.Sum(nil), hOut.Sum(nil)))
	}
}

func testUnknownSize(t *testing.T, st storage.Store, _ Options) {
	data := bytes.Repeat([]byte("unsized "), 128<<10) // 1 MiB
	// A reader with no Len method, so nothing can peek at the size.
	r := io.MultiReader(bytes.NewReader(data))
	if err := st.Put(t.Context(), "unsized/x", r, -1, ""); err != nil {
		t.Fatalf("Put with size -1: %v", err)
	}
	if got, info := mustGet(t, st, "unsized/x"); !bytes.Equal(got, data) || info.Size != int64(len(data)) {
		t.Fatalf("unsized object: %d bytes back, Size %d, want %d", len(got), info.Size, len(data))
	}
}

func testShortReader(t *testing.T, st storage.Store, _ Options) {
	// Not a Seeker, so no client retries the request.
	err := st.Put(t.Context(), "short/x", io.MultiReader(strings.NewReader("only this")), 1000, "")
	if err == nil {
		t.Fatal("Put with a reader shorter than size succeeded")
	}
	if _, err := st.Stat(t.Context(), "short/x"); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("after a short Put, Stat = %v, want ErrNotFound", err)
	}
}

func testBadKeys(t *testing.T, st storage.Store, _ Options) {
	ctx := t.Context()
	bad := map[string]string{
		"empty":           "",
		"absolute":        "/etc/passwd",
		"dotdot":          "../outside",
		"inner dotdot":    "releases/../../outside",
		"trailing dotdot": "releases/..",
		"dot":             "releases/./x",
		"double slash":    "releases//x",
		"trailing slash":  "releases/",
		"backslash":       `releases\..\x`,
		"nul":             "rel\x00eases",
		"newline":         "rel\neases",
		"bad utf8":        "rel\xffeases",
		"too long":        strings.Repeat("a/", 600) + "a",
		"long segment":    strings.Repeat("a", 256),
	}
	for name, key := range bad {
		t.Run(name, func(t *testing.T) {
			err := st.Put(ctx, key, strings.NewReader("x"), 1, "")
			_, serr := st.Stat(ctx, key)
			_, _, gerr := st.Get(ctx, key)
			derr := st.Delete(ctx, key)
			_, uerr := st.URL(ctx, key, time.Minute)
			for op, err := range map[string]error{"Put": err, "Stat": serr, "Get": gerr, "Delete": derr, "URL": uerr} {
				if !errors.Is(err, storage.ErrInvalidKey) {
					t.Errorf("%s(%q) = %v, want ErrInvalidKey", op, key, err)
				}
			}
		})
	}
	for _, prefix := range []string{"/abs", "../", "a/../", "a//", `a\b`} {
		if _, err := st.List(ctx, prefix); !errors.Is(err, storage.ErrInvalidKey) {
			t.Errorf("List(%q) = %v, want ErrInvalidKey", prefix, err)
		}
	}
	if l := mustList(t, st, ""); len(l) != 0 {
		t.Errorf("bad keys left objects behind: %v", keys(l))
	}
}

// cancelReader cancels the context after the first chunk, then keeps
// supplying data, like an upload whose job is killed half-way.
type cancelReader struct {
	cancel context.CancelFunc
	left   int64
	reads  int
}

func (r *cancelReader) Read(p []byte) (int, error) {
	if r.left <= 0 {
		return 0, io.EOF
	}
	r.reads++
	if r.reads == 2 {
		r.cancel()
	}
	n := min(int64(len(p)), r.left, 64<<10)
	for i := range p[:n] {
		p[i] = 'c'
	}
	r.left -= n
	return int(n), nil
}

func testCancelMidUpload(t *testing.T, st storage.Store, _ Options) {
	mustPut(t, st, "cancel/old", []byte("old"), "")
	for _, key := range []string{"cancel/new", "cancel/old"} {
		ctx, cancel := context.WithCancel(t.Context())
		const size = 4 << 20
		err := st.Put(ctx, key, &cancelReader{cancel: cancel, left: size}, size, "")
		cancel()
		if err == nil {
			t.Fatalf("Put(%q) with a context cancelled mid-upload succeeded", key)
		}
	}
	if _, err := st.Stat(t.Context(), "cancel/new"); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("cancelled upload is visible: Stat = %v", err)
	}
	if got, _ := mustGet(t, st, "cancel/old"); string(got) != "old" {
		t.Errorf("cancelled overwrite changed the object: %q", got)
	}
	if l := keys(mustList(t, st, "cancel/")); fmt.Sprint(l) != "[cancel/old]" {
		t.Errorf("List after cancelled uploads = %v, want [cancel/old]", l)
	}
}
