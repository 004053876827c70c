// Package flatpkg writes macOS flat installer packages (.pkg) on any OS,
// without Apple's pkgbuild/productbuild: a product archive (xar) holding a
// Distribution file and one payload-free component package whose Scripts
// archive carries the files its postinstall script installs.
//
// A payload-free package has no Payload and no Bom (the bill of materials
// whose format is undocumented), so the installer records a receipt (the
// package identifier and version: `pkgutil --pkgs`, what Jamf and Intune
// check) but no file list; the postinstall script owns the files, as in
// the "payload-free package" that MDM administrators deploy.
package flatpkg

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"regexp"
	"slices"
	"strings"
	"text/template"
	"time"

	"github.com/klauspost/compress/gzip"
)

// File is one file of the Scripts archive, extracted next to postinstall.
type File struct {
	Name string // a base name: no directories
	Mode uint32 // permission bits, e.g. 0o755
	Data []byte
}

// Package describes the package to write.
type Package struct {
	// Identifier is the receipt name, e.g. "io.github.slipwayhq.slipway.agent".
	Identifier string
	// Version is the package version (digits and dots for the installer's
	// comparisons; the full release version goes into Title).
	Version string
	// Title is what the installer window shows.
	Title string
	// Arch is the one host architecture allowed: "x86_64" or "arm64".
	Arch string
	// MinOS is the oldest macOS allowed, e.g. "12.0".
	MinOS string
	// Scripts are the files of the Scripts archive; one must be an
	// executable named "postinstall" (and may be "preinstall").
	Scripts []File
	// ModTime stamps every entry, for reproducible output.
	ModTime time.Time
}

// ComponentName is the component package's directory in the archive.
const ComponentName = "component.pkg"

var (
	identifierRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9.-]{0,199}$`)
	versionRE    = regexp.MustCompile(`^[0-9]+(\.[0-9]+){0,3}$`)
	nameRE       = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$`)
)

func (p Package) validate() error {
	var errs []error
	if !identifierRE.MatchString(p.Identifier) {
		errs = append(errs, fmt.Errorf("identifier %q: want letters, digits, dots and dashes", p.Identifier))
	}
	if !versionRE.MatchString(p.Version) {
		errs = append(errs, fmt.Errorf("version %q: want up to four dot-separated numbers", p.Version))
	}
	if !versionRE.MatchString(p.MinOS) {
		errs = append(errs, fmt.Errorf("minimum macOS %q: want dot-separated numbers", p.MinOS))
	}
	if p.Arch != "x86_64" && p.Arch != "arm64" {
		errs = append(errs, fmt.Errorf("architecture %q: want x86_64 or arm64", p.Arch))
	}
	if strings.ContainsAny(p.Title, "\x00\n") || len(p.Title) > 200 {
		errs = append(errs, fmt.Errorf("title %q: one line, at most 200 bytes", p.Title))
	}
	seen := map[string]bool{}
	for _, f := range p.Scripts {
		if !nameRE.MatchString(f.Name) || seen[f.Name] {
			errs = append(errs, fmt.Errorf("script file %q: a unique base name of letters, digits, dots, dashes, underscores", f.Name))
		}
		seen[f.Name] = true
	}
	if i := slices.IndexFunc(p.Scripts, func(f File) bool { return f.Name == "postinstall" }); i < 0 || p.Scripts[i].Mode&0o100 == 0 {
		errs = append(errs, errors.New("scripts: an executable postinstall is required"))
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("flatpkg: %w", err)
	}
	return nil
}

// Write writes p as a product archive to w.
func Write(w io.Writer, p Package) error {
	if err := p.validate(); err != nil {
		return err
	}
	var cpio bytes.Buffer
	files := make([]*entry, len(p.Scripts))
	installBytes := 0
	for i, f := range p.Scripts {
		files[i] = &entry{name: f.Name, mode: f.Mode, data: f.Data}
		installBytes += len(f.Data)
	}
	if err := writeODC(&cpio, files, p.ModTime); err != nil {
		return err
	}
	var scripts bytes.Buffer
	zw := gzip.NewWriter(&scripts) // no name and no time in the header: reproducible
	if _, err := zw.Write(cpio.Bytes()); err != nil {
		return err
	}
	if err := zw.Close(); err != nil {
		return err
	}
	v := map[string]any{"ID": p.Identifier, "Version": p.Version, "Title": p.Title, "Arch": p.Arch,
		"MinOS": p.MinOS, "KB": (installBytes + 1023) / 1024, "Component": ComponentName,
		"Pre": slices.ContainsFunc(p.Scripts, func(f File) bool { return f.Name == "preinstall" })}
	var dist, info bytes.Buffer
	if err := distributionTmpl.Execute(&dist, v); err != nil {
		return err
	}
	if err := packageInfoTmpl.Execute(&info, v); err != nil {
		return err
	}
	return writeXar(w, []*entry{
		{name: "Distribution", mode: 0o644, data: dist.Bytes()},
		{name: ComponentName, dir: true, mode: 0o755, children: []*entry{
			{name: "PackageInfo", mode: 0o644, data: info.Bytes()},
			{name: "Scripts", mode: 0o644, data: scripts.Bytes()},
		}},
	}, p.ModTime)
}

func xmlEscape(s string) string {
	var b strings.Builder
	_ = xml.EscapeText(&b, []byte(s))
	return b.String()
}

var funcs = template.FuncMap{"x": xmlEscape}

// distributionTmpl: one hidden choice installing the component, only on
// the boot volume (domains), on the one architecture and macOS 12 or later.
var distributionTmpl = template.Must(template.New("Distribution").Funcs(funcs).Parse(`<?xml version="1.0" encoding="utf-8"?>
<installer-gui-script minSpecVersion="2">
    <title>{{x .Title}}</title>
    <options customize="never" require-scripts="false" hostArchitectures="{{.Arch}}"/>
    <domains enable_anywhere="false" enable_currentUserHome="false" enable_localSystem="true"/>
    <volume-check>
        <allowed-os-versions>
            <os-version min="{{.MinOS}}"/>
        </allowed-os-versions>
    </volume-check>
    <choices-outline>
        <line choice="default">
            <line choice="{{.ID}}"/>
        </line>
    </choices-outline>
    <choice id="default"/>
    <choice id="{{.ID}}" visible="false">
        <pkg-ref id="{{.ID}}"/>
    </choice>
    <pkg-ref id="{{.ID}}" version="{{.Version}}" onConclusion="none" installKBytes="{{.KB}}">#{{.Component}}</pkg-ref>
    <product id="{{.ID}}" version="{{.Version}}"/>
</installer-gui-script>
`))

// packageInfoTmpl: no payload element, as pkgbuild --nopayload writes it.
var packageInfoTmpl = template.Must(template.New("PackageInfo").Funcs(funcs).Parse(`<?xml version="1.0" encoding="utf-8"?>
<pkg-info format-version="2" identifier="{{.ID}}" version="{{.Version}}" install-location="/" auth="root" postinstall-action="none" preserve-xattr="false">
    <bundle-version/>
    <upgrade-bundle/>
    <update-bundle/>
    <atomic-update-bundle/>
    <strict-identifier/>
    <relocate/>
    <scripts>
{{- if .Pre}}
        <preinstall file="./preinstall"/>
{{- end}}
        <postinstall file="./postinstall"/>
    </scripts>
</pkg-info>
`))
