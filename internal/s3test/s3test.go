// Package s3test starts a real S3-compatible server for tests: versitygw
// with its posix backend on a t.TempDir(), listening on a free 127.0.0.1
// port, with generated root credentials and one empty bucket.
//
//	srv := s3test.Start(t)
//	st := srv.Store(t, "prefix")     // an *s3.Store with explicit credentials
//
// or, for code that takes a storage spec and reads AWS_* variables (as
// `slipway release --store` does), srv.SetEnv(t) and srv.Spec("prefix"). The binary comes from testenv.Tool (PATH or scripts/tools.sh's
// cache): missing, the test is skipped locally and fails in CI.
//
// versitygw keeps sub-second modification times (If-Modified-Since equal to
// LastModified answers 200, not 304).
package s3test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"

	"github.com/slipwayhq/slipway/internal/testenv"
	"github.com/slipwayhq/slipway/storage/s3"
)

// Region is the region the server answers for.
const Region = "us-east-1"

// Server is a running versitygw.
type Server struct {
	// Endpoint is host:port (no scheme), e.g. "127.0.0.1:40123".
	Endpoint string
	// URL is "http://" + Endpoint.
	URL string
	// Bucket was created empty at start.
	Bucket string
	// Region is always Region.
	Region string
	// AccessKey and SecretKey are the generated root credentials.
	AccessKey, SecretKey string
	// Dir is the posix backend's root (one subdirectory per bucket).
	Dir string

	cmd *exec.Cmd
	log *testenv.SyncBuffer
}

// Start runs versitygw for the test and stops it (by PID) in t.Cleanup.
func Start(t testing.TB) *Server {
	t.Helper()
	bin := testenv.Tool(t, "versitygw", "scripts/tools.sh versitygw")
	var lastErr error
	for range 3 { // the free port may be taken between probe and bind
		srv, err := start(t, bin)
		if err == nil {
			return srv
		}
		lastErr = err
	}
	t.Fatalf("s3test: %v", lastErr)
	return nil
}

func start(t testing.TB, bin string) (*Server, error) {
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	dir := t.TempDir()
	root := filepath.Join(dir, "root")
	if err := os.Mkdir(root, 0o755); err != nil {
		return nil, err
	}
	s := &Server{
		Endpoint:  net.JoinHostPort("127.0.0.1", port),
		Bucket:    "slipway-test",
		Region:    Region,
		AccessKey: "ak" + randHex(9),
		SecretKey: randHex(20),
		Dir:       root,
		log:       &testenv.SyncBuffer{},
	}
	s.URL = "http://" + s.Endpoint
	s.cmd = exec.Command(bin,
		"--port", s.Endpoint,
		"--region", Region,
		"--health", "/health",
		"--quiet",
		"posix", root)
	// Credentials by environment, not argv (visible in ps).
	s.cmd.Env = append(os.Environ(), "ROOT_ACCESS_KEY="+s.AccessKey, "ROOT_SECRET_KEY="+s.SecretKey)
	s.cmd.Stdout, s.cmd.Stderr = s.log, s.log
	if err := s.cmd.Start(); err != nil {
		return nil, fmt.Errorf("start versitygw: %w", err)
	}
	exited := make(chan error, 1)
	go func() { exited <- s.cmd.Wait() }()
	stop := func() {
		_ = s.cmd.Process.Kill()
		<-exited
	}
	if err := s.waitReady(exited); err != nil {
		stop()
		return nil, fmt.Errorf("%w; versitygw output:\n%s", err, s.log.String())
	}
	t.Cleanup(stop)
	if err := s.createBucket(t.Context()); err != nil {
		return nil, err
	}
	return s, nil
}

// waitReady polls the health endpoint until it answers or the process dies.
func (s *Server) waitReady(exited <-chan error) error {
	client := &http.Client{Timeout: time.Second}
	deadline := time.Now().Add(15 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case err := <-exited:
			return fmt.Errorf("versitygw exited early: %v", err)
		default:
		}
		resp, err := client.Get(s.URL + "/health")
		if err == nil {
			_ = resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	return fmt.Errorf("versitygw on %s not ready after 15s", s.Endpoint)
}

// Client returns a minio-go client with the root credentials.
func (s *Server) Client() (*minio.Client, error) {
	return minio.New(s.Endpoint, &minio.Options{
		Creds:        credentials.NewStaticV4(s.AccessKey, s.SecretKey, ""),
		Region:       s.Region,
		BucketLookup: minio.BucketLookupPath,
	})
}

func (s *Server) createBucket(ctx context.Context) error {
	c, err := s.Client()
	if err != nil {
		return err
	}
	if err := c.MakeBucket(ctx, s.Bucket, minio.MakeBucketOptions{Region: s.Region}); err != nil {
		return fmt.Errorf("create bucket %s: %w", s.Bucket, err)
	}
	return nil
}

// Config returns the s3.Config of the bucket under prefix, with the root
// credentials set explicitly (safe in parallel tests, unlike SetEnv).
func (s *Server) Config(prefix string) s3.Config {
	return s3.Config{
		Endpoint:        s.Endpoint,
		Bucket:          s.Bucket,
		Region:          s.Region,
		Prefix:          prefix,
		PathStyle:       true,
		Insecure:        true,
		AccessKeyID:     s.AccessKey,
		SecretAccessKey: s.SecretKey,
	}
}

// Store returns a store on the bucket under prefix ("" for none).
func (s *Server) Store(t testing.TB, prefix string) *s3.Store {
	t.Helper()
	st, err := s3.New(s.Config(prefix), s3.Options{})
	if err != nil {
		t.Fatalf("s3test: %v", err)
	}
	return st
}

// Spec returns the storage spec (see storage.Open) for the bucket with an
// optional key prefix. Credentials are not part of it: see SetEnv.
func (s *Server) Spec(prefix string) string {
	q := url.Values{"endpoint": {s.Endpoint}, "region": {s.Region}, "path-style": {"true"}, "insecure": {"true"}}
	u := url.URL{Scheme: "s3", Host: s.Bucket, Path: "/" + prefix, RawQuery: q.Encode()}
	return u.String()
}

// SetEnv sets AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (and clears
// AWS_SESSION_TOKEN) for the test, as a release job would have them.
func (s *Server) SetEnv(t testing.TB) {
	t.Helper()
	t.Setenv("AWS_ACCESS_KEY_ID", s.AccessKey)
	t.Setenv("AWS_SECRET_ACCESS_KEY", s.SecretKey)
	t.Setenv("AWS_SESSION_TOKEN", "")
}

// Log returns what versitygw printed so far (for failure messages).
func (s *Server) Log() string { return s.log.String() }

func freePort() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer l.Close()
	_, port, err := net.SplitHostPort(l.Addr().String())
	return port, err
}

func randHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
