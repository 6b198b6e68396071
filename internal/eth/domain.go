package eth

import (
	"encoding/binary"

	"github.com/attestantio/go-eth2-client/spec/phase0"
)

// DomainType is a consensus DOMAIN_* constant, written as the spec writes its 4 bytes
// (DOMAIN_BEACON_ATTESTER 0x01000000 is the bytes 01 00 00 00). Constants, so no package
// can alter them.
type DomainType uint32

// Bytes returns the 4 bytes of the domain type.
func (d DomainType) Bytes() [4]byte {
	var b [4]byte
	binary.BigEndian.PutUint32(b[:], uint32(d))
	return b
}

// Domain types of the consensus specs (phase0, altair) and builder-specs.
const (
	DomainBeaconProposer              DomainType = 0x00000000
	DomainBeaconAttester              DomainType = 0x01000000
	DomainRandao                      DomainType = 0x02000000
	DomainDeposit                     DomainType = 0x03000000
	DomainVoluntaryExit               DomainType = 0x04000000
	DomainSelectionProof              DomainType = 0x05000000
	DomainAggregateAndProof           DomainType = 0x06000000
	DomainSyncCommittee               DomainType = 0x07000000
	DomainSyncCommitteeSelectionProof DomainType = 0x08000000
	DomainContributionAndProof        DomainType = 0x09000000
	DomainApplicationBuilder          DomainType = 0x00000001
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
	dtb := dt.Bytes()
	copy(d[:4], dtb[:])
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
