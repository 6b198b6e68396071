package protect

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	bolt "go.etcd.io/bbolt"
)

// Options configure a Store.
type Options struct {
	// GenesisValidatorsRoot pins the network. Required.
	GenesisValidatorsRoot [32]byte
	// LockTimeout bounds the wait for the database file lock held by another process
	// (another signer on the same state directory). Zero means 2 seconds.
	LockTimeout time.Duration
	// SlotsPerEpoch converts the emergency-brake epoch to a slot. Zero means 32.
	SlotsPerEpoch uint64
	// PruneEvery, if non-zero, runs Prune(PruneKeepEpochs) at this interval from Open
	// until Close. Zero (the default) never prunes: history is complete.
	PruneEvery time.Duration
	// PruneKeepEpochs is how much history a scheduled prune keeps; it must be at least
	// MinPruneKeepEpochs when PruneEvery is set.
	PruneKeepEpochs uint64
	// Log receives the results of scheduled pruning. Nil discards them.
	Log *slog.Logger

	// testOnlyBeforeCommit, if set, runs inside each group commit's transaction before
	// bbolt commits it; an error rolls the transaction back (failpoint for tests).
	testOnlyBeforeCommit func() error
	// testOnlyAfterCommit, if set, runs after each durable group commit, before any
	// waiting request is told (failpoint for tests).
	testOnlyAfterCommit func()
	// testOnlyAfterApply, if set, runs after each durable bbolt transaction of the
	// applier (counting fsyncs in benchmarks).
	testOnlyAfterApply func()
	// testOnlyBeforeApply, if set, runs inside each transaction of the applier before it
	// commits; an error rolls it back (failpoint for tests).
	testOnlyBeforeApply func() error
	// journalSize is the journal file's size (tests: a small ring); zero means
	// defaultJournalLen.
	journalSize int64
	// applyEvery is how often the applier moves journal entries into bbolt; zero means
	// defaultApplyEvery.
	applyEvery time.Duration
}

// Store is the embedded (bbolt) protection store. It is safe for concurrent use.
type Store struct {
	db   *bolt.DB
	opts Options

	mu   sync.Mutex // guards keys (the map, not the entries)
	keys map[[48]byte]*keyEntry

	brake atomic.Pointer[uint64] // the emergency-brake epoch; nil = none. Written under brakeMu.

	brakeMu sync.Mutex // serializes SetBrake/ClearBrake (disk then memory)

	tez tezosMarks // Tezos high watermarks (tezos.go)

	commits chan *pending
	jr      *journal       // written by the committer only (journal.go)
	ap      *applier       // moves journal entries into bbolt (journal.go)
	wg      sync.WaitGroup // the committer, the applier and the pruning schedule
	stop    chan struct{}  // closed by Close: ends the pruning schedule
	closeMu sync.RWMutex   // write-held by Close; read-held by every operation using db
	closed  bool           // guarded by closeMu
}

// keyEntry is one key's summary and the lock that serializes its check-and-record (Inv 5).
type keyEntry struct {
	mu  sync.Mutex // guards sum and seq; held from check until the record is durable, and by import and prune
	sum summary    // equal to the summary on disk (bbolt and journal) whenever mu is free
	seq uint64     // the journal entry of the key's last record: bbolt holds it once applied ≥ seq
}

// pending is a record waiting for the group commit: the journal ops that write it (Tezos
// watermarks and Ethereum records share the committer and its fsyncs).
type pending struct {
	ops  []byte     // appendPut, appendPutIf
	seq  uint64     // set by the committer before done: the journal entry holding ops
	done chan error // nil: nobody waits (NoteSignature)
}

// ethRecordOps are the ops of one Ethereum record: the record at index in the key's
// bucket (bucketBlocks or bucketAtts) and the key's summary after it.
func ethRecordOps(pub [48]byte, bucket []byte, index uint64, rec, sum []byte) []byte {
	ops := make([]byte, 0, 2*(4+len(bucketEth)+len(pub)+len(bucket)+len(keySummary)+8+len(rec)+len(sum)+8))
	ops = appendPut(ops, [][]byte{bucketEth, pub[:], bucket}, be64(index), rec)
	return appendPut(ops, [][]byte{bucketEth, pub[:]}, keySummary, sum)
}

// Open opens or creates the store at path, pins or checks the network, migrates an older
// layout, and loads every key's summary.
func Open(path string, opts Options) (*Store, error) {
	timeout := opts.LockTimeout
	if timeout == 0 {
		timeout = 2 * time.Second
	}
	if opts.SlotsPerEpoch == 0 {
		opts.SlotsPerEpoch = 32
	}
	if opts.PruneEvery != 0 && opts.PruneKeepEpochs < MinPruneKeepEpochs {
		return nil, fmt.Errorf("open protection database: pruning keeps %d epochs, at least %d required", opts.PruneKeepEpochs, MinPruneKeepEpochs)
	}
	if opts.Log == nil {
		opts.Log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if opts.journalSize == 0 {
		opts.journalSize = defaultJournalLen
	}
	if opts.journalSize < minJournalLen {
		return nil, fmt.Errorf("open protection database: journal of %d bytes, at least %d required", opts.journalSize, minJournalLen)
	}
	if opts.applyEvery == 0 {
		opts.applyEvery = defaultApplyEvery
	}
	// Inv 5: never NoSync, so a bbolt commit (the applier's, and the direct writers')
	// returns only after fdatasync. The flock makes a second signer on the same database
	// (and its journal) fail to start instead of signing without the history of the first.
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: timeout})
	if err != nil {
		if errors.Is(err, bolt.ErrTimeout) {
			return nil, fmt.Errorf("open protection database %s: %w (is keyward running on this state directory?)", path, ErrLocked)
		}
		return nil, fmt.Errorf("open protection database %s: %w", path, err)
	}
	s := &Store{db: db, opts: opts, keys: make(map[[48]byte]*keyEntry), commits: make(chan *pending, 4096), stop: make(chan struct{})}
	if err := s.init(path + journalSuffix); err != nil {
		if s.jr != nil {
			s.jr.f.Close()
		}
		db.Close()
		return nil, err
	}
	s.wg.Add(2)
	go s.committer()
	go func() {
		defer s.wg.Done()
		s.runApplier()
	}()
	if opts.PruneEvery != 0 {
		s.wg.Add(1)
		go s.pruneSchedule()
	}
	return s, nil
}

// init replays the journal at journalPath (journal.go), pins or checks the network,
// migrates eth2-v1, records the new journal, and loads the summaries, the Tezos marks and
// the brake.
func (s *Store) init(journalPath string) error {
	// Inv 5: records that were durable only in the journal reach bbolt before anything
	// is loaded from it.
	st, err := s.recoverJournal(journalPath)
	if err != nil {
		return err
	}
	return s.db.Update(func(tx *bolt.Tx) error {
		meta, err := tx.CreateBucketIfNotExists(bucketMeta)
		if err != nil {
			return fmt.Errorf("create meta bucket: %w", err)
		}
		gvr := s.opts.GenesisValidatorsRoot
		switch got := meta.Get(keyGVR); {
		case got == nil:
			if err := meta.Put(keyGVR, gvr[:]); err != nil {
				return fmt.Errorf("pin network: %w", err)
			}
		case !bytes.Equal(got, gvr[:]): // Inv 3: history of another network protects nothing here
			return fmt.Errorf("%w: it holds %#x, the configuration pins %#x", ErrWrongNetwork, got, gvr)
		}
		if v := meta.Get(keyBrake); v != nil {
			e, err := fromBE64(v)
			if err != nil {
				return fmt.Errorf("read brake: %w", err)
			}
			s.brake.Store(&e)
		}
		if err := meta.Put(keyJournal, st.encode()); err != nil {
			return fmt.Errorf("record protection journal: %w", err)
		}
		eth, err := tx.CreateBucketIfNotExists(bucketEth)
		if err != nil {
			return fmt.Errorf("create bucket: %w", err)
		}
		if err := migrateV1(tx, eth); err != nil {
			return err
		}
		if _, err := tx.CreateBucketIfNotExists(bucketTezos); err != nil {
			return fmt.Errorf("create tezos bucket: %w", err)
		}
		if err := s.initTezos(tx); err != nil {
			return err
		}
		return eth.ForEachBucket(func(k []byte) error {
			if len(k) != 48 {
				return fmt.Errorf("%w: key of %d bytes", ErrCorrupt, len(k))
			}
			sum, err := decodeSummary(eth.Bucket(k).Get(keySummary))
			if err != nil {
				return fmt.Errorf("key %#x: %w", k, err)
			}
			s.keys[[48]byte(k)] = &keyEntry{sum: sum}
			return nil
		})
	})
}

// entry returns pub's entry, creating an empty one.
func (s *Store) entry(pub [48]byte) *keyEntry {
	s.mu.Lock()
	defer s.mu.Unlock()
	e, ok := s.keys[pub]
	if !ok {
		e = &keyEntry{}
		s.keys[pub] = e
	}
	return e
}

// enter marks an operation on the database; Close waits for it. Every enter that
// returns nil is paired with leave.
func (s *Store) enter() error {
	s.closeMu.RLock()
	if s.closed {
		s.closeMu.RUnlock()
		return ErrClosed
	}
	return nil
}

func (s *Store) leave() { s.closeMu.RUnlock() }

// commit hands a record to the group committer and waits until it is durable (in the
// journal); p.seq is then its journal entry. The caller holds the key's lock and is
// inside enter/leave.
func (s *Store) commit(p *pending) error {
	p.done = make(chan error, 1)
	s.commits <- p
	return <-p.done
}

// maxBatch bounds the records of one group commit.
const maxBatch = 1024

// committer writes every record waiting at the time a commit starts as one journal entry
// (one write, one fdatasync), so concurrent signers share the fsyncs. At low load a commit
// holds one record and adds no delay; under load the batch grows with the commit time.
// When the channel is closed it writes what is left and tells the applier to finish.
func (s *Store) committer() {
	defer s.wg.Done()
	defer close(s.ap.quit)
	batch := make([]*pending, 0, maxBatch)
	var carry *pending // a record that did not fit in the previous entry
	for {
		p := carry
		carry = nil
		if p == nil {
			var ok bool
			if p, ok = <-s.commits; !ok {
				return
			}
		}
		batch = append(batch[:0], p)
		size := entryHeaderLen + len(p.ops)
	drain:
		for len(batch) < cap(batch) {
			select {
			case q, ok := <-s.commits:
				if !ok {
					break drain
				}
				if size+len(q.ops) > s.jr.maxEntry() {
					carry = q
					break drain
				}
				batch = append(batch, q)
				size += len(q.ops)
			default:
				break drain
			}
		}
		seq, err := s.commitBatch(batch, size)
		if err != nil {
			err = fmt.Errorf("record protection: %w", err)
		}
		for _, q := range batch {
			q.seq = seq
			if q.done != nil {
				q.done <- err // buffered: never blocks
			}
		}
	}
}

// commitBatch writes the batch's ops as one journal entry of size bytes and hands it to
// the applier; it returns the entry's sequence number.
func (s *Store) commitBatch(batch []*pending, size int) (uint64, error) {
	j := s.jr
	if j.err != nil {
		return 0, j.err // fail closed until a restart
	}
	if s.opts.testOnlyBeforeCommit != nil {
		if err := s.opts.testOnlyBeforeCommit(); err != nil {
			return 0, err
		}
	}
	entry := make([]byte, entryHeaderLen, size) // not reused: the applier keeps it
	for _, q := range batch {
		entry = append(entry, q.ops...)
	}
	off, err := s.reserve(int64(len(entry)))
	if err != nil {
		return 0, err
	}
	// Inv 5: durable (fdatasync) when write returns nil; the waiting requests are told
	// only after.
	if err := j.write(entry, off); err != nil {
		return 0, err
	}
	s.ap.enqueue(applyItem{seq: j.seq, end: j.head, entry: entry})
	if j.liveBytes() > (j.size-journalHeaderLen)/2 {
		s.ap.poke() // apply early rather than wait for space later
	}
	if s.opts.testOnlyAfterCommit != nil {
		s.opts.testOnlyAfterCommit()
	}
	return j.seq, nil
}

// reserve returns where the next entry of n bytes goes, waiting for the applier when the
// ring holds only entries that bbolt does not have yet.
func (s *Store) reserve(n int64) (int64, error) {
	for {
		if off, ok := s.jr.place(n, s.ap.appliedSeq.Load()); ok {
			return off, nil
		}
		if err := s.ap.wait(s.jr.live[0].seq); err != nil {
			return 0, err
		}
	}
}

// Close waits for operations in progress and pending commits, then closes the database.
func (s *Store) Close() error {
	s.closeMu.Lock()
	if s.closed {
		s.closeMu.Unlock()
		return nil
	}
	s.closed = true
	close(s.stop)
	close(s.commits)
	s.closeMu.Unlock()
	s.wg.Wait() // the committer wrote everything; the applier applied it and marked the database clean
	s.ap.mu.Lock()
	err := s.ap.err
	s.ap.mu.Unlock()
	if cerr := s.jr.f.Close(); err == nil && cerr != nil {
		err = fmt.Errorf("close protection journal: %w", cerr)
	}
	if cerr := s.db.Close(); err == nil {
		err = cerr
	}
	return err
}

// Stats is what Stats reports.
type Stats struct {
	Keys         int    // keys with any history or watermark
	Blocks       uint64 // block records
	Attestations uint64 // attestation records
	Brake        uint64 // emergency-brake epoch, if BrakeSet
	BrakeSet     bool
}

// Stats counts keys and records (from memory; exact).
func (s *Store) Stats() Stats {
	var st Stats
	s.mu.Lock()
	entries := make([]*keyEntry, 0, len(s.keys))
	for _, e := range s.keys {
		entries = append(entries, e)
	}
	s.mu.Unlock()
	for _, e := range entries {
		e.mu.Lock()
		if e.sum.hasBlocks || e.sum.hasAtts {
			st.Keys++
		}
		st.Blocks += e.sum.nBlocks
		st.Attestations += e.sum.nAtts
		e.mu.Unlock()
	}
	st.Brake, st.BrakeSet = s.Brake()
	return st
}

// migrateV1 converts the minimal records of bucket eth2-v1 (last block, highest source,
// last target) into watermarks and one record each, in the open transaction, and deletes
// the old bucket. Every request the old record refused stays refused.
func migrateV1(tx *bolt.Tx, eth *bolt.Bucket) error {
	old := tx.Bucket(bucketEthV1)
	if old == nil {
		return nil
	}
	const v1Len = 1 + 1 + 8 + 32 + 8 + 8 + 32
	err := old.ForEach(func(k, v []byte) error {
		if len(k) != 48 || len(v) != v1Len || v[0] != 1 || v[1]&^3 != 0 {
			return fmt.Errorf("%w: eth2-v1 record of %d bytes", ErrCorrupt, len(v))
		}
		kb, err := eth.CreateBucketIfNotExists(k)
		if err != nil {
			return fmt.Errorf("migrate key: %w", err)
		}
		var sum summary
		if v[1]&1 != 0 {
			slot, _ := fromBE64(v[2:10])
			rec := blockRec{known: true, root: [32]byte(v[10:42])}
			if err := putRecord(kb, bucketBlocks, slot, rec.encode()); err != nil {
				return err
			}
			sum.hasBlocks, sum.lowSlot, sum.maxSlot, sum.nBlocks = true, slot, slot, 1
		}
		if v[1]&2 != 0 {
			src, _ := fromBE64(v[42:50])
			tgt, _ := fromBE64(v[50:58])
			// The source of the last vote is not known, only the highest source: record it
			// as that source (a repeat must then match it exactly: stricter, never looser).
			rec := attRec{minSource: src, maxSource: src, known: true, root: [32]byte(v[58:90])}
			if err := putRecord(kb, bucketAtts, tgt, rec.encode()); err != nil {
				return err
			}
			sum.hasAtts, sum.lowSource, sum.lowTarget, sum.maxSource, sum.maxTarget, sum.nAtts, sum.sorted = true, src, tgt, src, tgt, 1, true
		}
		return kb.Put(keySummary, sum.encode())
	})
	if err != nil {
		return fmt.Errorf("migrate eth2-v1: %w", err)
	}
	if err := tx.DeleteBucket(bucketEthV1); err != nil {
		return fmt.Errorf("migrate eth2-v1: %w", err)
	}
	return nil
}

// putRecord writes one record into the named sub-bucket of a key bucket.
func putRecord(kb *bolt.Bucket, name []byte, index uint64, rec []byte) error {
	rb, err := kb.CreateBucketIfNotExists(name)
	if err != nil {
		return fmt.Errorf("create record bucket: %w", err)
	}
	if err := rb.Put(be64(index), rec); err != nil {
		return fmt.Errorf("put record: %w", err)
	}
	return nil
}
