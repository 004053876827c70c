// Package s3 is the S3-compatible storage backend (AWS S3, MinIO, versitygw,
// ...) built on minio-go. Keys are stored under an optional prefix; URL
// returns presigned GET URLs.
package s3

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sort"
	"strings"
	"sync/atomic"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"

	"github.com/slipwayhq/slipway/storage/object"
)

// MaxURLTTL is the longest presigned URL lifetime S3 accepts (7 days).
const MaxURLTTL = 7 * 24 * time.Hour

// DefaultURLTTL is used when URL is called with ttl 0.
const DefaultURLTTL = time.Hour

// ErrNoBucket is returned when the configured bucket does not exist.
var ErrNoBucket = errors.New("bucket does not exist")

// DefaultPartSize is the multipart part size (and per-upload buffer).
const DefaultPartSize = 16 << 20

// Options tunes a Store. The zero value is safe.
type Options struct {
	// Transport for HTTP requests (custom CA, proxy). Default: minio-go's.
	Transport http.RoundTripper
	// PartSize for multipart uploads of large or unsized objects; this much
	// is buffered in memory per upload, and 10,000 parts bound an unsized
	// object (160 GiB at the default). Default: DefaultPartSize. (minio-go's
	// own default for unsized objects is a ~537 MiB buffer.)
	PartSize uint64
}

// Store is a bucket (and prefix) on an S3-compatible server.
type Store struct {
	cfg    Config
	opts   Options
	client *minio.Client
	// bucketSeen is set once the bucket is known to exist, so that a 404 on
	// HEAD (which has no body to tell "no such bucket" from "no such key")
	// is checked against the bucket only once.
	bucketSeen atomic.Bool
}

// New creates a Store from a Config (defaulted and validated here). It does
// no I/O; use Check to verify that the bucket is reachable.
func New(cfg Config, opts Options) (*Store, error) {
	cfg.Default()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if opts.PartSize == 0 {
		opts.PartSize = DefaultPartSize
	}
	lookup := minio.BucketLookupAuto
	if cfg.PathStyle {
		lookup = minio.BucketLookupPath
	}
	client, err := minio.New(cfg.Endpoint, &minio.Options{
		Creds:        credentialsFor(cfg),
		Secure:       !cfg.Insecure,
		Region:       cfg.Region,
		BucketLookup: lookup,
		Transport:    opts.Transport,
	})
	if err != nil {
		return nil, fmt.Errorf("s3 client for %s: %w", cfg.Endpoint, err)
	}
	return &Store{cfg: cfg, opts: opts, client: client}, nil
}

// credentialsFor returns explicit credentials, or the standard AWS chain.
func credentialsFor(cfg Config) *credentials.Credentials {
	if cfg.AccessKeyID != "" {
		return credentials.NewStaticV4(cfg.AccessKeyID, cfg.SecretAccessKey, cfg.SessionToken)
	}
	return credentials.NewChainCredentials([]credentials.Provider{
		&credentials.EnvAWS{},
		&credentials.FileAWSCredentials{},
		&credentials.IAM{},
	})
}

// Config returns the (defaulted) configuration, credentials included.
func (s *Store) Config() Config { return s.cfg }

// String names the store for logs, without credentials.
func (s *Store) String() string { return s.cfg.URL() }

// Check verifies that the bucket exists and the credentials can reach it.
func (s *Store) Check(ctx context.Context) error {
	ok, err := s.client.BucketExists(ctx, s.cfg.Bucket)
	if err != nil {
		return fmt.Errorf("s3 bucket %s at %s: %w", s.cfg.Bucket, s.cfg.Endpoint, err)
	}
	if !ok {
		return fmt.Errorf("s3 bucket %s at %s: %w", s.cfg.Bucket, s.cfg.Endpoint, ErrNoBucket)
	}
	s.bucketSeen.Store(true)
	return nil
}

// name maps a key to the object name in the bucket.
func (s *Store) name(key string) (string, error) {
	if err := object.ValidateKey(key); err != nil {
		return "", err
	}
	n := key
	if s.cfg.Prefix != "" {
		n = s.cfg.Prefix + "/" + key
	}
	if len(n) > object.MaxKeyLen {
		return "", fmt.Errorf("%w: %q with prefix is longer than %d bytes", object.ErrInvalidKey, key, object.MaxKeyLen)
	}
	return n, nil
}

// key maps an object name back to a key.
func (s *Store) key(name string) string {
	if s.cfg.Prefix == "" {
		return name
	}
	return strings.TrimPrefix(name, s.cfg.Prefix+"/")
}

// Put uploads r. With a known size up to PartSize it is one PUT; larger or
// unsized objects use a multipart upload that S3 makes visible only on
// completion (minio-go aborts it on error).
func (s *Store) Put(ctx context.Context, key string, r io.Reader, size int64, contentType string) error {
	n, err := s.name(key)
	if err != nil {
		return err
	}
	if contentType == "" {
		contentType = "application/octet-stream"
	}
	info, err := s.client.PutObject(ctx, s.cfg.Bucket, n, r, size, minio.PutObjectOptions{
		ContentType: contentType,
		PartSize:    s.opts.PartSize,
	})
	if err != nil {
		return fmt.Errorf("s3 put %s: %w", key, mapErr(err))
	}
	if size >= 0 && info.Size != size {
		// minio-go reads exactly size bytes; a short reader is an error there.
		return fmt.Errorf("s3 put %s: wrote %d bytes, expected %d: %w", key, info.Size, size, io.ErrUnexpectedEOF)
	}
	return nil
}

// Get opens the object for streaming.
func (s *Store) Get(ctx context.Context, key string) (io.ReadCloser, object.Info, error) {
	n, err := s.name(key)
	if err != nil {
		return nil, object.Info{}, err
	}
	obj, err := s.client.GetObject(ctx, s.cfg.Bucket, n, minio.GetObjectOptions{})
	if err != nil {
		return nil, object.Info{}, fmt.Errorf("s3 get %s: %w", key, mapErr(err))
	}
	st, err := obj.Stat()
	if err != nil {
		_ = obj.Close()
		return nil, object.Info{}, fmt.Errorf("s3 get %s: %w", key, s.notFound(ctx, err))
	}
	return changeAware{obj}, s.info(st), nil
}

// changeAware is a minio object whose reads fail with
// object.ErrPrecondition when the object was replaced after it was opened
// (minio-go reads with If-Match on the ETag it saw first): callers can
// tell "changed while read, read again" from a storage failure.
type changeAware struct{ *minio.Object }

func (c changeAware) Read(p []byte) (int, error) {
	n, err := c.Object.Read(p)
	if err != nil && minio.ToErrorResponse(err).StatusCode == http.StatusPreconditionFailed {
		err = fmt.Errorf("%w: replaced while read: %w", object.ErrPrecondition, err)
	}
	return n, err
}

// Stat describes the object.
func (s *Store) Stat(ctx context.Context, key string) (object.Info, error) {
	n, err := s.name(key)
	if err != nil {
		return object.Info{}, err
	}
	st, err := s.client.StatObject(ctx, s.cfg.Bucket, n, minio.StatObjectOptions{})
	if err != nil {
		return object.Info{}, fmt.Errorf("s3 stat %s: %w", key, s.notFound(ctx, err))
	}
	return s.info(st), nil
}

func (s *Store) info(o minio.ObjectInfo) object.Info {
	return object.Info{
		Key:         s.key(o.Key),
		Size:        o.Size,
		ModTime:     o.LastModified,
		ETag:        strings.Trim(o.ETag, `"`),
		ContentType: o.ContentType,
	}
}

// List returns every object under prefix, sorted by key, following S3
// pagination. ContentType is empty in listings (S3 does not return it).
func (s *Store) List(ctx context.Context, prefix string) ([]object.Info, error) {
	if err := object.ValidatePrefix(prefix); err != nil {
		return nil, err
	}
	full := prefix
	if s.cfg.Prefix != "" {
		full = s.cfg.Prefix + "/" + prefix
	}
	var out []object.Info
	for o := range s.client.ListObjects(ctx, s.cfg.Bucket, minio.ListObjectsOptions{Prefix: full, Recursive: true}) {
		if o.Err != nil {
			return nil, fmt.Errorf("s3 list %q: %w", prefix, mapErr(o.Err))
		}
		if strings.HasSuffix(o.Key, "/") {
			continue // a "directory marker", not an object
		}
		out = append(out, s.info(o))
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("s3 list %q: %w", prefix, err)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Key < out[j].Key })
	return out, nil
}

// Delete removes the object; a missing object is not an error.
func (s *Store) Delete(ctx context.Context, key string) error {
	n, err := s.name(key)
	if err != nil {
		return err
	}
	if err := s.client.RemoveObject(ctx, s.cfg.Bucket, n, minio.RemoveObjectOptions{}); err != nil {
		if errors.Is(mapErr(err), object.ErrNotFound) {
			return nil
		}
		return fmt.Errorf("s3 delete %s: %w", key, mapErr(err))
	}
	return nil
}

// URL returns a presigned GET URL valid for ttl (0 means DefaultURLTTL; at
// most MaxURLTTL). It does not check that the object exists.
func (s *Store) URL(ctx context.Context, key string, ttl time.Duration) (string, error) {
	n, err := s.name(key)
	if err != nil {
		return "", err
	}
	if ttl == 0 {
		ttl = DefaultURLTTL
	}
	if ttl < time.Second || ttl > MaxURLTTL {
		return "", fmt.Errorf("s3 url %s: ttl %s outside 1s..%s", key, ttl, MaxURLTTL)
	}
	u, err := s.client.PresignedGetObject(ctx, s.cfg.Bucket, n, ttl, nil)
	if err != nil {
		return "", fmt.Errorf("s3 url %s: %w", key, mapErr(err))
	}
	return u.String(), nil
}

// notFound maps err like mapErr, but makes sure that a "not found" is not
// really a missing bucket (a typo in the bucket name must not look like an
// empty release store).
func (s *Store) notFound(ctx context.Context, err error) error {
	err = mapErr(err)
	if !errors.Is(err, object.ErrNotFound) || s.bucketSeen.Load() {
		return err
	}
	if cerr := s.Check(ctx); cerr != nil {
		return cerr
	}
	s.bucketSeen.Store(true)
	return err
}

// mapErr turns S3's "no such key" into object.ErrNotFound, keeping the
// original error in the chain.
func mapErr(err error) error {
	resp := minio.ToErrorResponse(err)
	if resp.Code == minio.NoSuchKey || resp.StatusCode == http.StatusNotFound && resp.Code != minio.NoSuchBucket {
		return fmt.Errorf("%w: %w", object.ErrNotFound, err)
	}
	return err
}
