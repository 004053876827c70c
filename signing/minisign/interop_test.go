package minisign

import (
	"bytes"
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"github.com/slipwayhq/slipway/internal/testenv"
	"github.com/slipwayhq/slipway/signing"
)

const (
	minisignHint = "apt-get install minisign, or scripts/tools.sh apt"
	tauriHint    = "scripts/tools.sh tauri (npm @tauri-apps/cli)"
	// cheap KDF cost for keys generated only for a test
	testOps, testMem = 32768, 1 << 20
)

// keyFiles writes a Slipway key pair into dir and returns the paths.
func keyFiles(t *testing.T, dir string, sk *SecretKey, pk *PublicKey) (skPath, pkPath string) {
	t.Helper()
	skPath, pkPath = filepath.Join(dir, "slipway.key"), filepath.Join(dir, "slipway.pub")
	writeFile(t, skPath, sk.Encode())
	writeFile(t, pkPath, pk.Encode())
	return skPath, pkPath
}

// signFile signs path with sk like the Signer does and returns the .minisig path.
func signFile(t *testing.T, sk *SecretKey, path, version string) string {
	t.Helper()
	s, err := New(sk, Options{Version: version})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Sign(t.Context(), path); err != nil {
		t.Fatal(err)
	}
	return path + signing.MinisigExt
}

// TestMinisignCLIVerifiesSlipway: Debian's minisign accepts Slipway's
// signatures with the key file (-p) and the bare key (-P), and rejects
// every tampered variant.
func TestMinisignCLIVerifiesSlipway(t *testing.T) {
	ms := testenv.Tool(t, "minisign", minisignHint)
	for _, pw := range []string{"", "pw"} {
		t.Run("password="+pw, func(t *testing.T) {
			dir := t.TempDir()
			sk, pk, err := GenerateKeyWithOptions([]byte(pw), KeyOptions{OpsLimit: testOps, MemLimit: testMem})
			if err != nil {
				t.Fatal(err)
			}
			_, pkPath := keyFiles(t, dir, sk, pk)
			art := filepath.Join(dir, "MyApp_1.2.3_x64-setup.exe")
			writeFile(t, art, bytes.Repeat([]byte("MZ artifact "), 5000))
			sigPath := signFile(t, sk, art, "1.2.3")
			out := mustRun(t, nil, "", ms, "-Vm", art, "-p", pkPath)
			if !strings.Contains(out, "version:1.2.3") {
				t.Errorf("minisign did not show the trusted comment: %s", out)
			}
			mustRun(t, nil, "", ms, "-Vm", art, "-P", pk.String())
			mustRun(t, nil, "", ms, "-H", "-Vm", art, "-P", pk.String()) // -H: require prehashed
			assertMinisignRejectsTampering(t, ms, art, sigPath, pk)
		})
	}
}

// assertMinisignRejectsTampering flips one byte of the artifact, the
// signature, the key id and the trusted comment; minisign and Slipway
// must both reject each.
func assertMinisignRejectsTampering(t *testing.T, ms, art, sigPath string, pk *PublicKey) {
	t.Helper()
	data, sigText := readFile(t, art), readFile(t, sigPath)
	sig, err := ParseSignature(sigText)
	if err != nil {
		t.Fatal(err)
	}
	line2Start := bytes.IndexByte(sigText, '\n') + 1
	keyIDSig := *sig
	keyIDSig.KeyID[3] ^= 1
	tcSig := *sig
	tcSig.TrustedComment = strings.Replace(tcSig.TrustedComment, "1.2.3", "1.2.4", 1)
	cases := []struct {
		name      string
		data, sig []byte
	}{
		{"artifact byte", flip(data, len(data)/2), sigText},
		{"signature byte", data, flip(sigText, line2Start+40)},
		{"key id", data, keyIDSig.Encode()},
		{"trusted comment", data, tcSig.Encode()},
		{"global signature byte", data, flip(sigText, len(sigText)-10)},
	}
	dir := t.TempDir()
	for _, c := range cases {
		a, s := filepath.Join(dir, "a"), filepath.Join(dir, "a.minisig")
		writeFile(t, a, c.data)
		writeFile(t, s, c.sig)
		if out, err := run(t, nil, "", ms, "-Vm", a, "-x", s, "-P", pk.String()); err == nil {
			t.Errorf("%s: minisign accepted a tampered signature: %s", c.name, out)
		}
		if _, err := NewVerifier(pk, VerifierOptions{}).VerifyFile(t.Context(), a); !errors.Is(err, signing.ErrBadSignature) {
			t.Errorf("%s: Slipway: err = %v, want ErrBadSignature", c.name, err)
		}
	}
}

// TestMinisignCLISignsWithSlipwayKey: `minisign -S` (libsodium scrypt)
// loads Slipway's keys, encrypted and not; Slipway verifies the result.
func TestMinisignCLISignsWithSlipwayKey(t *testing.T) {
	ms := testenv.Tool(t, "minisign", minisignHint)
	cases := []struct {
		name, pw string
		opts     KeyOptions
	}{
		{"unencrypted", "", KeyOptions{}},
		{"password", "pw", KeyOptions{}},
		{"scrypt empty password", "", KeyOptions{ScryptEmptyPassword: true}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir, pw := t.TempDir(), c.pw
			// Default (Tauri) KDF cost, so libsodium derives N=2^15 as we do.
			sk, pk, err := GenerateKeyWithOptions([]byte(pw), c.opts)
			if err != nil {
				t.Fatal(err)
			}
			skPath, _ := keyFiles(t, dir, sk, pk)
			art := filepath.Join(dir, "data.bin")
			writeFile(t, art, []byte("signed by the C tool"))
			mustRun(t, nil, pw+"\n", ms, "-S", "-s", skPath, "-m", art, "-t", "version:7.0.0")
			if _, err := NewVerifier(pk, VerifierOptions{Version: "7.0.0"}).VerifyFile(t.Context(), art); err != nil {
				t.Fatal(err)
			}
			if pw != "" {
				if out, err := run(t, nil, "wrong\n", ms, "-S", "-s", skPath, "-m", art, "-x", art+".2"); err == nil {
					t.Fatalf("minisign accepted a wrong password: %s", out)
				}
			}
		})
	}
}

// TestSlipwayLoadsMinisignCLIKeys: keys made by `minisign -G` load, the
// unencrypted -W kind (all-zero checksum) and the encrypted kind (libsodium
// scrypt with C minisign's sensitive cost, N=2^20: slow, 1 GiB).
func TestSlipwayLoadsMinisignCLIKeys(t *testing.T) {
	ms := testenv.Tool(t, "minisign", minisignHint)
	cases := []struct {
		name string
		args []string
		pw   string
	}{
		{"unencrypted -W", []string{"-W"}, ""},
		{"encrypted", nil, "cli-password"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if c.pw != "" && testing.Short() {
				t.Skip("N=2^20 scrypt in -short mode")
			}
			dir := t.TempDir()
			skPath, pkPath := filepath.Join(dir, "m.key"), filepath.Join(dir, "m.pub")
			mustRun(t, nil, c.pw+"\n"+c.pw+"\n", ms, append([]string{"-G", "-p", pkPath, "-s", skPath}, c.args...)...)
			sk, err := ParseSecretKey(readFile(t, skPath), []byte(c.pw))
			if err != nil {
				t.Fatal(err)
			}
			pk, err := ParsePublicKey(readFile(t, pkPath))
			if err != nil {
				t.Fatal(err)
			}
			if sk.Public().ID != pk.ID || !sk.Public().Key.Equal(pk.Key) {
				t.Fatal("key pair mismatch")
			}
			art := filepath.Join(dir, "f")
			writeFile(t, art, []byte("x"))
			signFile(t, sk, art, "")
			mustRun(t, nil, "", ms, "-Vm", art, "-p", pkPath)
			if c.pw != "" {
				if _, err := ParseSecretKey(readFile(t, skPath), []byte("nope")); !errors.Is(err, signing.ErrWrongPassword) {
					t.Errorf("wrong password: err = %v", err)
				}
			}
		})
	}
}

// TestTauriKeyWorksInSlipway: a key from `tauri signer generate` loads
// (with and without a password), Slipway's signatures verify under the
// Tauri pubkey with VerifyTauri and minisign, and Tauri's own signatures
// verify with Slipway.
func TestTauriKeyWorksInSlipway(t *testing.T) {
	tauri := testenv.Tool(t, "tauri", tauriHint)
	ms := testenv.Tool(t, "minisign", minisignHint)
	for _, pw := range []string{"tauri-pass", ""} {
		t.Run("password="+pw, func(t *testing.T) {
			dir := t.TempDir()
			keyPath := filepath.Join(dir, "tauri.key")
			args := []string{"signer", "generate", "--ci", "-w", keyPath}
			if pw != "" {
				args = append(args, "-p", pw)
			}
			mustRun(t, nil, "", tauri, args...)
			sk, err := ParseSecretKey(readFile(t, keyPath), []byte(pw))
			if err != nil {
				t.Fatal(err)
			}
			// Tauri 2.12 encrypts with scrypt even for an empty password.
			if !sk.Encrypted() {
				t.Error("tauri key loaded as unencrypted")
			}
			if pw != "" {
				if _, err := ParseSecretKey(readFile(t, keyPath), nil); !errors.Is(err, signing.ErrNoPassword) {
					t.Errorf("no password: %v", err)
				}
				if _, err := ParseSecretKey(readFile(t, keyPath), []byte("wrong")); !errors.Is(err, signing.ErrWrongPassword) {
					t.Errorf("wrong password: %v", err)
				}
			}
			pubB64 := readFile(t, keyPath+".pub")
			pk, err := ParsePublicKey(pubB64)
			if err != nil {
				t.Fatal(err)
			}
			art := filepath.Join(dir, "MyApp.app.tar.gz")
			writeFile(t, art, []byte("tarball"))
			signFile(t, sk, art, "3.1.0")
			if _, err := VerifyTauri(pk, bytes.NewReader(readFile(t, art)), string(readFile(t, art+".sig")), "3.1.0"); err != nil {
				t.Fatal(err)
			}
			mustRun(t, nil, "", ms, "-Vm", art, "-P", pk.String())

			// Tauri signs with its key; Slipway verifies.
			tart := filepath.Join(dir, "other.AppImage")
			writeFile(t, tart, []byte("appimage"))
			mustRun(t, []string{"TAURI_SIGNING_PRIVATE_KEY_PASSWORD=" + pw}, "", tauri,
				"signer", "sign", "-f", keyPath, "--app-version", "3.1.0", tart)
			sigB64 := string(readFile(t, tart+".sig"))
			if _, err := VerifyTauri(pk, bytes.NewReader(readFile(t, tart)), sigB64, "3.1.0"); err != nil {
				t.Fatal(err)
			}
			_, err = VerifyTauri(pk, bytes.NewReader(readFile(t, tart)), sigB64, "3.0.9")
			if !errors.Is(err, ErrSignedVersionMismatch) {
				t.Fatalf("announced other version: err = %v", err)
			}
		})
	}
}

// TestTauriSignsWithSlipwayKey: `tauri signer sign` accepts Slipway keys
// (protected and not) from TAURI_SIGNING_PRIVATE_KEY, and its output
// verifies with Slipway and minisign. The password-less key is the
// scrypt-with-empty-password form, the only one Tauri 2.12 loads.
func TestTauriSignsWithSlipwayKey(t *testing.T) {
	tauri := testenv.Tool(t, "tauri", tauriHint)
	ms := testenv.Tool(t, "minisign", minisignHint)
	for _, pw := range []string{"slipway-pass", ""} {
		t.Run("password="+pw, func(t *testing.T) {
			dir := t.TempDir()
			sk, pk, err := GenerateKeyWithOptions([]byte(pw), KeyOptions{ScryptEmptyPassword: true})
			if err != nil {
				t.Fatal(err)
			}
			if _, err := ParseSecretKey(sk.Encode(), nil); (pw == "") != (err == nil) {
				t.Fatalf("load without password: %v", err)
			}
			art := filepath.Join(dir, "MyApp_1.0.0_amd64.deb")
			writeFile(t, art, []byte("debian package"))
			env := []string{"TAURI_SIGNING_PRIVATE_KEY=" + sk.Tauri(), "TAURI_SIGNING_PRIVATE_KEY_PASSWORD=" + pw}
			mustRun(t, env, "", tauri, "signer", "sign", "--app-version", "1.0.0", art)
			sigB64 := string(readFile(t, art+".sig"))
			sig, err := VerifyTauri(pk, bytes.NewReader(readFile(t, art)), sigB64, "1.0.0")
			if err != nil {
				t.Fatal(err)
			}
			writeFile(t, art+".minisig", sig.Encode())
			mustRun(t, nil, "", ms, "-Vm", art, "-P", pk.String())
			if pw != "" {
				env[1] = "TAURI_SIGNING_PRIVATE_KEY_PASSWORD=wrong"
				if out, err := run(t, env, "", tauri, "signer", "sign", art); err == nil {
					t.Fatalf("tauri accepted a wrong password: %s", out)
				}
			}
		})
	}
}
