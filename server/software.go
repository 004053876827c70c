package server

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"sync"
	"time"

	"github.com/slipwayhq/slipway/machineapi"
	"github.com/slipwayhq/slipway/server/store"
)

// Software inventory, machine side: a heartbeat carries the hash of the
// machine's list and the server answers softwareNeeded when it does not
// hold that list; the agent then uploads it, gzip-compressed, to
// POST /api/machines/software. An unchanged list costs one map lookup.

var softwareHashRE = regexp.MustCompile(`^sha256:[0-9a-f]{64}$`)

func checkSoftwareHash(field, h string) error {
	if h != "" && !softwareHashRE.MatchString(h) {
		return badRequest(field, "must be sha256: and 64 lower-case hex digits")
	}
	return nil
}

// hashCache remembers the agent list hash stored per machine, so that a
// heartbeat with an unchanged hash needs no database read. A mismatch is
// checked against the store. A match is trusted because every change is
// seen: this replica's uploads update it, and with a store several replicas
// share (store.SoftwareListWatcher) another replica's upload makes it
// forget the machine. A read or upload that raced with a forget does not
// store its (possibly stale) hash: gen counts forgets. Bounded: it starts
// over when full.
type hashCache struct {
	mu  sync.Mutex
	m   map[string]string
	gen uint64
}

const maxHashCache = 1 << 20

// get returns the cached hash and the generation to pass to putIf.
func (c *hashCache) get(machineID string) (string, uint64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.m[machineID], c.gen
}

// putIf caches the hash unless something was forgotten since gen.
func (c *hashCache) putIf(machineID, hash string, gen uint64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if gen != c.gen {
		return
	}
	if c.m == nil || len(c.m) >= maxHashCache {
		c.m = map[string]string{}
	}
	c.m[machineID] = hash
}

func (c *hashCache) forget(machineID string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.gen++
	delete(c.m, machineID)
}

func (c *hashCache) reset() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.gen++
	c.m = nil
}

// watchSoftwareLists keeps the hash cache in step with the other replicas
// when the store tells of their uploads (PostgreSQL).
func (s *Server) watchSoftwareLists(ctx context.Context) {
	w, ok := s.st.(store.SoftwareListWatcher)
	if !ok {
		return
	}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		w.WatchSoftwareLists(ctx, s.swHashes.forget, s.swHashes.reset)
	}()
}

// softwareNeeded reports whether the machine should upload the list of
// this hash. A failed read answers false: the next heartbeat asks again.
func (s *Server) softwareNeeded(ctx context.Context, machineID, hash string) bool {
	cached, gen := s.swHashes.get(machineID)
	if hash == "" || cached == hash {
		return false
	}
	stored, err := s.st.SoftwareHash(ctx, machineID, store.OriginAgent)
	if err != nil {
		s.log.WarnContext(ctx, "software hash", "machine_id", machineID, "err", err)
		return false
	}
	s.swHashes.putIf(machineID, stored, gen)
	return stored != hash
}

// readSoftwareBody reads a gzip (or plain) JSON body within the limits.
func readSoftwareBody(w http.ResponseWriter, r *http.Request) ([]byte, error) {
	tooLarge := &Error{Status: http.StatusRequestEntityTooLarge, Code: "body_too_large",
		Message: fmt.Sprintf("the software list exceeds %d compressed or %d uncompressed bytes",
			machineapi.MaxSoftwareUploadBytes, machineapi.MaxSoftwareJSONBytes)}
	raw, err := io.ReadAll(http.MaxBytesReader(w, r.Body, machineapi.MaxSoftwareUploadBytes))
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		return nil, tooLarge
	} else if err != nil {
		return nil, badRequest("body", "could not read the body")
	}
	switch r.Header.Get("Content-Encoding") {
	case "", "identity":
		return raw, nil
	case "gzip":
	default:
		return nil, &Error{Status: http.StatusUnsupportedMediaType, Code: "unsupported_encoding",
			Message: "send the list gzip-compressed (Content-Encoding: gzip) or plain"}
	}
	zr, err := gzip.NewReader(bytes.NewReader(raw))
	if err != nil {
		return nil, badRequest("body", "not gzip data")
	}
	zr.Multistream(false)
	body, err := io.ReadAll(io.LimitReader(zr, machineapi.MaxSoftwareJSONBytes+1))
	if err != nil {
		return nil, badRequest("body", "truncated or corrupt gzip data")
	}
	if len(body) > machineapi.MaxSoftwareJSONBytes {
		return nil, tooLarge
	}
	return body, nil
}

// softwareItems converts and validates an uploaded list.
func softwareItems(items []machineapi.SoftwareItem) ([]store.Software, error) {
	if len(items) > store.MaxSoftwareItems {
		return nil, &Error{Status: http.StatusRequestEntityTooLarge, Code: "too_many_entries", Field: "software",
			Message: fmt.Sprintf("%d entries, more than %d: send the first %d in sorted order with truncated: true",
				len(items), store.MaxSoftwareItems, store.MaxSoftwareItems)}
	}
	out := make([]store.Software, len(items))
	for i, it := range items {
		sw := store.Software{Name: it.Name, Version: it.Version, Source: it.Source, Vendor: it.Vendor,
			BundleID: it.BundleID, Path: it.Path}
		if it.InstalledAt != nil {
			sw.InstalledAt = it.InstalledAt.UTC()
		}
		if err := softwareCheck(fmt.Sprintf("software[%d]", i), sw); err != nil {
			return nil, err
		}
		out[i] = sw
	}
	return out, nil
}

// softwareCheck renders a bad entry as a 400 naming the field.
func softwareCheck(field string, sw store.Software) error {
	var se *store.SoftwareError
	if err := sw.Check(); errors.As(err, &se) {
		return badRequest(field+"."+se.Field, "%s", se.Reason)
	} else if err != nil {
		return badRequest(field, "invalid entry")
	}
	return nil
}

func (s *Server) handleSoftwareUpload(w http.ResponseWriter, r *http.Request) error {
	caller, _ := MachineFromContext(r.Context())
	body, err := readSoftwareBody(w, r)
	if err != nil {
		return err
	}
	if len(bytes.TrimSpace(body)) == 0 {
		return badRequest("body", "a JSON object body is required")
	}
	var up machineapi.SoftwareUpload
	if err := unmarshalStrict(body, &up); err != nil {
		return err
	}
	if up.Hash == "" {
		return badRequest("hash", "required")
	}
	if err := checkSoftwareHash("hash", up.Hash); err != nil {
		return err
	}
	items, err := softwareItems(up.Software)
	if err != nil {
		return err
	}
	// The hash covers the list: a list cut short or altered on the way does
	// not match, and is refused before anything changes.
	if got := machineapi.SoftwareHash(up.Software); got != up.Hash {
		return badRequest("hash", "does not match the list (truncated or altered?)")
	}
	_, gen := s.swHashes.get(caller.MachineID)
	diff, err := s.st.ReplaceSoftware(r.Context(), store.SoftwareReport{MachineID: caller.MachineID,
		Origin: store.OriginAgent, Hash: up.Hash, Items: items, At: s.now().UTC()})
	if errors.Is(err, store.ErrNotFound) {
		return unauthorized("unknown_machine", "the machine no longer exists")
	}
	if err != nil {
		return err
	}
	s.swHashes.putIf(caller.MachineID, up.Hash, gen)
	s.log.InfoContext(r.Context(), "software list", "machine_id", caller.MachineID, "entries", len(items),
		"installed", diff.Installed, "removed", diff.Removed, "truncated", up.Truncated)
	writeJSON(w, http.StatusOK, machineapi.SoftwareUploadResponse{Hash: up.Hash, Stored: len(store.DedupeSoftware(items)),
		Installed: diff.Installed, Removed: diff.Removed})
	return nil
}

// softwareView is an entry of a machine's software in API answers.
type softwareView struct {
	Name            string     `json:"name"`
	Version         string     `json:"version"`
	Source          string     `json:"source"`
	Vendor          string     `json:"vendor,omitempty"`
	BundleID        string     `json:"bundleId,omitempty"`
	Path            string     `json:"path,omitempty"`
	InstalledAt     *time.Time `json:"installedAt,omitempty"`
	Vulnerabilities []string   `json:"vulnerabilities,omitempty"`
	Origin          string     `json:"origin"`
}

func viewSoftware(list []store.InstalledSoftware) []softwareView {
	out := make([]softwareView, 0, len(list))
	for _, sw := range list {
		out = append(out, softwareView{Name: sw.Name, Version: sw.Version, Source: sw.Source, Vendor: sw.Vendor,
			BundleID: sw.BundleID, Path: sw.Path, InstalledAt: optTime(sw.InstalledAt),
			Vulnerabilities: sw.Vulnerabilities, Origin: sw.Origin})
	}
	return out
}
