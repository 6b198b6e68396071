// Request types: what crosses the gateway → core boundary for Ethereum.

package eth

// SignType is the kind of object a client asks to sign, one per Web3Signer `type`.
// The zero value is invalid and refused.
type SignType uint8

// The signing types of the Web3Signer eth2 API.
const (
	TypeInvalid                           SignType = iota
	TypeBlock                                      // BLOCK (phase0 BeaconBlock)
	TypeBlockV2                                    // BLOCK_V2 (full block ≤ Altair, header from Bellatrix)
	TypeAttestation                                // ATTESTATION (AttestationData)
	TypeAggregationSlot                            // AGGREGATION_SLOT
	TypeAggregateAndProof                          // AGGREGATE_AND_PROOF (legacy; phase0 or Electra data)
	TypeAggregateAndProofV2                        // AGGREGATE_AND_PROOF_V2
	TypeRandaoReveal                               // RANDAO_REVEAL
	TypeVoluntaryExit                              // VOLUNTARY_EXIT
	TypeDeposit                                    // DEPOSIT
	TypeSyncCommitteeMessage                       // SYNC_COMMITTEE_MESSAGE
	TypeSyncCommitteeSelectionProof                // SYNC_COMMITTEE_SELECTION_PROOF
	TypeSyncCommitteeContributionAndProof          // SYNC_COMMITTEE_CONTRIBUTION_AND_PROOF
	TypeValidatorRegistration                      // VALIDATOR_REGISTRATION
	typeEnd
)

var signTypeNames = [...]string{
	TypeInvalid:                           "INVALID",
	TypeBlock:                             "BLOCK",
	TypeBlockV2:                           "BLOCK_V2",
	TypeAttestation:                       "ATTESTATION",
	TypeAggregationSlot:                   "AGGREGATION_SLOT",
	TypeAggregateAndProof:                 "AGGREGATE_AND_PROOF",
	TypeAggregateAndProofV2:               "AGGREGATE_AND_PROOF_V2",
	TypeRandaoReveal:                      "RANDAO_REVEAL",
	TypeVoluntaryExit:                     "VOLUNTARY_EXIT",
	TypeDeposit:                           "DEPOSIT",
	TypeSyncCommitteeMessage:              "SYNC_COMMITTEE_MESSAGE",
	TypeSyncCommitteeSelectionProof:       "SYNC_COMMITTEE_SELECTION_PROOF",
	TypeSyncCommitteeContributionAndProof: "SYNC_COMMITTEE_CONTRIBUTION_AND_PROOF",
	TypeValidatorRegistration:             "VALIDATOR_REGISTRATION",
}

// String returns the Web3Signer name of the type.
func (t SignType) String() string {
	if t < typeEnd {
		return signTypeNames[t]
	}
	return "INVALID"
}

// Valid reports whether t is one of the defined signing types.
func (t SignType) Valid() bool { return t > TypeInvalid && t < typeEnd }

// ParseSignType maps a Web3Signer `type` string to a SignType.
func ParseSignType(s string) (SignType, bool) {
	for i := TypeInvalid + 1; i < typeEnd; i++ {
		if signTypeNames[i] == s {
			return i, true
		}
	}
	return TypeInvalid, false
}

// Fork names a consensus fork. The zero value means "not given".
type Fork uint8

// Consensus forks known to keyward, in order.
const (
	ForkUnset Fork = iota
	ForkPhase0
	ForkAltair
	ForkBellatrix
	ForkCapella
	ForkDeneb
	ForkElectra
	ForkFulu
	forkEnd
)

var forkNames = [...]string{"", "PHASE0", "ALTAIR", "BELLATRIX", "CAPELLA", "DENEB", "ELECTRA", "FULU"}

// String returns the upper-case fork name used by the Web3Signer API ("" when unset).
func (f Fork) String() string {
	if f < forkEnd {
		return forkNames[f]
	}
	return "INVALID"
}

// Valid reports whether f names a known fork (ForkUnset is not valid).
func (f Fork) Valid() bool { return f > ForkUnset && f < forkEnd }

// ParseFork maps a fork name, in any case, to a Fork.
func ParseFork(s string) (Fork, bool) {
	for i := ForkPhase0; i < forkEnd; i++ {
		if equalFold(forkNames[i], s) {
			return i, true
		}
	}
	return ForkUnset, false
}

func equalFold(a, b string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := 0; i < len(a); i++ {
		x, y := a[i], b[i]
		if 'a' <= y && y <= 'z' {
			y -= 'a' - 'A'
		}
		if x != y {
			return false
		}
	}
	return true
}

// ForkInfo is the fork_info a client sends. The core never derives a domain from it; it
// checks it against the pinned network and refuses a contradiction (Inv 3).
type ForkInfo struct {
	PreviousVersion       [4]byte
	CurrentVersion        [4]byte
	Epoch                 uint64
	GenesisValidatorsRoot [32]byte
}

// Request is a typed signing request as it crosses the gateway → core boundary.
// Body holds the SSZ encoding of the payload object for Type (see the package's
// per-type files for which container); the core decodes it strictly.
type Request struct {
	Type SignType
	// Version is the fork the client declared for BLOCK_V2 and AGGREGATE_AND_PROOF(_V2)
	// (for the legacy aggregate type, the shape the gateway saw: phase0 or Electra).
	// ForkUnset for the other types.
	Version Fork
	// ForkInfo is nil for DEPOSIT and VALIDATOR_REGISTRATION, required for all others.
	ForkInfo *ForkInfo
	// SigningRoot, if set, is compared with the root the core computes; never signed as such.
	SigningRoot *[32]byte
	Body        []byte
}
