// Package fs is the local filesystem storage backend, the embedded default:
// each key is a file under a root directory ("releases/agent/1.4.0/x.tar.gz"
// is <root>/releases/agent/1.4.0/x.tar.gz).
//
// Writes are atomic: Put writes a temporary file in the target directory,
// fsyncs it and renames it over the key, so a reader sees the old object or
// the whole new one. Temporary files start with TempPrefix; List skips them
// and keys may not use that prefix.
//
// ETag is "<mtime in ns, hex>-<size, hex>" (like nginx), which changes on
// every rewrite without re-reading the file. The content type is not stored:
// it is derived from the key's extension (application/octet-stream if
// unknown).
package fs

import (
	"context"
	"errors"
	"fmt"
	"io"
	iofs "io/fs"
	"mime"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"time"

	"github.com/slipwayhq/slipway/storage/object"
)

// DefaultRoot is where the embedded store keeps artifacts unless told otherwise.
const DefaultRoot = "./data/artifacts"

// TempPrefix starts the name of every in-progress upload; keys may not use it.
const TempPrefix = ".slipway-tmp-"

// Options tunes a Store. The zero value is safe.
type Options struct {
	// FileMode for objects. Default: 0644.
	FileMode os.FileMode
	// DirMode for directories created on demand. Default: 0755.
	DirMode os.FileMode
	// StaleTemp is how long after its last write an upload's temporary
	// file counts as abandoned (its writer was killed): New removes such
	// files. Default: 1 hour; negative: never sweep.
	StaleTemp time.Duration
}

// Store keeps objects as files below Root.
type Store struct {
	root string // absolute, cleaned
	opts Options
}

// New opens (creating if needed) a store rooted at root; "" means DefaultRoot.
func New(root string, opts Options) (*Store, error) {
	if root == "" {
		root = DefaultRoot
	}
	if opts.FileMode == 0 {
		opts.FileMode = 0o644
	}
	if opts.DirMode == 0 {
		opts.DirMode = 0o755
	}
	abs, err := filepath.Abs(root)
	if err != nil {
		return nil, fmt.Errorf("fs store root %q: %w", root, err)
	}
	if err := os.MkdirAll(abs, opts.DirMode); err != nil {
		return nil, fmt.Errorf("fs store root: %w", err)
	}
	if opts.StaleTemp == 0 {
		opts.StaleTemp = time.Hour
	}
	s := &Store{root: abs, opts: opts}
	if opts.StaleTemp > 0 {
		if _, _, err := s.SweepTemp(time.Now().Add(-opts.StaleTemp)); err != nil {
			return nil, fmt.Errorf("fs store root: sweep temporary files: %w", err)
		}
	}
	return s, nil
}

// SweepTemp removes the temporary files of uploads last written before
// before (abandoned by a killed writer; a failed Put removes its own) and
// reports how many files and bytes it removed. Every store open (server
// start, each publish or apply) sweeps those older than Options.StaleTemp.
func (s *Store) SweepTemp(before time.Time) (files int, size int64, err error) {
	err = filepath.WalkDir(s.root, func(p string, d iofs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, iofs.ErrNotExist) {
				return nil // removed meanwhile
			}
			return err
		}
		if d.IsDir() || !strings.HasPrefix(d.Name(), TempPrefix) || strings.HasPrefix(d.Name(), lockPrefix) {
			return nil // a lock file may be held: removing it would break the lock
		}
		info, err := d.Info()
		if err != nil || !info.Mode().IsRegular() || !info.ModTime().Before(before) {
			return nil
		}
		if err := os.Remove(p); err != nil && !errors.Is(err, iofs.ErrNotExist) {
			return err
		}
		files, size = files+1, size+info.Size()
		return nil
	})
	return files, size, err
}

// Root returns the absolute root directory.
func (s *Store) Root() string { return s.root }

// String names the store for logs.
func (s *Store) String() string { return "file://" + filepath.ToSlash(s.root) }

// path maps a validated key onto the filesystem.
func (s *Store) path(key string) (string, error) {
	if err := object.ValidateKey(key); err != nil {
		return "", err
	}
	for _, seg := range strings.Split(key, "/") {
		if strings.HasPrefix(seg, TempPrefix) {
			return "", fmt.Errorf("%w: %q: segment uses the reserved prefix %s", object.ErrInvalidKey, key, TempPrefix)
		}
	}
	return filepath.Join(s.root, filepath.FromSlash(key)), nil
}

// Put writes r to key atomically. size is the exact length, or -1 if unknown;
// a reader that delivers a different length fails the Put and leaves nothing.
func (s *Store) Put(ctx context.Context, key string, r io.Reader, size int64, contentType string) (err error) {
	p, err := s.path(key)
	if err != nil {
		return err
	}
	dir := filepath.Dir(p)
	tmp, err := s.createTemp(dir)
	if err != nil {
		return fmt.Errorf("put %s: %w", key, err)
	}
	defer func() {
		if err != nil {
			_ = tmp.Close()
			_ = os.Remove(tmp.Name())
		}
	}()
	n, err := io.Copy(tmp, ctxReader{ctx: ctx, r: r})
	if err != nil {
		return fmt.Errorf("put %s: %w", key, err)
	}
	if size >= 0 && n != size {
		return fmt.Errorf("put %s: read %d bytes, expected %d: %w", key, n, size, io.ErrUnexpectedEOF)
	}
	if err := tmp.Chmod(s.opts.FileMode); err != nil {
		return fmt.Errorf("put %s: %w", key, err)
	}
	if err := tmp.Sync(); err != nil {
		return fmt.Errorf("put %s: %w", key, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("put %s: %w", key, err)
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("put %s: %w", key, err)
	}
	if err := os.Rename(tmp.Name(), p); err != nil {
		return fmt.Errorf("put %s: %w", key, err)
	}
	syncDir(dir)
	return nil
}

// createTemp creates the upload's temporary file in dir, creating dir. A
// Delete may remove an emptied dir between the two steps; then try again
// (a few times: each retry needs another Delete to win the same race).
func (s *Store) createTemp(dir string) (*os.File, error) {
	var err error
	for range 10 {
		err = os.MkdirAll(dir, s.opts.DirMode)
		if err == nil {
			var f *os.File
			if f, err = os.CreateTemp(dir, TempPrefix+"*"); err == nil {
				return f, nil // a non-empty dir is never removed by Delete
			}
		}
		if !errors.Is(err, iofs.ErrNotExist) {
			return nil, err
		}
	}
	return nil, err
}

// syncDir makes a rename durable; best effort (not every OS can fsync a dir).
func syncDir(dir string) {
	if d, err := os.Open(dir); err == nil {
		_ = d.Sync()
		_ = d.Close()
	}
}

// ctxReader stops a copy when the context is done.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}

// Get opens the object for reading.
func (s *Store) Get(ctx context.Context, key string) (io.ReadCloser, object.Info, error) {
	p, err := s.path(key)
	if err != nil {
		return nil, object.Info{}, err
	}
	if err := ctx.Err(); err != nil {
		return nil, object.Info{}, err
	}
	f, err := os.Open(p)
	if err != nil {
		return nil, object.Info{}, notFound(key, err)
	}
	st, err := f.Stat()
	if err != nil {
		_ = f.Close()
		return nil, object.Info{}, fmt.Errorf("get %s: %w", key, err)
	}
	if !st.Mode().IsRegular() {
		_ = f.Close()
		return nil, object.Info{}, fmt.Errorf("get %s: %w", key, object.ErrNotFound)
	}
	return f, info(key, st), nil
}

// Stat describes the object.
func (s *Store) Stat(ctx context.Context, key string) (object.Info, error) {
	p, err := s.path(key)
	if err != nil {
		return object.Info{}, err
	}
	if err := ctx.Err(); err != nil {
		return object.Info{}, err
	}
	st, err := os.Stat(p)
	if err != nil {
		return object.Info{}, notFound(key, err)
	}
	if !st.Mode().IsRegular() {
		return object.Info{}, fmt.Errorf("stat %s: %w", key, object.ErrNotFound)
	}
	return info(key, st), nil
}

// notFound maps "no such file" (and "a parent is a file") to ErrNotFound.
func notFound(key string, err error) error {
	if errors.Is(err, iofs.ErrNotExist) || isNotDir(err) {
		return fmt.Errorf("%s: %w", key, object.ErrNotFound)
	}
	return fmt.Errorf("%s: %w", key, err)
}

func info(key string, st os.FileInfo) object.Info {
	ct := mime.TypeByExtension(path.Ext(key))
	if ct == "" {
		ct = "application/octet-stream"
	}
	return object.Info{
		Key:         key,
		Size:        st.Size(),
		ModTime:     st.ModTime(),
		ETag:        fmt.Sprintf("%x-%x", st.ModTime().UnixNano(), st.Size()),
		ContentType: ct,
	}
}

// List returns every object whose key starts with prefix, sorted by key.
func (s *Store) List(ctx context.Context, prefix string) ([]object.Info, error) {
	if err := object.ValidatePrefix(prefix); err != nil {
		return nil, err
	}
	// Walk only the deepest directory the prefix names in full.
	base := s.root
	if i := strings.LastIndex(prefix, "/"); i >= 0 {
		base = filepath.Join(s.root, filepath.FromSlash(prefix[:i]))
	}
	var out []object.Info
	err := filepath.WalkDir(base, func(p string, d iofs.DirEntry, err error) error {
		if err != nil {
			if p == base && (errors.Is(err, iofs.ErrNotExist) || isNotDir(err)) {
				return iofs.SkipAll
			}
			return err
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		if strings.HasPrefix(d.Name(), TempPrefix) || !d.Type().IsRegular() {
			return nil
		}
		rel, err := filepath.Rel(s.root, p)
		if err != nil {
			return err
		}
		key := filepath.ToSlash(rel)
		if !strings.HasPrefix(key, prefix) {
			return nil
		}
		st, err := d.Info()
		if errors.Is(err, iofs.ErrNotExist) {
			return nil // deleted while listing
		} else if err != nil {
			return err
		}
		out = append(out, info(key, st))
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("list %q: %w", prefix, err)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Key < out[j].Key })
	return out, nil
}

// Delete removes the object and any directories it leaves empty.
func (s *Store) Delete(ctx context.Context, key string) error {
	p, err := s.path(key)
	if err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	st, err := os.Lstat(p)
	if errors.Is(err, iofs.ErrNotExist) || isNotDir(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("delete %s: %w", key, err)
	}
	if st.IsDir() {
		return nil // a "directory" is not an object
	}
	if err := os.Remove(p); err != nil && !errors.Is(err, iofs.ErrNotExist) {
		return fmt.Errorf("delete %s: %w", key, err)
	}
	for dir := filepath.Dir(p); dir != s.root && strings.HasPrefix(dir, s.root); dir = filepath.Dir(dir) {
		if os.Remove(dir) != nil { // not empty (or raced): stop
			break
		}
	}
	return nil
}

// URL returns a file:// URL for the object. ttl is ignored (file URLs do not
// expire) and, as with S3, the object's existence is not checked.
func (s *Store) URL(ctx context.Context, key string, ttl time.Duration) (string, error) {
	p, err := s.path(key)
	if err != nil {
		return "", err
	}
	slash := filepath.ToSlash(p)
	if !strings.HasPrefix(slash, "/") {
		slash = "/" + slash // Windows: file:///C:/...
	}
	return (&url.URL{Scheme: "file", Path: slash}).String(), nil
}

// isNotDir reports ENOTDIR: a path component is a file, so the key cannot exist.
func isNotDir(err error) bool { return errors.Is(err, syscall.ENOTDIR) }
