package protect

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"sync"
	"time"

	bolt "go.etcd.io/bbolt"
)

var (
	bucketMeta = []byte("meta")
	bucketEth  = []byte("eth2-v1")
	keyGVR     = []byte("genesis_validators_root")
)

// recordLen is the size of an encoded keyState: version, flags, block slot, block root,
// source, target, target root.
const recordLen = 1 + 1 + 8 + 32 + 8 + 8 + 32

const recordVersion = 1

// Options configure a Store.
type Options struct {
	// GenesisValidatorsRoot pins the network. Required.
	GenesisValidatorsRoot [32]byte
	// LockTimeout bounds the wait for the database file lock held by another process
	// (another signer on the same state directory). Zero means 2 seconds.
	LockTimeout time.Duration
	// testOnlyAfterCommit, if set, runs after each durable commit (failpoint for tests).
	testOnlyAfterCommit func()
}

// Store is the embedded (bbolt) protection store. It is safe for concurrent use.
type Store struct {
	db   *bolt.DB
	opts Options

	mu   sync.Mutex // guards keys (the map, not the entries)
	keys map[[48]byte]*keyEntry

	commits chan *pending
	wg      sync.WaitGroup
	closeMu sync.RWMutex // write-held by Close; read-held while submitting
	closed  bool
}

// keyEntry is one key's state and the lock that serializes its check-and-record (Inv 5).
type keyEntry struct {
	mu    sync.Mutex // guards state; held from check until the record is durable
	state keyState
}

// pending is a record waiting for the group commit.
type pending struct {
	pub  [48]byte
	rec  [recordLen]byte
	done chan error
}

// Open opens or creates the store at path and loads every key's state.
func Open(path string, opts Options) (*Store, error) {
	timeout := opts.LockTimeout
	if timeout == 0 {
		timeout = 2 * time.Second
	}
	// Never NoSync: a commit returns only after fdatasync (Inv 5). The flock makes a second
	// signer on the same database fail to start instead of signing without shared state.
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: timeout})
	if err != nil {
		if errors.Is(err, bolt.ErrTimeout) {
			return nil, fmt.Errorf("open protection database %s: locked by another process (is another keyward running on this state directory?)", path)
		}
		return nil, fmt.Errorf("open protection database %s: %w", path, err)
	}
	s := &Store{db: db, opts: opts, keys: make(map[[48]byte]*keyEntry), commits: make(chan *pending, 4096)}
	if err := s.init(); err != nil {
		db.Close()
		return nil, err
	}
	s.wg.Add(1)
	go s.committer()
	return s, nil
}

// init pins or checks the network and loads all records.
func (s *Store) init() error {
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
		b, err := tx.CreateBucketIfNotExists(bucketEth)
		if err != nil {
			return fmt.Errorf("create bucket: %w", err)
		}
		return b.ForEach(func(k, v []byte) error {
			if len(k) != 48 {
				return fmt.Errorf("%w: key of %d bytes", ErrCorrupt, len(k))
			}
			st, err := decodeRecord(v)
			if err != nil {
				return fmt.Errorf("key %#x: %w", k, err)
			}
			var pub [48]byte
			copy(pub[:], k)
			s.keys[pub] = &keyEntry{state: st}
			return nil
		})
	})
}

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

// CheckBlock applies the block rule for pub and, if the block may be signed, records it
// durably before returning nil. A *Refusal means never sign; any other error means the
// record could not be made durable, so do not sign either.
func (s *Store) CheckBlock(pub [48]byte, slot uint64, signingRoot [32]byte) error {
	e := s.entry(pub)
	e.mu.Lock() // Inv 5: check and record under one per-key lock
	defer e.mu.Unlock()
	v, ref := checkBlock(&e.state, slot, signingRoot)
	next := e.state
	next.HasBlock, next.BlockSlot, next.BlockRoot = true, slot, signingRoot
	return s.apply(pub, e, v, ref, next)
}

// CheckAttestation applies the attestation rule for pub, recording durably as CheckBlock.
func (s *Store) CheckAttestation(pub [48]byte, source, target uint64, signingRoot [32]byte) error {
	e := s.entry(pub)
	e.mu.Lock() // Inv 5: check and record under one per-key lock
	defer e.mu.Unlock()
	v, ref := checkAttestation(&e.state, source, target, signingRoot)
	next := e.state
	next.HasAtt, next.AttTarget, next.AttTargetRoot = true, target, signingRoot
	next.AttSource = max(next.AttSource, source)
	return s.apply(pub, e, v, ref, next)
}

// apply acts on a verdict with e.mu held.
func (s *Store) apply(pub [48]byte, e *keyEntry, v verdict, ref *Refusal, next keyState) error {
	switch v {
	case reissue:
		return nil // identical to a durable record
	case record:
		if err := s.commit(pub, next); err != nil {
			return err // memory unchanged: the next request is checked against disk truth
		}
		e.state = next // only after the record is durable
		return nil
	default:
		if ref == nil {
			ref = &Refusal{Rule: "refused", Detail: "no rule allowed the request"}
		}
		return ref
	}
}

// commit hands the record to the group committer and waits until it is durable.
func (s *Store) commit(pub [48]byte, st keyState) error {
	p := &pending{pub: pub, rec: encodeRecord(st), done: make(chan error, 1)}
	s.closeMu.RLock()
	if s.closed {
		s.closeMu.RUnlock()
		return ErrClosed
	}
	s.commits <- p
	s.closeMu.RUnlock()
	return <-p.done
}

// committer writes every record waiting at the time a commit starts in one transaction,
// so concurrent signers share the fsyncs. At low load a commit holds one record and adds
// no delay; under load the batch grows with the commit time.
func (s *Store) committer() {
	defer s.wg.Done()
	batch := make([]*pending, 0, 256)
	for p := range s.commits {
		batch = append(batch[:0], p)
	drain:
		for len(batch) < cap(batch) {
			select {
			case q, ok := <-s.commits:
				if !ok {
					break drain
				}
				batch = append(batch, q)
			default:
				break drain
			}
		}
		err := s.db.Update(func(tx *bolt.Tx) error {
			b := tx.Bucket(bucketEth)
			for _, q := range batch {
				if err := b.Put(q.pub[:], q.rec[:]); err != nil {
					return fmt.Errorf("put record: %w", err)
				}
			}
			return nil
		}) // returns after fdatasync of data and meta pages
		if err == nil && s.opts.testOnlyAfterCommit != nil {
			s.opts.testOnlyAfterCommit()
		}
		if err != nil {
			err = fmt.Errorf("record protection: %w", err)
		}
		for _, q := range batch {
			q.done <- err
		}
	}
}

// Close waits for pending commits and closes the database.
func (s *Store) Close() error {
	s.closeMu.Lock()
	if s.closed {
		s.closeMu.Unlock()
		return nil
	}
	s.closed = true
	close(s.commits)
	s.closeMu.Unlock()
	s.wg.Wait()
	return s.db.Close()
}

func encodeRecord(st keyState) [recordLen]byte {
	var b [recordLen]byte
	b[0] = recordVersion
	if st.HasBlock {
		b[1] |= 1
	}
	if st.HasAtt {
		b[1] |= 2
	}
	binary.BigEndian.PutUint64(b[2:], st.BlockSlot)
	copy(b[10:42], st.BlockRoot[:])
	binary.BigEndian.PutUint64(b[42:], st.AttSource)
	binary.BigEndian.PutUint64(b[50:], st.AttTarget)
	copy(b[58:90], st.AttTargetRoot[:])
	return b
}

func decodeRecord(b []byte) (keyState, error) {
	if len(b) != recordLen || b[0] != recordVersion || b[1]&^3 != 0 {
		return keyState{}, fmt.Errorf("%w: %d bytes, version %d", ErrCorrupt, len(b), firstByte(b))
	}
	var st keyState
	st.HasBlock = b[1]&1 != 0
	st.HasAtt = b[1]&2 != 0
	st.BlockSlot = binary.BigEndian.Uint64(b[2:])
	copy(st.BlockRoot[:], b[10:42])
	st.AttSource = binary.BigEndian.Uint64(b[42:])
	st.AttTarget = binary.BigEndian.Uint64(b[50:])
	copy(st.AttTargetRoot[:], b[58:90])
	return st, nil
}

func firstByte(b []byte) byte {
	if len(b) == 0 {
		return 0
	}
	return b[0]
}
