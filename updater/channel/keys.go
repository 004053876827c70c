package channel

import (
	"fmt"
	"slices"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/slipwayhq/slipway/signing/minisign"
)

// MaxKeys bounds the trusted keys of one product (a key change needs two).
const MaxKeys = 8

// TrustedKeys returns the minisign public keys the product's artifacts may
// be signed with, or nil when the file names none (the server's release
// key applies). Listing the old and the new key lets a key change overlap:
// versions signed with either verify until the old key is removed.
//
//	keys:
//	  myapp:            # a Tauri app signed with its own key
//	    - RWTRmkZ...    # minisign.pub line 2, the .pub text, or Tauri's pubkey (base64 of it)
func (f *File) TrustedKeys(product string) ([]*minisign.PublicKey, error) {
	var out []*minisign.PublicKey
	for i, k := range f.Keys[product] {
		pk, err := minisign.ParsePublicKey([]byte(k))
		if err != nil {
			return nil, fmt.Errorf("%w: keys.%s[%d]: %w", ErrInvalid, product, i, err)
		}
		out = append(out, pk)
	}
	return out, nil
}

func (f *File) validateKeys() error {
	for product, keys := range f.Keys {
		if !nameRE.MatchString(product) {
			return fmt.Errorf("%w: keys: product name %q invalid", ErrInvalid, product)
		}
		if len(keys) == 0 || len(keys) > MaxKeys {
			return fmt.Errorf("%w: keys.%s: between 1 and %d keys", ErrInvalid, product, MaxKeys)
		}
		pks, err := f.TrustedKeys(product)
		if err != nil {
			return err
		}
		ids := map[minisign.KeyID]bool{}
		for _, pk := range pks {
			if ids[pk.ID] {
				return fmt.Errorf("%w: keys.%s: key %s listed twice", ErrInvalid, product, pk.ID)
			}
			ids[pk.ID] = true
		}
	}
	return f.validateEndorsements()
}

// keysNode encodes Keys with products sorted (a stable diff).
func (f *File) keysNode() (*yaml.Node, error) { return sortedListsNode(f.Keys) }

// sortedListsNode encodes a per-product list map with products sorted.
func sortedListsNode(m map[string][]string) (*yaml.Node, error) {
	n := &yaml.Node{Kind: yaml.MappingNode}
	products := make([]string, 0, len(m))
	for p := range m {
		products = append(products, p)
	}
	slices.Sort(products)
	for _, p := range products {
		var v yaml.Node
		if err := v.Encode(m[p]); err != nil {
			return nil, fmt.Errorf("encode %s: %w", p, err)
		}
		n.Content = append(n.Content, scalar(p), &v)
	}
	return n, nil
}

// MaxEndorsements bounds the endorsements of one product.
const MaxEndorsements = 16

// Endorse adds an endorsement of next, signed by sk (a key the product
// trusts), to the product's endorsements, and lists next among the
// product's keys (after the current ones): the start of a key change.
// When the product lists no keys yet, current (the server's release key,
// which sk must belong to) is listed first, so both keys overlap.
func (f *File) Endorse(product string, sk *minisign.SecretKey, current, next *minisign.PublicKey, now time.Time) error {
	if current == nil || current.ID != sk.ID {
		return fmt.Errorf("%w: endorse: the secret key does not match the current public key", ErrInvalid)
	}
	e, err := minisign.Endorse(sk, product, next, now)
	if err != nil {
		return err
	}
	g := f.clone()
	if g.Keys == nil {
		g.Keys = map[string][]string{}
	}
	if g.Endorsements == nil {
		g.Endorsements = map[string][]string{}
	}
	if len(g.Keys[product]) == 0 {
		g.Keys[product] = []string{current.String()}
	}
	have, err := g.TrustedKeys(product)
	if err != nil {
		return err
	}
	if !slices.ContainsFunc(have, func(k *minisign.PublicKey) bool { return k.ID == current.ID }) {
		return fmt.Errorf("%w: endorse: %s does not list the key %s", ErrInvalid, product, current.ID)
	}
	if !slices.ContainsFunc(have, func(k *minisign.PublicKey) bool { return k.ID == next.ID }) {
		g.Keys[product] = append(g.Keys[product], next.String())
	}
	g.Endorsements[product] = append(g.Endorsements[product], e)
	if err := g.validateKeys(); err != nil {
		return err
	}
	f.Keys, f.Endorsements = g.Keys, g.Endorsements
	return nil
}

// Retire removes a key from the product's keys (the end of a key change's
// overlap): clients then accept only the remaining keys. The endorsements
// stay, so a machine that slept through the overlap still learns the new
// key from its old one.
func (f *File) Retire(product string, id minisign.KeyID) error {
	pks, err := f.TrustedKeys(product)
	if err != nil {
		return err
	}
	var keep []string
	for i, pk := range pks {
		if pk.ID != id {
			keep = append(keep, f.Keys[product][i])
		}
	}
	switch {
	case len(keep) == len(pks):
		return fmt.Errorf("%w: %s does not list the key %s", ErrInvalid, product, id)
	case len(keep) == 0:
		return fmt.Errorf("%w: %s would have no key left", ErrInvalid, product)
	}
	f.Keys[product] = keep
	return nil
}

func (f *File) clone() *File {
	g := *f
	g.Keys = map[string][]string{}
	for p, k := range f.Keys {
		g.Keys[p] = slices.Clone(k)
	}
	g.Endorsements = map[string][]string{}
	for p, e := range f.Endorsements {
		g.Endorsements[p] = slices.Clone(e)
	}
	return &g
}

func (f *File) validateEndorsements() error {
	for product, es := range f.Endorsements {
		if len(f.Keys[product]) == 0 {
			return fmt.Errorf("%w: endorsements.%s: the product lists no keys", ErrInvalid, product)
		}
		if len(es) > MaxEndorsements {
			return fmt.Errorf("%w: endorsements.%s: more than %d", ErrInvalid, product, MaxEndorsements)
		}
		for i, e := range es {
			if _, _, err := minisign.EndorsedKey(product, e); err != nil {
				return fmt.Errorf("%w: endorsements.%s[%d]: %w", ErrInvalid, product, i, err)
			}
		}
	}
	return nil
}
