package release

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/url"
	"runtime/debug"
	"strings"
	"time"
)

// SBOMExt is the suffix of the SPDX 2.3 JSON SBOM published next to each
// archive and package: <artifact>.spdx.json.
const SBOMExt = ".spdx.json"

// maxSBOM bounds an SBOM read back (tests, verification).
const maxSBOM = 4 << 20

// SPDX is the subset of an SPDX 2.3 JSON document Slipway writes.
type SPDX struct {
	SPDXVersion       string             `json:"spdxVersion"`
	DataLicense       string             `json:"dataLicense"`
	SPDXID            string             `json:"SPDXID"`
	Name              string             `json:"name"`
	DocumentNamespace string             `json:"documentNamespace"`
	CreationInfo      SPDXCreationInfo   `json:"creationInfo"`
	DocumentDescribes []string           `json:"documentDescribes"`
	Packages          []SPDXPackage      `json:"packages"`
	Relationships     []SPDXRelationship `json:"relationships"`
}

// SPDXCreationInfo says when and by what the document was made.
type SPDXCreationInfo struct {
	Created  string   `json:"created"`
	Creators []string `json:"creators"`
}

// SPDXPackage is one package: the published file, the Go main module or a
// Go module dependency.
type SPDXPackage struct {
	SPDXID                string            `json:"SPDXID"`
	Name                  string            `json:"name"`
	VersionInfo           string            `json:"versionInfo,omitempty"`
	DownloadLocation      string            `json:"downloadLocation"`
	FilesAnalyzed         bool              `json:"filesAnalyzed"`
	PrimaryPackagePurpose string            `json:"primaryPackagePurpose,omitempty"`
	Checksums             []SPDXChecksum    `json:"checksums,omitempty"`
	ExternalRefs          []SPDXExternalRef `json:"externalRefs,omitempty"`
	Comment               string            `json:"comment,omitempty"`
}

// SPDXChecksum is a package checksum.
type SPDXChecksum struct {
	Algorithm     string `json:"algorithm"`
	ChecksumValue string `json:"checksumValue"`
}

// SPDXExternalRef is a package URL reference.
type SPDXExternalRef struct {
	ReferenceCategory string `json:"referenceCategory"`
	ReferenceType     string `json:"referenceType"`
	ReferenceLocator  string `json:"referenceLocator"`
}

// SPDXRelationship links two elements.
type SPDXRelationship struct {
	Element string `json:"spdxElementId"`
	Type    string `json:"relationshipType"`
	Related string `json:"relatedSpdxElement"`
}

// sbomFor describes a published file (archive or package, with its sha256)
// that contains one Go binary built as bi. created is the commit time, so
// the document is the same for every build of a commit.
func sbomFor(artifact, sha256, format string, bi *debug.BuildInfo, created time.Time) ([]byte, error) {
	if bi == nil || bi.Main.Path == "" {
		return nil, fmt.Errorf("%s: the binary has no Go module information", artifact)
	}
	purpose := "ARCHIVE"
	if packageFormats[format] {
		purpose = "INSTALL"
	}
	doc := SPDX{
		SPDXVersion: "SPDX-2.3", DataLicense: "CC0-1.0", SPDXID: "SPDXRef-DOCUMENT",
		Name:              artifact,
		DocumentNamespace: "https://spdx.slipway.invalid/" + url.PathEscape(artifact) + "-" + sha256,
		CreationInfo:      SPDXCreationInfo{Created: created.UTC().Format(time.RFC3339), Creators: []string{"Tool: slipway-release"}},
		DocumentDescribes: []string{"SPDXRef-Artifact"},
		Packages: []SPDXPackage{
			{SPDXID: "SPDXRef-Artifact", Name: artifact, DownloadLocation: "NOASSERTION", PrimaryPackagePurpose: purpose,
				Checksums: []SPDXChecksum{{Algorithm: "SHA256", ChecksumValue: sha256}}},
			goPackage("SPDXRef-Main", bi.Main, "APPLICATION", "built with "+bi.GoVersion+buildSettings(bi)),
		},
		Relationships: []SPDXRelationship{
			{"SPDXRef-DOCUMENT", "DESCRIBES", "SPDXRef-Artifact"},
			{"SPDXRef-Artifact", "CONTAINS", "SPDXRef-Main"},
		},
	}
	for i, dep := range bi.Deps {
		if dep.Replace != nil {
			dep = dep.Replace
		}
		id := fmt.Sprintf("SPDXRef-Module-%d", i+1)
		doc.Packages = append(doc.Packages, goPackage(id, *dep, "LIBRARY", ""))
		doc.Relationships = append(doc.Relationships, SPDXRelationship{"SPDXRef-Main", "DEPENDS_ON", id})
	}
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetIndent("", "  ")
	if err := enc.Encode(doc); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

func goPackage(id string, m debug.Module, purpose, comment string) SPDXPackage {
	p := SPDXPackage{SPDXID: id, Name: m.Path, VersionInfo: m.Version, DownloadLocation: "NOASSERTION",
		PrimaryPackagePurpose: purpose, Comment: comment}
	if m.Version != "" && m.Version != "(devel)" {
		p.ExternalRefs = []SPDXExternalRef{{"PACKAGE-MANAGER", "purl", "pkg:golang/" + purlPath(m.Path) + "@" + url.PathEscape(m.Version)}}
	}
	return p
}

// purlPath escapes each segment of a module path for a package URL.
func purlPath(p string) string {
	segs := strings.Split(p, "/")
	for i, s := range segs {
		segs[i] = url.PathEscape(s)
	}
	return strings.Join(segs, "/")
}

// buildSettings lists the reproducibility-relevant settings of the build.
func buildSettings(bi *debug.BuildInfo) string {
	var parts []string
	for _, s := range bi.Settings {
		switch s.Key {
		case "GOOS", "GOARCH", "CGO_ENABLED", "-trimpath", "vcs.revision", "vcs.time":
			parts = append(parts, s.Key+"="+s.Value)
		}
	}
	if len(parts) == 0 {
		return ""
	}
	return " (" + strings.Join(parts, " ") + ")"
}

// ParseSBOM decodes an SPDX document Slipway wrote, checking its shape.
func ParseSBOM(b []byte) (*SPDX, error) {
	if len(b) > maxSBOM {
		return nil, fmt.Errorf("%w: SBOM over %d bytes", ErrBadDist, maxSBOM)
	}
	var doc SPDX
	if err := decodeStrict(b, &doc); err != nil {
		return nil, fmt.Errorf("%w: SBOM: %w", ErrBadDist, err)
	}
	if doc.SPDXVersion != "SPDX-2.3" || doc.SPDXID != "SPDXRef-DOCUMENT" || len(doc.Packages) < 2 {
		return nil, fmt.Errorf("%w: SBOM is not an SPDX-2.3 document of an artifact", ErrBadDist)
	}
	return &doc, nil
}
