package protect

import (
	"bytes"
	"fmt"

	bolt "go.etcd.io/bbolt"
)

// CheckAttestation decides whether pub may sign an attestation with (source, target) and
// signingRoot and, if so, records it durably before returning nil (Inv 5), as CheckBlock.
//
// Rules (complete history, EIP-3076): refused when source > target; at or above the
// emergency brake; with a source below the low source watermark or a target below the
// low target watermark, or at it unless repeating the record there; a double vote (a
// recorded vote with the same target and another or unknown root or source); a vote that
// surrounds a recorded one (lower source, higher target) or is surrounded by one (higher
// source, lower target). The identical vote (same target, source and known root) is
// signed again with nothing new recorded.
func (s *Store) CheckAttestation(pub [48]byte, source, target uint64, signingRoot [32]byte) error {
	if err := s.enter(); err != nil {
		return err
	}
	defer s.leave()
	e := s.entry(pub)
	e.mu.Lock() // Inv 5: check and record under one per-key lock
	defer e.mu.Unlock()
	v, ref, err := s.checkAttestation(pub, e, source, target, signingRoot)
	if err != nil {
		return err
	}
	next := e.sum
	if !next.hasAtts {
		next.hasAtts, next.lowSource, next.lowTarget = true, source, target // the first vote sets the watermarks
	}
	if next.nAtts == 0 {
		next.sorted = true // one vote is sorted; a vote that passed the rules keeps it so
	}
	next.maxSource = max(next.maxSource, source)
	next.maxTarget = max(next.maxTarget, target)
	next.nAtts++
	p := &pending{ops: ethRecordOps(pub, bucketAtts, target, attRec{minSource: source, maxSource: source, known: true, root: signingRoot}.encode(), next.encode())}
	return s.apply(e, v, ref, p, next)
}

// checkAttestation applies the attestation rules with the key's lock (e.mu) held.
//
// Lookups are by target epoch: the exact target, then the votes that could surround the
// request (targets above it, with a lower source) or that it could surround (targets
// below it, with a higher source). In a sorted history (summary.sorted: every history
// signed here) those are just the next and the previous vote: O(log n) whatever the
// history's size. A request above every stored target with a source at least every
// stored source (the normal case) reads nothing.
func (s *Store) checkAttestation(pub [48]byte, e *keyEntry, source, target uint64, root [32]byte) (verdict, *Refusal, error) {
	sum := &e.sum
	if source > target {
		return refuse, refusef(RuleSourceAfter, "source epoch %d > target epoch %d", source, target), nil
	}
	if ref := s.brakeRefusal(false, 0, source, target); ref != nil {
		return refuse, ref, nil
	}
	if !sum.hasAtts {
		return record, nil, nil
	}
	if source < sum.lowSource {
		return refuse, refusef(RuleSourceBelowLow, "source epoch %d is below the low watermark %d", source, sum.lowSource), nil
	}
	if target < sum.lowTarget {
		return refuse, refusef(RuleTargetBelowLow, "target epoch %d is below the low watermark %d", target, sum.lowTarget), nil
	}
	above := sum.nAtts == 0 || target > sum.maxTarget // no record at or above target
	if above && (sum.nAtts == 0 || source >= sum.maxSource) {
		if target == sum.lowTarget {
			return refuse, refusef(RuleTargetBelowLow, "target epoch %d is at the low watermark and repeats no recorded vote", target), nil
		}
		return record, nil, nil
	}
	var (
		v   verdict = record
		ref *Refusal
	)
	// The key's records still only in the journal reach bbolt before it is read.
	if err := s.settle(e.seq); err != nil {
		return refuse, nil, fmt.Errorf("read attestation records: %w", err)
	}
	err := s.db.View(func(tx *bolt.Tx) error {
		ab := recordBucket(tx, pub, bucketAtts)
		if ab == nil {
			if target == sum.lowTarget {
				v, ref = refuse, refusef(RuleTargetBelowLow, "target epoch %d is at the low watermark and repeats no recorded vote", target)
			}
			return nil
		}
		var err error
		v, ref, err = attestationRules(ab, sum, source, target, root)
		return err
	})
	if err != nil {
		return refuse, nil, fmt.Errorf("read attestation records: %w", err)
	}
	return v, ref, nil
}

// attestationRules looks up the records of ab that can conflict with (source, target).
func attestationRules(ab *bolt.Bucket, sum *summary, source, target uint64, root [32]byte) (verdict, *Refusal, error) {
	if v := ab.Get(be64(target)); v != nil {
		rec, err := decodeAttRec(v)
		if err != nil {
			return refuse, nil, err
		}
		if rec.identical(source, root) {
			return reissue, nil, nil
		}
		if !rec.known {
			return refuse, refusef(RuleDoubleVote, "a vote with target epoch %d and an unknown signing root is recorded", target), nil
		}
		return refuse, refusef(RuleDoubleVote, "a vote (source %d, target %d) with signing root %#x was already signed", rec.minSource, target, rec.root), nil
	}
	if target == sum.lowTarget {
		return refuse, refusef(RuleTargetBelowLow, "target epoch %d is at the low watermark and repeats no recorded vote", target), nil
	}
	c := ab.Cursor()
	if sum.sorted {
		// Sources ascend with targets: the lowest source above the target is the next
		// vote's, the highest below it the previous vote's.
		k, v := c.Seek(be64(target)) // the first vote above target (none at target)
		if k != nil {
			if ref, err := surrounded(k, v, source, target); ref != nil || err != nil {
				return refuse, ref, err
			}
			k, v = c.Prev()
		} else {
			k, v = c.Last()
		}
		if k != nil {
			if ref, err := surrounding(k, v, source, target); ref != nil || err != nil {
				return refuse, ref, err
			}
		}
		return record, nil, nil
	}
	// Unsorted history (imported slashable data): scan.
	// A recorded vote (s, t) with t > target and s < source surrounds the request.
	if target < sum.maxTarget {
		for k, v := c.Seek(be64(target + 1)); k != nil; k, v = c.Next() {
			if ref, err := surrounded(k, v, source, target); ref != nil || err != nil {
				return refuse, ref, err
			}
		}
	}
	// A recorded vote (s, t) with s > source and t < target is surrounded by the request;
	// s ≤ t for every stored vote (invariant W), so source < t < target.
	if source < sum.maxSource && source+1 < target {
		for k, v := c.Seek(be64(source + 1)); k != nil && bytes.Compare(k, be64(target)) < 0; k, v = c.Next() {
			if ref, err := surrounding(k, v, source, target); ref != nil || err != nil {
				return refuse, ref, err
			}
		}
	}
	return record, nil, nil
}

// surrounded returns a refusal if the stored vote (k, v), whose target is above the
// request's, has a source below the request's.
func surrounded(k, v []byte, source, target uint64) (*Refusal, error) {
	t, err := fromBE64(k)
	if err != nil {
		return nil, err
	}
	rec, err := decodeAttRec(v)
	if err != nil {
		return nil, err
	}
	if t > target && rec.minSource < source {
		return refusef(RuleSurroundedVote, "vote (source %d, target %d) is surrounded by the recorded vote (source %d, target %d)", source, target, rec.minSource, t), nil
	}
	return nil, nil
}

// surrounding returns a refusal if the stored vote (k, v), whose target is below the
// request's, has a source above the request's.
func surrounding(k, v []byte, source, target uint64) (*Refusal, error) {
	t, err := fromBE64(k)
	if err != nil {
		return nil, err
	}
	rec, err := decodeAttRec(v)
	if err != nil {
		return nil, err
	}
	if t < target && rec.maxSource > source {
		return refusef(RuleSurroundVote, "vote (source %d, target %d) would surround the recorded vote (source %d, target %d)", source, target, rec.maxSource, t), nil
	}
	return nil, nil
}
