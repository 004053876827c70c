// Package channel is the GitOps channels file (release/channels.yaml): for
// each product and channel, the version served, the rollout percentage, the
// paused flag, the minimum version, release notes, pins and the history
// needed to roll back. Commands edit the file and a release manager commits
// it; `slipway apply` then makes storage match it.
package channel

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"

	"go.yaml.in/yaml/v3"

	"github.com/slipwayhq/slipway/updater/gate"
)

// MaxFileSize bounds the channels file. Default: 1 MiB.
const MaxFileSize = 1 << 20

// MaxHistory is how many previous states a channel keeps for rollback.
const MaxHistory = 20

// DefaultPath is where the repository keeps the channels file.
const DefaultPath = "release/channels.yaml"

// Errors returned by parsing, validation and edits (match with errors.Is).
var (
	ErrInvalid      = errors.New("invalid channels file")
	ErrNoProduct    = errors.New("unknown product")
	ErrNoChannel    = errors.New("unknown channel")
	ErrNoHistory    = errors.New("no earlier version to roll back to")
	ErrNotPublished = errors.New("version was never published")
	ErrRevoked      = errors.New("version was rolled back (revoked)")
)

// File is the whole channels file. Products and channels keep the order
// they had in the file (and new ones are appended), so an edit produces a
// minimal diff.
type File struct {
	// Keys lists, per product, the minisign public keys its release
	// artifacts may be signed with (see TrustedKeys); a product without an
	// entry uses the server's release key. Optional.
	Keys map[string][]string
	// Endorsements lists, per product, key endorsements (see
	// minisign.Endorse): each vouches, signed by an older key, for a newer
	// one, so that clients trusting the old key learn the new one from the
	// signed update metadata during a key change. Optional.
	Endorsements map[string][]string
	Products     []*Product
}

// Product is one product's channels, in file order.
type Product struct {
	Name     string
	Channels []*Channel
}

// Channel is what one channel of one product serves.
type Channel struct {
	Name string `yaml:"-"`
	// Version served by the channel (SemVer, no leading "v").
	Version string `yaml:"version"`
	// Rollout is the percentage of machines offered Version (0..100, 0.01
	// steps); the others keep what they have. Default: 100.
	Rollout float64 `yaml:"rollout"`
	// Paused stops offering any update on this channel. Default: false.
	Paused bool `yaml:"paused,omitempty"`
	// MinVersion forces machines below it to update, whatever the rollout.
	MinVersion string `yaml:"minVersion,omitempty"`
	// Notes are the release notes shown to users (markdown).
	Notes string `yaml:"notes,omitempty"`
	// Pins hold a tenant or a machine on a given version.
	Pins Pins `yaml:"pins,omitempty"`
	// History lists earlier states, newest first (for rollback).
	History []State `yaml:"history,omitempty"`
	// Revoked lists versions `slipway rollback` took this channel off. A
	// revoked version is never offered again on any channel of the
	// product, and machines running it are offered the channel version
	// even when that is a downgrade (the signed TUF metadata carries the
	// list, so the client accepts exactly that downgrade). Remove a
	// version from the list by hand to allow it again.
	Revoked []string `yaml:"revoked,omitempty"`
	// Plan makes the rollout progressive and health-gated (steps, bake
	// time, gates); Rollout stays the ceiling. See updater/gate.
	Plan *gate.Plan `yaml:"plan,omitempty"`
}

// Pins map a tenant or machine id to the version it must run.
type Pins struct {
	Tenants  map[string]string `yaml:"tenants,omitempty" json:"tenants,omitempty"`
	Machines map[string]string `yaml:"machines,omitempty" json:"machines,omitempty"`
}

// IsZero lets yaml omit empty pins.
func (p Pins) IsZero() bool { return len(p.Tenants) == 0 && len(p.Machines) == 0 }

// State is an earlier version/rollout of a channel.
type State struct {
	Version string  `yaml:"version"`
	Rollout float64 `yaml:"rollout"`
}

// channelDoc is the strict on-disk form of a channel (rollout optional).
type channelDoc struct {
	Version    string     `yaml:"version"`
	Rollout    *float64   `yaml:"rollout"`
	Paused     bool       `yaml:"paused"`
	MinVersion string     `yaml:"minVersion"`
	Notes      string     `yaml:"notes"`
	Pins       Pins       `yaml:"pins"`
	History    []State    `yaml:"history"`
	Revoked    []string   `yaml:"revoked"`
	Plan       *gate.Plan `yaml:"plan"`
}

type fileDoc struct {
	Keys         map[string][]string              `yaml:"keys"`
	Endorsements map[string][]string              `yaml:"endorsements"`
	Products     map[string]map[string]channelDoc `yaml:"products"`
}

var nameRE = regexp.MustCompile(`^[a-z0-9][a-z0-9._-]{0,62}$`)

// Parse decodes and validates a channels file (strict: unknown keys,
// duplicate keys, several documents and oversize input are errors).
func Parse(data []byte) (*File, error) {
	if len(data) > MaxFileSize {
		return nil, fmt.Errorf("%w: larger than %d bytes", ErrInvalid, MaxFileSize)
	}
	var doc fileDoc
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&doc); err != nil && !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("%w: more than one YAML document", ErrInvalid)
	}
	var root yaml.Node
	if err := yaml.Unmarshal(data, &root); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	f := &File{Keys: doc.Keys, Endorsements: doc.Endorsements}
	for _, p := range mappingKeys(&root, "products") {
		prod := &Product{Name: p}
		for _, c := range mappingKeys(&root, "products", p) {
			d := doc.Products[p][c]
			ch := &Channel{Name: c, Version: d.Version, Rollout: 100, Paused: d.Paused,
				MinVersion: d.MinVersion, Notes: d.Notes, Pins: d.Pins, History: d.History, Revoked: d.Revoked, Plan: d.Plan}
			if d.Rollout != nil {
				ch.Rollout = *d.Rollout
			}
			prod.Channels = append(prod.Channels, ch)
		}
		f.Products = append(f.Products, prod)
	}
	if err := f.Validate(); err != nil {
		return nil, err
	}
	return f, nil
}

// mappingKeys returns the keys, in order, of the mapping found by walking
// path from the document root.
func mappingKeys(n *yaml.Node, path ...string) []string {
	if n.Kind == yaml.DocumentNode && len(n.Content) == 1 {
		n = n.Content[0]
	}
	for _, p := range path {
		if n == nil || n.Kind != yaml.MappingNode {
			return nil
		}
		var next *yaml.Node
		for i := 0; i+1 < len(n.Content); i += 2 {
			if n.Content[i].Value == p {
				next = n.Content[i+1]
			}
		}
		n = next
	}
	if n == nil || n.Kind != yaml.MappingNode {
		return nil
	}
	keys := make([]string, 0, len(n.Content)/2)
	for i := 0; i+1 < len(n.Content); i += 2 {
		keys = append(keys, n.Content[i].Value)
	}
	return keys
}

// Load reads and parses the channels file at path. A missing file is an
// empty File (the first promote creates it).
func Load(path string) (*File, error) {
	fh, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return &File{}, nil
	}
	if err != nil {
		return nil, err
	}
	defer fh.Close()
	data, err := io.ReadAll(io.LimitReader(fh, MaxFileSize+1))
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	f, err := Parse(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return f, nil
}

const header = "# Slipway release channels: the single source of truth for what each channel serves.\n" +
	"# Edit with `slipway promote|rollout|pause|resume|rollback`, commit, then `slipway apply`.\n"

// Marshal encodes the file, keeping product and channel order.
func (f *File) Marshal() ([]byte, error) {
	products := &yaml.Node{Kind: yaml.MappingNode}
	for _, p := range f.Products {
		chans := &yaml.Node{Kind: yaml.MappingNode}
		for _, c := range p.Channels {
			var v yaml.Node
			if err := v.Encode(c); err != nil {
				return nil, fmt.Errorf("encode %s/%s: %w", p.Name, c.Name, err)
			}
			chans.Content = append(chans.Content, scalar(c.Name), &v)
		}
		products.Content = append(products.Content, scalar(p.Name), chans)
	}
	root := &yaml.Node{Kind: yaml.MappingNode}
	if len(f.Keys) > 0 {
		keys, err := f.keysNode()
		if err != nil {
			return nil, err
		}
		root.Content = append(root.Content, scalar("keys"), keys)
	}
	if len(f.Endorsements) > 0 {
		n, err := sortedListsNode(f.Endorsements)
		if err != nil {
			return nil, err
		}
		root.Content = append(root.Content, scalar("endorsements"), n)
	}
	root.Content = append(root.Content, scalar("products"), products)
	var buf bytes.Buffer
	buf.WriteString(header)
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	if err := enc.Encode(root); err != nil {
		return nil, err
	}
	if err := enc.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

func scalar(s string) *yaml.Node { return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: s} }

// Save validates f and writes it to path atomically (temp file + rename).
func (f *File) Save(path string) error {
	if err := f.Validate(); err != nil {
		return err
	}
	data, err := f.Marshal()
	if err != nil {
		return err
	}
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	tmp, err := os.CreateTemp(dir, ".channels-*.yaml")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return fmt.Errorf("write %s: %w", tmp.Name(), err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if err := os.Chmod(tmp.Name(), 0o644); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}

// Product returns the named product, or nil.
func (f *File) Product(name string) *Product {
	for _, p := range f.Products {
		if p.Name == name {
			return p
		}
	}
	return nil
}

// Channel returns the named channel of the named product.
func (f *File) Channel(product, channel string) (*Channel, error) {
	p := f.Product(product)
	if p == nil {
		return nil, fmt.Errorf("%w %q", ErrNoProduct, product)
	}
	for _, c := range p.Channels {
		if c.Name == channel {
			return c, nil
		}
	}
	return nil, fmt.Errorf("%w %s/%s", ErrNoChannel, product, channel)
}
