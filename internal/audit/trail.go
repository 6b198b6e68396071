package audit

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"
	"time"
)

// Defaults of Options.
const (
	DefaultFlushInterval = 200 * time.Millisecond
	DefaultMaxPending    = 4096
)

// Options tune a Trail. Zero values take the defaults.
type Options struct {
	// FlushInterval is how long a line may wait in memory before it is written and synced.
	FlushInterval time.Duration
	// MaxPending is how many lines may wait: the Append that reaches it flushes at once
	// (back-pressure instead of unbounded memory or lost events).
	MaxPending int
	// MaxFileSize, when positive, rotates the file once it reaches this many bytes: it is
	// renamed audit-<last seq>.jsonl and a new FileName continues the chain (rotate.go).
	MaxFileSize int64
	// Keep, when positive, is how many rotated files are kept; older ones are removed.
	// Zero keeps them all (the operator archives them).
	Keep int
}

// Trail appends hash-chained records to one file. It is safe for concurrent use; records
// are chained in the order Append is called.
type Trail struct {
	opts Options
	path string
	f    *os.File
	size int64 // bytes in f; guarded by flushMu

	flushMu  sync.Mutex // serialises writes to f, so batches reach the file in chain order; guards fileDone
	fileDone bool       // f is closed

	mu       sync.Mutex // guards the fields below
	seq      uint64     // sequence number of the last chained record
	last     Hash       // hash of the last chained record
	pending  []byte     // chained lines not yet written
	npending int
	err      error // the first write or sync failure: the trail is then unusable
	closed   bool

	stop chan struct{}
	done chan struct{}
}

// Open opens (or creates, 0600) the trail at path for appending. It verifies the whole
// existing file first and continues its chain: a torn last line (a crash during a write)
// is cut off; any other failure to verify is returned (wrapping ErrBroken) and nothing is
// appended to a trail that does not verify: move it aside to start a new one. After a
// rotation the file must continue exactly the newest rotated file beside it (whose last
// record is checked): a missing or edited predecessor is refused the same way.
func Open(path string, o Options) (*Trail, error) {
	if o.FlushInterval <= 0 {
		o.FlushInterval = DefaultFlushInterval
	}
	if o.MaxPending <= 0 {
		o.MaxPending = DefaultMaxPending
	}
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("open audit trail: %w", err)
	}
	start, err := predecessor(filepath.Dir(path))
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("open audit trail %s: %w", path, err)
	}
	sum, end, err := recoverTrail(f, start)
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("open audit trail %s: %w", path, err)
	}
	if _, err := f.Seek(end, io.SeekStart); err != nil {
		f.Close()
		return nil, fmt.Errorf("open audit trail: %w", err)
	}
	t := &Trail{opts: o, path: path, f: f, size: end, seq: sum.Records, last: sum.Last, stop: make(chan struct{}), done: make(chan struct{})}
	go t.flusher()
	return t, nil
}

// recoverTrail verifies the file as continuing start and returns its summary and the
// offset to append at, after cutting a torn last line.
func recoverTrail(f *os.File, start Summary) (Summary, int64, error) {
	s := start
	var good int64 // offset after the last complete, verified line
	torn := false
	err := scan(f, func(n int, line []byte, complete bool) error {
		if !complete {
			torn = true
			return nil
		}
		rec, reason := checkLine(line, s)
		if reason != "" {
			return &ChainError{Line: n, Reason: reason}
		}
		s = Summary{Records: rec.Seq, Last: rec.Hash}
		good += int64(len(line)) + 1
		return nil
	})
	if err != nil {
		return Summary{}, 0, err
	}
	if torn {
		if err := f.Truncate(good); err != nil {
			return Summary{}, 0, fmt.Errorf("cut torn last line: %w", err)
		}
		if err := f.Sync(); err != nil {
			return Summary{}, 0, fmt.Errorf("cut torn last line: %w", err)
		}
	}
	return s, good, nil
}

// Append chains ev after the last record and queues its line; it returns once the line is
// chained, before it is durable (see the package documentation), except when MaxPending
// lines wait: then it writes and syncs them first. A zero Time is set to now.
func (t *Trail) Append(ev Event) error {
	if ev.Time.IsZero() {
		ev.Time = time.Now()
	}
	t.mu.Lock()
	if t.closed {
		t.mu.Unlock()
		return ErrClosed
	}
	if t.err != nil {
		err := t.err
		t.mu.Unlock()
		return err
	}
	rec := Record{Seq: t.seq + 1, Event: ev, Prev: t.last}
	line, err := rec.seal()
	if err != nil {
		t.mu.Unlock()
		return fmt.Errorf("encode audit event: %w", err)
	}
	t.seq, t.last = rec.Seq, rec.Hash
	t.pending = append(t.pending, line...)
	t.npending++
	full := t.npending >= t.opts.MaxPending
	t.mu.Unlock()
	if full {
		return t.flush()
	}
	return nil
}

// Sync writes and fdatasyncs every line chained so far.
func (t *Trail) Sync() error {
	t.mu.Lock()
	closed := t.closed
	t.mu.Unlock()
	if closed {
		return ErrClosed
	}
	return t.flush()
}

func (t *Trail) flush() error {
	t.flushMu.Lock()
	defer t.flushMu.Unlock()
	if t.fileDone {
		return ErrClosed
	}
	t.mu.Lock()
	buf, err, lastSeq := t.pending, t.err, t.seq
	t.pending, t.npending = nil, 0
	t.mu.Unlock()
	if err != nil {
		return err
	}
	if len(buf) == 0 {
		return nil
	}
	if _, err = t.f.Write(buf); err == nil {
		err = t.f.Sync()
	}
	if err != nil {
		err = fmt.Errorf("write audit trail: %w", err)
		t.setErr(err)
		return err
	}
	t.size += int64(len(buf))
	if t.opts.MaxFileSize > 0 && t.size >= t.opts.MaxFileSize {
		// A failed rotation is not a lost event: the chain goes on in the full file and
		// the next flush tries again.
		_ = t.rotate(lastSeq)
	}
	return nil
}

// Summary returns the sequence number and hash of the last chained record.
func (t *Trail) Summary() Summary {
	t.mu.Lock()
	defer t.mu.Unlock()
	return Summary{Records: t.seq, Last: t.last}
}

func (t *Trail) flusher() {
	defer close(t.done)
	tick := time.NewTicker(t.opts.FlushInterval)
	defer tick.Stop()
	for {
		select {
		case <-t.stop:
			return
		case <-tick.C:
			_ = t.flush() // the error is sticky: Append returns it
		}
	}
}

// Close stops the background flush, writes and syncs what is pending and closes the file.
func (t *Trail) Close() error {
	t.mu.Lock()
	if t.closed {
		t.mu.Unlock()
		return ErrClosed
	}
	t.closed = true
	t.mu.Unlock()
	close(t.stop)
	<-t.done
	err := t.flush()
	t.flushMu.Lock()
	defer t.flushMu.Unlock()
	t.fileDone = true
	return errors.Join(err, t.f.Close())
}

// VerifyFile verifies the trail at path (see Verify).
func VerifyFile(path string) (Summary, error) {
	b, err := os.Open(path)
	if err != nil {
		return Summary{}, fmt.Errorf("open audit trail: %w", err)
	}
	defer b.Close()
	return Verify(b)
}
