// Package storagetest is the conformance suite every storage.Store backend
// must pass. A backend's tests call Run with a constructor that returns a
// fresh, empty store for each subtest:
//
//	func TestConformance(t *testing.T) {
//		storagetest.Run(t, func(t *testing.T) storage.Store { ... }, storagetest.Options{})
//	}
package storagetest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/slipwayhq/slipway/storage"
)

// Options says which optional behaviours the backend has.
type Options struct {
	// StoresContentType: Stat and Get return the content type given to Put
	// (S3). Otherwise only types derivable from the extension are checked.
	StoresContentType bool
	// URLsExpire: URL honours its ttl (S3 presigning); an expired URL is
	// fetched and must be refused.
	URLsExpire bool
	// LargeSize is the size of the streamed large object. Default: 20 MiB.
	LargeSize int64
}

// Run runs the whole suite. newStore must return an empty store and be safe
// to call from parallel subtests.
func Run(t *testing.T, newStore func(t *testing.T) storage.Store, opts Options) {
	if opts.LargeSize == 0 {
		opts.LargeSize = 20 << 20
	}
	tests := []struct {
		name string
		run  func(t *testing.T, st storage.Store, opts Options)
	}{
		{"PutGetStat", testPutGetStat},
		{"NotFound", testNotFound},
		{"Overwrite", testOverwrite},
		{"Delete", testDelete},
		{"List", testList},
		{"ListManyKeys", testListManyKeys},
		{"ContentType", testContentType},
		{"URL", testURL},
		{"ExpiredURL", testExpiredURL},
		{"ConcurrentPuts", testConcurrentPuts},
		{"LargeStreaming", testLarge},
		{"UnknownSize", testUnknownSize},
		{"ShortReader", testShortReader},
		{"BadKeys", testBadKeys},
		{"CancelMidUpload", testCancelMidUpload},
		{"PutIf", testPutIf},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tc.run(t, newStore(t), opts)
		})
	}
}

func testPutGetStat(t *testing.T, st storage.Store, _ Options) {
	ctx := t.Context()
	key := "releases/agent/1.0.0/slipway-agent_linux_amd64.tar.gz"
	data := []byte("hello, release\n")
	mustPut(t, st, key, data, "application/gzip")

	got, info := mustGet(t, st, key)
	if !bytes.Equal(got, data) {
		t.Fatalf("Get = %q, want %q", got, data)
	}
	checkInfo(t, "Get", info, key, int64(len(data)))
	sinfo, err := st.Stat(ctx, key)
	if err != nil {
		t.Fatalf("Stat: %v", err)
	}
	checkInfo(t, "Stat", sinfo, key, int64(len(data)))
	if sinfo.ETag != info.ETag {
		t.Errorf("Stat ETag %q != Get ETag %q", sinfo.ETag, info.ETag)
	}
	// Empty objects are objects too.
	mustPut(t, st, "empty", nil, "")
	if got, info := mustGet(t, st, "empty"); len(got) != 0 || info.Size != 0 {
		t.Errorf("empty object: %d bytes, Size %d", len(got), info.Size)
	}
}

func checkInfo(t *testing.T, op string, info storage.Info, key string, size int64) {
	t.Helper()
	if info.Key != key || info.Size != size || info.ETag == "" || info.ModTime.IsZero() {
		t.Errorf("%s info = %+v, want key %q size %d with ETag and ModTime", op, info, key, size)
	}
	if d := time.Since(info.ModTime); d < -time.Hour || d > time.Hour {
		t.Errorf("%s ModTime %v is not recent", op, info.ModTime)
	}
}

func testNotFound(t *testing.T, st storage.Store, _ Options) {
	ctx := t.Context()
	mustPut(t, st, "dir/file.txt", []byte("x"), "text/plain")
	for _, key := range []string{
		"missing",
		"dir/missing.txt",
		"dir",               // a "directory" is not an object
		"dir/file.txt/more", // below an object
		"nodir/deeper/x",
	} {
		if _, err := st.Stat(ctx, key); !errors.Is(err, storage.ErrNotFound) {
			t.Errorf("Stat(%q) = %v, want ErrNotFound", key, err)
		}
		rc, _, err := st.Get(ctx, key)
		if rc != nil {
			rc.Close()
		}
		if !errors.Is(err, storage.ErrNotFound) {
			t.Errorf("Get(%q) = %v, want ErrNotFound", key, err)
		}
	}
}

func testOverwrite(t *testing.T, st storage.Store, _ Options) {
	ctx := t.Context()
	mustPut(t, st, "k/v", []byte("version one"), "text/plain")
	before, err := st.Stat(ctx, "k/v")
	if err != nil {
		t.Fatal(err)
	}
	mustPut(t, st, "k/v", []byte("version two, longer"), "text/plain")
	got, info := mustGet(t, st, "k/v")
	if string(got) != "version two, longer" || info.Size != int64(len(got)) {
		t.Fatalf("after overwrite: %q (size %d)", got, info.Size)
	}
	if info.ETag == before.ETag {
		t.Errorf("ETag unchanged by overwrite: %q", info.ETag)
	}
	if l := mustList(t, st, "k/"); len(l) != 1 {
		t.Errorf("List after overwrite = %v, want one object", keys(l))
	}
}

func testDelete(t *testing.T, st storage.Store, _ Options) {
	ctx := t.Context()
	mustPut(t, st, "d/a", []byte("a"), "")
	mustPut(t, st, "d/sub/b", []byte("b"), "")
	for range 2 { // idempotent
		if err := st.Delete(ctx, "d/sub/b"); err != nil {
			t.Fatalf("Delete: %v", err)
		}
	}
	if err := st.Delete(ctx, "never/existed"); err != nil {
		t.Errorf("Delete of a missing key = %v, want nil", err)
	}
	if _, err := st.Stat(ctx, "d/sub/b"); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("Stat after Delete = %v, want ErrNotFound", err)
	}
	if l := mustList(t, st, ""); len(l) != 1 || l[0].Key != "d/a" {
		t.Errorf("List after Delete = %v, want [d/a]", keys(l))
	}
	// The key can be written again after its directory was cleaned up.
	mustPut(t, st, "d/sub/b", []byte("b2"), "")
	if got, _ := mustGet(t, st, "d/sub/b"); string(got) != "b2" {
		t.Errorf("re-put after delete = %q", got)
	}
}

func testList(t *testing.T, st storage.Store, _ Options) {
	all := []string{"r/agent.txt", "r/agent/1/x", "r/agent/10/x", "r/agent/2/x", "r/agentx", "s/y"}
	// Put in reverse to show that List sorts.
	for i := len(all) - 1; i >= 0; i-- {
		mustPut(t, st, all[i], []byte(all[i]), "")
	}
	tests := []struct {
		prefix string
		want   []string
	}{
		{"", all},
		{"r/", all[:5]},
		{"r/agent", all[:5]},
		{"r/agent/", all[1:4]},
		{"r/agent/1", all[1:3]},
		{"r/agent/1/x", all[1:2]},
		{"s", all[5:]},
		{"nothing/", nil},
		{"r/agent/nothing/", nil},
		{"r/agent.txt/", nil},
	}
	for _, tc := range tests {
		got := keys(mustList(t, st, tc.prefix))
		if fmt.Sprint(got) != fmt.Sprint(tc.want) {
			t.Errorf("List(%q) = %v, want %v", tc.prefix, got, tc.want)
		}
	}
	for _, info := range mustList(t, st, "r/agent/2/") {
		if info.Size != int64(len(info.Key)) || info.ETag == "" {
			t.Errorf("List info %+v: wrong size or no ETag", info)
		}
	}
}

func keys(l []storage.Info) []string {
	var out []string
	for _, i := range l {
		out = append(out, i.Key)
	}
	return out
}

func mustPut(t *testing.T, st storage.Store, key string, data []byte, ct string) {
	t.Helper()
	if err := st.Put(t.Context(), key, bytes.NewReader(data), int64(len(data)), ct); err != nil {
		t.Fatalf("Put(%q): %v", key, err)
	}
}

func mustGet(t *testing.T, st storage.Store, key string) ([]byte, storage.Info) {
	t.Helper()
	rc, info, err := st.Get(t.Context(), key)
	if err != nil {
		t.Fatalf("Get(%q): %v", key, err)
	}
	defer rc.Close()
	data, err := io.ReadAll(rc)
	if err != nil {
		t.Fatalf("Get(%q) read: %v", key, err)
	}
	return data, info
}

func mustList(t *testing.T, st storage.Store, prefix string) []storage.Info {
	t.Helper()
	l, err := st.List(t.Context(), prefix)
	if err != nil {
		t.Fatalf("List(%q): %v", prefix, err)
	}
	return l
}

// fetch downloads a URL the way a client would: net/http for http(s), the
// file system for file://.
func fetch(ctx context.Context, rawURL string) (status int, body []byte, header http.Header, err error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return 0, nil, nil, err
	}
	switch u.Scheme {
	case "file":
		data, err := os.ReadFile(filepath.FromSlash(u.Path))
		if errors.Is(err, os.ErrNotExist) {
			return http.StatusNotFound, nil, nil, nil
		}
		return http.StatusOK, data, http.Header{}, err
	case "http", "https":
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, rawURL, nil)
		if err != nil {
			return 0, nil, nil, err
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return 0, nil, nil, err
		}
		defer resp.Body.Close()
		body, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
		return resp.StatusCode, body, resp.Header, err
	}
	return 0, nil, nil, fmt.Errorf("unexpected URL scheme %q", u.Scheme)
}
