package protect

import "fmt"

// keyState is what protection remembers of one key. The zero value means nothing signed.
type keyState struct {
	HasBlock      bool
	BlockSlot     uint64
	BlockRoot     [32]byte
	HasAtt        bool
	AttSource     uint64 // highest source signed
	AttTarget     uint64 // highest target signed
	AttTargetRoot [32]byte
}

// verdict is the result of a rule. The zero value refuses (fail closed).
type verdict uint8

const (
	refuse  verdict = iota // refused; see the accompanying *Refusal
	record                 // new: record, then sign
	reissue                // identical to what was last signed: sign again, nothing new to record
)

// checkBlock applies the block rule to s for a block at slot with root.
func checkBlock(s *keyState, slot uint64, root [32]byte) (verdict, *Refusal) {
	switch {
	case !s.HasBlock || slot > s.BlockSlot:
		return record, nil
	case slot == s.BlockSlot && root == s.BlockRoot:
		return reissue, nil
	case slot == s.BlockSlot:
		return refuse, &Refusal{Rule: "double block", Detail: fmt.Sprintf("a different block at slot %d was already signed", slot)}
	default:
		return refuse, &Refusal{Rule: "block below watermark", Detail: fmt.Sprintf("slot %d is below the last signed slot %d", slot, s.BlockSlot)}
	}
}

// checkAttestation applies the attestation rule to s for (source, target, root).
func checkAttestation(s *keyState, source, target uint64, root [32]byte) (verdict, *Refusal) {
	switch {
	case source > target:
		return refuse, &Refusal{Rule: "source after target", Detail: fmt.Sprintf("source epoch %d > target epoch %d", source, target)}
	case !s.HasAtt:
		return record, nil
	case target == s.AttTarget && root == s.AttTargetRoot && source <= s.AttSource:
		return reissue, nil
	case target == s.AttTarget:
		return refuse, &Refusal{Rule: "double vote", Detail: fmt.Sprintf("a different attestation with target epoch %d was already signed", target)}
	case target < s.AttTarget:
		return refuse, &Refusal{Rule: "target below watermark", Detail: fmt.Sprintf("target epoch %d is below the last signed target %d", target, s.AttTarget)}
	case source < s.AttSource:
		return refuse, &Refusal{Rule: "surround vote", Detail: fmt.Sprintf("source epoch %d is below the last signed source %d: the vote would surround it", source, s.AttSource)}
	default:
		return record, nil
	}
}
