package protect

import (
	"bytes"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	bolt "go.etcd.io/bbolt"
)

// The protection journal: a write-ahead log in front of the bbolt database.
//
// A bbolt commit writes the changed pages, fdatasync, the meta page, fdatasync: about ten
// page writes and two device flushes for a handful of records. Instead, the group
// committer writes each batch of records as one journal entry (one pwrite of a few
// hundred bytes into a preallocated file, one fdatasync) and answers the waiting
// requests; the records reach bbolt later, in large transactions, off the signing path
// (the applier).
// Inv 5 holds unchanged: a record is durable (in the journal) before its request is
// answered and so before the signature exists; memory changes only after that.
//
// File protection.db.journal, beside the database, a fixed size (preallocated with
// zeros, so an fdatasync of an overwrite needs no file-system metadata):
//
//	header (journalHeaderLen bytes): magic ‖ journal id (16 random bytes) ‖ zeros
//	entries, from journalHeaderLen, as a ring: an entry that does not fit before the end
//	of the file is written at journalHeaderLen instead
//	entry: length (4) ‖ crc32c (4) ‖ sequence number (8) ‖ ops
//	op:    kind (1) ‖ path length (1) ‖ per bucket name: length (1) ‖ name ‖
//	       key length (1) ‖ key ‖ value length (2) ‖ value ‖ [kind opPutIf: length (2) ‖ expected]
//
// The checksum covers the journal id, the length, the sequence number and the ops, so an
// entry of an earlier journal (another id) or a torn one never validates. Sequence numbers
// increase by one per entry.
//
// The database's bucket meta holds, under keyJournal, the journal id, the sequence number
// of the last entry applied to bbolt and the offset after it, and a clean flag; the
// applier updates them in the transaction that applies the entries. Recovery (Open)
// replays, from that offset, the entries that follow in sequence (trying the offset, then
// journalHeaderLen for a wrap) until one is missing, torn or stale. An entry is
// overwritten only after the bbolt transaction that applied it has committed, so every
// entry a request was answered for is either in bbolt or found by the replay. An entry
// written but not answered (a crash before its fdatasync returned) may be replayed: a
// record without a signature, which refuses more, never less.
//
// Every Open starts a new journal id (after replaying the old one and marking the database
// clean), so entries of an earlier life of the file can never be replayed. Close applies
// everything and marks the database clean: protection.db alone is then complete. Open
// refuses a database that was not closed cleanly if its journal is missing or another one.
var keyJournal = []byte("journal")

const (
	journalSuffix     = ".journal"
	journalHeaderLen  = 4096
	journalIDLen      = 16
	journalStateLen   = journalIDLen + 8 + 8 + 1
	entryHeaderLen    = 4 + 4 + 8
	journalMagic      = "keyward protection journal 1\n"
	defaultJournalLen = 4 << 20
	minJournalLen     = 64 << 10
	// defaultApplyEvery is how long records may stay in the journal only.
	defaultApplyEvery = time.Second

	opPut   = 1 // put value at key in the bucket path (buckets created as needed)
	opPutIf = 2 // put value at key only if the key holds exactly the expected bytes
)

// journalState is the journal's part of bucket meta.
type journalState struct {
	id      [journalIDLen]byte
	applied uint64 // sequence number of the last entry applied to bbolt
	next    int64  // offset after that entry: where the next one starts (or journalHeaderLen)
	clean   bool   // everything written was applied: the journal holds nothing pending
}

func (st journalState) encode() []byte {
	b := make([]byte, 0, journalStateLen)
	b = append(b, st.id[:]...)
	b = binary.BigEndian.AppendUint64(b, st.applied)
	b = binary.BigEndian.AppendUint64(b, uint64(st.next))
	if st.clean {
		return append(b, 1)
	}
	return append(b, 0)
}

func decodeJournalState(b []byte) (journalState, error) {
	if len(b) != journalStateLen || b[journalStateLen-1] > 1 {
		return journalState{}, fmt.Errorf("%w: journal state of %d bytes", ErrCorrupt, len(b))
	}
	st := journalState{applied: binary.BigEndian.Uint64(b[journalIDLen:]), next: int64(binary.BigEndian.Uint64(b[journalIDLen+8:])), clean: b[journalStateLen-1] == 1}
	copy(st.id[:], b)
	return st, nil
}

// appendPut appends an opPut to ops.
func appendPut(ops []byte, path [][]byte, key, val []byte) []byte {
	return appendOp(ops, opPut, path, key, val, nil)
}

// appendPutIf appends an opPutIf to ops.
func appendPutIf(ops []byte, path [][]byte, key, expect, val []byte) []byte {
	return appendOp(ops, opPutIf, path, key, val, expect)
}

func appendOp(ops []byte, kind byte, path [][]byte, key, val, expect []byte) []byte {
	n := 2 + 1 + len(key) + 2 + len(val) // one allocation at most
	for _, p := range path {
		n += 1 + len(p)
	}
	if kind == opPutIf {
		n += 2 + len(expect)
	}
	ops = slices.Grow(ops, n)
	ops = append(ops, kind, byte(len(path)))
	for _, p := range path {
		ops = append(ops, byte(len(p)))
		ops = append(ops, p...)
	}
	ops = append(ops, byte(len(key)))
	ops = append(ops, key...)
	ops = binary.BigEndian.AppendUint16(ops, uint16(len(val)))
	ops = append(ops, val...)
	if kind == opPutIf {
		ops = binary.BigEndian.AppendUint16(ops, uint16(len(expect)))
		ops = append(ops, expect...)
	}
	return ops
}

// opReader reads the fields of encoded ops; the first out-of-bounds read sets bad.
type opReader struct {
	b   []byte
	bad bool
}

func (r *opReader) take(n int) []byte {
	if r.bad || n > len(r.b) {
		r.bad = true
		return nil
	}
	v := r.b[:n:n]
	r.b = r.b[n:]
	return v
}

func (r *opReader) u8() int {
	if v := r.take(1); v != nil {
		return int(v[0])
	}
	return 0
}

func (r *opReader) u16() int {
	if v := r.take(2); v != nil {
		return int(binary.BigEndian.Uint16(v))
	}
	return 0
}

// applyOps applies encoded ops in the open transaction. The slices handed to bbolt point
// into ops, which must stay unchanged until the transaction ends.
func applyOps(tx *bolt.Tx, ops []byte) error {
	r := &opReader{b: ops}
	for len(r.b) > 0 {
		kind, n := r.u8(), r.u8()
		if (kind != opPut && kind != opPutIf) || n == 0 {
			return fmt.Errorf("%w: journal op %d with a path of %d", ErrCorrupt, kind, n)
		}
		var b *bolt.Bucket
		for i := 0; i < n && !r.bad; i++ {
			name := r.take(r.u8())
			if r.bad || len(name) == 0 {
				return fmt.Errorf("%w: journal op bucket name", ErrCorrupt)
			}
			var err error
			if b == nil {
				b, err = tx.CreateBucketIfNotExists(name)
			} else {
				b, err = b.CreateBucketIfNotExists(name)
			}
			if err != nil {
				return fmt.Errorf("apply journal: bucket %q: %w", name, err)
			}
		}
		key := r.take(r.u8())
		val := r.take(r.u16())
		var expect []byte
		if kind == opPutIf {
			expect = r.take(r.u16())
		}
		if r.bad || len(key) == 0 {
			return fmt.Errorf("%w: truncated journal op", ErrCorrupt)
		}
		if kind == opPutIf && !bytes.Equal(b.Get(key), expect) {
			continue
		}
		if err := b.Put(key, val); err != nil {
			return fmt.Errorf("apply journal: put: %w", err)
		}
	}
	return nil
}

// entryChecksum is the crc32c of the journal id, then the entry from its sequence number
// on, then its length.
func entryChecksum(id *[journalIDLen]byte, entry []byte) uint32 {
	tab := crc32.MakeTable(crc32.Castagnoli) // built once by package crc32
	c := crc32.Update(0, tab, id[:])
	c = crc32.Update(c, tab, entry[8:])
	return crc32.Update(c, tab, entry[:4])
}

// journal is the file and the writer's position. Only the committer writes it (after
// Open), so its fields need no lock; applied and the applier's fields are shared.
type journal struct {
	f    *os.File
	size int64
	id   [journalIDLen]byte

	head int64  // where the next entry goes (or journalHeaderLen if it does not fit)
	seq  uint64 // sequence number of the last entry written
	live []span // entries written and not yet durably applied, in write order
	buf  []byte // the entry being built
	err  error  // a write or fdatasync failed: the journal is unusable until a restart

	written atomic.Uint64 // seq, published for settleAll
}

// span is where one entry lies.
type span struct {
	seq        uint64
	start, end int64
}

// openJournal opens (creating and preallocating if needed) the journal file at path, of
// size bytes. It does not read or write the header.
func openJournal(path string, size int64) (*journal, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("open protection journal: %w", err)
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("open protection journal: %w", err)
	}
	j := &journal{f: f, size: fi.Size()}
	if fi.Size() == 0 {
		// A new file: written zeros (not a hole, not fallocate's unwritten extents), so
		// that later overwrites change no file-system metadata and fdatasync flushes data
		// only. The directory entry is made durable too.
		if err := j.preallocate(size); err != nil {
			f.Close()
			return nil, err
		}
		if err := syncDir(filepath.Dir(path)); err != nil {
			f.Close()
			return nil, err
		}
	}
	return j, nil
}

func (j *journal) preallocate(size int64) error {
	zeros := make([]byte, 1<<20)
	for off := int64(0); off < size; off += int64(len(zeros)) {
		n := min(int64(len(zeros)), size-off)
		if _, err := j.f.WriteAt(zeros[:n], off); err != nil {
			return fmt.Errorf("preallocate protection journal: %w", err)
		}
	}
	if err := j.f.Sync(); err != nil {
		return fmt.Errorf("preallocate protection journal: %w", err)
	}
	j.size = size
	return nil
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("sync directory: %w", err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("sync directory %s: %w", dir, err)
	}
	return nil
}

// readID returns the id in the file's header, or ok false if the header is not one.
func (j *journal) readID() (id [journalIDLen]byte, ok bool, err error) {
	hdr := make([]byte, len(journalMagic)+journalIDLen)
	if _, err := j.f.ReadAt(hdr, 0); err != nil {
		if errors.Is(err, io.EOF) {
			return id, false, nil
		}
		return id, false, fmt.Errorf("read protection journal: %w", err)
	}
	if string(hdr[:len(journalMagic)]) != journalMagic {
		return id, false, nil
	}
	copy(id[:], hdr[len(journalMagic):])
	return id, true, nil
}

// start gives the journal a new random id (durably) and makes it empty: the next entry,
// seq+1, goes at journalHeaderLen.
func (j *journal) start(seq uint64) error {
	if _, err := rand.Read(j.id[:]); err != nil {
		return fmt.Errorf("protection journal id: %w", err)
	}
	hdr := make([]byte, journalHeaderLen)
	copy(hdr, journalMagic)
	copy(hdr[len(journalMagic):], j.id[:])
	if _, err := j.f.WriteAt(hdr, 0); err != nil {
		return fmt.Errorf("write protection journal header: %w", err)
	}
	if err := fdatasync(j.f); err != nil {
		return fmt.Errorf("write protection journal header: %w", err)
	}
	j.head, j.seq, j.live = journalHeaderLen, seq, nil
	j.written.Store(seq)
	return nil
}

// readEntry returns the entry at off if it is complete, checksummed under id and numbered
// want; ok is false otherwise. A checksummed entry numbered above want means entries are
// missing: the journal and the database do not belong together.
func (j *journal) readEntry(id *[journalIDLen]byte, off int64, want uint64) (entry []byte, ok bool, err error) {
	if off < journalHeaderLen || off+entryHeaderLen > j.size {
		return nil, false, nil
	}
	var hdr [entryHeaderLen]byte
	if _, err := j.f.ReadAt(hdr[:], off); err != nil {
		return nil, false, fmt.Errorf("read protection journal: %w", err)
	}
	n := int64(binary.BigEndian.Uint32(hdr[:4]))
	if n < entryHeaderLen || off+n > j.size {
		return nil, false, nil
	}
	entry = make([]byte, n)
	if _, err := j.f.ReadAt(entry, off); err != nil {
		return nil, false, fmt.Errorf("read protection journal: %w", err)
	}
	if binary.BigEndian.Uint32(entry[4:8]) != entryChecksum(id, entry) {
		return nil, false, nil
	}
	switch seq := binary.BigEndian.Uint64(entry[8:16]); {
	case seq == want:
		return entry, true, nil
	case seq > want:
		return nil, false, fmt.Errorf("%w: protection journal entry %d where %d was expected (is the journal from a later state of this database?)", ErrCorrupt, seq, want)
	}
	return nil, false, nil // stale: an entry of an earlier lap
}

// replay applies, in tx, the entries of journal st.id that follow st.applied, and returns
// the state after them.
func (j *journal) replay(tx *bolt.Tx, st journalState) (journalState, int, error) {
	n := 0
	for {
		want := st.applied + 1
		entry, ok, err := j.readEntry(&st.id, st.next, want)
		if err == nil && !ok && st.next != journalHeaderLen {
			entry, ok, err = j.readEntry(&st.id, journalHeaderLen, want) // wrapped
			if ok {
				st.next = journalHeaderLen
			}
		}
		if err != nil {
			return st, n, err
		}
		if !ok {
			return st, n, nil
		}
		if err := applyOps(tx, entry[entryHeaderLen:]); err != nil {
			return st, n, fmt.Errorf("replay protection journal entry %d: %w", want, err)
		}
		st.applied, st.next = want, st.next+int64(len(entry))
		n++
	}
}

// maxEntry bounds one entry: a quarter of the ring, so the ring always holds several.
func (j *journal) maxEntry() int { return int(j.size-journalHeaderLen) / 4 }

// place returns where an entry of n bytes can go without overwriting an entry that is not
// durably applied yet (live), after dropping the spans applied up to applied.
func (j *journal) place(n int64, applied uint64) (int64, bool) {
	i := 0
	for i < len(j.live) && j.live[i].seq <= applied {
		i++
	}
	j.live = j.live[i:]
	wrap := j.head+n > j.size
	if len(j.live) == 0 {
		if wrap {
			return journalHeaderLen, true
		}
		return j.head, true
	}
	tail := j.live[0].start
	wrapped := tail > j.live[len(j.live)-1].start // the live entries run over the end
	switch {
	case !wrap && (!wrapped || j.head+n <= tail):
		return j.head, true
	case wrap && !wrapped && journalHeaderLen+n <= tail:
		return journalHeaderLen, true
	}
	return 0, false
}

// liveBytes is how much of the ring the live entries hold.
func (j *journal) liveBytes() int64 {
	if len(j.live) == 0 {
		return 0
	}
	tail := j.live[0].start
	if tail <= j.live[len(j.live)-1].start {
		return j.head - tail
	}
	return j.size - tail + j.head - journalHeaderLen
}

// write writes entry (its length, checksum and sequence number are filled in here) at
// off and makes it durable (fdatasync). Any failure makes the journal unusable (an
// fdatasync error may have dropped pages that a retry would report as written).
func (j *journal) write(entry []byte, off int64) error {
	seq := j.seq + 1
	binary.BigEndian.PutUint32(entry[:4], uint32(len(entry)))
	binary.BigEndian.PutUint64(entry[8:16], seq)
	binary.BigEndian.PutUint32(entry[4:8], entryChecksum(&j.id, entry))
	if _, err := j.f.WriteAt(entry, off); err != nil {
		j.err = fmt.Errorf("write protection journal: %w", err)
		return j.err
	}
	// Inv 5: the entry is on disk when this returns nil; only then are its requests told.
	if err := fdatasync(j.f); err != nil {
		j.err = fmt.Errorf("fdatasync protection journal: %w", err)
		return j.err
	}
	j.seq = seq
	j.head = off + int64(len(entry))
	j.live = append(j.live, span{seq: seq, start: off, end: j.head})
	j.written.Store(seq)
	return nil
}

// applier moves journal entries into bbolt, in order, in large transactions: every
// applyEvery, when the committer needs space in the ring, when a reader needs a key's
// records in bbolt (settle), and at Close.
type applier struct {
	mu      sync.Mutex
	cond    sync.Cond // broadcast when applied or err change
	queue   []applyItem
	applied uint64 // guarded by mu; also in appliedSeq
	err     error  // sticky: bbolt failed; guarded by mu

	appliedSeq atomic.Uint64 // applied, readable without mu
	wake       chan struct{} // 1-buffered: apply now
	quit       chan struct{} // closed by the committer when it has written its last entry
	exited     chan struct{} // closed when the applier has applied everything and stopped
}

// applyItem is one journal entry waiting to be applied.
type applyItem struct {
	seq   uint64
	end   int64  // offset after the entry
	entry []byte // the whole entry; not reused
}

func newApplier(applied uint64) *applier {
	a := &applier{wake: make(chan struct{}, 1), quit: make(chan struct{}), exited: make(chan struct{}), applied: applied}
	a.cond.L = &a.mu
	a.appliedSeq.Store(applied)
	return a
}

// enqueue hands a durable entry to the applier.
func (a *applier) enqueue(it applyItem) {
	a.mu.Lock()
	a.queue = append(a.queue, it)
	a.mu.Unlock()
}

func (a *applier) poke() {
	select {
	case a.wake <- struct{}{}:
	default:
	}
}

// wait returns once every entry up to seq is applied durably in bbolt, or the applier
// failed.
func (a *applier) wait(seq uint64) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	for a.applied < seq && a.err == nil {
		a.poke()
		a.cond.Wait()
	}
	if a.applied >= seq {
		return nil
	}
	return a.err
}

// run is the applier's loop; it returns after the final apply (quit), which also marks
// the database clean.
func (s *Store) runApplier() {
	a := s.ap
	defer close(a.exited)
	tick := time.NewTicker(s.opts.applyEvery)
	defer tick.Stop()
	for {
		final := false
		select {
		case <-a.wake:
		case <-tick.C:
		case <-a.quit:
			final = true
		}
		if err := s.applyQueued(final); final || err != nil {
			return
		}
	}
}

// applyQueued applies every queued entry in one bbolt transaction (durable: data pages,
// fdatasync, meta, fdatasync), with the journal state after them; final also marks the
// database clean.
func (s *Store) applyQueued(final bool) error {
	a := s.ap
	a.mu.Lock()
	q := a.queue
	a.queue = nil
	a.mu.Unlock()
	if len(q) == 0 && !final {
		return nil
	}
	err := s.db.Update(func(tx *bolt.Tx) error {
		meta := tx.Bucket(bucketMeta)
		st, err := decodeJournalState(meta.Get(keyJournal))
		if err != nil {
			return err
		}
		for _, it := range q {
			if err := applyOps(tx, it.entry[entryHeaderLen:]); err != nil {
				return fmt.Errorf("entry %d: %w", it.seq, err)
			}
			st.applied, st.next = it.seq, it.end
		}
		st.clean = final
		if s.opts.testOnlyBeforeApply != nil {
			if err := s.opts.testOnlyBeforeApply(); err != nil {
				return err
			}
		}
		return meta.Put(keyJournal, st.encode())
	})
	a.mu.Lock()
	defer a.mu.Unlock()
	if err != nil {
		// The entries stay in the journal (nothing is lost); the store fails closed: the
		// committer cannot reuse the ring and readers cannot settle until a restart
		// replays them.
		a.err = fmt.Errorf("apply protection journal: %w", err)
		a.cond.Broadcast()
		return a.err
	}
	if len(q) > 0 {
		a.applied = q[len(q)-1].seq
		a.appliedSeq.Store(a.applied)
	}
	a.cond.Broadcast()
	if s.opts.testOnlyAfterApply != nil {
		s.opts.testOnlyAfterApply()
	}
	return nil
}

// settle makes the journal entries up to seq durable in bbolt, for a reader or writer of
// bbolt that must see them (a key's older records, an import, a prune, an export). Most
// calls return at once: the key's last record was applied long ago.
func (s *Store) settle(seq uint64) error {
	if seq <= s.ap.appliedSeq.Load() {
		return nil
	}
	if err := s.ap.wait(seq); err != nil {
		return fmt.Errorf("settle protection journal: %w", err)
	}
	return nil
}

// settleAll settles every entry written so far.
func (s *Store) settleAll() error { return s.settle(s.jr.written.Load()) }

// recoverJournal opens the journal at Open, before bbolt is read: it replays what the
// last run left (if it did not close cleanly), then starts a new journal id, and returns
// the state that init records. The steps are ordered so that a crash between any two
// leaves a state the next Open accepts: replay and mark clean (one bbolt commit), write
// the new header (fdatasync), record the new id (init's commit).
func (s *Store) recoverJournal(path string) (journalState, error) {
	st := journalState{next: journalHeaderLen, clean: true} // a new database, or one from before the journal
	err := s.db.View(func(tx *bolt.Tx) error {
		meta := tx.Bucket(bucketMeta)
		if meta == nil {
			return nil
		}
		if v := meta.Get(keyJournal); v != nil {
			var err error
			st, err = decodeJournalState(v)
			return err
		}
		return nil
	})
	if err != nil {
		return st, fmt.Errorf("open protection journal: %w", err)
	}
	if !st.clean {
		if _, err := os.Stat(path); errors.Is(err, fs.ErrNotExist) {
			return st, fmt.Errorf("%w: protection journal %s is missing and the database was not closed cleanly: records may be in it; put it back beside the database (never start without it)", ErrCorrupt, path)
		}
	}
	size := s.opts.journalSize
	j, err := openJournal(path, size)
	if err != nil {
		return st, err
	}
	s.jr = j
	if !st.clean {
		id, ok, err := j.readID()
		if err != nil {
			return st, err
		}
		if !ok || id != st.id {
			return st, fmt.Errorf("%w: protection journal %s is not this database's and the database was not closed cleanly: records may be missing; put its own journal back beside it", ErrCorrupt, path)
		}
		err = s.db.Update(func(tx *bolt.Tx) error {
			var err error
			var n int
			if st, n, err = j.replay(tx, st); err != nil {
				return err
			}
			st.clean = true
			if n > 0 {
				s.opts.Log.Info("protection journal replayed", "entries", n, "last", st.applied)
			}
			return tx.Bucket(bucketMeta).Put(keyJournal, st.encode())
		})
		if err != nil {
			return st, fmt.Errorf("recover protection journal: %w", err)
		}
	}
	if j.size != size { // another size configured, or a short file: make it anew
		if err := j.f.Truncate(0); err != nil {
			return st, fmt.Errorf("resize protection journal: %w", err)
		}
		if err := j.preallocate(size); err != nil {
			return st, err
		}
	}
	if err := j.start(st.applied); err != nil {
		return st, err
	}
	s.ap = newApplier(st.applied)
	return journalState{id: j.id, applied: st.applied, next: journalHeaderLen}, nil
}
