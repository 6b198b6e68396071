package tezos

import (
	"fmt"
)

// Magic bytes (watermarks) that open every payload a Tezos signer is asked to
// sign. Sources: Octez src/lib_crypto/signature_v3.ml (bytes_of_watermark),
// src/proto_alpha/lib_protocol/block_header_repr.ml and operation_repr.ml
// (to_watermark), and docs/user/key-management.rst.
const (
	MagicGeneric        byte = 0x03 // generic operation: branch ‖ contents
	MagicAuthentication byte = 0x04 // authenticated signing request, see AuthenticationBytes
	MagicBlock          byte = 0x11 // Tenderbake block header
	MagicPreattestation byte = 0x12 // preattestation
	MagicAttestation    byte = 0x13 // attestation (with or without DAL; tz4 BLS mode)
)

// MaxPayloadSize bounds the payloads Classify accepts: the magic byte, a
// 32-byte branch and Octez's max_operation_data_length (32 KiB), rounded up to
// 64 KiB. Anything longer is refused before it is read (Inv 7).
const MaxPayloadSize = 64 << 10

// RequestKind is the kind of payload. The zero value is invalid.
type RequestKind uint8

// Request kinds.
const (
	_                     RequestKind = iota
	RequestBlock                      // 0x11
	RequestPreattestation             // 0x12
	RequestAttestation                // 0x13
	RequestGeneric                    // 0x03
)

// String returns "block", "preattestation", "attestation", "generic" or
// "invalid".
func (k RequestKind) String() string {
	switch k {
	case RequestBlock:
		return "block"
	case RequestPreattestation:
		return "preattestation"
	case RequestAttestation:
		return "attestation"
	case RequestGeneric:
		return "generic"
	}
	return "invalid"
}

// Consensus operation tags (Octez operation_repr.ml). Tags 20, 21 and 23 carry
// a slot and are signed by tz1/tz2/tz3 keys; 40 and 41 are the "BLS mode"
// encodings signed by tz4 keys (Seoul and later), without slot or DAL content,
// so that all delegates sign identical bytes.
const (
	TagPreattestation        byte = 20
	TagAttestation           byte = 21
	TagAttestationWithDAL    byte = 23
	TagBLSModePreattestation byte = 40
	TagBLSModeAttestation    byte = 41
)

// Request is a decoded payload: what the core needs for its policy and
// high-watermark decisions. Fields that a kind does not carry are zero.
type Request struct {
	Magic byte
	Kind  RequestKind
	// ChainID is set for blocks and consensus operations; generic operations do
	// not carry one.
	ChainID ChainID
	// Level and Round: for blocks, the shell level and the round read from the
	// fitness; for consensus operations, the operation's level and round. Both
	// are at most math.MaxInt32.
	Level, Round uint32

	// Branch is the branch of consensus and generic operations.
	Branch BlockHash
	// OperationTag is the consensus content tag (20, 21, 23, 40 or 41).
	OperationTag byte
	// Slot is the attester slot (tags 20, 21, 23 only).
	Slot uint16
	// PayloadHash is the block payload hash (blocks and consensus operations).
	PayloadHash PayloadHash
	// DALAttestation is the raw Zarith bitset of tag 23 (non-negative, canonical).
	DALAttestation []byte

	// Predecessor, PayloadRound: block headers only.
	Predecessor  BlockHash
	PayloadRound uint32

	// Operations are the contents of a generic operation, in order.
	Operations []Operation
}

// Classify decodes a payload sent to the signer. It reads the magic byte and
// then decodes the whole payload strictly: every field is length-checked,
// tags must be known, integers must be canonical and in range, and no byte may
// be left over. It never guesses: anything it does not recognise is an error
// wrapping ErrPayload.
//
// Accepted: 0x11 Tenderbake block headers, 0x12/0x13 consensus operations
// (tags 20, 21, 23, 40, 41), 0x03 generic operations whose every content kind
// is decoded (see OperationKind). Refused: every other magic byte (0x01/0x02
// Emmy, 0x04 authentication, 0x05 Michelson data, unknown), Emmy fitnesses,
// aggregated consensus operations (a signer never signs them), and the kinds
// reported by UnsupportedOperationError.
func Classify(payload []byte) (*Request, error) {
	if len(payload) > MaxPayloadSize {
		return nil, ErrPayloadTooLarge
	}
	if len(payload) == 0 {
		return nil, fmt.Errorf("%w: empty payload", ErrTruncated)
	}
	r := &reader{b: payload, off: 1}
	req := &Request{Magic: payload[0]}
	var err error
	switch payload[0] {
	case MagicBlock:
		req.Kind = RequestBlock
		err = decodeBlock(r, req)
	case MagicPreattestation:
		req.Kind = RequestPreattestation
		err = decodeConsensus(r, req)
	case MagicAttestation:
		req.Kind = RequestAttestation
		err = decodeConsensus(r, req)
	case MagicGeneric:
		req.Kind = RequestGeneric
		err = decodeGeneric(r, req)
	default:
		return nil, fmt.Errorf("%w: 0x%02x", ErrUnknownMagic, payload[0])
	}
	if err != nil {
		return nil, fmt.Errorf("classify %s: %w", req.Kind, err)
	}
	if r.remaining() != 0 {
		return nil, fmt.Errorf("classify %s: %w: %d bytes", req.Kind, ErrTrailingBytes, r.remaining())
	}
	return req, nil
}

// CheckKeyKind refuses a consensus payload whose encoding does not match the
// kind of the key asked to sign it: tz4 (BLS) keys sign the BLS-mode tags 40
// and 41, other keys sign tags 20, 21 and 23 (Octez operation_repr.ml,
// Bls_mode). Blocks and generic operations accept every kind. octez-signer
// picks the level offset from the key kind without looking at the tag; keyward
// checks both and refuses a mismatch.
func (r *Request) CheckKeyKind(kind KeyKind) error {
	if !kind.Valid() {
		return ErrKeyKind
	}
	switch r.Kind {
	case RequestBlock, RequestGeneric:
		return nil
	case RequestPreattestation, RequestAttestation:
		bls := r.OperationTag == TagBLSModePreattestation || r.OperationTag == TagBLSModeAttestation
		if bls != (kind == KeyKindBLS) {
			return fmt.Errorf("%w: tag %d for a %s key", ErrKeyKindMismatch, r.OperationTag, kind)
		}
		return nil
	}
	return ErrNoWatermark
}
