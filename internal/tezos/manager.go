package tezos

import (
	"fmt"
)

// Manager operation bodies, from Octez
// src/proto_025_PsUshuai/lib_protocol/operation_repr.ml (Manager_operations):
// every body starts with source (21-byte public key hash), fee (Tez: natural
// ≤ 10 bytes fitting int64), counter, gas_limit and storage_limit (naturals ≤
// 10 bytes), then the kind-specific fields decoded below.

// blsProofSize is the size of the BLS proof of possession optionally attached
// to reveal and key updates: (opt (dynamic_size Bls.encoding)), a 96-byte
// compressed G2 signature.
const blsProofSize = 96

// Sizes of fixed fields of smart rollup and DAL operations.
const (
	rollupAddressSize    = 20              // Sc_rollup_repr.Address
	rollupCommitmentSize = 32 + 4 + 32 + 8 // State_hash, inbox_level int32, predecessor hash, number_of_ticks int64
	dalCommitmentSize    = 48              // KZG commitment, compressed G1 (lib_kzg Commitment.Single_G1)
	dalProofSize         = 96              // degree proof, compressed G2 (lib_kzg Degree_check.Proof over Pairing_G2)
	maxEntrypointLen     = 31              // Entrypoint_repr.Pre_entrypoint
	numPVMKinds          = 3               // Sc_rollups.Kind.all: arith, wasm_2_0_0, riscv
)

// builtinEntrypoints are the Entrypoint_repr.smart_encoding tags 0..9.
var builtinEntrypoints = [...]string{
	"default", "root", "do", "set_delegate", "remove_delegate", "deposit",
	"stake", "unstake", "finalize_unstake", "set_delegate_parameters",
}

func decodeManager(r *reader, tag byte) (Operation, error) {
	var op Operation
	switch tag {
	case 107:
		op.Kind = OpReveal
	case 108:
		op.Kind = OpTransaction
	case 109:
		op.Kind = OpOrigination
	case 110:
		op.Kind = OpDelegation
	case 111:
		op.Kind = OpRegisterGlobalConstant
	case 112:
		op.Kind = OpSetDepositsLimit
	case 113:
		op.Kind = OpIncreasePaidStorage
	case 114:
		op.Kind = OpUpdateConsensusKey
	case 115:
		op.Kind = OpUpdateCompanionKey
	case 158:
		op.Kind = OpTransferTicket
	case 200:
		op.Kind = OpSmartRollupOriginate
	case 201:
		op.Kind = OpSmartRollupAddMessages
	case 202:
		op.Kind = OpSmartRollupCement
	case 203:
		op.Kind = OpSmartRollupPublish
	case 204:
		return Operation{}, &UnsupportedOperationError{Kind: OpSmartRollupRefute}
	case 205:
		op.Kind = OpSmartRollupTimeout
	case 206:
		op.Kind = OpSmartRollupExecuteOutboxMessage
	case 207:
		op.Kind = OpSmartRollupRecoverBond
	case 230:
		op.Kind = OpDALPublishCommitment
	case 250:
		return Operation{}, &UnsupportedOperationError{Kind: OpZKRollupOrigination}
	case 251:
		return Operation{}, &UnsupportedOperationError{Kind: OpZKRollupPublish}
	case 252:
		return Operation{}, &UnsupportedOperationError{Kind: OpZKRollupUpdate}
	default:
		return Operation{}, fmt.Errorf("%w: operation tag %d", ErrUnknownTag, tag)
	}
	if err := decodeManagerHeader(r, &op); err != nil {
		return Operation{}, fmt.Errorf("%s: %w", op.Kind, err)
	}
	if err := decodeManagerBody(r, &op); err != nil {
		return Operation{}, fmt.Errorf("%s: %w", op.Kind, err)
	}
	return op, nil
}

func decodeManagerHeader(r *reader, op *Operation) error {
	var err error
	if op.Source, err = r.pkh(); err != nil {
		return err
	}
	if op.Fee, err = r.mutez("fee"); err != nil {
		return err
	}
	if op.Counter, err = r.natural("counter"); err != nil {
		return err
	}
	if op.GasLimit, err = r.natural("gas_limit"); err != nil {
		return err
	}
	op.StorageLimit, err = r.natural("storage_limit")
	return err
}

func decodeManagerBody(r *reader, op *Operation) error {
	var err error
	switch op.Kind {
	case OpReveal, OpUpdateConsensusKey, OpUpdateCompanionKey:
		if op.PublicKey, err = r.publicKey(); err != nil {
			return err
		}
		op.HasProof, err = blsProof(r)
		return err
	case OpTransaction:
		return decodeTransaction(r, op)
	case OpOrigination:
		if op.Amount, err = r.mutez("balance"); err != nil {
			return err
		}
		if op.Delegate, op.HasDelegate, err = optionalPKH(r); err != nil {
			return err
		}
		return skipDynamics(r, 2) // script: code, storage
	case OpDelegation:
		op.Delegate, op.HasDelegate, err = optionalPKH(r)
		return err
	case OpRegisterGlobalConstant:
		return skipDynamics(r, 1)
	case OpSetDepositsLimit:
		if op.HasLimit, err = r.presence(); err != nil || !op.HasLimit {
			return err
		}
		op.Limit, err = r.mutez("limit")
		return err
	case OpIncreasePaidStorage:
		// amount is a Data_encoding.z; a negative one can never be valid, so it
		// is refused here.
		if op.Amount, err = zarithUint64(r, "amount"); err != nil {
			return err
		}
		op.Destination, err = r.originated()
		return err
	case OpTransferTicket:
		if err = skipDynamics(r, 2); err != nil { // ticket_contents, ticket_ty
			return err
		}
		if _, err = r.contract(); err != nil { // ticketer
			return err
		}
		if op.Amount, err = r.natural("ticket_amount"); err != nil {
			return err
		}
		if op.Destination, err = r.contract(); err != nil {
			return err
		}
		name, err := r.dynamic() // Entrypoint_repr.simple_encoding: string
		if err != nil {
			return err
		}
		op.Entrypoint, err = entrypointName(name)
		return err
	case OpSmartRollupOriginate:
		kind, err := r.u8()
		if err != nil {
			return err
		}
		if kind >= numPVMKinds {
			return fmt.Errorf("%w: pvm kind %d", ErrUnknownTag, kind)
		}
		if err = skipDynamics(r, 2); err != nil { // kernel, parameters_ty
			return err
		}
		present, err := r.presence()
		if err != nil || !present {
			return err
		}
		wl, err := r.dynamic() // whitelist: list of 21-byte public key hashes
		if err != nil {
			return err
		}
		wr := &reader{b: wl}
		for wr.remaining() > 0 {
			if _, err := wr.pkh(); err != nil {
				return err
			}
		}
		return nil
	case OpSmartRollupAddMessages:
		msgs, err := r.dynamic()
		if err != nil {
			return err
		}
		mr := &reader{b: msgs}
		for mr.remaining() > 0 {
			if _, err := mr.dynamic(); err != nil {
				return err
			}
		}
		return nil
	case OpSmartRollupCement:
		return rollupAddress(r, op)
	case OpSmartRollupPublish:
		if err = rollupAddress(r, op); err != nil {
			return err
		}
		return r.skip(rollupCommitmentSize)
	case OpSmartRollupTimeout:
		if err = rollupAddress(r, op); err != nil {
			return err
		}
		for range 2 { // stakers: alice, bob
			if _, err := r.pkh(); err != nil {
				return err
			}
		}
		return nil
	case OpSmartRollupExecuteOutboxMessage:
		if err = rollupAddress(r, op); err != nil {
			return err
		}
		if err = r.skip(32); err != nil { // cemented_commitment
			return err
		}
		return skipDynamics(r, 1) // output_proof
	case OpSmartRollupRecoverBond:
		if err = rollupAddress(r, op); err != nil {
			return err
		}
		_, err = r.pkh() // staker
		return err
	case OpDALPublishCommitment:
		return r.skip(1 + dalCommitmentSize + dalProofSize) // slot_index, commitment, proof
	}
	return fmt.Errorf("%w: no decoder for %s", ErrUnknownTag, op.Kind)
}

// decodeTransaction reads amount, destination and the optional parameters
// (entrypoint, Micheline value), then names staking pseudo-operations: a
// transaction from an implicit account to itself with entrypoint stake,
// unstake, finalize_unstake or set_delegate_parameters. Any other transaction,
// including a call of a contract's entrypoint named "stake", stays a
// transaction.
func decodeTransaction(r *reader, op *Operation) error {
	var err error
	if op.Amount, err = r.mutez("amount"); err != nil {
		return err
	}
	if op.Destination, err = r.contract(); err != nil {
		return err
	}
	op.Entrypoint = "default"
	present, err := r.presence()
	if err != nil || !present {
		return err
	}
	if op.Entrypoint, err = smartEntrypoint(r); err != nil {
		return err
	}
	value, err := r.dynamic()
	if err != nil {
		return err
	}
	op.Parameters = append([]byte(nil), value...)
	if op.Destination.Kind == ContractImplicit && op.Destination.Implicit == op.Source {
		switch op.Entrypoint {
		case "stake":
			op.Kind = OpStake
		case "unstake":
			op.Kind = OpUnstake
		case "finalize_unstake":
			op.Kind = OpFinalizeUnstake
		case "set_delegate_parameters":
			op.Kind = OpSetDelegateParameters
		}
	}
	return nil
}

// smartEntrypoint reads Entrypoint_repr.smart_encoding: tags 0..9 name the
// builtin entrypoints, tag 255 is a named one with a 1-byte length (≤ 31).
// Octez reads names laxly, so "" and "default" are the default entrypoint and
// a named "stake" is the builtin stake; the name returned is normalised the
// same way, so policy sees one spelling per entrypoint.
func smartEntrypoint(r *reader) (string, error) {
	tag, err := r.u8()
	if err != nil {
		return "", err
	}
	if int(tag) < len(builtinEntrypoints) {
		return builtinEntrypoints[tag], nil
	}
	if tag != 0xff {
		return "", fmt.Errorf("%w: entrypoint tag %d", ErrUnknownTag, tag)
	}
	n, err := r.u8()
	if err != nil {
		return "", err
	}
	name, err := r.take(int(n))
	if err != nil {
		return "", err
	}
	return entrypointName(name)
}

// entrypointName validates a named entrypoint: at most 31 bytes of the
// characters Michelson allows in annotations ([A-Za-z0-9_.%@]). Other bytes
// cannot name a real entrypoint and would reach logs and policy unescaped, so
// they are refused.
func entrypointName(b []byte) (string, error) {
	if len(b) > maxEntrypointLen {
		return "", fmt.Errorf("%w: entrypoint of %d bytes", ErrMalformed, len(b))
	}
	for _, c := range b {
		ok := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' ||
			c == '_' || c == '.' || c == '%' || c == '@'
		if !ok {
			return "", fmt.Errorf("%w: entrypoint byte 0x%02x", ErrMalformed, c)
		}
	}
	if len(b) == 0 {
		return "default", nil
	}
	return string(b), nil
}

func optionalPKH(r *reader) (PublicKeyHash, bool, error) {
	present, err := r.presence()
	if err != nil || !present {
		return PublicKeyHash{}, false, err
	}
	h, err := r.pkh()
	return h, err == nil, err
}

func blsProof(r *reader) (bool, error) {
	present, err := r.presence()
	if err != nil || !present {
		return false, err
	}
	p, err := r.dynamic()
	if err != nil {
		return false, err
	}
	if len(p) != blsProofSize {
		return false, fmt.Errorf("%w: proof of %d bytes", ErrMalformed, len(p))
	}
	return true, nil
}

func rollupAddress(r *reader, op *Operation) error {
	b, err := r.take(rollupAddressSize)
	if err != nil {
		return err
	}
	op.Rollup = RollupAddress(b)
	return nil
}

// zarithUint64 reads a non-negative Data_encoding.z that fits a uint64 (at most
// 10 bytes: 6 + 9·7 = 69 bits, checked against 64).
func zarithUint64(r *reader, field string) (uint64, error) {
	b, err := r.zarithBytes(field, true)
	if err != nil {
		return 0, err
	}
	if len(b) > maxZarithBytes {
		return 0, fmt.Errorf("%w: %s over %d bytes", ErrMalformed, field, maxZarithBytes)
	}
	v := uint64(b[0] & 0x3f)
	shift := uint(6)
	for _, c := range b[1:] {
		chunk := uint64(c & 0x7f)
		if shift >= 64 || chunk>>(64-shift) != 0 {
			return 0, fmt.Errorf("%w: %s over 64 bits", ErrMalformed, field)
		}
		v |= chunk << shift
		shift += 7
	}
	return v, nil
}
