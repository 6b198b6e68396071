package eth

import (
	"fmt"

	"github.com/attestantio/go-eth2-client/spec/altair"
	"github.com/attestantio/go-eth2-client/spec/phase0"
)

// beaconBlockHeaderSize is the SSZ size of a BeaconBlockHeader.
const beaconBlockHeaderSize = 112

// decodeBlock handles BLOCK and BLOCK_V2. The container follows the declared version; the
// pinned fork at the block's slot must be of the same family (a phase0 block only in
// Phase0, an Altair block only in Altair, a header from Bellatrix on), so that the root is
// that of a block the chain could contain. A header's root equals its block's root, so the
// exact post-Bellatrix fork does not change what is signed.
func (n *Network) decodeBlock(r *Request, s *Signable) (decoded, error) {
	v := r.Version
	if r.Type == TypeBlock {
		if v != ForkUnset && v != ForkPhase0 {
			return decoded{}, fieldErr(ErrMalformed, "block", fmt.Sprintf("BLOCK carries a phase0 block, not %s", v))
		}
		v = ForkPhase0
	}
	field := payloadField(r.Type, v)
	var (
		root   [32]byte
		slot   uint64
		err    error
		family Fork // the fork (Phase0, Altair) or first fork (Bellatrix) of the container
	)
	switch v {
	case ForkPhase0:
		var b phase0.BeaconBlock
		root, err = decodeSSZ(field, r.Body, -1, &b)
		slot, family = uint64(b.Slot), ForkPhase0
	case ForkAltair:
		var b altair.BeaconBlock
		root, err = decodeSSZ(field, r.Body, -1, &b)
		slot, family = uint64(b.Slot), ForkAltair
	case ForkBellatrix, ForkCapella, ForkDeneb, ForkElectra, ForkFulu:
		var h phase0.BeaconBlockHeader
		root, err = decodeSSZ(field, r.Body, beaconBlockHeaderSize, &h)
		slot, family = uint64(h.Slot), ForkBellatrix
	case ForkUnset:
		return decoded{}, fieldErr(ErrMalformed, "beacon_block.version", "required")
	default:
		return decoded{}, fieldErr(ErrMalformed, "beacon_block.version", fmt.Sprintf("unknown fork %d", uint8(v)))
	}
	if err != nil {
		return decoded{}, err
	}
	epoch := n.EpochAtSlot(slot)
	at := n.ForkAtEpoch(epoch)
	ok := at == family
	if family == ForkBellatrix {
		ok = at >= ForkBellatrix
	}
	if !ok {
		return decoded{}, fieldErr(ErrWrongNetwork, field+".slot",
			fmt.Sprintf("slot %d is in %s on %s, which does not use a %s container", slot, at, n.Name, v))
	}
	s.Class, s.Slot = ClassBlock, slot
	return decoded{root: root, domain: DomainBeaconProposer, epoch: epoch, rule: ruleAtEpoch}, nil
}
