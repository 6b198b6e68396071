package eth

import (
	"encoding/binary"

	"github.com/attestantio/go-eth2-client/spec/phase0"
)

// DomainType is a consensus DOMAIN_* constant (4 bytes).
type DomainType [4]byte

// Domain types of the consensus specs (phase0, altair, builder-specs).
var (
	DomainBeaconProposer              = DomainType{0x00, 0x00, 0x00, 0x00}
	DomainBeaconAttester              = DomainType{0x01, 0x00, 0x00, 0x00}
	DomainRandao                      = DomainType{0x02, 0x00, 0x00, 0x00}
	DomainDeposit                     = DomainType{0x03, 0x00, 0x00, 0x00}
	DomainVoluntaryExit               = DomainType{0x04, 0x00, 0x00, 0x00}
	DomainSelectionProof              = DomainType{0x05, 0x00, 0x00, 0x00}
	DomainAggregateAndProof           = DomainType{0x06, 0x00, 0x00, 0x00}
	DomainSyncCommittee               = DomainType{0x07, 0x00, 0x00, 0x00}
	DomainSyncCommitteeSelectionProof = DomainType{0x08, 0x00, 0x00, 0x00}
	DomainContributionAndProof        = DomainType{0x09, 0x00, 0x00, 0x00}
	DomainApplicationBuilder          = DomainType{0x00, 0x00, 0x00, 0x01}
)

// ComputeForkDataRoot is compute_fork_data_root(current_version, genesis_validators_root).
func ComputeForkDataRoot(version [4]byte, gvr [32]byte) [32]byte {
	fd := phase0.ForkData{CurrentVersion: version, GenesisValidatorsRoot: gvr}
	r, err := fd.HashTreeRoot()
	if err != nil { // fixed-size container: cannot fail
		panic("eth: internal error: fork data root: " + err.Error())
	}
	return r
}

// ComputeDomain is compute_domain(domain_type, fork_version, genesis_validators_root).
func ComputeDomain(dt DomainType, version [4]byte, gvr [32]byte) [32]byte {
	fdr := ComputeForkDataRoot(version, gvr)
	var d [32]byte
	copy(d[:4], dt[:])
	copy(d[4:], fdr[:28])
	return d
}

// ComputeSigningRoot is compute_signing_root for an object whose hash_tree_root is objectRoot.
func ComputeSigningRoot(objectRoot, domain [32]byte) [32]byte {
	sd := phase0.SigningData{ObjectRoot: objectRoot, Domain: domain}
	r, err := sd.HashTreeRoot()
	if err != nil { // fixed-size container: cannot fail
		panic("eth: internal error: signing data root: " + err.Error())
	}
	return r
}

// uint64Root is hash_tree_root(uint64(v)): v little-endian, zero-padded to a chunk.
func uint64Root(v uint64) [32]byte {
	var r [32]byte
	binary.LittleEndian.PutUint64(r[:8], v)
	return r
}
