package repo

import (
	"context"
	"crypto/ed25519"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/theupdateframework/go-tuf/v2/metadata"
)

// Roles whose key RotateKey replaces.
const (
	RoleRoot    = "root"
	RoleTargets = "targets"
	RoleOnline  = "online" // snapshot + timestamp
)

// RotateKey replaces the key of role with a fresh one: it writes root
// version N+1 naming the new key, signed by the current root keys (and,
// for the root role, by the new key too, as clients require), then
// re-signs the affected metadata with the new key. The old key file is
// kept as <file>.retired-<unix time>; keysDir must hold the current root
// key(s) and the key being rotated. Clients follow the new root on their
// next refresh (they walk 1.root.json, 2.root.json, ...).
func (r *Repo) RotateKey(ctx context.Context, keysDir, role string, now time.Time) error {
	keys, err := LoadKeys(keysDir)
	if err != nil {
		return err
	}
	if len(keys.Root) == 0 {
		return fmt.Errorf("rotate %s: %w (root keys in %s)", role, ErrNoKey, keysDir)
	}
	newSigner, priv, err := GenerateKey()
	if err != nil {
		return err
	}
	root := r.Root
	oldRootKeys := keys.Root
	var tufRoles []string
	var file string
	switch role {
	case RoleTargets:
		tufRoles, file = []string{metadata.TARGETS}, filepath.Join(keysDir, TargetsKeyFile)
	case RoleOnline:
		tufRoles, file = []string{metadata.SNAPSHOT, metadata.TIMESTAMP}, filepath.Join(keysDir, OnlineKeyFile)
	case RoleRoot:
		if len(keys.Root) != 1 {
			return fmt.Errorf("rotate root: only single-key roots are rotated by this command (have %d keys)", len(keys.Root))
		}
		tufRoles, file = []string{metadata.ROOT}, filepath.Join(keysDir, fmt.Sprintf(rootKeyPattern, 1))
	default:
		return fmt.Errorf("rotate: unknown role %q (want root, targets or online)", role)
	}
	for _, tr := range tufRoles {
		for _, id := range append([]string(nil), root.Signed.Roles[tr].KeyIDs...) {
			if err := root.Signed.RevokeKey(id, tr); err != nil {
				return fmt.Errorf("revoke %s key: %w", tr, err)
			}
		}
		if err := root.Signed.AddKey(newSigner.Key, tr); err != nil {
			return err
		}
	}
	root.Signed.Version++
	root.Signed.Expires = now.Add(r.opts.RootExpiry).UTC()
	root.ClearSignatures()
	signers := oldRootKeys
	if role == RoleRoot {
		signers = append(signers, newSigner)
	}
	for _, s := range signers {
		if _, err := root.Sign(s); err != nil {
			return fmt.Errorf("sign root: %w", err)
		}
	}
	if err := r.putRoot(ctx); err != nil {
		return err
	}
	if err := replaceKey(file, priv, now); err != nil {
		return fmt.Errorf("root v%d written but the new key was not saved: %w", root.Signed.Version, err)
	}
	// Re-sign with the new keys so clients see metadata signed by them.
	if keys, err = LoadKeys(keysDir); err != nil {
		return err
	}
	switch role {
	case RoleTargets:
		if keys.Online == nil {
			return fmt.Errorf("re-sign targets: %w (online key)", ErrNoKey)
		}
		return r.publish(ctx, keys, now, true)
	case RoleOnline:
		return r.resignSnapshot(ctx, keys.Online, now)
	}
	return nil
}

func replaceKey(path string, priv ed25519.PrivateKey, now time.Time) error {
	if _, err := os.Stat(path); err == nil {
		if err := os.Rename(path, path+".retired-"+strconv.FormatInt(now.Unix(), 10)); err != nil {
			return err
		}
	}
	return writeKey(path, priv)
}
