package storage_test

import (
	"bytes"
	"errors"
	"io"
	"net/url"
	"path/filepath"
	"strings"
	"testing"

	"github.com/minio/minio-go/v7"

	"github.com/slipwayhq/slipway/internal/s3test"
	"github.com/slipwayhq/slipway/storage"
	"github.com/slipwayhq/slipway/storage/fs"
	"github.com/slipwayhq/slipway/storage/s3"
)

func TestOpenFilesystem(t *testing.T) {
	dir := t.TempDir()
	for name, spec := range map[string]string{
		"path":      filepath.Join(dir, "a"),
		"file URL":  (&url.URL{Scheme: "file", Path: filepath.ToSlash(filepath.Join(dir, "b"))}).String(),
		"localhost": "file://localhost" + filepath.ToSlash(filepath.Join(dir, "c")),
	} {
		t.Run(name, func(t *testing.T) {
			st, err := storage.Open(t.Context(), spec)
			if err != nil {
				t.Fatal(err)
			}
			f, ok := st.(*fs.Store)
			if !ok || !strings.HasPrefix(f.Root(), dir) {
				t.Fatalf("Open(%q) = %T %v", spec, st, st)
			}
			roundTrip(t, st)
		})
	}
	t.Run("empty is the default root", func(t *testing.T) {
		t.Chdir(t.TempDir())
		st, err := storage.Open(t.Context(), "")
		if err != nil {
			t.Fatal(err)
		}
		if !strings.HasSuffix(filepath.ToSlash(st.(*fs.Store).Root()), "data/artifacts") {
			t.Errorf("root %q", st.(*fs.Store).Root())
		}
	})
}

// TestOpenS3 opens the store the way `slipway release --storage s3://...`
// does: spec on the command line, credentials from AWS_* variables.
func TestOpenS3(t *testing.T) {
	srv := s3test.Start(t)
	srv.SetEnv(t)
	st, err := storage.Open(t.Context(), srv.Spec("slipway/prod"))
	if err != nil {
		t.Fatal(err)
	}
	s, ok := st.(*s3.Store)
	if !ok {
		t.Fatalf("Open(s3) = %T", st)
	}
	if err := s.Check(t.Context()); err != nil {
		t.Fatal(err)
	}
	roundTrip(t, st)
	// The prefix is applied in the bucket.
	c, err := srv.Client()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.StatObject(t.Context(), srv.Bucket, "slipway/prod/releases/x/1/f.txt", minioStat); err != nil {
		t.Errorf("object not under the prefix: %v", err)
	}

	t.Run("wrong credentials", func(t *testing.T) {
		t.Setenv("AWS_SECRET_ACCESS_KEY", "wrong")
		st, err := storage.Open(t.Context(), srv.Spec(""))
		if err != nil {
			t.Fatal(err)
		}
		err = st.Put(t.Context(), "x", strings.NewReader("x"), 1, "")
		if err == nil || errors.Is(err, storage.ErrNotFound) {
			t.Fatalf("Put with a wrong secret = %v, want an access error", err)
		}
	})
	t.Run("missing bucket", func(t *testing.T) {
		spec := strings.Replace(srv.Spec(""), srv.Bucket, "no-such-bucket", 1)
		st, err := storage.Open(t.Context(), spec)
		if err != nil {
			t.Fatal(err)
		}
		if err := st.(*s3.Store).Check(t.Context()); !errors.Is(err, s3.ErrNoBucket) {
			t.Fatalf("Check on a missing bucket = %v, want ErrNoBucket", err)
		}
		if _, err := st.Stat(t.Context(), "x"); !errors.Is(err, s3.ErrNoBucket) || errors.Is(err, storage.ErrNotFound) {
			t.Errorf("Stat in a missing bucket = %v, want ErrNoBucket", err)
		}
		if _, _, err := st.Get(t.Context(), "x"); !errors.Is(err, s3.ErrNoBucket) {
			t.Errorf("Get in a missing bucket = %v, want ErrNoBucket", err)
		}
	})
}

func TestOpenRejects(t *testing.T) {
	for _, spec := range []string{
		"http://example.com/x",
		"gs://bucket",
		"file://remote-host/x",
		"file:///x?y=1",
		"file://",
		"s3://AK:SK@bucket",
		"s3://bucket?nope=1",
	} {
		if st, err := storage.Open(t.Context(), spec); err == nil {
			t.Errorf("Open(%q) = %v, want an error", spec, st)
		}
	}
}

func roundTrip(t *testing.T, st storage.Store) {
	t.Helper()
	data := []byte("round trip")
	if err := st.Put(t.Context(), "releases/x/1/f.txt", bytes.NewReader(data), int64(len(data)), "text/plain"); err != nil {
		t.Fatal(err)
	}
	rc, _, err := st.Get(t.Context(), "releases/x/1/f.txt")
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	got, err := io.ReadAll(rc)
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("Get = %q, %v", got, err)
	}
}

var minioStat = minio.StatObjectOptions{}
