// Package release turns a GoReleaser dist/ directory into a signed, published
// release: it runs GoReleaser, signs every archive and the checksums file,
// uploads the files to a storage.Store and writes the release record last.
package release

import "time"

// RecordName is the file name of the release record, written last under
// releases/<product>/<version>/ so that a reader never sees a release whose
// files are missing.
const RecordName = "release.json"

// Record is the content of release.json.
type Record struct {
	Product   string     `json:"product"`
	Version   string     `json:"version"` // SemVer without a leading "v"
	Commit    string     `json:"commit,omitempty"`
	Date      time.Time  `json:"date"`
	Artifacts []Artifact `json:"artifacts"`
}

// Artifact is one published file of a release (an archive, an installer, the
// checksums file).
type Artifact struct {
	Name   string `json:"name"`             // file name
	OS     string `json:"os,omitempty"`     // linux, darwin, windows ("" for checksums)
	Arch   string `json:"arch,omitempty"`   // amd64, arm64 (Go names)
	Format string `json:"format,omitempty"` // tar.gz, zip, checksums, or a Tauri bundle type (appimage, deb, rpm, app, msi, nsis)
	Size   int64  `json:"size"`
	SHA256 string `json:"sha256"` // lower-case hex
	URL    string `json:"url"`    // relative to the release directory (the file name)
	// Signatures maps a signature kind to its file name in the same
	// directory: "cosign" (.cosign.sig), "sigstore" (.sigstore.json),
	// "minisign" (.minisig), "tauri" (.sig).
	Signatures map[string]string `json:"signatures,omitempty"`
}

// ProductPrefix returns the key prefix of every release of a product
// ("<prefix>/releases/<product>/").
func ProductPrefix(prefix, product string) string {
	k := "releases/" + product + "/"
	if prefix != "" {
		return prefix + "/" + k
	}
	return k
}

// Key returns the storage key of a file of this release.
func Key(prefix, product, version, file string) string {
	k := "releases/" + product + "/" + version + "/" + file
	if prefix != "" {
		return prefix + "/" + k
	}
	return k
}
