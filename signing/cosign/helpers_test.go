package cosign

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/slipwayhq/slipway/internal/testenv"
)

// fixtureDir holds the interop cosign fixtures (SPEC.md §3.6), a
// throw-away key with the password below.
var fixtureDir = filepath.Join(testenv.RepoRoot(), "testdata", "interop", "cosign")

const (
	fixturePassword = "fixture-password"
	testPassword    = "correct horse battery staple"
)

// testKeys is one generated key pair shared by the tests: every decryption
// runs scrypt with N=2^16, which is slow under -race.
var testKeys = sync.OnceValues(func() ([2][]byte, error) {
	priv, pub, err := GenerateKeyPair([]byte(testPassword))
	return [2][]byte{priv, pub}, err
})

var testSignerOnce = sync.OnceValues(func() (*Signer, error) {
	k, err := testKeys()
	if err != nil {
		return nil, err
	}
	return New(k[0], []byte(testPassword), Options{})
})

// fixtureKey is the SPEC fixture key, loaded from its file once.
var fixtureKey = sync.OnceValues(func() (*PrivateKey, error) {
	return LoadPrivateKeyFile(filepath.Join(fixtureDir, "cosign.key"), []byte(fixturePassword))
})

func keyPair(t *testing.T) (privPEM, pubPEM []byte) {
	t.Helper()
	k, err := testKeys()
	if err != nil {
		t.Fatal(err)
	}
	return k[0], k[1]
}

func testSigner(t *testing.T) *Signer {
	t.Helper()
	s, err := testSignerOnce()
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func readFile(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func writeFile(t *testing.T, path string, data []byte) string {
	t.Helper()
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// artifact writes a small artifact into a fresh directory.
func artifact(t *testing.T, content string) string {
	t.Helper()
	return writeFile(t, filepath.Join(t.TempDir(), "slipway-agent_1.2.3_linux_amd64.tar.gz"), []byte(content))
}

// cosignCLI is the pinned real cosign binary (scripts/tools.sh cosign).
type cosignCLI struct {
	t    *testing.T
	bin  string
	home string
}

func newCosignCLI(t *testing.T) *cosignCLI {
	t.Helper()
	return &cosignCLI{t: t, bin: testenv.Tool(t, "cosign", "scripts/tools.sh cosign"), home: t.TempDir()}
}

// run runs cosign with an empty HOME (no TUF cache). SIGSTORE_REKOR_PUBLIC_KEY
// is set so that `verify-blob --signature` does not try to fetch Sigstore's
// trusted root over the network (it is unused with --insecure-ignore-tlog).
func (c *cosignCLI) run(password string, args ...string) (string, error) {
	c.t.Helper()
	cmd := exec.CommandContext(c.t.Context(), c.bin, args...)
	cmd.Env = append(os.Environ(), "HOME="+c.home, "TUF_ROOT="+filepath.Join(c.home, "tuf"),
		"SIGSTORE_REKOR_PUBLIC_KEY="+filepath.Join(c.home, "unused-rekor.pub"),
		"COSIGN_PASSWORD="+password)
	cmd.Stdin = strings.NewReader("")
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	return out.String(), err
}

// trustedRoot writes the empty Sigstore trusted root that cosign needs to
// verify a new-format bundle with a key offline (no CAs, logs or TSAs).
func trustedRoot(t *testing.T) string {
	t.Helper()
	return writeFile(t, filepath.Join(t.TempDir(), "trusted_root.json"),
		[]byte(`{"mediaType":"application/vnd.dev.sigstore.trustedroot+json;version=0.1"}`))
}

// verifyBlob runs the two offline cosign verifications of an artifact:
// the detached .cosign.sig and the Sigstore bundle.
func (c *cosignCLI) verifyBlob(pubPath, path string) (out string, sigErr, bundleErr error) {
	c.t.Helper()
	o1, sigErr := c.run("", "verify-blob", "--key", pubPath, "--signature", path+".cosign.sig",
		"--insecure-ignore-tlog=true", path)
	o2, bundleErr := c.run("", "verify-blob", "--key", pubPath, "--bundle", path+".sigstore.json",
		"--new-bundle-format", "--trusted-root", trustedRoot(c.t), "--insecure-ignore-tlog=true", path)
	return o1 + o2, sigErr, bundleErr
}
