package repo

import (
	"crypto/ed25519"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/sigstore/sigstore/pkg/signature"
	"github.com/theupdateframework/go-tuf/v2/metadata"
)

// Key files in a keys directory (PKCS#8 PEM, mode 0600). Root keys are
// numbered (tuf-root-1.key ... tuf-root-N.key) for a threshold of N.
const (
	TargetsKeyFile = "tuf-targets.key"
	OnlineKeyFile  = "tuf-online.key" // signs snapshot and timestamp; the server holds it
	rootKeyPattern = "tuf-root-%d.key"
)

// MaxRootKeys bounds how many root key files are read.
const MaxRootKeys = 16

// Signer is one ed25519 TUF signing key.
type Signer struct {
	signature.Signer
	Key *metadata.Key // public key in TUF form
	ID  string        // TUF key id
}

func newSigner(priv ed25519.PrivateKey) (*Signer, error) {
	sv, err := signature.LoadED25519SignerVerifier(priv)
	if err != nil {
		return nil, err
	}
	k, err := metadata.KeyFromPublicKey(priv.Public())
	if err != nil {
		return nil, err
	}
	id, err := k.ID()
	if err != nil {
		return nil, err
	}
	return &Signer{Signer: sv, Key: k, ID: id}, nil
}

// GenerateKey creates a fresh ed25519 key.
func GenerateKey() (*Signer, ed25519.PrivateKey, error) {
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, nil, err
	}
	s, err := newSigner(priv)
	return s, priv, err
}

// writeKey writes priv to path with mode 0600, refusing to overwrite.
func writeKey(path string, priv ed25519.PrivateKey) error {
	der, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		return err
	}
	data := pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return err
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return fmt.Errorf("write key: %w", err)
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// LoadKey reads one key file.
func LoadKey(path string) (*Signer, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	if len(data) > 16<<10 {
		return nil, fmt.Errorf("%s: key file too large", path)
	}
	block, _ := pem.Decode(data)
	if block == nil || block.Type != "PRIVATE KEY" {
		return nil, fmt.Errorf("%s: not a PKCS#8 PEM private key", path)
	}
	k, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	priv, ok := k.(ed25519.PrivateKey)
	if !ok {
		return nil, fmt.Errorf("%s: not an ed25519 key", path)
	}
	return newSigner(priv)
}

// Keys are the signing keys a caller holds. Any may be nil: the server
// only holds Online, `slipway apply` holds Targets and Online, and root
// keys are only needed to create or rotate the root.
type Keys struct {
	Root    []*Signer
	Targets *Signer
	Online  *Signer
}

// LoadKeys reads whatever key files exist in dir.
func LoadKeys(dir string) (*Keys, error) {
	k := &Keys{}
	for i := 1; i <= MaxRootKeys; i++ {
		s, err := LoadKey(filepath.Join(dir, fmt.Sprintf(rootKeyPattern, i)))
		if errors.Is(err, os.ErrNotExist) {
			break
		}
		if err != nil {
			return nil, err
		}
		k.Root = append(k.Root, s)
	}
	var err error
	if k.Targets, err = loadOptional(filepath.Join(dir, TargetsKeyFile)); err != nil {
		return nil, err
	}
	if k.Online, err = loadOptional(filepath.Join(dir, OnlineKeyFile)); err != nil {
		return nil, err
	}
	return k, nil
}

func loadOptional(path string) (*Signer, error) {
	s, err := LoadKey(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	return s, err
}

// EnsureKeys generates any missing key file in dir (n root keys, targets,
// online) and returns all keys. Existing files are reused.
func EnsureKeys(dir string, n int) (*Keys, error) {
	if n < 1 || n > MaxRootKeys {
		return nil, fmt.Errorf("root keys: %d not in 1..%d", n, MaxRootKeys)
	}
	paths := []string{filepath.Join(dir, TargetsKeyFile), filepath.Join(dir, OnlineKeyFile)}
	for i := 1; i <= n; i++ {
		paths = append(paths, filepath.Join(dir, fmt.Sprintf(rootKeyPattern, i)))
	}
	for _, p := range paths {
		if _, err := os.Stat(p); err == nil {
			continue
		}
		_, priv, err := GenerateKey()
		if err != nil {
			return nil, err
		}
		if err := writeKey(p, priv); err != nil {
			return nil, err
		}
	}
	return LoadKeys(dir)
}
