package storage

import (
	"context"
	"fmt"
	"net/url"
	"path/filepath"
	"strings"

	"github.com/slipwayhq/slipway/storage/fs"
	"github.com/slipwayhq/slipway/storage/s3"
)

// Interface guards.
var (
	_ Conditional = (*fs.Store)(nil)
	_ Conditional = (*s3.Store)(nil)
)

// Open returns the store a spec names:
//
//	""                                   the filesystem store at ./data/artifacts
//	./data/artifacts, /srv/artifacts     a filesystem store rooted at that path
//	file:///srv/artifacts                the same, as a URL
//	s3://bucket/prefix?endpoint=host:port&region=r&path-style=true&insecure=true
//
// S3 credentials come from AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY /
// AWS_SESSION_TOKEN (see s3.Config), never from the spec. Open does no
// network I/O; a bad S3 bucket shows up on first use (or s3.Store.Check).
func Open(ctx context.Context, spec string) (Store, error) {
	switch {
	case strings.HasPrefix(spec, "s3://"):
		cfg, err := s3.ParseURL(spec)
		if err != nil {
			return nil, err
		}
		return s3.New(cfg, s3.Options{})
	case strings.HasPrefix(spec, "file://"):
		u, err := url.Parse(spec)
		if err != nil {
			return nil, fmt.Errorf("storage spec: %w", err)
		}
		if u.Host != "" && u.Host != "localhost" {
			return nil, fmt.Errorf("storage spec %q: file URL with a remote host", spec)
		}
		if u.Path == "" || u.RawQuery != "" || u.Fragment != "" {
			return nil, fmt.Errorf("storage spec %q: want file:///absolute/path", spec)
		}
		return fs.New(filepath.FromSlash(u.Path), fs.Options{})
	case strings.Contains(spec, "://"):
		return nil, fmt.Errorf("storage spec %q: unknown scheme (want a path, file:// or s3://)", spec)
	default:
		return fs.New(spec, fs.Options{})
	}
}
