package keyring

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/slipwayhq/slipway/signing"
	"github.com/slipwayhq/slipway/signing/minisign"
)

// Key kinds that Generate and EnsureDevKeys know.
const (
	KindCosign   = "cosign"
	KindMinisign = "minisign"
)

// File modes of generated keys.
const (
	SecretKeyMode = 0o600
	PublicKeyMode = 0o644
	keyDirMode    = 0o700
)

// KeyFiles are the two files of a key pair.
type KeyFiles struct {
	Kind   string
	Secret string
	Public string
}

// GenerateOptions tunes Generate. The zero value is safe.
type GenerateOptions struct {
	// Force overwrites existing key files. Default: refuse.
	Force bool
	// Unencrypted writes a minisign key without any encryption (the
	// minisign -W form) when the password is empty. Default: scrypt with
	// the empty password, the form `tauri signer generate --ci` writes and
	// the only password-less key `tauri signer sign` 2.12 accepts.
	Unencrypted bool
}

// generators makes key pairs by kind; one line per backend.
var generators = map[string]func(password []byte, opts GenerateOptions) (secret, public []byte, err error){
	KindCosign:   func(pw []byte, _ GenerateOptions) ([]byte, []byte, error) { return generateCosign(pw) },
	KindMinisign: generateMinisign,
}

// Kinds lists the key kinds Generate knows, sorted.
func Kinds() []string { return []string{KindCosign, KindMinisign} }

// Files returns where Generate puts a kind's key pair in dir.
func Files(kind, dir string) KeyFiles {
	return KeyFiles{Kind: kind, Secret: filepath.Join(dir, kind+".key"), Public: filepath.Join(dir, kind+".pub")}
}

func generateMinisign(password []byte, opts GenerateOptions) ([]byte, []byte, error) {
	sk, pk, err := minisign.GenerateKeyWithOptions(password, minisign.KeyOptions{ScryptEmptyPassword: !opts.Unencrypted})
	if err != nil {
		return nil, nil, err
	}
	return sk.Encode(), pk.Encode(), nil
}

// Generate writes a new key pair of the given kind into dir as
// <kind>.key (mode 0600) and <kind>.pub, refusing to overwrite unless
// opts.Force.
func Generate(kind, dir string, password []byte, opts GenerateOptions) (KeyFiles, error) {
	gen, ok := generators[kind]
	if !ok {
		return KeyFiles{}, fmt.Errorf("unknown key kind %q (want one of %v)", kind, Kinds())
	}
	files := Files(kind, dir)
	if !opts.Force {
		for _, p := range []string{files.Secret, files.Public} {
			if _, err := os.Lstat(p); err == nil {
				return KeyFiles{}, fmt.Errorf("%s key %s: %w (use --force to replace it)", kind, p, fs.ErrExist)
			}
		}
	}
	secret, public, err := gen(password, opts)
	if err != nil {
		return KeyFiles{}, fmt.Errorf("generate %s key: %w", kind, err)
	}
	defer clear(secret)
	if err := os.MkdirAll(dir, keyDirMode); err != nil {
		return KeyFiles{}, fmt.Errorf("%s key: %w", kind, err)
	}
	if err := signing.WriteFileAtomic(files.Secret, secret, SecretKeyMode); err != nil {
		return KeyFiles{}, fmt.Errorf("%s key: %w", kind, err)
	}
	if err := signing.WriteFileAtomic(files.Public, public, PublicKeyMode); err != nil {
		return KeyFiles{}, fmt.Errorf("%s key: %w", kind, err)
	}
	return files, nil
}

// EnsureDevKeys makes sure dir holds a cosign and a minisign key pair for
// development and tests, generating the missing ones with an empty
// password, and returns a Config that uses them. Existing pairs are reused
// (and must load with the empty password); a secret key whose public half
// is missing, or the reverse, is an error rather than silently replaced.
func EnsureDevKeys(dir string) (Config, error) {
	c := Config{CosignPassword: Secret{}, MinisignPassword: Secret{}}
	for _, kind := range Kinds() {
		files := Files(kind, dir)
		switch have, err := pairState(files); {
		case err != nil:
			return Config{}, err
		case !have:
			if _, err := Generate(kind, dir, nil, GenerateOptions{}); err != nil {
				return Config{}, err
			}
		case have:
			if err := os.Chmod(files.Secret, SecretKeyMode); err != nil {
				return Config{}, fmt.Errorf("%s key %s: %w", kind, files.Secret, err)
			}
		}
		switch kind {
		case KindCosign:
			c.CosignKey = files.Secret
		case KindMinisign:
			c.MinisignKey = files.Secret
		}
	}
	if _, err := c.ArtifactSigners(); err != nil {
		return Config{}, fmt.Errorf("dev keys in %s: %w", dir, err)
	}
	return c, nil
}

// pairState reports whether both files of a pair exist; exactly one is an error.
func pairState(files KeyFiles) (bool, error) {
	_, errS := os.Stat(files.Secret)
	_, errP := os.Stat(files.Public)
	for _, err := range []error{errS, errP} {
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			return false, fmt.Errorf("%s key: %w", files.Kind, err)
		}
	}
	if (errS == nil) != (errP == nil) {
		return false, fmt.Errorf("%s key pair in %s is incomplete (one of %s, %s is missing); remove the other to regenerate",
			files.Kind, filepath.Dir(files.Secret), filepath.Base(files.Secret), filepath.Base(files.Public))
	}
	return errS == nil, nil
}
