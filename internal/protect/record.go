package protect

import (
	"encoding/binary"
	"fmt"
)

// Storage layout (bbolt), all integers big-endian so that byte order is numeric order:
//
//	meta                         bucket
//	  genesis_validators_root    32 bytes, pinned at first open (Inv 3)
//	  brake                      8 bytes: the emergency-brake epoch; absent = no brake
//	  journal                    the protection journal's id, the last entry applied and
//	                             the offset after it, and the clean flag (journal.go)
//	eth2-v2                      bucket
//	  <pubkey, 48 bytes>         bucket per key
//	    s                        summary (summaryLen bytes): watermarks, maxima, counts
//	    b                        bucket: slot (8) → blockRec (blockRecLen)
//	    a                        bucket: target epoch (8) → attRec (attRecLen)
//
// The minimal store of earlier versions (bucket eth2-v1) is migrated at open.
var (
	bucketMeta   = []byte("meta")
	bucketEthV1  = []byte("eth2-v1")
	bucketEth    = []byte("eth2-v2")
	keyGVR       = []byte("genesis_validators_root")
	keyBrake     = []byte("brake")
	keySummary   = []byte("s")
	bucketBlocks = []byte("b")
	bucketAtts   = []byte("a")
)

// summary is what the store keeps of one key besides its records, on disk and in memory.
// The zero value means nothing is known: nothing refused.
//
// Invariant W (kept by every writer): every stored block has slot ≥ lowSlot; every stored
// attestation has minSource ≥ lowSource, target ≥ lowTarget and maxSource ≤ target.
// Records outside that region are absorbed into the watermarks (absorbAtt, absorbBlock),
// which is what makes an export exact and pruning safe.
//
// maxSlot, maxSource and maxTarget are upper bounds of the stored records (exact after a
// signature; possibly above after pruning): the checks skip a disk read only when the
// request lies above them, so a stale bound costs a read, never a wrong answer.
type summary struct {
	hasBlocks bool   // block watermark set (a block was signed or imported)
	lowSlot   uint64 // refuse slot < lowSlot; slot = lowSlot only as a repeat of its record
	maxSlot   uint64
	nBlocks   uint64 // records in bucket b

	hasAtts   bool   // attestation watermarks set
	lowSource uint64 // refuse source < lowSource
	lowTarget uint64 // refuse target < lowTarget; target = lowTarget only as a repeat
	maxSource uint64 // ≥ every stored maxSource
	maxTarget uint64 // ≥ every stored target
	nAtts     uint64 // records in bucket a
	// sorted: in target order, each stored vote's maxSource ≤ the next one's minSource.
	// Every history without a surround vote is sorted (of two votes with t1 < t2 and
	// s1 > s2 the second surrounds the first), so signing keeps it; an import recomputes
	// it. When set, the surround checks read only the neighbours of the requested target;
	// when not (slashable data was imported) they scan. The zero value scans: safe.
	sorted bool
}

const (
	summaryVersion = 1
	summaryLen     = 2 + 8*8
)

func (s *summary) encode() []byte {
	b := make([]byte, summaryLen)
	b[0] = summaryVersion
	if s.hasBlocks {
		b[1] |= 1
	}
	if s.hasAtts {
		b[1] |= 2
	}
	if s.sorted {
		b[1] |= 4
	}
	for i, v := range []uint64{s.lowSlot, s.maxSlot, s.nBlocks, s.lowSource, s.lowTarget, s.maxSource, s.maxTarget, s.nAtts} {
		binary.BigEndian.PutUint64(b[2+8*i:], v)
	}
	return b
}

func decodeSummary(b []byte) (summary, error) {
	if len(b) != summaryLen || b[0] != summaryVersion || b[1]&^7 != 0 {
		return summary{}, fmt.Errorf("%w: summary of %d bytes", ErrCorrupt, len(b))
	}
	u := func(i int) uint64 { return binary.BigEndian.Uint64(b[2+8*i:]) }
	return summary{
		hasBlocks: b[1]&1 != 0, lowSlot: u(0), maxSlot: u(1), nBlocks: u(2),
		hasAtts: b[1]&2 != 0, lowSource: u(3), lowTarget: u(4), maxSource: u(5), maxTarget: u(6), nAtts: u(7),
		sorted: b[1]&4 != 0,
	}, nil
}

// blockRec is the record of the block(s) signed at one slot. known is false when the
// signing root is not known (imported without one, or several different roots merged):
// such a record refuses every block at its slot.
type blockRec struct {
	known bool
	root  [32]byte
}

const blockRecLen = 1 + 32

func (r blockRec) encode() []byte {
	b := make([]byte, blockRecLen)
	if r.known {
		b[0] = 1
	}
	copy(b[1:], r.root[:])
	return b
}

func decodeBlockRec(b []byte) (blockRec, error) {
	if len(b) != blockRecLen || b[0]&^1 != 0 {
		return blockRec{}, fmt.Errorf("%w: block record of %d bytes", ErrCorrupt, len(b))
	}
	r := blockRec{known: b[0] == 1}
	copy(r.root[:], b[1:])
	return r, nil
}

// merge returns the record that refuses everything r and o refuse: the same known root
// stays known; anything else becomes unknown.
func (r blockRec) merge(o blockRec) blockRec {
	if r.known && o.known && r.root == o.root {
		return r
	}
	return blockRec{}
}

// attRec is the record of the attestation(s) signed with one target epoch. One signed
// attestation has minSource = maxSource. Imported slashable data may hold several at one
// target: the record keeps the lowest and highest source (each matters for one direction
// of the surround rule) and an unknown root (it refuses every vote at its target).
type attRec struct {
	minSource, maxSource uint64
	known                bool
	root                 [32]byte
}

const attRecLen = 8 + 8 + 1 + 32

func (r attRec) encode() []byte {
	b := make([]byte, attRecLen)
	binary.BigEndian.PutUint64(b, r.minSource)
	binary.BigEndian.PutUint64(b[8:], r.maxSource)
	if r.known {
		b[16] = 1
	}
	copy(b[17:], r.root[:])
	return b
}

func decodeAttRec(b []byte) (attRec, error) {
	if len(b) != attRecLen || b[16]&^1 != 0 {
		return attRec{}, fmt.Errorf("%w: attestation record of %d bytes", ErrCorrupt, len(b))
	}
	r := attRec{minSource: binary.BigEndian.Uint64(b), maxSource: binary.BigEndian.Uint64(b[8:]), known: b[16] == 1}
	if r.minSource > r.maxSource {
		return attRec{}, fmt.Errorf("%w: attestation record with min source %d > max source %d", ErrCorrupt, r.minSource, r.maxSource)
	}
	copy(r.root[:], b[17:])
	return r, nil
}

// merge returns the record that refuses everything r and o refuse.
func (r attRec) merge(o attRec) attRec {
	m := attRec{minSource: min(r.minSource, o.minSource), maxSource: max(r.maxSource, o.maxSource)}
	if r.known && o.known && r.root == o.root && m.minSource == m.maxSource {
		m.known, m.root = true, r.root
	}
	return m
}

// identical reports whether a request (source, root) repeats this record exactly, so it
// may be signed again without a new record.
func (r attRec) identical(source uint64, root [32]byte) bool {
	return r.known && r.root == root && r.minSource == source && r.maxSource == source
}

func be64(v uint64) []byte {
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], v)
	return b[:]
}

func fromBE64(b []byte) (uint64, error) {
	if len(b) != 8 {
		return 0, fmt.Errorf("%w: index key of %d bytes", ErrCorrupt, len(b))
	}
	return binary.BigEndian.Uint64(b), nil
}
