// Package software collects the programs installed on this machine, from
// osquery when osqueryi is present and natively where that is cheap and
// well defined: the dpkg status file, the rpm command, macOS application
// bundles and the Windows uninstall registry keys. Every source is bounded
// in time and size, and a failing source never fails the list: its error
// is reported beside the entries the others found.
//
// Past machineapi.MaxSoftwareItems entries, the list keeps the first
// MaxSoftwareItems in canonical order (machineapi.SortSoftware) and says
// it was truncated; the server stores that much and no more.
package software

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/slipwayhq/slipway/machineapi"
)

// Item is one installed program.
type Item = machineapi.SoftwareItem

// Source is one way of listing installed software.
type Source interface {
	// Name is the source's name in logs and List.Errors.
	Name() string
	// Collect lists what the source knows; it must return promptly when
	// ctx ends.
	Collect(ctx context.Context) ([]Item, error)
}

// Options tunes Collect; the zero value is safe.
type Options struct {
	// Sources are asked in order. Default: Default().
	Sources []Source
	// Timeout bounds each source. Default: 60 s.
	Timeout time.Duration
	// MaxItems bounds the list. Default: machineapi.MaxSoftwareItems.
	MaxItems int
	// Logger receives one line per failed source. Default: discard.
	Logger *slog.Logger
}

// List is a collected software list.
type List struct {
	Items     []Item
	Hash      string // machineapi.SoftwareHash(Items)
	Truncated bool
	// Errors maps a failed source to its error; the list holds the others.
	Errors map[string]string
}

// Collect asks every source and merges what they found: entries repeated
// across sources (osquery and the native reader of the same database)
// collapse, fields are cleaned to the server's limits, the list is sorted
// and bounded.
func Collect(ctx context.Context, opts Options) List {
	if opts.Sources == nil {
		opts.Sources = Default()
	}
	if opts.Timeout <= 0 {
		opts.Timeout = time.Minute
	}
	if opts.MaxItems <= 0 || opts.MaxItems > machineapi.MaxSoftwareItems {
		opts.MaxItems = machineapi.MaxSoftwareItems
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	out := List{Errors: map[string]string{}}
	seen := map[string]bool{}
	for _, src := range opts.Sources {
		items, err := collectOne(ctx, src, opts.Timeout)
		if err != nil {
			out.Errors[src.Name()] = err.Error()
			opts.Logger.WarnContext(ctx, "software source failed", "source", src.Name(), "err", err)
		}
		for _, it := range items {
			it, ok := clean(it)
			key := it.Source + "\x00" + it.Name + "\x00" + it.Version + "\x00" + it.BundleID
			if ok && !seen[key] {
				seen[key] = true
				out.Items = append(out.Items, it)
			}
		}
	}
	machineapi.SortSoftware(out.Items)
	if len(out.Items) > opts.MaxItems {
		out.Items, out.Truncated = out.Items[:opts.MaxItems], true
	}
	if out.Items == nil {
		out.Items = []Item{}
	}
	out.Hash = machineapi.SoftwareHash(out.Items)
	return out
}

// collectOne runs a source under its timeout, recovering a panic into an
// error so one broken reader cannot take the agent down.
func collectOne(ctx context.Context, src Source, timeout time.Duration) (items []Item, err error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	defer func() {
		if v := recover(); v != nil {
			items, err = nil, fmt.Errorf("panic: %v", v)
		}
	}()
	items, err = src.Collect(ctx)
	if err == nil && ctx.Err() != nil {
		err = ctx.Err()
	}
	return items, err
}

// Field limits, the server's (store.MaxSoftware*).
const (
	maxName    = 255
	maxVersion = 128
	maxVendor  = 255
	maxBundle  = 255
	maxPath    = 1024
)

// clean makes an entry acceptable to the server: valid UTF-8, no control
// characters, trimmed and cut to the limits. Entries without a name are
// dropped.
func clean(it Item) (Item, bool) {
	it.Name = cleanText(it.Name, maxName)
	it.Version = cleanText(it.Version, maxVersion)
	it.Vendor = cleanText(it.Vendor, maxVendor)
	it.BundleID = cleanText(it.BundleID, maxBundle)
	it.Path = cleanText(it.Path, maxPath)
	if it.InstalledAt != nil {
		t := it.InstalledAt.UTC().Truncate(time.Second)
		if t.Year() < 1980 || t.After(time.Now().Add(24*time.Hour)) {
			it.InstalledAt = nil
		} else {
			it.InstalledAt = &t
		}
	}
	return it, it.Name != "" && it.Source != ""
}

func cleanText(s string, max int) string {
	s = strings.ToValidUTF8(s, "")
	s = strings.Map(func(r rune) rune {
		if unicode.IsControl(r) || r == utf8.RuneError {
			return -1
		}
		return r
	}, s)
	s = strings.TrimSpace(s)
	for len(s) > max {
		_, size := utf8.DecodeLastRuneInString(s)
		s = strings.TrimSpace(s[:len(s)-size])
	}
	return s
}

// sourceNames lists the names of items' sources, for tests and logs.
func sourceNames(items []Item) []string {
	var out []string
	for _, it := range items {
		if !slices.Contains(out, it.Source) {
			out = append(out, it.Source)
		}
	}
	return out
}
