package protect

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"slices"
	"sync"

	bolt "go.etcd.io/bbolt"

	"github.com/keyward/keyward/internal/tezos"
)

// Tezos high watermarks live in the same database as the Ethereum history, in their own
// bucket, and share its group committer: a Tezos record and an Ethereum record that are
// waiting at the same time are made durable by one fsync.
//
// Bucket "tezos-v1": key = chain id (4) ‖ pkh (21, Octez binary form) ‖ class (1);
// value = version (1) ‖ level (4) ‖ round (4) ‖ payload hash (32) ‖ signature length (1)
// ‖ signature (0, 64 or 96 bytes). Big-endian. Only the latest mark of each (chain, key,
// class) is kept, as octez-signer does: the rule needs nothing older.
var bucketTezos = []byte("tezos-v1")

const (
	tezosMarkVersion = 1
	tezosKeyLen      = 4 + 21 + 1
	tezosMarkMinLen  = 1 + 4 + 4 + 32 + 1
	maxTezosSigLen   = 96
)

// tezosMarks is the in-memory copy of the Tezos marks, equal to the disk whenever the key's
// lock is free.
type tezosMarks struct {
	mu   sync.Mutex // guards keys (the map, not the entries)
	keys map[[21]byte]*tezosKey
}

// tezosKey is one Tezos key's marks and the lock that serializes its requests (Inv 5).
// Each key has its own lock: keys never wait on each other.
type tezosKey struct {
	mu    sync.Mutex // guards marks and seq; held by a TezosGuard from check until the signature is recorded
	marks map[tezosMarkKey]*tezos.Mark
	seq   uint64 // the journal entry of the key's last durable mark: bbolt holds it once applied ≥ seq
}

// tezosMarkKey is the position of a mark for one key: chain and class.
type tezosMarkKey struct {
	chain tezos.ChainID
	class tezos.Class
}

func (s *Store) initTezos(tx *bolt.Tx) error {
	s.tez.keys = make(map[[21]byte]*tezosKey)
	return tx.Bucket(bucketTezos).ForEach(func(k, v []byte) error {
		if len(k) != tezosKeyLen {
			return fmt.Errorf("%w: tezos mark key of %d bytes", ErrCorrupt, len(k))
		}
		m, err := decodeTezosMark(v)
		if err != nil {
			return fmt.Errorf("tezos mark %x: %w", k, err)
		}
		mk := tezosMarkKey{chain: tezos.ChainID(k[:4]), class: tezos.Class(k[25])}
		if mk.class.String() == "invalid" {
			return fmt.Errorf("%w: tezos mark of class %d", ErrCorrupt, k[25])
		}
		s.tezosEntry([21]byte(k[4:25])).marks[mk] = m
		return nil
	})
}

func encodeTezosMark(m *tezos.Mark) []byte {
	b := make([]byte, 0, tezosMarkMinLen+len(m.Signature))
	b = append(b, tezosMarkVersion)
	b = binary.BigEndian.AppendUint32(b, m.Level)
	b = binary.BigEndian.AppendUint32(b, m.Round)
	b = append(b, m.PayloadHash[:]...)
	b = append(b, byte(len(m.Signature)))
	return append(b, m.Signature...)
}

func decodeTezosMark(v []byte) (*tezos.Mark, error) {
	if len(v) < tezosMarkMinLen || v[0] != tezosMarkVersion || len(v) != tezosMarkMinLen+int(v[41]) || v[41] > maxTezosSigLen {
		return nil, fmt.Errorf("%w: tezos mark of %d bytes", ErrCorrupt, len(v))
	}
	m := &tezos.Mark{Level: binary.BigEndian.Uint32(v[1:5]), Round: binary.BigEndian.Uint32(v[5:9])}
	copy(m.PayloadHash[:], v[9:41])
	if v[41] != 0 {
		m.Signature = append([]byte(nil), v[42:]...)
	}
	return m, nil
}

func tezosDBKey(pkh [21]byte, mk tezosMarkKey) []byte {
	k := make([]byte, 0, tezosKeyLen)
	k = append(k, mk.chain[:]...)
	k = append(k, pkh[:]...)
	return append(k, byte(mk.class))
}

// tezosEntry returns the key's entry, creating an empty one.
func (s *Store) tezosEntry(pkh [21]byte) *tezosKey {
	s.tez.mu.Lock()
	defer s.tez.mu.Unlock()
	e, ok := s.tez.keys[pkh]
	if !ok {
		e = &tezosKey{marks: make(map[tezosMarkKey]*tezos.Mark)}
		s.tez.keys[pkh] = e
	}
	return e
}

// TezosGuard is one Tezos key's lock, held from the watermark check until the signature
// is recorded. It is not safe for concurrent use; Unlock must be called exactly once.
type TezosGuard struct {
	s   *Store
	pkh [21]byte
	e   *tezosKey
}

// LockTezos takes the lock of key pkh and returns the guard through which the key's marks
// are checked and recorded. It fails only when the store is closed.
func (s *Store) LockTezos(pkh tezos.PublicKeyHash) (*TezosGuard, error) {
	if !pkh.Valid() {
		return nil, fmt.Errorf("lock tezos key: %w", tezos.ErrKeyKind)
	}
	if err := s.enter(); err != nil {
		return nil, err
	}
	bin := pkh.Binary()
	e := s.tezosEntry(bin)
	e.mu.Lock()
	return &TezosGuard{s: s, pkh: bin, e: e}, nil
}

// Unlock releases the key.
func (g *TezosGuard) Unlock() {
	g.e.mu.Unlock()
	g.s.leave()
}

// Check applies the high-watermark rule (tezos.CheckWatermark) to a request at wk whose
// payload hashes to hash. On VerdictReissue it returns the stored signature, which the
// caller returns without signing again. A refusal is a *tezos.WatermarkError.
func (g *TezosGuard) Check(wk tezos.WatermarkKey, hash [32]byte) (tezos.Verdict, []byte, error) {
	stored := g.e.marks[tezosMarkKey{chain: wk.ChainID, class: wk.Class}]
	v, err := tezos.CheckWatermark(stored, wk.Level, wk.Round, hash)
	if v == tezos.VerdictReissue {
		return v, append([]byte(nil), stored.Signature...), nil
	}
	return v, nil, err
}

// Record makes the new mark (level, round, payload hash, no signature yet) durable before
// it returns (Inv 5: the caller signs only after). The caller has run Check.
func (g *TezosGuard) Record(wk tezos.WatermarkKey, hash [32]byte) error {
	return g.put(wk, &tezos.Mark{Level: wk.Level, Round: wk.Round, PayloadHash: hash})
}

// RecordSignature stores the signature with the mark recorded by Record, durably, so that
// a retry of the same bytes gets this signature back. The caller returns the signature
// only after this succeeded.
func (g *TezosGuard) RecordSignature(wk tezos.WatermarkKey, hash [32]byte, sig []byte) error {
	if len(sig) == 0 || len(sig) > maxTezosSigLen {
		return fmt.Errorf("record signature: %d bytes", len(sig))
	}
	return g.put(wk, &tezos.Mark{Level: wk.Level, Round: wk.Round, PayloadHash: hash, Signature: append([]byte(nil), sig...)})
}

// NoteSignature stores the signature with the mark recorded by Record without waiting
// for it to be durable: memory now, disk in the next group commit, whose fsync it shares
// with whatever else is committed then. Use it only for keys whose signing is
// deterministic (core decides; see core.deterministicSigner), right after Record of the
// same mark under the same guard (anything else is refused). Why that is safe:
//
//   - Inv 5 is untouched: the mark (level, round, payload hash) was made durable by Record
//     before the signature existed; only the copy of the signature is late.
//   - The signature record exists only so that a retry of identical bytes gets the
//     identical signature back. If the write is lost (crash, or a failed commit), the disk
//     holds the mark without a signature, and tezos.CheckWatermark answers VerdictSign for
//     the same bytes at the same level and round: the key signs them again, and a
//     deterministic scheme gives the byte-identical signature. Nothing different ever
//     leaves the signer for the same bytes.
//   - The disk write is conditional: it lands only if the stored mark is still this mark
//     without a signature, so a late write can never lower or replace a newer mark
//     recorded after this guard was released.
//
// In memory the signature is visible at once, so the key's marks in memory can be ahead of
// the disk by this signature only.
func (g *TezosGuard) NoteSignature(wk tezos.WatermarkKey, hash [32]byte, sig []byte) error {
	if len(sig) == 0 || len(sig) > maxTezosSigLen {
		return fmt.Errorf("record signature: %d bytes", len(sig))
	}
	mk := tezosMarkKey{chain: wk.ChainID, class: wk.Class}
	if cur := g.e.marks[mk]; cur == nil || cur.Level != wk.Level || cur.Round != wk.Round || cur.PayloadHash != hash || len(cur.Signature) != 0 {
		return fmt.Errorf("note signature: the key's mark is not the one just recorded")
	}
	m := &tezos.Mark{Level: wk.Level, Round: wk.Round, PayloadHash: hash, Signature: append([]byte(nil), sig...)}
	key, val := tezosDBKey(g.pkh, mk), encodeTezosMark(m)
	unsigned := encodeTezosMark(&tezos.Mark{Level: wk.Level, Round: wk.Round, PayloadHash: hash})
	// The guard holds enter() until Unlock, so Close cannot close the channel under us.
	// Nobody waits (done is nil). The op is conditional when applied (to bbolt, or by a
	// replay): a newer mark, or this one signed, is left as it is.
	g.s.commits <- &pending{ops: appendPutIf(nil, [][]byte{bucketTezos}, key, unsigned, val)}
	g.e.marks[mk] = m
	return nil
}

// put writes one mark through the group committer and, once durable, into memory.
func (g *TezosGuard) put(wk tezos.WatermarkKey, m *tezos.Mark) error {
	mk := tezosMarkKey{chain: wk.ChainID, class: wk.Class}
	p := &pending{ops: appendPut(nil, [][]byte{bucketTezos}, tezosDBKey(g.pkh, mk), encodeTezosMark(m))}
	// Inv 5: commit returns nil only once the mark is durable (journal, fdatasync).
	if err := g.s.commit(p); err != nil {
		return fmt.Errorf("record tezos watermark: %w", err)
	}
	g.e.marks[mk] = m
	g.e.seq = p.seq
	return nil
}

// TezosMark is one imported or exported mark.
type TezosMark struct {
	ChainID tezos.ChainID
	Key     tezos.PublicKeyHash
	Class   tezos.Class
	tezos.Mark
}

// TezosMarks returns every stored mark (for status and tests), in no particular order.
func (s *Store) TezosMarks() []TezosMark {
	s.tez.mu.Lock()
	keys := make(map[[21]byte]*tezosKey, len(s.tez.keys))
	for k, e := range s.tez.keys {
		keys[k] = e
	}
	s.tez.mu.Unlock()
	var out []TezosMark
	for bin, e := range keys {
		pkh := pkhFromBinary(bin)
		e.mu.Lock()
		for mk, m := range e.marks {
			out = append(out, TezosMark{ChainID: mk.chain, Key: pkh, Class: mk.class, Mark: *m})
		}
		e.mu.Unlock()
	}
	return out
}

func pkhFromBinary(b [21]byte) tezos.PublicKeyHash {
	h := tezos.PublicKeyHash{Kind: tezos.KeyKind(b[0] + 1)}
	copy(h.Hash[:], b[1:])
	return h
}

// ImportTezosMarks raises the stored marks to the given ones, in one durable transaction
// (all or nothing): a mark is written only where it is above the stored one, so an import
// never lowers protection. It returns how many marks were raised.
func (s *Store) ImportTezosMarks(marks []TezosMark) (int, error) {
	if err := s.enter(); err != nil {
		return 0, err
	}
	defer s.leave()
	type upd struct {
		bin [21]byte
		e   *tezosKey
		mk  tezosMarkKey
		m   *tezos.Mark
	}
	var ups []upd
	locked := map[*tezosKey]bool{}
	defer func() {
		for e := range locked {
			e.mu.Unlock()
		}
	}()
	// Lock every key concerned, in a stable order (sorted by binary pkh) so that two
	// imports cannot deadlock; signing requests for these keys wait for the import.
	var bins [][21]byte
	seen := map[[21]byte]bool{}
	for _, m := range marks {
		if !m.Key.Valid() || m.Class.String() == "invalid" || len(m.Signature) > maxTezosSigLen {
			return 0, fmt.Errorf("import tezos watermarks: %w: invalid mark for %s", ErrInvalidInterchange, m.Key)
		}
		if b := m.Key.Binary(); !seen[b] {
			seen[b] = true
			bins = append(bins, b)
		}
	}
	sortBins(bins)
	for _, b := range bins {
		e := s.tezosEntry(b)
		e.mu.Lock()
		locked[e] = true
	}
	for _, m := range marks {
		e := s.tezosEntry(m.Key.Binary())
		mk := tezosMarkKey{chain: m.ChainID, class: m.Class}
		cur := e.marks[mk]
		for _, u := range ups { // several marks for one position: keep the highest
			if u.e == e && u.mk == mk {
				cur = u.m
			}
		}
		if cur != nil && (m.Level < cur.Level || m.Level == cur.Level && m.Round <= cur.Round) {
			continue
		}
		nm := m.Mark
		nm.Signature = append([]byte(nil), m.Signature...)
		ups = append(ups, upd{bin: m.Key.Binary(), e: e, mk: mk, m: &nm})
	}
	if len(ups) == 0 {
		return 0, nil
	}
	// The marks of these keys still only in the journal reach bbolt first, so that this
	// direct write lands after them (and a replay, which starts after it, never redoes
	// them over it).
	var last uint64
	for e := range locked {
		last = max(last, e.seq)
	}
	if err := s.settle(last); err != nil {
		return 0, fmt.Errorf("import tezos watermarks: %w", err)
	}
	err := s.db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketTezos)
		for _, u := range ups {
			if err := b.Put(tezosDBKey(u.bin, u.mk), encodeTezosMark(u.m)); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("import tezos watermarks: %w", err)
	}
	for _, u := range ups {
		u.e.marks[u.mk] = u.m
	}
	return len(ups), nil
}

func sortBins(b [][21]byte) {
	slices.SortFunc(b, func(x, y [21]byte) int { return bytes.Compare(x[:], y[:]) })
}
