package protect

import (
	"fmt"

	bolt "go.etcd.io/bbolt"
)

// CheckBlock decides whether pub may sign a block at slot with signingRoot and, if so,
// records it durably before returning nil (Inv 5). A *Refusal means never sign; any other
// error means the record could not be made durable, so do not sign either.
//
// Rules (complete history, EIP-3076): refused at or above the emergency brake; below the
// low watermark; at the low watermark unless it repeats the record there; at a slot
// already signed unless the signing root is the same known root (then nil, nothing new
// is recorded). A block below a block signed before is allowed: the history is complete,
// so only the same slot can conflict.
func (s *Store) CheckBlock(pub [48]byte, slot uint64, signingRoot [32]byte) error {
	if err := s.enter(); err != nil {
		return err
	}
	defer s.leave()
	e := s.entry(pub)
	e.mu.Lock() // Inv 5: check and record under one per-key lock
	defer e.mu.Unlock()
	v, ref, err := s.checkBlock(pub, e, slot, signingRoot)
	if err != nil {
		return err
	}
	next := e.sum
	if !next.hasBlocks {
		next.hasBlocks, next.lowSlot = true, slot // the first block sets the low watermark
	}
	next.maxSlot = max(next.maxSlot, slot)
	next.nBlocks++
	p := &pending{ops: ethRecordOps(pub, bucketBlocks, slot, blockRec{known: true, root: signingRoot}.encode(), next.encode())}
	return s.apply(e, v, ref, p, next)
}

// checkBlock applies the block rules with the key's lock (e.mu) held. It reads the disk
// only when the slot is not above every stored slot.
func (s *Store) checkBlock(pub [48]byte, e *keyEntry, slot uint64, root [32]byte) (verdict, *Refusal, error) {
	sum := &e.sum
	if ref := s.brakeRefusal(true, slot, 0, 0); ref != nil {
		return refuse, ref, nil
	}
	if !sum.hasBlocks {
		return record, nil, nil
	}
	if slot < sum.lowSlot {
		return refuse, refusef(RuleBlockBelowLow, "slot %d is below the low watermark %d", slot, sum.lowSlot), nil
	}
	if sum.nBlocks > 0 && slot <= sum.maxSlot {
		rec, ok, err := s.readBlock(pub, e.seq, slot)
		if err != nil {
			return refuse, nil, err
		}
		switch {
		case ok && rec.known && rec.root == root:
			return reissue, nil, nil
		case ok && !rec.known:
			return refuse, refusef(RuleDoubleBlock, "a block at slot %d with an unknown signing root is recorded", slot), nil
		case ok:
			return refuse, refusef(RuleDoubleBlock, "a block at slot %d with signing root %#x was already signed", slot, rec.root), nil
		}
	}
	if slot == sum.lowSlot {
		return refuse, refusef(RuleBlockBelowLow, "slot %d is at the low watermark and repeats no recorded block", slot), nil
	}
	return record, nil, nil
}

// readBlock reads pub's record at slot, once the key's records up to journal entry seq
// are in bbolt.
func (s *Store) readBlock(pub [48]byte, seq, slot uint64) (rec blockRec, ok bool, err error) {
	if err := s.settle(seq); err != nil {
		return blockRec{}, false, fmt.Errorf("read block record: %w", err)
	}
	err = s.db.View(func(tx *bolt.Tx) error {
		rb := recordBucket(tx, pub, bucketBlocks)
		if rb == nil {
			return nil
		}
		v := rb.Get(be64(slot))
		if v == nil {
			return nil
		}
		ok = true
		rec, err = decodeBlockRec(v)
		return err
	})
	if err != nil {
		return blockRec{}, false, fmt.Errorf("read block record: %w", err)
	}
	return rec, ok, nil
}

// recordBucket returns the named record bucket of pub, or nil.
func recordBucket(tx *bolt.Tx, pub [48]byte, name []byte) *bolt.Bucket {
	kb := tx.Bucket(bucketEth).Bucket(pub[:])
	if kb == nil {
		return nil
	}
	return kb.Bucket(name)
}
