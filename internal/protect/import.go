package protect

import (
	"bytes"
	"fmt"
	"slices"

	bolt "go.etcd.io/bbolt"
)

// Watermarks are a key's low watermarks: below them (and at them, except to repeat a
// record there) nothing is signed.
type Watermarks struct {
	HasSlot bool   // a block watermark is set
	Slot    uint64 // blocks: refuse slot < Slot
	HasAtt  bool   // attestation watermarks are set
	Source  uint64 // attestations: refuse source < Source
	Target  uint64 // attestations: refuse target < Target
}

func (s *summary) watermarks() Watermarks {
	return Watermarks{HasSlot: s.hasBlocks, Slot: s.lowSlot, HasAtt: s.hasAtts, Source: s.lowSource, Target: s.lowTarget}
}

// KeyImport is what an import did for one key.
type KeyImport struct {
	Pubkey [48]byte
	// Blocks and attestations of the interchange: added as new records; merged into an
	// existing record at the same slot or target (a different or missing root makes the
	// record refuse every root there); already recorded identically; covered by the low
	// watermarks and not stored (absorbed: the watermarks were raised to cover them).
	BlocksAdded, BlocksMerged, BlocksKnown, BlocksCovered                         int
	AttestationsAdded, AttestationsMerged, AttestationsKnown, AttestationsCovered int
	// AttestationsAbsorbed counts stored votes that the raised watermarks now cover and
	// that were therefore removed (protection unchanged).
	AttestationsAbsorbed int
	Before, After        Watermarks
}

// Raised reports whether the import raised or set a watermark of the key.
func (k *KeyImport) Raised() bool { return k.Before != k.After }

// ImportReport is what ImportInterchange did, per key in pubkey order.
type ImportReport struct {
	Keys []KeyImport
}

// ImportInterchange merges an EIP-3076 (version 5) interchange into the store, all or
// nothing in one bbolt transaction, durable when it returns nil. The document is parsed
// strictly and must be for the pinned network (Inv 3).
//
// Merging never lowers protection: records are added; a record at a slot or target that
// is already recorded is merged so that it refuses what both refused; watermarks are set
// from the imported minima for a key that had none and are otherwise only raised. Data
// that is slashable in itself (two blocks at one slot, a double or surround vote, a
// source after its target) is imported, not refused: each record keeps refusing what it
// refuses, so the store protects at least as much as the document. The import holds the
// locks of the keys it touches, so a signature for one of them waits until it is done.
func (s *Store) ImportInterchange(data []byte) (*ImportReport, error) {
	ic, err := parseInterchange(data)
	if err != nil {
		return nil, fmt.Errorf("import interchange: %w", err)
	}
	if ic.version != interchangeVersion {
		return nil, fmt.Errorf("import interchange: %w: interchange_format_version %q, want %q", ErrInvalidInterchange, ic.version, interchangeVersion)
	}
	if ic.gvr != s.opts.GenesisValidatorsRoot { // Inv 3
		return nil, fmt.Errorf("import interchange: %w: it is for %#x, the store is pinned to %#x", ErrInterchangeNetwork, ic.gvr, s.opts.GenesisValidatorsRoot)
	}
	// One entry per key, in pubkey order: the order the locks are taken in (a batch of
	// locks taken in one global order cannot deadlock with another batch; signers hold
	// one lock at a time).
	byKey := make(map[[48]byte]*ichKey)
	var pubs [][48]byte
	for i := range ic.data {
		k := &ic.data[i]
		if m, ok := byKey[k.pub]; ok { // the same key twice: one history
			m.blocks = append(m.blocks, k.blocks...)
			m.atts = append(m.atts, k.atts...)
			continue
		}
		byKey[k.pub] = k
		pubs = append(pubs, k.pub)
	}
	slices.SortFunc(pubs, func(a, b [48]byte) int { return bytes.Compare(a[:], b[:]) })

	if err := s.enter(); err != nil {
		return nil, fmt.Errorf("import interchange: %w", err)
	}
	defer s.leave()
	entries := make([]*keyEntry, len(pubs))
	for i, pub := range pubs {
		entries[i] = s.entry(pub)
		entries[i].mu.Lock() // Inv 5: no check of these keys while their history changes
		defer entries[i].mu.Unlock()
	}
	// Their records still only in the journal reach bbolt first: this transaction reads
	// and merges them, and a replay (which starts after them) never redoes them over it.
	var last uint64
	for _, e := range entries {
		last = max(last, e.seq)
	}
	if err := s.settle(last); err != nil {
		return nil, fmt.Errorf("import interchange: %w", err)
	}
	rep := &ImportReport{Keys: make([]KeyImport, len(pubs))}
	sums := make([]summary, len(pubs))
	err = s.db.Update(func(tx *bolt.Tx) error {
		eth := tx.Bucket(bucketEth)
		for i, pub := range pubs {
			kb, err := eth.CreateBucketIfNotExists(pub[:])
			if err != nil {
				return fmt.Errorf("create key bucket: %w", err)
			}
			sum := summary{}
			if v := kb.Get(keySummary); v != nil {
				if sum, err = decodeSummary(v); err != nil {
					return fmt.Errorf("key %#x: %w", pub, err)
				}
			}
			kr := &rep.Keys[i]
			kr.Pubkey, kr.Before = pub, sum.watermarks()
			if err := importBlocks(kb, &sum, byKey[pub].blocks, kr); err != nil {
				return fmt.Errorf("key %#x: %w", pub, err)
			}
			if err := importAtts(kb, &sum, byKey[pub].atts, kr); err != nil {
				return fmt.Errorf("key %#x: %w", pub, err)
			}
			kr.After = sum.watermarks()
			if err := kb.Put(keySummary, sum.encode()); err != nil {
				return fmt.Errorf("put summary: %w", err)
			}
			sums[i] = sum
		}
		return nil
	}) // Inv 5: durable (fdatasync) when Update returns nil
	if err != nil {
		return nil, fmt.Errorf("import interchange: %w", err)
	}
	for i, e := range entries {
		e.sum = sums[i] // only after the commit
	}
	return rep, nil
}

// importBlocks merges blocks into kb and sum.
func importBlocks(kb *bolt.Bucket, sum *summary, blocks []ichBlock, kr *KeyImport) error {
	if len(blocks) == 0 {
		return nil
	}
	pre := *sum
	if !sum.hasBlocks { // EIP-3076: the minimum imported slot is the low watermark
		sum.hasBlocks, sum.lowSlot = true, blocks[0].slot
		for _, b := range blocks {
			sum.lowSlot = min(sum.lowSlot, b.slot)
		}
	}
	bb, err := kb.CreateBucketIfNotExists(bucketBlocks)
	if err != nil {
		return fmt.Errorf("create block bucket: %w", err)
	}
	for _, b := range blocks {
		if b.slot < sum.lowSlot { // refused by the watermark already: nothing to store
			kr.BlocksCovered++
			continue
		}
		// An all-zero signing root is what some clients export for "unknown": treat as such.
		rec := blockRec{known: b.hasRoot && b.root != [32]byte{}, root: b.root}
		k := be64(b.slot)
		v := bb.Get(k)
		if pre.hasBlocks && b.slot == pre.lowSlot && v == nil {
			// The store refused every block at this slot; a known root would now allow
			// one to be signed again.
			rec.known = false
		}
		if v != nil {
			old, err := decodeBlockRec(v)
			if err != nil {
				return err
			}
			m := old.merge(rec)
			if m == old {
				kr.BlocksKnown++
				continue
			}
			rec = m
			kr.BlocksMerged++
		} else {
			sum.nBlocks++
			kr.BlocksAdded++
		}
		if err := bb.Put(k, rec.encode()); err != nil {
			return fmt.Errorf("put block record: %w", err)
		}
		sum.maxSlot = max(sum.maxSlot, b.slot)
	}
	return nil
}

// importAtts merges attestations into kb and sum, then restores invariant W.
func importAtts(kb *bolt.Bucket, sum *summary, atts []ichAtt, kr *KeyImport) error {
	if len(atts) == 0 {
		return nil
	}
	hadAtts := sum.hasAtts
	if !sum.hasAtts { // EIP-3076: the minimum imported source and target are the watermarks
		sum.hasAtts, sum.lowSource, sum.lowTarget = true, atts[0].source, atts[0].target
		for _, a := range atts {
			sum.lowSource, sum.lowTarget = min(sum.lowSource, a.source), min(sum.lowTarget, a.target)
		}
	}
	ab, err := kb.CreateBucketIfNotExists(bucketAtts)
	if err != nil {
		return fmt.Errorf("create attestation bucket: %w", err)
	}
	// A vote the existing history refuses is stored without its root: with it, the vote
	// would become a repeat that may be signed again, which the store refused before.
	// Decided against the history before this import, so the order of the document's
	// votes does not matter.
	refused := make([]bool, len(atts))
	if pre := *sum; hadAtts {
		for i, a := range atts {
			if a.source < pre.lowSource || a.target < pre.lowTarget || a.source > a.target {
				continue // absorbed below, not stored
			}
			v, _, err := attestationRules(ab, &pre, a.source, a.target, a.root)
			if err != nil {
				return err
			}
			refused[i] = v == refuse
		}
	}
	raised := false
	for i, a := range atts {
		if a.source < sum.lowSource || a.target < sum.lowTarget || a.source > a.target {
			// Outside the watermark region: raise the watermarks to cover it (absorbAtt).
			raised = absorbAtt(sum, a.source, a.target) || raised
			kr.AttestationsCovered++
			continue
		}
		rec := attRec{minSource: a.source, maxSource: a.source, known: a.hasRoot && a.root != [32]byte{} && !refused[i], root: a.root}
		k := be64(a.target)
		if v := ab.Get(k); v != nil {
			old, err := decodeAttRec(v)
			if err != nil {
				return err
			}
			m := old.merge(rec)
			if m == old {
				kr.AttestationsKnown++
				continue
			}
			rec = m
			kr.AttestationsMerged++
		} else {
			sum.nAtts++
			kr.AttestationsAdded++
		}
		if err := ab.Put(k, rec.encode()); err != nil {
			return fmt.Errorf("put attestation record: %w", err)
		}
		sum.maxSource, sum.maxTarget = max(sum.maxSource, rec.maxSource), max(sum.maxTarget, a.target)
	}
	if raised {
		n, err := normalizeAtts(ab, sum)
		if err != nil {
			return err
		}
		kr.AttestationsAbsorbed += n
	}
	sorted, err := isSorted(ab)
	sum.sorted = sorted
	return err
}

// isSorted reports whether, in target order, each vote's maxSource is at most the next
// one's minSource (see summary.sorted).
func isSorted(ab *bolt.Bucket) (bool, error) {
	sorted, prev := true, uint64(0)
	err := ab.ForEach(func(_, v []byte) error {
		rec, err := decodeAttRec(v)
		if err != nil {
			return err
		}
		if rec.minSource < prev {
			sorted = false
		}
		prev = rec.maxSource
		return nil
	})
	return sorted, err
}

// absorbAtt raises the attestation watermarks so that they refuse everything a vote
// (source, target) refuses, and reports whether they moved. With the watermarks at
// (S, T) a request needs source ≥ S and target > T (or = T repeating a record there):
//   - a request surrounding the vote needs a source < source ≤ S: refused;
//   - a request surrounded by it or a double vote needs a target ≤ target ≤ T: refused.
//
// So the vote can be dropped without lowering protection. For a vote already below the
// watermarks in one coordinate this raises the other only as far as the vote itself
// would refuse (a request in between would surround it or be surrounded by it).
func absorbAtt(sum *summary, source, target uint64) bool {
	s, t := max(sum.lowSource, source), max(sum.lowTarget, target)
	moved := s != sum.lowSource || t != sum.lowTarget
	sum.lowSource, sum.lowTarget = s, t
	return moved
}

// absorbBlock raises the block watermark over a block at slot (see absorbAtt).
func absorbBlock(sum *summary, slot uint64) {
	sum.lowSlot = max(sum.lowSlot, slot)
}

// normalizeAtts restores invariant W after the watermarks were raised: every stored vote
// outside the watermark region is absorbed (which may raise them further, hence the
// passes) and removed. It recomputes the maxima exactly and returns how many it removed.
func normalizeAtts(ab *bolt.Bucket, sum *summary) (int, error) {
	removed := 0
	for {
		var drop [][]byte
		sum.maxSource, sum.maxTarget = 0, 0
		err := ab.ForEach(func(k, v []byte) error {
			t, err := fromBE64(k)
			if err != nil {
				return err
			}
			rec, err := decodeAttRec(v)
			if err != nil {
				return err
			}
			if rec.minSource < sum.lowSource || t < sum.lowTarget || rec.maxSource > t {
				absorbAtt(sum, rec.maxSource, t)
				drop = append(drop, slices.Clone(k))
				return nil
			}
			sum.maxSource, sum.maxTarget = max(sum.maxSource, rec.maxSource), max(sum.maxTarget, t)
			return nil
		})
		if err != nil {
			return removed, err
		}
		if len(drop) == 0 {
			return removed, nil
		}
		for _, k := range drop {
			if err := ab.Delete(k); err != nil {
				return removed, fmt.Errorf("delete absorbed vote: %w", err)
			}
		}
		removed += len(drop)
		sum.nAtts -= uint64(len(drop))
	}
}
