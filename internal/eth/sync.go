package eth

import (
	"encoding/binary"
	"fmt"

	"github.com/attestantio/go-eth2-client/spec/altair"
)

const (
	syncCommitteeMessageSize = 40 // beacon_block_root (32) ‖ slot (8)
	syncSelectionDataSize    = 16
)

// decodeSyncMessage handles SYNC_COMMITTEE_MESSAGE: {beacon_block_root, slot}; the object
// signed is the block root itself, domain SYNC_COMMITTEE at epoch(slot); Altair must be
// active.
func (n *Network) decodeSyncMessage(r *Request, s *Signable) (decoded, error) {
	if len(r.Body) != syncCommitteeMessageSize {
		return decoded{}, fieldErr(ErrMalformed, "sync_committee_message",
			fmt.Sprintf("SSZ body is %d bytes, want %d", len(r.Body), syncCommitteeMessageSize))
	}
	var root [32]byte
	copy(root[:], r.Body[:32])
	slot := binary.LittleEndian.Uint64(r.Body[32:])
	epoch := n.EpochAtSlot(slot)
	if err := n.requireFork("sync_committee_message.slot", epoch, ForkAltair); err != nil {
		return decoded{}, err
	}
	s.Class, s.Slot = ClassOther, slot
	return decoded{root: root, domain: DomainSyncCommittee, epoch: epoch, rule: ruleAtEpoch}, nil
}

// decodeSyncSelection handles SYNC_COMMITTEE_SELECTION_PROOF: SyncAggregatorSelectionData,
// domain SYNC_COMMITTEE_SELECTION_PROOF at epoch(slot); Altair must be active.
func (n *Network) decodeSyncSelection(r *Request, s *Signable) (decoded, error) {
	var d altair.SyncAggregatorSelectionData
	root, err := decodeSSZ("sync_aggregator_selection_data", r.Body, syncSelectionDataSize, &d)
	if err != nil {
		return decoded{}, err
	}
	epoch := n.EpochAtSlot(uint64(d.Slot))
	if err := n.requireFork("sync_aggregator_selection_data.slot", epoch, ForkAltair); err != nil {
		return decoded{}, err
	}
	s.Class, s.Slot = ClassOther, uint64(d.Slot)
	return decoded{root: root, domain: DomainSyncCommitteeSelectionProof, epoch: epoch, rule: ruleAtEpoch}, nil
}

// decodeContribution handles SYNC_COMMITTEE_CONTRIBUTION_AND_PROOF: ContributionAndProof,
// domain CONTRIBUTION_AND_PROOF at epoch(contribution.slot); Altair must be active.
func (n *Network) decodeContribution(r *Request, s *Signable) (decoded, error) {
	var c altair.ContributionAndProof
	root, err := decodeSSZ("contribution_and_proof", r.Body, -1, &c)
	if err != nil {
		return decoded{}, err
	}
	slot := uint64(c.Contribution.Slot)
	epoch := n.EpochAtSlot(slot)
	if err := n.requireFork("contribution_and_proof.contribution.slot", epoch, ForkAltair); err != nil {
		return decoded{}, err
	}
	s.Class, s.Slot = ClassOther, slot
	return decoded{root: root, domain: DomainContributionAndProof, epoch: epoch, rule: ruleAtEpoch}, nil
}
