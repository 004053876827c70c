package channel

import (
	"fmt"
	"slices"

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
	return nil
}

// keysNode encodes Keys with products sorted (a stable diff).
func (f *File) keysNode() (*yaml.Node, error) {
	n := &yaml.Node{Kind: yaml.MappingNode}
	products := make([]string, 0, len(f.Keys))
	for p := range f.Keys {
		products = append(products, p)
	}
	slices.Sort(products)
	for _, p := range products {
		var v yaml.Node
		if err := v.Encode(f.Keys[p]); err != nil {
			return nil, fmt.Errorf("encode keys.%s: %w", p, err)
		}
		n.Content = append(n.Content, scalar(p), &v)
	}
	return n, nil
}
