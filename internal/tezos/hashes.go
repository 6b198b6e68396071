package tezos

import "fmt"

// ChainID is the 4-byte chain identifier carried by block and consensus
// payloads (base58 "Net…").
type ChainID [4]byte

// String returns the base58check form, e.g. "NetXdQprcVkpaWU" for mainnet.
func (c ChainID) String() string { return b58Encode(pfxChainID, c[:]) }

// ParseChainID parses a "Net…" string.
func ParseChainID(s string) (ChainID, error) {
	_, payload, err := b58Decode(s, pfxChainID)
	if err != nil {
		return ChainID{}, fmt.Errorf("parse chain id: %w", err)
	}
	return ChainID(payload), nil
}

// BlockHash is a 32-byte block hash (base58 "B…"), the branch of operations
// and the predecessor of blocks.
type BlockHash [32]byte

// String returns the base58check form.
func (h BlockHash) String() string { return b58Encode(pfxBlock, h[:]) }

// ParseBlockHash parses a "B…" string.
func ParseBlockHash(s string) (BlockHash, error) {
	_, payload, err := b58Decode(s, pfxBlock)
	if err != nil {
		return BlockHash{}, fmt.Errorf("parse block hash: %w", err)
	}
	return BlockHash(payload), nil
}

// PayloadHash is a 32-byte block payload hash (base58 "vh…").
type PayloadHash [32]byte

// String returns the base58check form.
func (h PayloadHash) String() string { return b58Encode(pfxPayload, h[:]) }

// ProtocolHash is a 32-byte protocol hash (base58 "P…"), as in ballots and
// proposals.
type ProtocolHash [32]byte

// String returns the base58check form.
func (h ProtocolHash) String() string { return b58Encode(pfxProtocol, h[:]) }

// RollupAddress is a 20-byte smart rollup address (base58 "sr1…").
type RollupAddress [20]byte

// String returns the base58check form.
func (a RollupAddress) String() string { return b58Encode(pfxRollupSr1, a[:]) }

// ContractKind tells an implicit account from an originated contract. The zero
// value is invalid.
type ContractKind uint8

// Contract kinds.
const (
	_                  ContractKind = iota
	ContractImplicit                // tz1…tz4
	ContractOriginated              // KT1…
)

// Contract is a destination: an implicit account or an originated contract.
type Contract struct {
	Kind ContractKind
	// Implicit is the account when Kind is ContractImplicit.
	Implicit PublicKeyHash
	// Originated is the KT1 hash when Kind is ContractOriginated.
	Originated [20]byte
}

// String returns "tz…" or "KT1…", or "invalid" for the zero value.
func (c Contract) String() string {
	switch c.Kind {
	case ContractImplicit:
		return c.Implicit.String()
	case ContractOriginated:
		return b58Encode(pfxKT1, c.Originated[:])
	}
	return "invalid"
}

// ParsePayloadHash parses a "vh…" string (Signatory stores its watermark hashes, the
// blake2b-256 of the whole payload, in this form).
func ParsePayloadHash(s string) (PayloadHash, error) {
	_, payload, err := b58Decode(s, pfxPayload)
	if err != nil {
		return PayloadHash{}, fmt.Errorf("parse payload hash: %w", err)
	}
	return PayloadHash(payload), nil
}
