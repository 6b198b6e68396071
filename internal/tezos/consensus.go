package tezos

import "fmt"

// decodeConsensus decodes a preattestation (0x12) or attestation (0x13):
//
//	off 0   magic
//	off 1   chain_id          4
//	off 5   branch            32
//	off 37  tag               1
//	tags 20, 21, 23: off 38 slot uint16, off 40 level int32, off 44 round int32,
//	                 off 48 block_payload_hash 32 (= 80 bytes), and for tag 23
//	                 the DAL attestation bitset, a non-negative Zarith z
//	tags 40, 41:     off 38 level int32, off 42 round int32,
//	                 off 46 block_payload_hash 32 (= 78 bytes)
//
// Source: Octez src/proto_alpha/lib_protocol/operation_repr.ml
// (consensus_content_encoding, consensus_aggregate_content_encoding,
// attestation_with_dal_case, Bls_mode), identical in proto_025_PsUshuai; the
// DAL field is Dal_attestations_repr.encoding = Bitset.encoding =
// Data_encoding.z (src/lib_base/bitset.ml). The tag must belong to the magic
// byte: preattestation tags under 0x12, attestation tags under 0x13.
func decodeConsensus(r *reader, req *Request) error {
	if err := decodeChainAndBranch(r, req); err != nil {
		return err
	}
	tag, err := r.u8()
	if err != nil {
		return err
	}
	var slotted, dal bool
	switch {
	case req.Magic == MagicPreattestation && tag == TagPreattestation:
		slotted = true
	case req.Magic == MagicAttestation && tag == TagAttestation:
		slotted = true
	case req.Magic == MagicAttestation && tag == TagAttestationWithDAL:
		slotted, dal = true, true
	case req.Magic == MagicPreattestation && tag == TagBLSModePreattestation,
		req.Magic == MagicAttestation && tag == TagBLSModeAttestation:
	default:
		return fmt.Errorf("%w: consensus tag %d under magic 0x%02x", ErrUnknownTag, tag, req.Magic)
	}
	req.OperationTag = tag
	if slotted {
		if req.Slot, err = r.u16(); err != nil {
			return err
		}
	}
	if req.Level, err = r.nonNegInt32("level"); err != nil {
		return err
	}
	if req.Round, err = r.nonNegInt32("round"); err != nil {
		return err
	}
	h, err := r.array32("block_payload_hash")
	if err != nil {
		return err
	}
	req.PayloadHash = PayloadHash(h)
	if dal {
		b, err := r.zarithBytes("dal_attestation", true)
		if err != nil {
			return err
		}
		req.DALAttestation = append([]byte(nil), b...)
	}
	return nil
}

func decodeChainAndBranch(r *reader, req *Request) error {
	c, err := r.take(4)
	if err != nil {
		return err
	}
	req.ChainID = ChainID(c)
	b, err := r.array32("branch")
	if err != nil {
		return err
	}
	req.Branch = BlockHash(b)
	return nil
}
