package tezos

import (
	"fmt"
)

// Generic operation layout (magic 0x03): branch(32) then one or more contents
// until the end of the payload (Data_encoding Variable.list, no count, no
// length). Each content is a tag byte and a body; bodies have no length
// prefix, so every body must be decoded exactly to find the next tag. Source:
// Octez src/proto_025_PsUshuai/lib_protocol/operation_repr.ml
// (unsigned_operation_encoding, contents_encoding, Manager_operations).
//
// Rules enforced as Octez does (of_list_internal): the list is not empty, and a
// list of more than one content holds only manager operations.

// maxProposals is Constants_repr.max_proposals_per_delegate.
const maxProposals = 20

func decodeGeneric(r *reader, req *Request) error {
	b, err := r.array32("branch")
	if err != nil {
		return err
	}
	req.Branch = BlockHash(b)
	for r.remaining() > 0 {
		op, err := decodeContent(r)
		if err != nil {
			return fmt.Errorf("content %d: %w", len(req.Operations), err)
		}
		req.Operations = append(req.Operations, op)
	}
	switch {
	case len(req.Operations) == 0:
		return fmt.Errorf("%w: no contents", ErrUnexpectedOperation)
	case len(req.Operations) > 1:
		for _, op := range req.Operations {
			if !op.Kind.IsManager() {
				return fmt.Errorf("%w: %s in a batch of %d", ErrUnexpectedOperation, op.Kind, len(req.Operations))
			}
		}
	}
	return nil
}

func decodeContent(r *reader) (Operation, error) {
	tag, err := r.u8()
	if err != nil {
		return Operation{}, err
	}
	var op Operation
	switch tag {
	case 1:
		op.Kind = OpSeedNonceRevelation
		if op.Level, err = r.nonNegInt32("level"); err == nil {
			err = r.skip(32) // nonce
		}
	case 2:
		op.Kind = OpDoubleConsensusOperationEvidence
		if err = r.skip(2); err == nil { // slot
			err = skipDynamics(r, 2) // op1, op2
		}
	case 3:
		op.Kind = OpDoubleBakingEvidence
		err = skipDynamics(r, 2) // bh1, bh2
	case 4:
		op.Kind = OpActivateAccount
		var h []byte
		if h, err = r.take(20); err == nil {
			op.Source = PublicKeyHash{Kind: KeyKindEd25519, Hash: [20]byte(h)}
			err = r.skip(20) // activation code
		}
	case 5:
		op.Kind = OpProposals
		err = decodeProposals(r, &op)
	case 6:
		op.Kind = OpBallot
		err = decodeBallot(r, &op)
	case 8:
		op.Kind = OpVDFRevelation
		err = r.skip(200) // two 100-byte class group elements (Seed_repr.vdf_solution_encoding)
	case 9:
		op.Kind = OpDrainDelegate
		if op.Source, err = r.pkh(); err != nil {
			break
		}
		if op.Delegate, err = r.pkh(); err != nil {
			break
		}
		op.HasDelegate = true
		var d PublicKeyHash
		if d, err = r.pkh(); err == nil {
			op.Destination = Contract{Kind: ContractImplicit, Implicit: d}
		}
	case 17:
		op.Kind = OpFailingNoop
		_, err = r.dynamic()
	case 24:
		return Operation{}, &UnsupportedOperationError{Kind: OpDALEntrapmentEvidence}
	case 20, 21, 23, 30, 31, 40, 41:
		return Operation{}, fmt.Errorf("%w: consensus content (tag %d) under the generic magic byte", ErrUnexpectedOperation, tag)
	default:
		return decodeManager(r, tag)
	}
	if err != nil {
		return Operation{}, fmt.Errorf("%s: %w", op.Kind, err)
	}
	return op, nil
}

func skipDynamics(r *reader, n int) error {
	for range n {
		if _, err := r.dynamic(); err != nil {
			return err
		}
	}
	return nil
}

func decodeProposals(r *reader, op *Operation) error {
	var err error
	if op.Source, err = r.pkh(); err != nil {
		return err
	}
	if op.Period, err = r.nonNegInt32("period"); err != nil {
		return err
	}
	list, err := r.dynamic()
	if err != nil {
		return err
	}
	if len(list)%32 != 0 || len(list)/32 > maxProposals {
		return fmt.Errorf("%w: proposals list of %d bytes", ErrMalformed, len(list))
	}
	for i := 0; i < len(list); i += 32 {
		op.Proposals = append(op.Proposals, ProtocolHash(list[i:i+32]))
	}
	return nil
}

func decodeBallot(r *reader, op *Operation) error {
	var err error
	if op.Source, err = r.pkh(); err != nil {
		return err
	}
	if op.Period, err = r.nonNegInt32("period"); err != nil {
		return err
	}
	p, err := r.array32("proposal")
	if err != nil {
		return err
	}
	op.Proposals = []ProtocolHash{ProtocolHash(p)}
	v, err := r.u8()
	if err != nil {
		return err
	}
	if v > 2 { // Vote_repr.ballot_encoding: int8 0 yay, 1 nay, 2 pass
		return fmt.Errorf("%w: ballot %d", ErrMalformed, v)
	}
	op.Ballot = Ballot(v + 1)
	return nil
}
