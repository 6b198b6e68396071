package protect

// verdict is the result of a rule. The zero value refuses (fail closed).
type verdict uint8

const (
	refuse  verdict = iota // refused; see the accompanying *Refusal
	record                 // new: record durably, then sign
	reissue                // identical to a durable record: sign again, nothing new to record
)

// apply acts on a verdict with e.mu held: reissue returns nil at once (the record is
// already durable), record commits p and only then updates the in-memory summary, any
// other verdict refuses.
func (s *Store) apply(e *keyEntry, v verdict, ref *Refusal, p *pending, next summary) error {
	switch v {
	case reissue:
		return nil // identical to a durable record
	case record:
		// Inv 5: nil only after the record is durable (group commit: journal, fdatasync).
		if err := s.commit(p); err != nil {
			return err // memory unchanged: the next request is checked against disk truth
		}
		e.sum, e.seq = next, p.seq // only after the record is durable
		return nil
	default:
		if ref == nil {
			ref = refusef(RuleNoRuleAllowed, "no rule allowed the request")
		}
		return ref
	}
}

// brakeRefusal returns the emergency-brake refusal for a block at slot or an attestation
// with (source, target), or nil when the brake is off or the request lies below it.
func (s *Store) brakeRefusal(isBlock bool, slot, source, target uint64) *Refusal {
	p := s.brake.Load()
	if p == nil {
		return nil
	}
	epoch := *p
	if isBlock {
		brakeSlot := epoch * s.opts.SlotsPerEpoch
		if epoch != 0 && brakeSlot/epoch != s.opts.SlotsPerEpoch {
			return nil // the brake's slot is beyond uint64: nothing is at or above it
		}
		if slot >= brakeSlot {
			return refusef(RuleEmergencyBrake, "block slot %d is at or above the brake at epoch %d (slot %d)", slot, epoch, brakeSlot)
		}
		return nil
	}
	if source >= epoch || target >= epoch {
		return refusef(RuleEmergencyBrake, "attestation (source %d, target %d) is at or above the brake at epoch %d", source, target, epoch)
	}
	return nil
}
