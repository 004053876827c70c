package release

import (
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/slipwayhq/slipway/internal/testenv"
	"github.com/slipwayhq/slipway/signing/authenticode"
	"github.com/slipwayhq/slipway/signing/binfmt/binfmttest"
	"github.com/slipwayhq/slipway/signing/p12/p12test"
)

// TestMSIs builds both installers from a tiny Windows program with the real
// wixl, reads their tables back with msiinfo (msitools), and
// Authenticode-signs one with osslsigncode as the release does.
func TestMSIs(t *testing.T) {
	wixl := testenv.Tool(t, "wixl", "scripts/tools.sh apt")
	msiinfo := testenv.Tool(t, "msiinfo", "scripts/tools.sh apt")
	ossl := testenv.Tool(t, "osslsigncode", "scripts/tools.sh apt")
	bins := binfmttest.NewBuilder()
	t.Cleanup(bins.Cleanup)
	exe := bins.Copy(t, "windows", "amd64")
	d := &Dist{Dir: t.TempDir()}
	d.Metadata.ProjectName, d.Metadata.Version, d.Metadata.Date = "slipway", "1.4.0-rc.1", time.Unix(0, 0)
	table := func(msi, name string) string {
		t.Helper()
		out, err := exec.Command(msiinfo, "export", msi, name).CombinedOutput()
		if err != nil {
			t.Fatalf("msiinfo export %s: %v\n%s", name, err, out)
		}
		return strings.ReplaceAll(string(out), "\r\n", "\n") // msiinfo writes CRLF
	}
	msis := map[string]string{}
	for _, product := range []string{"agent", "desktop"} {
		a := msiArtifact(d, product)
		if err := buildMSI(t.Context(), wixl, d, a, exe); err != nil {
			t.Fatal(err)
		}
		msi := filepath.Join(d.Dir, a.Name)
		msis[product] = msi
		if a.Name != "slipway-"+product+"_1.4.0-rc.1_windows_amd64.msi" || a.Goos != "windows" || a.Extra.Format != "msi" {
			t.Errorf("artifact %+v", a)
		}
		props := table(msi, "Property")
		code := map[string]string{"agent": agentUpgradeCode, "desktop": desktopUpgradeCode}[product]
		for _, want := range []string{"ALLUSERS\t1\n", "ProductVersion\t1.4.0\n", "UpgradeCode\t{" + code + "}\n"} {
			if !strings.Contains(props, want) {
				t.Errorf("%s Property table lacks %q:\n%s", product, want, props)
			}
		}
		if up := table(msi, "Upgrade"); !strings.Contains(strings.ToLower(up), strings.ToLower(code)) || !strings.Contains(up, "WIX_UPGRADE_DETECTED") {
			t.Errorf("%s Upgrade table (major upgrades):\n%s", product, up)
		}
		if files := table(msi, "File"); !strings.Contains(files, "slipway-"+product+".exe") && !strings.Contains(files, filepath.Base(exe)) {
			t.Errorf("%s File table:\n%s", product, files)
		}
	}
	agent := msis["agent"]
	// Service "slipway-agent": own process (16), automatic start (2),
	// arguments "run"; started on install, stopped on install and
	// uninstall, removed on uninstall (163 = 1|2|32|128).
	if svc := table(agent, "ServiceInstall"); !strings.Contains(svc, "\tslipway-agent\tSlipway agent\t16\t2\t1\t") || !strings.Contains(svc, "\trun\tMain\t") {
		t.Errorf("ServiceInstall:\n%s", svc)
	}
	// Recovery actions: the installed agent runs `service-recovery` as
	// LocalSystem, deferred (18 exe file + 64 ignore exit code + 1024
	// deferred + 2048 no impersonation), after the service is installed,
	// except on uninstall.
	if ca := table(agent, "CustomAction"); !strings.Contains(ca, "ServiceRecovery\t3154\tExe\tservice-recovery") {
		t.Errorf("CustomAction:\n%s", ca)
	}
	seq := table(agent, "InstallExecuteSequence")
	if !strings.Contains(seq, "ServiceRecovery\tNOT REMOVE\t") || sequenceOf(t, seq, "ServiceRecovery") <= sequenceOf(t, seq, "InstallServices") ||
		sequenceOf(t, seq, "ServiceRecovery") >= sequenceOf(t, seq, "InstallFinalize") {
		t.Errorf("InstallExecuteSequence:\n%s", seq)
	}
	if ca := table(msis["desktop"], "CustomAction"); strings.Contains(ca, "ServiceRecovery") {
		t.Errorf("desktop MSI has the agent's custom action:\n%s", ca)
	}
	if ctl := table(agent, "ServiceControl"); !strings.Contains(ctl, "\tslipway-agent\t163\t\t1\tMain") {
		t.Errorf("ServiceControl:\n%s", ctl)
	}
	// msiexec /i slipway-agent.msi SLIPWAYSERVER=https://… PROVISIONINGSECRET=…
	// lands in the service's environment, and the secret stays out of logs.
	if reg := table(agent, "Registry"); !strings.Contains(reg, `SYSTEM\CurrentControlSet\Services\slipway-agent	Environment	[~]SLIPWAY_SERVER=[SLIPWAYSERVER][~]SLIPWAY_PROVISIONING_SECRET=[PROVISIONINGSECRET][~]`) {
		t.Errorf("Registry:\n%s", reg)
	}
	if props := table(agent, "Property"); !strings.Contains(props, "MsiHiddenProperties\tPROVISIONINGSECRET\n") {
		t.Errorf("the provisioning secret is not hidden from logs:\n%s", props)
	}
	if sc := table(msis["desktop"], "Shortcut"); !strings.Contains(sc, "StartMenu\tProgramMenuFolder\tSlipway\tMain\t[INSTALLDIR]") {
		t.Errorf("desktop Start menu shortcut:\n%s", sc)
	}
	if out, err := exec.Command(msiinfo, "suminfo", agent).CombinedOutput(); err != nil || !strings.Contains(string(out), "Template: x64;1033") {
		t.Errorf("suminfo (64-bit package): %v\n%s", err, out)
	}

	pki := p12test.New(t, []byte("pw"), p12test.Options{})
	s := authenticode.New(pki.P12, []byte("pw"), authenticode.Options{CAFile: pki.CAPEM})
	if _, err := s.Sign(t.Context(), agent); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(ossl, "verify", "-CAfile", pki.CAPEM, "-in", agent).CombinedOutput(); err != nil {
		t.Fatalf("osslsigncode verify: %v\n%s", err, out)
	}
	if svc := table(agent, "ServiceInstall"); !strings.Contains(svc, "slipway-agent") {
		t.Error("signing broke the installer's tables")
	}
}

// sequenceOf returns the sequence number of action in an exported
// *Sequence table (Action, Condition, Sequence).
func sequenceOf(t *testing.T, table, action string) int {
	t.Helper()
	for _, line := range strings.Split(table, "\n") {
		f := strings.Split(line, "\t")
		if len(f) == 3 && f[0] == action {
			n, err := strconv.Atoi(f[2])
			if err != nil {
				t.Fatalf("sequence of %s: %q", action, f[2])
			}
			return n
		}
	}
	t.Fatalf("no %s in\n%s", action, table)
	return 0
}
