package client

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/slipwayhq/slipway/signing/minisign"
)

// Release-key changes. The signed TUF target of an offer may announce the
// minisign keys its product is signed with (custom "keys") and the
// endorsements that link a new key to an old one (custom
// "endorsements"). The client accepts an artifact signature by a key that
// is announced AND that it trusts: the key it was built with, or the keys
// it learned, or a key an endorsement chain leads to from those. During a
// key change's overlap both keys are announced and either verifies; once
// the old key is no longer announced only the new one does. A key that is
// announced without an endorsement from a trusted key is never accepted,
// so whoever can sign update metadata still cannot introduce a release key.

// releaseKeysFile holds the keys learned from signed metadata.
const releaseKeysFile = "release-keys.json"

// maxAnnounced bounds the keys and endorsements taken from one target.
const maxAnnounced = 16

type releaseKeys struct {
	Keys []string `json:"keys"`
}

// trustedKeys returns the keys learned from signed metadata (the last
// announced set that verified an artifact), or the built-in key.
func (c *Client) trustedKeys() []*minisign.PublicKey {
	path := filepath.Join(c.cfg.StateDir, releaseKeysFile)
	data, err := os.ReadFile(path)
	if err != nil || len(data) > 64<<10 {
		return []*minisign.PublicKey{c.cfg.MinisignKey}
	}
	var rk releaseKeys
	var out []*minisign.PublicKey
	if err := json.Unmarshal(data, &rk); err == nil {
		for _, k := range rk.Keys {
			if pk, err := minisign.ParsePublicKey([]byte(k)); err == nil {
				out = append(out, pk)
			}
		}
	}
	if len(out) == 0 {
		c.cfg.Logger.Warn("learned release keys unreadable; using the built-in key", "path", path)
		return []*minisign.PublicKey{c.cfg.MinisignKey}
	}
	return out
}

// acceptedKeys returns the keys a signature of o may be made with.
func (c *Client) acceptedKeys(o *Offer) ([]*minisign.PublicKey, error) {
	trusted := c.trustedKeys()
	if len(o.keys) == 0 {
		return trusted, nil
	}
	if len(o.keys) > maxAnnounced || len(o.endorsements) > maxAnnounced {
		return nil, fmt.Errorf("%w: target announces more than %d keys or endorsements", ErrBadSignature, maxAnnounced)
	}
	closure := minisign.EndorsementClosure(trusted, c.cfg.Product, o.endorsements)
	var out []*minisign.PublicKey
	for _, k := range o.keys {
		pk, err := minisign.ParsePublicKey([]byte(k))
		if err != nil {
			return nil, fmt.Errorf("%w: announced key: %w", ErrBadSignature, err)
		}
		if slices.ContainsFunc(closure, func(t *minisign.PublicKey) bool { return t.ID == pk.ID && t.Key.Equal(pk.Key) }) {
			out = append(out, pk)
		} else {
			c.cfg.Logger.Warn("announced release key not endorsed by a trusted key; ignored",
				"product", c.cfg.Product, "key", pk.ID.String())
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%w: none of the announced release keys is trusted or endorsed by a trusted key", ErrBadSignature)
	}
	return out, nil
}

// learnKeys records the accepted announced keys after they verified an
// artifact, so the next check starts from them (and an old key no longer
// announced stays retired).
func (c *Client) learnKeys(keys []*minisign.PublicKey) error {
	rk := releaseKeys{}
	for _, k := range keys {
		rk.Keys = append(rk.Keys, k.String())
	}
	data, err := json.Marshal(rk)
	if err != nil {
		return err
	}
	path := filepath.Join(c.cfg.StateDir, releaseKeysFile)
	if old, err := os.ReadFile(path); err == nil && string(old) == string(data) {
		return nil
	}
	tmp, err := os.CreateTemp(c.cfg.StateDir, "."+releaseKeysFile+"-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}

func keyIDs(keys []*minisign.PublicKey) string {
	ids := make([]string, len(keys))
	for i, k := range keys {
		ids[i] = k.ID.String()
	}
	return strings.Join(ids, ", ")
}
