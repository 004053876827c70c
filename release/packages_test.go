package release

import (
	"bufio"
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/slipwayhq/slipway/internal/testenv"
)

// The Linux packages GoReleaser's nfpm built in the shared run, inspected
// with each ecosystem's own tool: dpkg-deb, rpm, and tar for the apk (no
// apk-tools in Debian 12; an .apk is concatenated gzip'd tar streams).

// pkgFile is what every package of a product must install.
type pkgFile struct {
	path string
	mode string // ls-style permissions
}

var pkgWant = map[string][]pkgFile{
	"agent": {
		{"/usr/bin/slipway-agent", "-rwxr-xr-x"},
		{"/usr/lib/systemd/system/slipway-agent.service", "-rw-r--r--"},
		{"/usr/lib/systemd/system/slipway-agent.path", "-rw-r--r--"},
		{"/usr/share/doc/slipway-agent/agent.env.example", "-rw-r--r--"},
		{"/usr/lib/slipway/agent.package-managed", "-rw-r--r--"},
		{"/etc/slipway", "drwx------"},
	},
	"desktop": {
		{"/usr/bin/slipway-desktop", "-rwxr-xr-x"},
		{"/usr/share/applications/slipway-desktop.desktop", "-rw-r--r--"},
		{"/usr/lib/slipway/desktop.package-managed", "-rw-r--r--"},
	},
}

// distPackages returns the shared build's Linux packages by format.
func distPackages(t *testing.T) map[string][]DistArtifact {
	t.Helper()
	d, err := ReadDist(shared.dist)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string][]DistArtifact{}
	for _, a := range d.Artifacts {
		if a.Type == TypeLinuxPackage {
			out[a.Extra.Format] = append(out[a.Extra.Format], a)
		}
	}
	for _, f := range []string{"deb", "rpm", "apk"} {
		if len(out[f]) != 4 {
			t.Fatalf("%d %s packages, want agent and desktop for amd64 and arm64: %+v", len(out[f]), f, out[f])
		}
	}
	return out
}

func cmdOut(t *testing.T, name string, args ...string) string {
	t.Helper()
	var stderr bytes.Buffer
	cmd := exec.Command(name, args...)
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s%s", name, strings.Join(args, " "), err, out, stderr.String())
	}
	return string(out)
}

func TestDebPackages(t *testing.T) {
	sharedBuild(t)
	testenv.Tool(t, "dpkg-deb", "apt-get install dpkg")
	for _, a := range distPackages(t)["deb"] {
		t.Run(a.Name, func(t *testing.T) {
			path := filepath.Join(shared.dist, a.Name)
			product := a.Extra.ID
			fields := cmdOut(t, "dpkg-deb", "--showformat=${Package}|${Version}|${Architecture}|${Maintainer}|${Section}\n", "--show", path)
			wantVersion := strings.Replace(shared.report.Version, "-", "~", 1) // Debian sorts "~" before a release
			if want := "slipway-" + product + "|" + wantVersion + "|" + a.Goarch + "|"; !strings.HasPrefix(fields, want) {
				t.Errorf("fields = %q, want prefix %q", fields, want)
			}
			info := cmdOut(t, "dpkg-deb", "--info", path)
			hasScripts := strings.Contains(info, " postinst ") && strings.Contains(info, " prerm ") && strings.Contains(info, " postrm ")
			if hasScripts != (product == "agent") {
				t.Errorf("maintainer scripts present=%v for %s:\n%s", hasScripts, product, info)
			}
			// dpkg-deb --contents: "drwx------ root/root 0 2026-01-02 03:04 ./etc/slipway/"
			got := map[string]string{}
			for _, line := range strings.Split(strings.TrimSpace(cmdOut(t, "dpkg-deb", "--contents", path)), "\n") {
				f := strings.Fields(line)
				if len(f) < 6 {
					t.Fatalf("contents line %q", line)
				}
				if f[1] != "root/root" {
					t.Errorf("%s owned by %s", f[5], f[1])
				}
				if f[3] != "2026-01-02" {
					t.Errorf("%s mtime %s %s, want the commit date", f[5], f[3], f[4])
				}
				got[strings.TrimSuffix(strings.TrimPrefix(f[5], "."), "/")] = f[0]
			}
			checkPkgFiles(t, product, got)
		})
	}
}

func checkPkgFiles(t *testing.T, product string, got map[string]string) {
	t.Helper()
	for _, w := range pkgWant[product] {
		if got[w.path] != w.mode {
			t.Errorf("%s: mode %q, want %q (files: %v)", w.path, got[w.path], w.mode, got)
		}
	}
}

func TestRPMPackages(t *testing.T) {
	sharedBuild(t)
	testenv.Tool(t, "rpm", "scripts/tools.sh apt")
	rpmArch := map[string]string{"amd64": "x86_64", "arm64": "aarch64"}
	for _, a := range distPackages(t)["rpm"] {
		t.Run(a.Name, func(t *testing.T) {
			path := filepath.Join(shared.dist, a.Name)
			product := a.Extra.ID
			head := cmdOut(t, "rpm", "-qp", "--qf", "%{NAME}|%{VERSION}|%{ARCH}|%{VENDOR}\n", path)
			if want := "slipway-" + product + "|"; !strings.HasPrefix(head, want) || !strings.Contains(head, "|"+rpmArch[a.Goarch]+"|Slipway") {
				t.Errorf("header = %q", head)
			}
			list := strings.Fields(cmdOut(t, "rpm", "-qpl", path))
			// --dump: path size mtime digest mode owner group isconfig isdoc rdev symlink
			got := map[string]string{}
			sc := bufio.NewScanner(strings.NewReader(cmdOut(t, "rpm", "-qp", "--dump", path)))
			for sc.Scan() {
				f := strings.Fields(sc.Text())
				if len(f) < 7 {
					t.Fatalf("dump line %q", sc.Text())
				}
				if f[5] != "root" || f[6] != "root" {
					t.Errorf("%s owned by %s:%s", f[0], f[5], f[6])
				}
				got[f[0]] = rpmMode(f[4])
			}
			for _, w := range pkgWant[product] {
				if !slices.Contains(list, w.path) {
					t.Errorf("rpm -qpl lacks %s: %v", w.path, list)
				}
			}
			checkPkgFiles(t, product, got)
			scripts := cmdOut(t, "rpm", "-qp", "--scripts", path)
			if has := strings.Contains(scripts, "postinstall scriptlet") && strings.Contains(scripts, "preuninstall scriptlet"); has != (product == "agent") {
				t.Errorf("scriptlets present=%v for %s:\n%s", has, product, scripts)
			}
		})
	}
}

// rpmMode turns an octal st_mode ("0100755") into ls-style permissions.
func rpmMode(octal string) string {
	var m uint32
	for _, c := range octal {
		if c < '0' || c > '7' {
			return "?" + octal
		}
		m = m*8 + uint32(c-'0')
	}
	b := []byte("----------")
	if m&0o170000 == 0o040000 {
		b[0] = 'd'
	}
	for i, c := range "rwxrwxrwx" {
		if m&(1<<(8-i)) != 0 {
			b[i+1] = byte(c)
		}
	}
	return string(b)
}

func TestAPKPackages(t *testing.T) {
	sharedBuild(t)
	tar := testenv.Tool(t, "tar", "apt-get install tar")
	for _, a := range distPackages(t)["apk"] {
		t.Run(a.Name, func(t *testing.T) {
			product := a.Extra.ID
			// An .apk is gzip'd tar streams (signature, control, data) one
			// after the other: --ignore-zeros reads past each end marker.
			listing := cmdOut(t, tar, "--ignore-zeros", "-tvzf", filepath.Join(shared.dist, a.Name))
			got := map[string]string{}
			for _, line := range strings.Split(strings.TrimSpace(listing), "\n") {
				f := strings.Fields(line)
				if len(f) < 6 {
					t.Fatalf("listing line %q", line)
				}
				got["/"+strings.TrimSuffix(f[5], "/")] = f[0]
			}
			checkPkgFiles(t, product, got)
			dir := t.TempDir()
			cmdOut(t, tar, "--ignore-zeros", "-xzf", filepath.Join(shared.dist, a.Name), "-C", dir, ".PKGINFO")
			info, err := os.ReadFile(filepath.Join(dir, ".PKGINFO"))
			if err != nil {
				t.Fatal(err)
			}
			apkArch := map[string]string{"amd64": "x86_64", "arm64": "aarch64"}[a.Goarch]
			for _, want := range []string{"pkgname = slipway-" + product + "\n", "arch = " + apkArch + "\n"} {
				if !strings.Contains(string(info), want) {
					t.Errorf(".PKGINFO lacks %q:\n%s", want, info)
				}
			}
			if _, ok := got["/.post-install"]; ok != (product == "agent") {
				t.Errorf(".post-install present=%v for %s", ok, product)
			}
		})
	}
}
