// Package journal is an append-only, checksummed, segmented log on local
// disk: the write-ahead log behind SQLite's heartbeat ingest. A batch of
// records is written with one write and one fdatasync, so an append that
// returned is on disk; a reader later folds the records into the database
// and removes the segments it has folded.
//
// A segment is a file named by its 16-hex-digit sequence number with the
// extension .log. It starts with an 8-byte magic, then records, each framed
// as a little-endian uint32 payload length, the CRC-32C of the payload, and
// the payload. A crash can leave a torn last record (never acknowledged,
// since its fdatasync had not returned); Replay stops there. Anything else
// that does not parse is corruption: Replay stops reading that segment,
// renames it to .corrupt (nothing is deleted) and reports it.
//
// A Journal is not safe for concurrent use; its owner serializes calls.
package journal

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
)

// magic opens every segment (format version 1).
const magic = "SLWJNL1\n"

const headerLen = 8 // length + CRC-32C

// DefaultMaxRecord is the largest payload accepted unless Options say otherwise.
const DefaultMaxRecord = 4 << 20

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// ErrLocked: another Journal (in this process or another) has the directory
// open. Only one may: it appends to and removes the segments.
var ErrLocked = errors.New("journal: directory in use by another process")

// ErrTooLarge: a record exceeds Options.MaxRecord.
var ErrTooLarge = errors.New("journal: record too large")

// Pos is the position just after a record: its segment and the byte offset
// at which the record ends. Positions order records (Less).
type Pos struct {
	Segment uint64
	Offset  int64
}

// Less reports whether p comes before q.
func (p Pos) Less(q Pos) bool {
	return p.Segment < q.Segment || (p.Segment == q.Segment && p.Offset < q.Offset)
}

// Options tunes a journal; the zero value is usable.
type Options struct {
	// MaxRecord is the largest payload, in bytes. Default: DefaultMaxRecord.
	MaxRecord int
}

// Journal appends to the newest segment of a directory.
type Journal struct {
	dir  string
	opts Options
	lock *os.File // dir/LOCK, held while open
	f    *os.File // current segment, nil until the first append
	seg  uint64   // current (or next) segment number
	off  int64    // end of the current segment
	buf  []byte
}

// Open opens dir (creating it, mode 0700) and locks it (ErrLocked when
// another Journal holds it). Existing segments are left for Replay; appends
// go to a new segment numbered after all of them and after min, so a number
// is never reused even when all segments were removed.
func Open(dir string, min uint64, opts Options) (*Journal, error) {
	if opts.MaxRecord <= 0 {
		opts.MaxRecord = DefaultMaxRecord
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("journal: %w", err)
	}
	lock, err := lockDir(dir)
	if err != nil {
		if errors.Is(err, ErrLocked) {
			return nil, fmt.Errorf("%w: %s", ErrLocked, dir)
		}
		return nil, fmt.Errorf("journal: lock %s: %w", dir, err)
	}
	segs, err := segments(dir)
	if err != nil {
		lock.Close()
		return nil, err
	}
	next := min + 1
	if len(segs) > 0 {
		next = max(next, segs[len(segs)-1]+1)
	}
	return &Journal{dir: dir, opts: opts, lock: lock, seg: next}, nil
}

// Dir is the journal's directory.
func (j *Journal) Dir() string { return j.dir }

func segmentName(n uint64) string { return fmt.Sprintf("%016x.log", n) }

// segments lists the segment numbers in dir, ascending.
func segments(dir string) ([]uint64, error) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("journal: %w", err)
	}
	var out []uint64
	for _, e := range ents {
		name, ok := strings.CutSuffix(e.Name(), ".log")
		if !ok || len(name) != 16 || !e.Type().IsRegular() {
			continue
		}
		n, err := strconv.ParseUint(name, 16, 64)
		if err != nil {
			continue
		}
		out = append(out, n)
	}
	slices.Sort(out)
	return out, nil
}

// Append writes the records with one write and one fdatasync and returns
// the position after each. On error none of them may be relied on (some may
// still be on disk and come back from Replay); the journal moves to a new
// segment so later appends do not follow a partial write.
func (j *Journal) Append(recs [][]byte) ([]Pos, error) {
	if len(recs) == 0 {
		return nil, nil
	}
	if j.f == nil {
		if err := j.create(); err != nil {
			return nil, err
		}
	}
	b := j.buf[:0]
	pos := make([]Pos, len(recs))
	off := j.off
	for i, r := range recs {
		if len(r) > j.opts.MaxRecord {
			return nil, fmt.Errorf("%w: %d bytes (limit %d)", ErrTooLarge, len(r), j.opts.MaxRecord)
		}
		b = binary.LittleEndian.AppendUint32(b, uint32(len(r)))
		b = binary.LittleEndian.AppendUint32(b, crc32.Checksum(r, castagnoli))
		b = append(b, r...)
		off += int64(headerLen + len(r))
		pos[i] = Pos{Segment: j.seg, Offset: off}
	}
	j.buf = b
	if _, err := j.f.WriteAt(b, j.off); err != nil {
		j.abandon()
		return nil, fmt.Errorf("journal: write: %w", err)
	}
	if err := fdatasync(j.f); err != nil {
		j.abandon()
		return nil, fmt.Errorf("journal: sync: %w", err)
	}
	j.off = off
	if cap(j.buf) > 1<<20 {
		j.buf = nil // do not keep a large inventory's buffer
	}
	return pos, nil
}

// abandon leaves a segment after a failed write: the next append starts a
// new one.
func (j *Journal) abandon() {
	_ = j.f.Close()
	j.f, j.off = nil, 0
	j.seg++
}

// create starts segment j.seg: the file with its magic, synced, and the
// directory synced so the file itself survives a crash.
func (j *Journal) create() error {
	path := filepath.Join(j.dir, segmentName(j.seg))
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return fmt.Errorf("journal: %w", err)
	}
	if _, err = f.WriteAt([]byte(magic), 0); err == nil {
		err = fdatasync(f)
	}
	if err == nil {
		err = syncDir(j.dir)
	}
	if err != nil {
		f.Close()
		_ = os.Remove(path)
		return fmt.Errorf("journal: create %s: %w", path, err)
	}
	j.f, j.off = f, int64(len(magic))
	return nil
}

// Rotate closes the current segment; the next append starts a new one. It
// returns the number of the last segment that can hold records so far:
// every record appended before Rotate is in a segment ≤ that number.
func (j *Journal) Rotate() uint64 {
	if j.f == nil {
		return j.seg - 1
	}
	_ = j.f.Close()
	j.f, j.off = nil, 0
	j.seg++
	return j.seg - 1
}

// Remove deletes the segments numbered ≤ through (except the one being
// appended to), then syncs the directory.
func (j *Journal) Remove(through uint64) error {
	segs, err := segments(j.dir)
	if err != nil {
		return err
	}
	var errs []error
	removed := false
	for _, n := range segs {
		if n > through || (j.f != nil && n == j.seg) {
			continue
		}
		if err := os.Remove(filepath.Join(j.dir, segmentName(n))); err != nil && !errors.Is(err, os.ErrNotExist) {
			errs = append(errs, err)
		}
		removed = true
	}
	if removed {
		errs = append(errs, syncDir(j.dir))
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("journal: remove: %w", err)
	}
	return nil
}

// Close closes the current segment (records stay on disk for Replay) and
// releases the directory. Replay still works after Close.
func (j *Journal) Close() error {
	var err error
	if j.f != nil {
		err = j.f.Close()
		j.f = nil
	}
	if j.lock != nil {
		err = errors.Join(err, j.lock.Close())
		j.lock = nil
	}
	return err
}

// Problem is a segment Replay could not read to its end.
type Problem struct {
	Segment uint64
	Offset  int64 // where reading stopped
	Torn    bool  // only a torn last record (normal after a crash)
	Moved   string
	Err     error
}

func (p Problem) String() string {
	if p.Torn {
		return fmt.Sprintf("segment %016x: torn record at byte %d ignored", p.Segment, p.Offset)
	}
	return fmt.Sprintf("segment %016x: unreadable from byte %d (%v), kept as %s", p.Segment, p.Offset, p.Err, p.Moved)
}

// Replay calls fn, in order, for every record positioned after `after` in
// the segments that exist now (not the one being appended to), and returns
// what it could not read. An error from fn stops Replay and is returned.
// The payload passed to fn is only valid during the call.
func (j *Journal) Replay(after Pos, fn func(Pos, []byte) error) ([]Problem, error) {
	segs, err := segments(j.dir)
	if err != nil {
		return nil, err
	}
	var problems []Problem
	for _, n := range segs {
		if n < after.Segment || (j.f != nil && n == j.seg) {
			continue
		}
		p, err := j.replaySegment(n, after, fn)
		if err != nil {
			return problems, err
		}
		if p != nil {
			problems = append(problems, *p)
		}
	}
	return problems, nil
}

// corrupt is a parse failure inside a segment.
type corrupt struct {
	off  int64
	torn bool
	err  error
}

func (j *Journal) replaySegment(n uint64, after Pos, fn func(Pos, []byte) error) (*Problem, error) {
	path := filepath.Join(j.dir, segmentName(n))
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("journal: %w", err)
	}
	c, err := j.scan(n, bufio.NewReaderSize(f, 64<<10), after, fn)
	f.Close()
	if err != nil || c == nil {
		return nil, err
	}
	p := &Problem{Segment: n, Offset: c.off, Torn: c.torn, Err: c.err}
	if !c.torn {
		p.Moved = strings.TrimSuffix(path, ".log") + ".corrupt"
		if err := os.Rename(path, p.Moved); err != nil {
			return nil, fmt.Errorf("journal: set aside %s: %w", path, err)
		}
		_ = syncDir(j.dir)
	}
	return p, nil
}

// scan reads one segment; a non-nil *corrupt says where and why it stopped early.
func (j *Journal) scan(n uint64, r *bufio.Reader, after Pos, fn func(Pos, []byte) error) (*corrupt, error) {
	head := make([]byte, len(magic))
	if k, err := io.ReadFull(r, head); err != nil {
		// A crash between creating the file and syncing its magic leaves a
		// short file that never held a record.
		if (err == io.EOF || err == io.ErrUnexpectedEOF) && magic[:k] == string(head[:k]) {
			return &corrupt{off: 0, torn: true}, nil
		}
		return &corrupt{off: 0, err: fmt.Errorf("bad segment header: %w", err)}, nil
	}
	if string(head) != magic {
		return &corrupt{off: 0, err: errors.New("not a journal segment (bad magic)")}, nil
	}
	off := int64(len(magic))
	var hdr [headerLen]byte
	var payload []byte
	for {
		if _, err := io.ReadFull(r, hdr[:]); err == io.EOF {
			return nil, nil
		} else if err != nil {
			return &corrupt{off: off, torn: true}, nil // a partial header at the end
		}
		size := binary.LittleEndian.Uint32(hdr[:4])
		if int64(size) > int64(j.opts.MaxRecord) {
			return &corrupt{off: off, err: fmt.Errorf("record length %d over the limit %d", size, j.opts.MaxRecord)}, nil
		}
		if cap(payload) < int(size) {
			payload = make([]byte, size)
		}
		payload = payload[:size]
		if _, err := io.ReadFull(r, payload); err != nil {
			return &corrupt{off: off, torn: true}, nil
		}
		if crc32.Checksum(payload, castagnoli) != binary.LittleEndian.Uint32(hdr[4:]) {
			// The last record with a bad checksum and nothing after it is a
			// torn write; a bad record followed by more data is corruption.
			if isEOF(r) {
				return &corrupt{off: off, torn: true}, nil
			}
			return &corrupt{off: off, err: errors.New("checksum mismatch")}, nil
		}
		off += int64(headerLen) + int64(size)
		if p := (Pos{Segment: n, Offset: off}); after.Less(p) {
			if err := fn(p, payload); err != nil {
				return nil, err
			}
		}
	}
}

func isEOF(r *bufio.Reader) bool {
	_, err := r.Peek(1)
	return err == io.EOF
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}
