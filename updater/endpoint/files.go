package endpoint

import (
	"bytes"
	"context"
	"encoding/hex"
	"errors"
	"io"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/slipwayhq/slipway/release"
	"github.com/slipwayhq/slipway/storage"
	"github.com/slipwayhq/slipway/updater/catalog"
	"github.com/slipwayhq/slipway/updater/repo"
)

// tufMetadata serves /tuf/<N>.root.json, timestamp.json and the current
// (and recently superseded) snapshot and targets from memory, with ETag
// and 304. Another N.snapshot.json or N.targets.json is read from storage:
// a replica that has not reloaded yet still serves what another one's
// timestamp names.
func (h *Handler) tufMetadata(w http.ResponseWriter, r *http.Request) {
	name := chi.URLParam(r, "file")
	if !repo.IsMetadataName(name) {
		httpError(w, http.StatusNotFound, "no such metadata")
		return
	}
	f, ok := h.snap.Load().tuf[name]
	if !ok && isVersionedRole(name) {
		data, info, err := catalog.ReadLimited(r.Context(), h.st, repo.Dir(h.opts.Prefix)+"/"+name, repo.MaxMetadataSize)
		if err != nil {
			h.storageError(w, r, name, err)
			return
		}
		f, ok = newFile(data, info.ModTime), true
	}
	if !ok {
		httpError(w, http.StatusNotFound, "no such metadata")
		return
	}
	w.Header().Set("ETag", f.etag)
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-cache")
	http.ServeContent(w, r, "", f.mod, bytes.NewReader(f.data))
}

// tufTarget serves /tuf/targets/<product>/<version>/<sha256>.<file>: the
// consistent-snapshot name of a TUF target, streamed from the release.
func (h *Handler) tufTarget(w http.ResponseWriter, r *http.Request) {
	p := chi.URLParam(r, "*")
	dir, base, ok := cutLast(p)
	hash, name, ok2 := strings.Cut(base, ".")
	if !ok || !ok2 {
		httpError(w, http.StatusNotFound, "no such target")
		return
	}
	tf, found := h.snap.Load().targets[dir+"/"+name]
	if !found || hex.EncodeToString(tf.Hashes["sha256"]) != hash {
		httpError(w, http.StatusNotFound, "no such target")
		return
	}
	product, version, _ := strings.Cut(dir, "/")
	h.serveObject(w, r, release.Key(h.opts.Prefix, product, version, name), tf.Length, `"`+hash+`"`)
}

func cutLast(p string) (string, string, bool) {
	i := strings.LastIndexByte(p, '/')
	if i <= 0 {
		return "", "", false
	}
	return p[:i], p[i+1:], true
}

// download streams an artifact or one of its signature files
// (/v1/download/{product}/{version}/{file}) with HTTP Range support, so
// a client resumes a dropped download. Only files of served releases.
func (h *Handler) download(w http.ResponseWriter, r *http.Request) {
	product, version, name := chi.URLParam(r, "product"), chi.URLParam(r, "version"), chi.URLParam(r, "file")
	ri := h.snap.Load().releases[product][version]
	if ri == nil {
		httpError(w, http.StatusNotFound, "no such release")
		return
	}
	for _, a := range slices.Concat(ri.artifacts, ri.files) {
		if a.Name == name {
			h.serveObject(w, r, a.key, a.Size, `"`+a.SHA256+`"`)
			return
		}
		for _, f := range a.sigs {
			if f == name {
				h.serveObject(w, r, release.Key(h.opts.Prefix, product, version, f), -1, "")
				return
			}
		}
	}
	httpError(w, http.StatusNotFound, "no such file")
}

// serveObject streams a storage object through http.ServeContent (Range,
// If-Range, If-None-Match). The object is opened before any header is
// written, so a missing object is a 404 and a storage failure a 503 with
// Retry-After, both logged, never a 200 with an empty body. (A stored
// object that differs from its release is left to the client's TUF
// length and hash check.) The reader reopens at an offset after a seek.
func (h *Handler) serveObject(w http.ResponseWriter, r *http.Request, key string, size int64, etag string) {
	ctx := r.Context()
	rc, info, err := h.st.Get(ctx, key)
	if err != nil {
		h.storageError(w, r, key, err)
		return
	}
	rs := &objectReader{ctx: ctx, st: h.st, key: key, size: size, rc: rc}
	defer rs.Close()
	if size < 0 {
		rs.size = info.Size
	}
	if etag != "" {
		w.Header().Set("ETag", etag)
	}
	w.Header().Set("Content-Type", "application/octet-stream")
	w.Header().Set("Cache-Control", "public, max-age=31536000, immutable")
	http.ServeContent(w, r, "", time.Time{}, rs)
}

// storageError answers a failed storage read: 404 when the object is
// gone, 503 with Retry-After when storage fails; both are logged.
func (h *Handler) storageError(w http.ResponseWriter, r *http.Request, key string, err error) {
	if errors.Is(err, storage.ErrNotFound) {
		h.opts.Logger.WarnContext(r.Context(), "served file missing from the release store", "key", key)
		httpError(w, http.StatusNotFound, "no such file")
		return
	}
	if errors.Is(err, context.Canceled) {
		return
	}
	h.opts.Logger.ErrorContext(r.Context(), "release store read failed", "key", key, "err", err)
	w.Header().Set("Retry-After", retryAfter)
	httpError(w, http.StatusServiceUnavailable, "storage unavailable")
}

// objectReader is an io.ReadSeeker over a storage object: Seek only moves
// the offset; Read (re)opens the object and skips to the offset. Stores
// whose readers can seek (files) are seeked directly.
type objectReader struct {
	ctx  context.Context
	st   storage.Store
	key  string
	size int64

	off int64 // logical offset
	rc  io.ReadCloser
	pos int64 // offset of rc
}

func (o *objectReader) Seek(offset int64, whence int) (int64, error) {
	switch whence {
	case io.SeekStart:
	case io.SeekCurrent:
		offset += o.off
	case io.SeekEnd:
		offset += o.size
	}
	if offset < 0 {
		return 0, errors.New("seek before start")
	}
	o.off = offset
	return offset, nil
}

func (o *objectReader) Read(p []byte) (int, error) {
	if o.off >= o.size {
		return 0, io.EOF
	}
	if o.rc == nil || o.pos > o.off {
		if err := o.open(); err != nil {
			return 0, err
		}
	}
	if o.pos < o.off {
		if s, ok := o.rc.(io.Seeker); ok {
			if _, err := s.Seek(o.off, io.SeekStart); err != nil {
				return 0, err
			}
		} else if _, err := io.CopyN(io.Discard, o.rc, o.off-o.pos); err != nil {
			return 0, err
		}
		o.pos = o.off
	}
	if rem := o.size - o.off; int64(len(p)) > rem {
		p = p[:rem]
	}
	n, err := o.rc.Read(p)
	o.off += int64(n)
	o.pos += int64(n)
	return n, err
}

func (o *objectReader) open() error {
	o.Close()
	rc, _, err := o.st.Get(o.ctx, o.key)
	if err != nil {
		return err
	}
	o.rc, o.pos = rc, 0
	return nil
}

func (o *objectReader) Close() error {
	if o.rc == nil {
		return nil
	}
	err := o.rc.Close()
	o.rc = nil
	return err
}
