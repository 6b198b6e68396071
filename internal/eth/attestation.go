package eth

import (
	"encoding/binary"
	"fmt"

	"github.com/attestantio/go-eth2-client/spec/electra"
	"github.com/attestantio/go-eth2-client/spec/phase0"
)

const (
	attestationDataSize = 128
	uint64Size          = 8
)

// decodeAttestation handles ATTESTATION: AttestationData, domain BEACON_ATTESTER at the
// target epoch.
func (n *Network) decodeAttestation(r *Request, s *Signable) (decoded, error) {
	var a phase0.AttestationData
	root, err := decodeSSZ("attestation", r.Body, attestationDataSize, &a)
	if err != nil {
		return decoded{}, err
	}
	s.Class = ClassAttestation
	s.Slot, s.SourceEpoch, s.TargetEpoch = uint64(a.Slot), uint64(a.Source.Epoch), uint64(a.Target.Epoch)
	return decoded{root: root, domain: DomainBeaconAttester, epoch: s.TargetEpoch, rule: ruleAtEpoch}, nil
}

// decodeUint64 reads an 8-byte little-endian uint64 body.
func decodeUint64(field string, body []byte) (uint64, error) {
	if len(body) != uint64Size {
		return 0, fieldErr(ErrMalformed, field, fmt.Sprintf("SSZ body is %d bytes, want %d", len(body), uint64Size))
	}
	return binary.LittleEndian.Uint64(body), nil
}

// decodeAggregationSlot handles AGGREGATION_SLOT: uint64 slot, domain SELECTION_PROOF.
func (n *Network) decodeAggregationSlot(r *Request, s *Signable) (decoded, error) {
	slot, err := decodeUint64("aggregation_slot.slot", r.Body)
	if err != nil {
		return decoded{}, err
	}
	s.Class, s.Slot = ClassOther, slot
	return decoded{root: uint64Root(slot), domain: DomainSelectionProof, epoch: n.EpochAtSlot(slot), rule: ruleAtEpoch}, nil
}

// decodeRandao handles RANDAO_REVEAL: uint64 epoch, domain RANDAO at that epoch.
func (n *Network) decodeRandao(r *Request, s *Signable) (decoded, error) {
	epoch, err := decodeUint64("randao_reveal.epoch", r.Body)
	if err != nil {
		return decoded{}, err
	}
	s.Class = ClassOther
	return decoded{root: uint64Root(epoch), domain: DomainRandao, epoch: epoch, rule: ruleAtEpoch}, nil
}

// decodeAggregate handles AGGREGATE_AND_PROOF and AGGREGATE_AND_PROOF_V2: the phase0
// AggregateAndProof for versions PHASE0..DENEB, the Electra one for ELECTRA and FULU. The
// pinned fork at aggregate.data.slot must be of the same family (before or from Electra).
func (n *Network) decodeAggregate(r *Request, s *Signable) (decoded, error) {
	field := payloadField(r.Type, r.Version)
	var (
		root      [32]byte
		slot      uint64
		err       error
		isElectra bool
	)
	switch r.Version {
	case ForkPhase0, ForkAltair, ForkBellatrix, ForkCapella, ForkDeneb:
		var a phase0.AggregateAndProof
		if root, err = decodeSSZ(field, r.Body, -1, &a); err == nil {
			slot = uint64(a.Aggregate.Data.Slot)
		}
	case ForkElectra, ForkFulu:
		var a electra.AggregateAndProof
		if root, err = decodeSSZ(field, r.Body, -1, &a); err == nil {
			slot = uint64(a.Aggregate.Data.Slot)
		}
		isElectra = true
	case ForkUnset:
		return decoded{}, fieldErr(ErrMalformed, "aggregate_and_proof.version", "required")
	default:
		return decoded{}, fieldErr(ErrMalformed, "aggregate_and_proof.version", fmt.Sprintf("unknown fork %d", uint8(r.Version)))
	}
	if err != nil {
		return decoded{}, err
	}
	epoch := n.EpochAtSlot(slot)
	if at := n.ForkAtEpoch(epoch); (at >= ForkElectra) != isElectra {
		return decoded{}, fieldErr(ErrWrongNetwork, field+".aggregate.data.slot",
			fmt.Sprintf("slot %d is in %s on %s, which does not use the %s aggregate container", slot, at, n.Name, r.Version))
	}
	s.Class, s.Slot = ClassOther, slot
	return decoded{root: root, domain: DomainAggregateAndProof, epoch: epoch, rule: ruleAtEpoch}, nil
}
