package flatpkg

import (
	"bytes"
	"compress/zlib"
	"crypto/sha1"
	"encoding/binary"
	"encoding/hex"
	"encoding/xml"
	"fmt"
	"io"
	"time"
)

// xar archive format (what a flat package is): a 28-byte big-endian header,
// the table of contents as zlib-compressed XML, then the heap. The heap
// starts with the SHA-1 of the compressed table of contents; every file's
// bytes follow, stored (encoding application/octet-stream), each with the
// SHA-1 of its archived and extracted bytes in the table of contents.
const (
	xarMagic      = 0x78617221 // "xar!"
	xarHeaderSize = 28
	xarVersion    = 1
	xarSHA1       = 1
)

// entry is a file or a directory of a xar archive.
type entry struct {
	name     string
	dir      bool
	mode     uint32 // permission bits
	data     []byte
	children []*entry
}

type xarDoc struct {
	XMLName xml.Name `xml:"xar"`
	TOC     xarTOC   `xml:"toc"`
}

type xarTOC struct {
	Checksum     xarHeapRef `xml:"checksum"`
	CreationTime string     `xml:"creation-time"`
	Files        []*xarFile `xml:"file"`
}

type xarHeapRef struct {
	Style  string `xml:"style,attr"`
	Offset int64  `xml:"offset"`
	Size   int64  `xml:"size"`
}

type xarFile struct {
	ID    int        `xml:"id,attr"`
	Name  string     `xml:"name"`
	Type  string     `xml:"type"`
	Mode  string     `xml:"mode"`
	UID   int        `xml:"uid"`
	User  string     `xml:"user"`
	GID   int        `xml:"gid"`
	Group string     `xml:"group"`
	Mtime string     `xml:"mtime"`
	Data  *xarData   `xml:"data,omitempty"`
	Files []*xarFile `xml:"file,omitempty"`
}

type xarData struct {
	Length    int64       `xml:"length"`
	Offset    int64       `xml:"offset"`
	Size      int64       `xml:"size"`
	Encoding  xarEncoding `xml:"encoding"`
	Extracted xarSum      `xml:"extracted-checksum"`
	Archived  xarSum      `xml:"archived-checksum"`
}

type xarEncoding struct {
	Style string `xml:"style,attr"`
}

type xarSum struct {
	Style string `xml:"style,attr"`
	Value string `xml:",chardata"`
}

// writeXar writes entries (in order, depth first) as a xar archive whose
// times are all mtime, owned by root:wheel.
func writeXar(w io.Writer, entries []*entry, mtime time.Time) error {
	stamp := mtime.UTC().Format(time.RFC3339)
	doc := xarDoc{TOC: xarTOC{Checksum: xarHeapRef{Style: "sha1", Offset: 0, Size: sha1.Size}, CreationTime: stamp}}
	var heap [][]byte
	offset := int64(sha1.Size)
	id := 0
	var walk func([]*entry) []*xarFile
	walk = func(es []*entry) []*xarFile {
		var out []*xarFile
		for _, e := range es {
			id++
			f := &xarFile{ID: id, Name: e.name, Type: "file", Mode: fmt.Sprintf("%04o", e.mode&0o7777),
				User: "root", Group: "wheel", Mtime: stamp}
			if e.dir {
				f.Type = "directory"
				f.Files = walk(e.children)
			} else {
				sum := sha1.Sum(e.data)
				hexSum := hex.EncodeToString(sum[:])
				n := int64(len(e.data))
				f.Data = &xarData{Length: n, Offset: offset, Size: n,
					Encoding:  xarEncoding{Style: "application/octet-stream"},
					Extracted: xarSum{Style: "sha1", Value: hexSum}, Archived: xarSum{Style: "sha1", Value: hexSum}}
				offset += n
				heap = append(heap, e.data)
			}
			out = append(out, f)
		}
		return out
	}
	doc.TOC.Files = walk(entries)

	var toc bytes.Buffer
	toc.WriteString(xml.Header)
	enc := xml.NewEncoder(&toc)
	enc.Indent("", " ")
	if err := enc.Encode(doc); err != nil {
		return fmt.Errorf("xar: table of contents: %w", err)
	}
	toc.WriteString("\n")
	var z bytes.Buffer
	zw, err := zlib.NewWriterLevel(&z, zlib.BestCompression)
	if err != nil {
		return err
	}
	if _, err := zw.Write(toc.Bytes()); err != nil {
		return err
	}
	if err := zw.Close(); err != nil {
		return err
	}

	var hdr [xarHeaderSize]byte
	binary.BigEndian.PutUint32(hdr[0:], xarMagic)
	binary.BigEndian.PutUint16(hdr[4:], xarHeaderSize)
	binary.BigEndian.PutUint16(hdr[6:], xarVersion)
	binary.BigEndian.PutUint64(hdr[8:], uint64(z.Len()))
	binary.BigEndian.PutUint64(hdr[16:], uint64(toc.Len()))
	binary.BigEndian.PutUint32(hdr[24:], xarSHA1)
	tocSum := sha1.Sum(z.Bytes())
	for _, b := range append([][]byte{hdr[:], z.Bytes(), tocSum[:]}, heap...) {
		if _, err := w.Write(b); err != nil {
			return fmt.Errorf("xar: write: %w", err)
		}
	}
	return nil
}
