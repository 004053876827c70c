package release

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"text/template"
)

// MSI installers of the Windows amd64 builds, made with wixl (msitools) on
// Linux because GoReleaser's MSI support is not in its open-source edition.
// The upgrade codes never change: they are how Windows Installer knows a
// new version replaces the installed one.
const (
	typeInstaller      = "Slipway Installer"
	agentUpgradeCode   = "6f1c9a52-8d0e-4a7b-9d3c-2e5f4b1a7c10"
	desktopUpgradeCode = "0b7e3c4d-5f6a-4b8c-9d0e-1f2a3b4c5d6e"
)

var msiTemplate = template.Must(template.New("wxs").Parse(`<?xml version="1.0" encoding="utf-8"?>
<Wix xmlns="http://schemas.microsoft.com/wix/2006/wi">
  <Product Id="*" Name="{{.Name}}" Language="1033" Version="{{.Version}}" Manufacturer="Slipway" UpgradeCode="{{.UpgradeCode}}">
    <Package InstallerVersion="500" Compressed="yes" InstallScope="perMachine" Description="{{.Name}} {{.FullVersion}}"/>
    <Media Id="1" Cabinet="files.cab" EmbedCab="yes"/>
    <MajorUpgrade DowngradeErrorMessage="A newer version of {{.Name}} is installed."/>
{{- if .Agent}}
    <Property Id="MsiHiddenProperties" Value="PROVISIONINGSECRET"/>
{{- end}}
    <Directory Id="TARGETDIR" Name="SourceDir">
      <Directory Id="ProgramFiles64Folder">
        <Directory Id="INSTALLDIR" Name="Slipway">
          <Component Id="Main" Guid="{{.ComponentGuid}}" Win64="yes">
            <File Id="Exe" Source="{{.Source}}" Name="{{.Binary}}" KeyPath="yes"/>
{{- if .Agent}}
            <ServiceInstall Id="Service" Name="slipway-agent" DisplayName="Slipway agent" Description="Reports this machine's inventory and health to Slipway." Type="ownProcess" Start="auto" ErrorControl="normal" Arguments="run"/>
            <ServiceControl Id="ServiceControl" Name="slipway-agent" Start="install" Stop="both" Remove="uninstall" Wait="yes"/>
            <RegistryValue Root="HKLM" Key="SYSTEM\CurrentControlSet\Services\slipway-agent" Name="Environment" Type="string" Value="[~]SLIPWAY_SERVER=[SLIPWAYSERVER][~]SLIPWAY_PROVISIONING_SECRET=[PROVISIONINGSECRET][~]"/>
{{- else}}
            <Shortcut Id="StartMenu" Directory="ProgramMenuFolder" Name="Slipway" Description="See this machine's status and ask IT for help" Target="[INSTALLDIR]{{.Binary}}" WorkingDirectory="INSTALLDIR"/>
{{- end}}
          </Component>
        </Directory>
      </Directory>
{{- if not .Agent}}
      <Directory Id="ProgramMenuFolder"/>
{{- end}}
    </Directory>
{{- if .Agent}}
    <!-- wixl has no ServiceConfig: the installed agent sets its own
         recovery actions (restart on exit) once the service exists. -->
    <CustomAction Id="ServiceRecovery" FileKey="Exe" ExeCommand="service-recovery" Execute="deferred" Impersonate="no" Return="ignore"/>
    <InstallExecuteSequence>
      <Custom Action="ServiceRecovery" After="InstallServices">NOT REMOVE</Custom>
    </InstallExecuteSequence>
{{- end}}
    <Feature Id="Main" Level="1"><ComponentRef Id="Main"/></Feature>
  </Product>
</Wix>
`))

type msiData struct {
	Name, Version, FullVersion, UpgradeCode, ComponentGuid, Source, Binary string
	Agent                                                                  bool
}

// msiStep builds slipway-<product>_<version>_windows_amd64.msi for the
// agent (service installed and started, SLIPWAYSERVER and
// PROVISIONINGSECRET properties) and the desktop client (Start menu entry),
// per machine, and Authenticode-signs them with `slipway sign-binary` like
// the binaries.
type msiStep struct{}

func (msiStep) Name() string { return "msi" }

func (s msiStep) Run(ctx context.Context, r *run) error {
	return r.added(s.produce(ctx, r))
}

func (msiStep) produce(ctx context.Context, r *run) ([]DistArtifact, error) {
	switch {
	case r.done:
		return nil, errAlreadyPublished
	case r.external || r.dist == nil:
		return nil, skip("no build")
	case r.opts.SkipAttest:
		return nil, skip("--skip-attest: no installers")
	case r.opts.DryRun:
		return nil, skip("dry run: installers are built with the release")
	}
	d := r.dist
	wixl, _ := exec.LookPath("wixl")
	bins, err := binaries(d)
	if err != nil {
		return nil, err
	}
	var arts []DistArtifact
	var todo []int // indexes in arts of the MSIs to build
	for _, product := range []string{"agent", "desktop"} {
		if bins[product+"/windows/amd64"] == "" {
			continue
		}
		a := msiArtifact(d, product)
		if _, err := os.Stat(filepath.Join(d.Dir, a.Name)); err != nil {
			if wixl == "" {
				return arts, skip("wixl (msitools) not installed: no MSI installers")
			}
			todo = append(todo, len(arts))
		} // else built by an earlier run (--skip-build)
		arts = append(arts, a)
	}
	// The two MSIs side by side: wixl compresses the cabinet on one core.
	err = parallel(ctx, runtime.GOMAXPROCS(0), len(todo), func(ctx context.Context, i int) error {
		a := arts[todo[i]]
		done, err := r.cpu(ctx)
		if err != nil {
			return err
		}
		defer done()
		if err := buildMSI(ctx, wixl, d, a, bins[a.Extra.ID+"/windows/amd64"]); err != nil {
			return err
		}
		return signInstaller(ctx, r, filepath.Join(d.Dir, a.Name))
	})
	if err != nil {
		return nil, err
	}
	return arts, nil
}

// msiVersion is the release version as Windows Installer reads it: three
// numbers, without the pre-release part.
func msiVersion(v string) string {
	v, _, _ = strings.Cut(v, "-")
	v, _, _ = strings.Cut(v, "+")
	return v
}

func msiArtifact(d *Dist, product string) DistArtifact {
	name := fmt.Sprintf("%s-%s_%s_windows_amd64.msi", d.Metadata.ProjectName, product, d.Metadata.Version)
	return DistArtifact{Name: name, Path: name, Goos: "windows", Goarch: "amd64", Type: typeInstaller,
		Extra: DistExtra{ID: product, Format: "msi"}}
}

func buildMSI(ctx context.Context, wixl string, d *Dist, a DistArtifact, bin string) error {
	product, name := a.Extra.ID, a.Name
	data := msiData{Version: msiVersion(d.Metadata.Version), FullVersion: d.Metadata.Version, Source: filepath.Base(bin), Binary: filepath.Base(bin)}
	switch product {
	case "agent":
		data.Name, data.UpgradeCode, data.ComponentGuid, data.Agent = "Slipway agent", agentUpgradeCode, "3b0f8f0e-1a2b-4c3d-8e9f-0a1b2c3d4e5f", true
	default:
		data.Name, data.UpgradeCode, data.ComponentGuid = "Slipway", desktopUpgradeCode, "1c2d3e4f-5a6b-4c7d-8e9f-a0b1c2d3e4f5"
	}
	var wxs bytes.Buffer
	if err := msiTemplate.Execute(&wxs, data); err != nil {
		return err
	}
	src := filepath.Join(d.Dir, name+".wxs")
	if err := os.WriteFile(src, wxs.Bytes(), 0o644); err != nil {
		return err
	}
	defer os.Remove(src)
	out, err := filepath.Abs(filepath.Join(d.Dir, name))
	if err != nil {
		return err
	}
	if src, err = filepath.Abs(src); err != nil {
		return err
	}
	// wixl finds sources relative to its working directory only.
	cmd := exec.CommandContext(ctx, wixl, "-a", "x64", "-o", out, src)
	cmd.Dir = filepath.Dir(bin)
	if _, set := os.LookupEnv("GLIBC_TUNABLES"); !set {
		// wixl grows its heap in small steps and glibc gives the memory
		// back in between: a 64 MiB pad cuts its system time by three
		// quarters (about 0.3 s of CPU per MSI), without changing the
		// MSI. A user's own GLIBC_TUNABLES wins; other libcs ignore it.
		cmd.Env = append(os.Environ(), "GLIBC_TUNABLES=glibc.malloc.top_pad=67108864:glibc.malloc.trim_threshold=268435456")
	}
	if b, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("wixl %s: %w\n%s", name, err, b)
	}
	return nil
}

// signInstaller runs `slipway sign-binary` on the MSI (Authenticode when a
// certificate is configured, a notice otherwise), as the build hook does
// for the binaries.
func signInstaller(ctx context.Context, r *run, path string) error {
	bin := r.opts.SlipwayBin
	if bin == "" {
		bin = os.Getenv("SLIPWAY_BIN")
	}
	if bin == "" {
		exe, err := os.Executable()
		if err != nil {
			return err
		}
		bin = exe
	}
	out, err := exec.CommandContext(ctx, bin, "sign-binary", path).CombinedOutput()
	if err != nil {
		return fmt.Errorf("sign %s: %w\n%s", filepath.Base(path), err, out)
	}
	r.log.Info("installer signed", "path", path, "output", strings.TrimSpace(string(out)))
	return nil
}
