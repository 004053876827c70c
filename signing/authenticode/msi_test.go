package authenticode_test

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/slipwayhq/slipway/internal/testenv"
	"github.com/slipwayhq/slipway/signing"
	"github.com/slipwayhq/slipway/signing/authenticode"
	"github.com/slipwayhq/slipway/signing/binfmt"
	"github.com/slipwayhq/slipway/signing/binfmt/binfmttest"
	"github.com/slipwayhq/slipway/signing/p12/p12test"
)

const wxs = `<?xml version="1.0" encoding="utf-8"?>
<Wix xmlns="http://schemas.microsoft.com/wix/2006/wi">
  <Product Id="*" Name="Slipway Test" Language="1033" Version="1.0.0" Manufacturer="Slipway Tests"
           UpgradeCode="5a1e0d4e-6a43-4c39-9a39-2f4f0b3a9d01">
    <Package InstallerVersion="200" Compressed="yes" />
    <Media Id="1" Cabinet="app.cab" EmbedCab="yes" />
    <Directory Id="TARGETDIR" Name="SourceDir">
      <Directory Id="ProgramFilesFolder">
        <Directory Id="INSTALLDIR" Name="SlipwayTest">
          <Component Id="Main" Guid="5a1e0d4e-6a43-4c39-9a39-2f4f0b3a9d02">
            <File Id="HelloExe" Source="hello.exe" />
          </Component>
        </Directory>
      </Directory>
    </Directory>
    <Feature Id="Complete" Level="1"><ComponentRef Id="Main" /></Feature>
  </Product>
</Wix>
`

// buildMSI packages the tiny Windows program into an installer with wixl.
func buildMSI(t *testing.T) string {
	t.Helper()
	wixl := testenv.Tool(t, "wixl", "scripts/tools.sh apt")
	dir := t.TempDir()
	if err := binfmttest.CopyFile(filepath.Join(dir, "hello.exe"), bins.Copy(t, "windows", "amd64")); err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(dir, "hello.wxs"), []byte(wxs))
	cmd := exec.CommandContext(t.Context(), wixl, "-o", "hello.msi", "hello.wxs")
	cmd.Dir = dir
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("wixl: %v: %s", err, out)
	}
	msi := filepath.Join(t.TempDir(), "hello.msi")
	if err := binfmttest.CopyFile(msi, filepath.Join(dir, "hello.msi")); err != nil {
		t.Fatal(err)
	}
	return msi
}

func TestSignMSI(t *testing.T) {
	tool := osslsigncode(t)
	msi := buildMSI(t)
	if f, err := binfmt.DetectFile(msi); err != nil || f != binfmt.MSI {
		t.Fatalf("DetectFile = %v, %v; want msi", f, err)
	}
	pki := p12test.New(t, []byte("pw"), p12test.Options{})
	s := authenticode.New(pki.P12, []byte("pw"), authenticode.Options{Tool: tool, CAFile: pki.CAPEM})
	if _, err := s.Sign(t.Context(), msi); err != nil {
		t.Fatalf("Sign: %v", err)
	}
	if err := refVerify(t, tool, pki.CAPEM, msi); err != nil {
		t.Fatalf("osslsigncode verify rejected the signed MSI: %v", err)
	}
	if err := s.Verify(t.Context(), msi); err != nil {
		t.Fatalf("Verify: %v", err)
	}
	st, err := os.Stat(msi)
	if err != nil {
		t.Fatal(err)
	}
	// Flip a byte inside the embedded cabinet, far from the header.
	binfmttest.FlipByte(t, msi, st.Size()/2)
	if refVerify(t, tool, pki.CAPEM, msi) == nil {
		t.Error("osslsigncode verify accepted a tampered MSI")
	}
	if err := s.Verify(t.Context(), msi); !errors.Is(err, signing.ErrBadSignature) {
		t.Errorf("Verify(tampered) = %v, want ErrBadSignature", err)
	}
}
