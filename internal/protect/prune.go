package protect

import (
	"bytes"
	"fmt"
	"slices"
	"time"

	bolt "go.etcd.io/bbolt"
)

// MinPruneKeepEpochs is the least history Prune keeps. Pruning never lowers protection
// whatever it keeps; the bound keeps the newest vote and block of each key, so an
// identical request can still be signed again.
const MinPruneKeepEpochs = 1

// pruneChunk bounds the records one pruning transaction deletes, so a large prune does
// not hold bbolt's single writer (and with it every signature) for long.
const pruneChunk = 10_000

// PruneReport is what Prune did.
type PruneReport struct {
	Keys                int    // keys that lost records
	BlocksDeleted       uint64 // block records deleted
	AttestationsDeleted uint64 // attestation records deleted (pruned or absorbed)
}

// Prune deletes, for every key, the blocks more than keepEpochs epochs below its newest
// block and the votes with a target more than keepEpochs below its newest target. In each
// transaction it first raises the low watermarks over what it deletes (absorbBlock,
// absorbAtt), so everything refused before is still refused. Each key's lock is held
// while its records change; other keys sign meanwhile.
func (s *Store) Prune(keepEpochs uint64) (*PruneReport, error) {
	if keepEpochs < MinPruneKeepEpochs {
		return nil, fmt.Errorf("prune: keep %d epochs, at least %d required", keepEpochs, MinPruneKeepEpochs)
	}
	if err := s.enter(); err != nil {
		return nil, fmt.Errorf("prune: %w", err)
	}
	defer s.leave()
	s.mu.Lock()
	pubs := make([][48]byte, 0, len(s.keys))
	for pub := range s.keys {
		pubs = append(pubs, pub)
	}
	s.mu.Unlock()
	slices.SortFunc(pubs, func(a, b [48]byte) int { return bytes.Compare(a[:], b[:]) })
	rep := &PruneReport{}
	for _, pub := range pubs {
		nb, na, err := s.pruneKey(pub, keepEpochs)
		if err != nil {
			return rep, fmt.Errorf("prune key %#x: %w", pub, err)
		}
		if nb+na > 0 {
			rep.Keys++
		}
		rep.BlocksDeleted += nb
		rep.AttestationsDeleted += na
	}
	return rep, nil
}

// pruneKey prunes one key in transactions of at most pruneChunk deletions.
func (s *Store) pruneKey(pub [48]byte, keep uint64) (blocks, atts uint64, err error) {
	e := s.entry(pub)
	e.mu.Lock() // Inv 5: no check of this key while its history changes
	defer e.mu.Unlock()
	if err := s.settle(e.seq); err != nil { // its records still only in the journal first
		return 0, 0, err
	}
	for {
		sum := e.sum
		var nb, na uint64
		err := s.db.Update(func(tx *bolt.Tx) error {
			kb := tx.Bucket(bucketEth).Bucket(pub[:])
			if kb == nil {
				return nil
			}
			var err error
			keepSlots := keep * s.opts.SlotsPerEpoch
			if keepSlots/s.opts.SlotsPerEpoch != keep {
				keepSlots = ^uint64(0) // beyond any slot: keep every block
			}
			if nb, err = pruneBlocks(kb.Bucket(bucketBlocks), &sum, keepSlots); err != nil {
				return err
			}
			if na, err = pruneAtts(kb.Bucket(bucketAtts), &sum, keep, pruneChunk-nb); err != nil {
				return err
			}
			if nb+na == 0 {
				return nil
			}
			return kb.Put(keySummary, sum.encode())
		}) // Inv 5: the raised watermarks and the deletions are durable together
		if err != nil {
			return blocks, atts, err
		}
		e.sum = sum // only after the commit
		blocks, atts = blocks+nb, atts+na
		if nb+na < pruneChunk {
			return blocks, atts, nil
		}
	}
}

// pruneBlocks deletes up to pruneChunk blocks below maxSlot − keepSlots + 1, raising the
// watermark over each first.
func pruneBlocks(bb *bolt.Bucket, sum *summary, keepSlots uint64) (uint64, error) {
	if bb == nil || sum.nBlocks == 0 || sum.maxSlot < keepSlots {
		return 0, nil
	}
	cutoff := sum.maxSlot - keepSlots + 1
	var drop [][]byte
	c := bb.Cursor()
	for k, _ := c.First(); k != nil && len(drop) < pruneChunk; k, _ = c.Next() {
		slot, err := fromBE64(k)
		if err != nil {
			return 0, err
		}
		if slot >= cutoff {
			break
		}
		absorbBlock(sum, slot) // raise first: the block stays refused
		drop = append(drop, slices.Clone(k))
	}
	for _, k := range drop {
		if err := bb.Delete(k); err != nil {
			return 0, fmt.Errorf("delete block record: %w", err)
		}
	}
	sum.nBlocks -= uint64(len(drop))
	return uint64(len(drop)), nil
}

// pruneAtts deletes up to limit votes with a target below maxTarget − keep + 1, raising
// the watermarks over each first, then restores invariant W.
func pruneAtts(ab *bolt.Bucket, sum *summary, keep, limit uint64) (uint64, error) {
	if ab == nil || sum.nAtts == 0 || sum.maxTarget < keep || limit == 0 {
		return 0, nil
	}
	cutoff := sum.maxTarget - keep + 1
	var drop [][]byte
	c := ab.Cursor()
	for k, v := c.First(); k != nil && uint64(len(drop)) < limit; k, v = c.Next() {
		t, err := fromBE64(k)
		if err != nil {
			return 0, err
		}
		if t >= cutoff {
			break
		}
		rec, err := decodeAttRec(v)
		if err != nil {
			return 0, err
		}
		absorbAtt(sum, rec.maxSource, t) // raise first: the vote stays refused
		drop = append(drop, slices.Clone(k))
	}
	if len(drop) == 0 {
		return 0, nil
	}
	for _, k := range drop {
		if err := ab.Delete(k); err != nil {
			return 0, fmt.Errorf("delete attestation record: %w", err)
		}
	}
	sum.nAtts -= uint64(len(drop))
	// In a history without surround votes nothing more moves; otherwise votes the raised
	// source watermark passed are absorbed too.
	n, err := normalizeAtts(ab, sum)
	return uint64(len(drop)) + uint64(n), err
}

// pruneSchedule runs Prune every PruneEvery until Close.
func (s *Store) pruneSchedule() {
	defer s.wg.Done()
	tick := time.NewTicker(s.opts.PruneEvery)
	defer tick.Stop()
	for {
		select {
		case <-s.stop:
			return
		case <-tick.C:
			start := time.Now()
			rep, err := s.Prune(s.opts.PruneKeepEpochs)
			if err != nil {
				s.opts.Log.Error("slashing-protection pruning failed", "err", err)
				continue
			}
			s.opts.Log.Info("slashing protection pruned", "keys", rep.Keys, "blocks", rep.BlocksDeleted,
				"attestations", rep.AttestationsDeleted, "keep_epochs", s.opts.PruneKeepEpochs, "took", time.Since(start))
		}
	}
}
