package sqlite

import (
	"context"
	"database/sql"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/slipwayhq/slipway/internal/journal"
	"github.com/slipwayhq/slipway/server/store"
)

// The heartbeat journal (Options.HeartbeatJournal): RecordHeartbeats
// appends the batch to an fdatasync'ed log file and returns, so a heartbeat
// is durable — and acknowledged — after one sequential write and one flush,
// instead of after a transaction that rewrites a random page of the
// machines table and of the history index per heartbeat. A fold goroutine
// applies the logged heartbeats to the database in large transactions
// (every FoldInterval, 2 s, or at once past FoldBatch), where many heartbeats
// share each page written, and records in the same transaction how far it
// got; Open replays whatever a crash left unfolded. Every read of what
// heartbeats change (machines, history, fleet statistics) folds first, so
// readers see every acknowledged heartbeat.

// ErrJournalFull: more heartbeats are waiting to be folded than
// Options.MaxUnfolded (the database has been failing); the heartbeat is not
// accepted, nothing is lost, and the caller may retry.
var ErrJournalFull = fmt.Errorf("sqlite: heartbeat journal full: heartbeats are not being folded into the database: %w", store.ErrUnavailable)

const (
	// Larger folds share more pages per heartbeat: at 100k machines a fold
	// of 32,768 costs ~22 % less per heartbeat than one of 8,192
	// (BenchmarkRecordHeartbeats, docs/benchmarks.md).
	defaultFoldInterval = 2 * time.Second
	defaultFoldBatch    = 32768
	defaultMaxUnfolded  = 1 << 20
)

type unfolded struct {
	hb  store.Heartbeat
	pos journal.Pos
}

type beatJournal struct {
	log *slog.Logger

	mu      sync.Mutex // the journal file, pending and removed
	j       *journal.Journal
	pending []unfolded
	removed uint64 // segments up to this number are removed

	foldMu sync.Mutex // one fold at a time

	interval    time.Duration
	batch       int
	maxUnfolded int
	kick        chan struct{}
	stop        chan struct{}
	done        chan struct{}
	stopOnce    sync.Once
}

// openJournal opens the journal directory, folds what an earlier process
// left unfolded, and starts the fold loop.
func (s *Store) openJournal(ctx context.Context, opts Options) error {
	var mark journal.Pos
	err := s.w.QueryRowContext(ctx, "SELECT segment, offset FROM heartbeat_journal WHERE id = 1").Scan(&mark.Segment, &mark.Offset)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("sqlite: heartbeat journal position: %w", err)
	}
	j, err := journal.Open(opts.HeartbeatJournal, mark.Segment, journal.Options{MaxRecord: maxBeatRecord})
	if err != nil {
		return fmt.Errorf("sqlite: heartbeat %w", err)
	}
	ok := false
	defer func() {
		if !ok { // no fold loop to stop: Close must not wait for one
			s.hj = nil
			j.Close()
		}
	}()
	hj := &beatJournal{
		log: opts.Logger, j: j,
		interval: opts.FoldInterval, batch: opts.FoldBatch, maxUnfolded: opts.MaxUnfolded,
		kick: make(chan struct{}, 1), stop: make(chan struct{}), done: make(chan struct{}),
	}
	problems, err := j.Replay(mark, func(pos journal.Pos, b []byte) error {
		hb, err := decodeBeat(b)
		if err != nil {
			return fmt.Errorf("segment %016x, record ending at byte %d: %w", pos.Segment, pos.Offset, err)
		}
		hj.pending = append(hj.pending, unfolded{hb: hb, pos: pos})
		return nil
	})
	if err != nil {
		return fmt.Errorf("sqlite: heartbeat journal %s: replay: %w", j.Dir(), err)
	}
	for _, p := range problems {
		if p.Torn {
			hj.log.Info("heartbeat journal: ignored a torn last record (a write interrupted by a crash, never acknowledged)", "dir", j.Dir(), "problem", p.String())
		} else {
			hj.log.Error("heartbeat journal: unreadable segment set aside; heartbeats after the damage were not replayed", "dir", j.Dir(), "problem", p.String())
		}
	}
	s.hj = hj
	// Folds what was replayed and removes every segment left behind.
	n := len(hj.pending)
	if err := s.fold(); err != nil {
		return fmt.Errorf("sqlite: heartbeat journal: fold %d replayed heartbeats: %w", n, err)
	}
	if n > 0 {
		hj.log.Info("heartbeat journal: replayed heartbeats a previous run had acknowledged but not folded", "count", n)
	}
	ok = true
	go s.foldLoop()
	return nil
}

// appendBeats journals hbs; they are durable when it returns nil.
func (hj *beatJournal) appendBeats(hbs []store.Heartbeat) error {
	recs := make([][]byte, len(hbs))
	for i, h := range hbs {
		b, err := encodeBeat(h)
		if err != nil {
			return err
		}
		recs[i] = b
	}
	hj.mu.Lock()
	defer hj.mu.Unlock()
	if len(hj.pending)+len(hbs) > hj.maxUnfolded {
		return fmt.Errorf("%w (%d waiting)", ErrJournalFull, len(hj.pending))
	}
	pos, err := hj.j.Append(recs)
	if err != nil {
		return fmt.Errorf("heartbeat %w", err)
	}
	for i, h := range hbs {
		hj.pending = append(hj.pending, unfolded{hb: h, pos: pos[i]})
	}
	if len(hj.pending) >= hj.batch {
		select {
		case hj.kick <- struct{}{}:
		default:
		}
	}
	return nil
}

func (s *Store) foldLoop() {
	hj := s.hj
	defer close(hj.done)
	t := time.NewTicker(hj.interval)
	defer t.Stop()
	failing := false
	for {
		select {
		case <-hj.stop:
			return
		case <-t.C:
		case <-hj.kick:
		}
		err := s.fold()
		switch {
		case err != nil && !failing:
			hj.log.Error("heartbeat journal: fold failed; heartbeats stay journaled and are retried", "err", err)
		case err == nil && failing:
			hj.log.Info("heartbeat journal: folding again")
		}
		failing = err != nil
	}
}

// fold applies every journaled heartbeat to the database, in transactions
// of up to FoldBatch, then removes the folded segments. On failure what was
// not committed stays pending (and journaled) for the next fold.
func (s *Store) fold() error {
	hj := s.hj
	hj.foldMu.Lock()
	defer hj.foldMu.Unlock()
	hj.mu.Lock()
	taken := hj.pending
	hj.pending = nil
	sealed := hj.j.Rotate()
	hj.mu.Unlock()
	if len(taken) > 0 {
		hbs := make([]store.Heartbeat, 0, min(len(taken), hj.batch))
		for lo := 0; lo < len(taken); lo += hj.batch {
			chunk := taken[lo:min(len(taken), lo+hj.batch)]
			hbs = hbs[:0]
			for _, u := range chunk {
				hbs = append(hbs, u.hb)
			}
			mark := chunk[len(chunk)-1].pos
			if err := s.commitHeartbeats(context.Background(), hbs, &mark); err != nil {
				hj.mu.Lock()
				hj.pending = append(taken[lo:len(taken):len(taken)], hj.pending...)
				hj.mu.Unlock()
				return err
			}
		}
	}
	hj.mu.Lock()
	defer hj.mu.Unlock()
	if sealed <= hj.removed {
		return nil // nothing sealed since the last removal: no directory listing per read
	}
	if err := hj.j.Remove(sealed); err != nil {
		return err
	}
	hj.removed = sealed
	return nil
}

// UnfoldedHeartbeats implements store.HeartbeatJournal (0 without a journal).
func (s *Store) UnfoldedHeartbeats() int {
	if s.hj == nil {
		return 0
	}
	s.hj.mu.Lock()
	defer s.hj.mu.Unlock()
	return len(s.hj.pending)
}

// settle folds before a read of what heartbeats change, so the read sees
// every acknowledged heartbeat. A failing fold is logged by the fold loop;
// the read then goes on with what the database has.
func (s *Store) settle() {
	if s.hj != nil {
		_ = s.fold()
	}
}

// closeJournal stops the fold loop and folds what is left; what cannot be
// folded stays in the journal for the next Open.
func (s *Store) closeJournal() error {
	hj := s.hj
	if hj == nil {
		return nil
	}
	var err error
	hj.stopOnce.Do(func() {
		close(hj.stop)
		<-hj.done
		err = s.fold()
		hj.mu.Lock()
		err = errors.Join(err, hj.j.Close())
		hj.mu.Unlock()
	})
	if err != nil {
		return fmt.Errorf("sqlite: heartbeat journal: %w", err)
	}
	return nil
}

// Limits of a journaled heartbeat; the server's own limits are far below.
const (
	maxBeatRecord = 4 << 20
	maxBeatText   = 256
	maxBeatJSON   = 1 << 20
)

const beatVersion = 1

// encodeBeat is a heartbeat's journal record: a version byte, then
// MachineID, Status, AgentVersion, Metrics, Inventory and TokenHash, each
// as uvarint(length+1) and the bytes (0: nil), then At and TokenExpiresAt
// as little-endian Unix milliseconds (0: the zero time), the precision the
// database keeps.
func encodeBeat(h store.Heartbeat) ([]byte, error) {
	if len(h.MachineID) == 0 || len(h.MachineID) > maxBeatText || len(h.Status) > maxBeatText ||
		len(h.AgentVersion) > maxBeatText || len(h.TokenHash) > maxBeatText ||
		len(h.Metrics) > maxBeatJSON || len(h.Inventory) > maxBeatJSON {
		return nil, fmt.Errorf("sqlite: heartbeat of %q: a field is empty or over its limit", trunc(h.MachineID))
	}
	b := make([]byte, 0, 1+len(h.MachineID)+len(h.Status)+len(h.AgentVersion)+len(h.Metrics)+len(h.Inventory)+len(h.TokenHash)+6*3+16)
	b = append(b, beatVersion)
	for _, f := range [][]byte{[]byte(h.MachineID), []byte(h.Status), []byte(h.AgentVersion), h.Metrics, h.Inventory, h.TokenHash} {
		if f == nil {
			b = binary.AppendUvarint(b, 0)
			continue
		}
		b = binary.AppendUvarint(b, uint64(len(f))+1)
		b = append(b, f...)
	}
	b = binary.LittleEndian.AppendUint64(b, uint64(ms(h.At)))
	b = binary.LittleEndian.AppendUint64(b, uint64(ms(h.TokenExpiresAt)))
	return b, nil
}

func trunc(s string) string {
	if len(s) > 40 {
		return s[:40] + "..."
	}
	return s
}

var errBadBeat = errors.New("bad heartbeat record")

// decodeBeat parses encodeBeat's output, strictly: the version, every
// length within its limit and the record's size, no trailing bytes.
func decodeBeat(b []byte) (store.Heartbeat, error) {
	var h store.Heartbeat
	if len(b) == 0 || b[0] != beatVersion {
		return h, fmt.Errorf("%w: unknown version (a newer release's journal?)", errBadBeat)
	}
	b = b[1:]
	field := func(limit int) ([]byte, error) {
		n, k := binary.Uvarint(b)
		if k <= 0 || n > uint64(limit)+1 || n > uint64(len(b)-k)+1 {
			return nil, fmt.Errorf("%w: bad field length", errBadBeat)
		}
		b = b[k:]
		if n == 0 {
			return nil, nil
		}
		f := b[: n-1 : n-1]
		b = b[n-1:]
		return f, nil
	}
	var fs [6][]byte
	for i, limit := range []int{maxBeatText, maxBeatText, maxBeatText, maxBeatJSON, maxBeatJSON, maxBeatText} {
		f, err := field(limit)
		if err != nil {
			return h, err
		}
		fs[i] = f
	}
	if len(b) != 16 {
		return h, fmt.Errorf("%w: %d bytes where the two times belong", errBadBeat, len(b))
	}
	if len(fs[0]) == 0 {
		return h, fmt.Errorf("%w: no machine ID", errBadBeat)
	}
	h.MachineID, h.Status, h.AgentVersion = string(fs[0]), string(fs[1]), string(fs[2])
	h.Metrics, h.Inventory = clone(fs[3]), clone(fs[4])
	h.TokenHash = clone(fs[5])
	h.At = tm(int64(binary.LittleEndian.Uint64(b)))
	h.TokenExpiresAt = tm(int64(binary.LittleEndian.Uint64(b[8:])))
	return h, nil
}

// clone copies f (the journal reuses its buffer), keeping nil as nil.
func clone(f []byte) []byte {
	if f == nil {
		return nil
	}
	return append(make([]byte, 0, len(f)), f...)
}

// journalBatchWait holds a heartbeat batch open this long for more
// heartbeats to share its fdatasync (~70 µs of CPU each on a VM); measured
// in docs/benchmarks.md (issue 12, session 5).
const journalBatchWait = 250 * time.Microsecond

// HeartbeatBatchWait implements store.HeartbeatBatchWaiter: with the
// journal, a short wait; without it, none (the transaction is the wait).
func (s *Store) HeartbeatBatchWait() time.Duration {
	if s.hj != nil {
		return journalBatchWait
	}
	return 0
}
