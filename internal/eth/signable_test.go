package eth

import (
	"errors"
	"strings"
	"testing"

	apiv1 "github.com/attestantio/go-eth2-client/api/v1"
	"github.com/attestantio/go-eth2-client/spec/altair"
	"github.com/attestantio/go-eth2-client/spec/electra"
	"github.com/attestantio/go-eth2-client/spec/phase0"
)

func mainnet(t testing.TB) *Network {
	t.Helper()
	n, err := BuiltinNetwork("mainnet")
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func ssz(t testing.TB, o interface{ MarshalSSZ() ([]byte, error) }) []byte {
	t.Helper()
	b, err := o.MarshalSSZ()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// transitionInfo returns the fork_info a mainnet beacon node reports once fork f is current.
func transitionInfo(n *Network, f Fork) *ForkInfo {
	fi := &ForkInfo{CurrentVersion: n.Version(f), Epoch: n.Epoch(f), GenesisValidatorsRoot: n.GenesisValidatorsRoot}
	fi.PreviousVersion = n.Version(f)
	if f > ForkPhase0 {
		fi.PreviousVersion = n.Version(f - 1)
	}
	return fi
}

func attData(slot, source, target uint64) *phase0.AttestationData {
	return &phase0.AttestationData{Slot: phase0.Slot(slot), Source: &phase0.Checkpoint{Epoch: phase0.Epoch(source)},
		Target: &phase0.Checkpoint{Epoch: phase0.Epoch(target), Root: phase0.Root{1}}}
}

func header(slot uint64) *phase0.BeaconBlockHeader {
	return &phase0.BeaconBlockHeader{Slot: phase0.Slot(slot), ProposerIndex: 7, ParentRoot: phase0.Root{2}, BodyRoot: phase0.Root{3}}
}

func phase0Aggregate(slot uint64) *phase0.AggregateAndProof {
	return &phase0.AggregateAndProof{AggregatorIndex: 1, Aggregate: &phase0.Attestation{AggregationBits: []byte{0x01}, Data: attData(slot, 0, 0)}}
}

func electraAggregate(slot uint64) *electra.AggregateAndProof {
	return &electra.AggregateAndProof{AggregatorIndex: 1, Aggregate: &electra.Attestation{AggregationBits: []byte{0x01},
		Data: attData(slot, 0, 0), CommitteeBits: make([]byte, 8)}}
}

func le8(v uint64) []byte {
	b := make([]byte, 8)
	for i := range b {
		b[i] = byte(v >> (8 * i))
	}
	return b
}

const (
	electraEpoch = 364032
	fuluEpoch    = 411392
	denebEpoch   = 269568
	capellaEpoch = 194048
)

// TestSignableMainnet_Inv3 is a table of requests against the real mainnet schedule: each
// row is accepted with the domain of the pinned fork, or refused naming the field.
func TestSignableMainnet_Inv3(t *testing.T) {
	n := mainnet(t)
	electraFI, fuluFI, denebFI := transitionInfo(n, ForkElectra), transitionInfo(n, ForkFulu), transitionInfo(n, ForkDeneb)
	badGVR := *fuluFI
	badGVR.GenesisValidatorsRoot[0] ^= 1
	badCur := *fuluFI
	badCur.CurrentVersion = [4]byte{9, 0, 0, 0}
	badEpoch := *fuluFI // before the activation of the fork its versions name
	badEpoch.Epoch--
	afterMsg := *fuluFI // after the message's epoch: get_domain would pick the previous version
	afterMsg.Epoch = fuluEpoch + 1
	lodestar := *fuluFI // Lodestar sends the epoch of the signing slot, not the activation epoch
	lodestar.Epoch = fuluEpoch + 7
	badPrev := *fuluFI
	badPrev.PreviousVersion = n.Version(ForkCapella)
	att := ssz(t, attData(fuluEpoch*32+5, fuluEpoch-1, fuluEpoch))
	slotIn := func(epoch uint64) uint64 { return epoch*32 + 3 }

	tests := []struct {
		name    string
		r       Request
		err     error  // nil: accepted
		field   string // refused field
		fork    Fork   // accepted: fork whose version the domain uses
		domType DomainType
	}{
		{"attestation fulu", Request{Type: TypeAttestation, ForkInfo: fuluFI, Body: att}, nil, "", ForkFulu, DomainBeaconAttester},
		{"attestation electra target", Request{Type: TypeAttestation, ForkInfo: electraFI, Body: ssz(t, attData(slotIn(electraEpoch), 1, electraEpoch+2))}, nil, "", ForkElectra, DomainBeaconAttester},
		// fork_info of the previous fork while the target is in Fulu: get_domain would use Electra.
		{"attestation with another fork's fork_info", Request{Type: TypeAttestation, ForkInfo: electraFI, Body: att}, ErrWrongNetwork, "fork_info.fork", 0, 0},
		{"attestation with deneb fork_info", Request{Type: TypeAttestation, ForkInfo: denebFI, Body: att}, ErrWrongNetwork, "fork_info.fork", 0, 0},
		{"wrong gvr", Request{Type: TypeAttestation, ForkInfo: &badGVR, Body: att}, ErrWrongNetwork, "fork_info.genesis_validators_root", 0, 0},
		{"unknown current version", Request{Type: TypeAttestation, ForkInfo: &badCur, Body: att}, ErrWrongNetwork, "fork_info.fork.current_version", 0, 0},
		{"fork epoch before activation", Request{Type: TypeAttestation, ForkInfo: &badEpoch, Body: att}, ErrWrongNetwork, "fork_info.fork.epoch", 0, 0},
		{"fork epoch after the message epoch", Request{Type: TypeAttestation, ForkInfo: &afterMsg, Body: att}, ErrWrongNetwork, "fork_info.fork", 0, 0},
		{"fork epoch = signing epoch (Lodestar)", Request{Type: TypeAttestation, ForkInfo: &lodestar, Body: ssz(t, attData((fuluEpoch+7)*32, fuluEpoch+6, fuluEpoch+7))}, nil, "", ForkFulu, DomainBeaconAttester},
		{"wrong previous version", Request{Type: TypeAttestation, ForkInfo: &badPrev, Body: att}, ErrWrongNetwork, "fork_info.fork.previous_version", 0, 0},
		{"no fork_info", Request{Type: TypeAttestation, Body: att}, ErrMalformed, "fork_info", 0, 0},
		{"trailing byte", Request{Type: TypeAttestation, ForkInfo: fuluFI, Body: append(append([]byte{}, att...), 0)}, ErrMalformed, "attestation", 0, 0},
		{"short body", Request{Type: TypeAttestation, ForkInfo: fuluFI, Body: att[:127]}, ErrMalformed, "attestation", 0, 0},
		{"empty body", Request{Type: TypeAttestation, ForkInfo: fuluFI}, ErrMalformed, "attestation", 0, 0},
		{"unknown type", Request{Type: typeEnd, ForkInfo: fuluFI, Body: att}, ErrMalformed, "type", 0, 0},

		{"block header fulu", Request{Type: TypeBlockV2, Version: ForkFulu, ForkInfo: fuluFI, Body: ssz(t, header(slotIn(fuluEpoch)))}, nil, "", ForkFulu, DomainBeaconProposer},
		{"block header declared deneb in fulu", Request{Type: TypeBlockV2, Version: ForkDeneb, ForkInfo: fuluFI, Body: ssz(t, header(slotIn(fuluEpoch)))}, nil, "", ForkFulu, DomainBeaconProposer},
		{"block header in altair", Request{Type: TypeBlockV2, Version: ForkBellatrix, ForkInfo: transitionInfo(n, ForkAltair), Body: ssz(t, header(slotIn(74240)))}, ErrWrongNetwork, "beacon_block.block_header.slot", 0, 0},
		{"block no version", Request{Type: TypeBlockV2, ForkInfo: fuluFI, Body: ssz(t, header(slotIn(fuluEpoch)))}, ErrMalformed, "beacon_block.version", 0, 0},
		{"phase0 block in fulu", Request{Type: TypeBlockV2, Version: ForkPhase0, ForkInfo: fuluFI, Body: ssz(t, &phase0.BeaconBlock{Slot: phase0.Slot(slotIn(fuluEpoch)), Body: &phase0.BeaconBlockBody{ETH1Data: &phase0.ETH1Data{BlockHash: make([]byte, 32)}}})}, ErrWrongNetwork, "beacon_block.block.slot", 0, 0},
		{"altair block in altair", Request{Type: TypeBlockV2, Version: ForkAltair, ForkInfo: transitionInfo(n, ForkAltair), Body: ssz(t, &altair.BeaconBlock{Slot: phase0.Slot(slotIn(74240)), Body: &altair.BeaconBlockBody{ETH1Data: &phase0.ETH1Data{BlockHash: make([]byte, 32)}, SyncAggregate: &altair.SyncAggregate{SyncCommitteeBits: make([]byte, 64)}}})}, nil, "", ForkAltair, DomainBeaconProposer},
		{"phase0 BLOCK at genesis", Request{Type: TypeBlock, ForkInfo: transitionInfo(n, ForkPhase0), Body: ssz(t, &phase0.BeaconBlock{Slot: 5, Body: &phase0.BeaconBlockBody{ETH1Data: &phase0.ETH1Data{BlockHash: make([]byte, 32)}}})}, nil, "", ForkPhase0, DomainBeaconProposer},

		{"aggregate electra", Request{Type: TypeAggregateAndProofV2, Version: ForkElectra, ForkInfo: electraFI, Body: ssz(t, electraAggregate(slotIn(electraEpoch)))}, nil, "", ForkElectra, DomainAggregateAndProof},
		{"aggregate electra version at deneb slot", Request{Type: TypeAggregateAndProofV2, Version: ForkElectra, ForkInfo: denebFI, Body: ssz(t, electraAggregate(slotIn(denebEpoch)))}, ErrWrongNetwork, "aggregate_and_proof.data.aggregate.data.slot", 0, 0},
		{"aggregate deneb version at fulu slot", Request{Type: TypeAggregateAndProof, Version: ForkDeneb, ForkInfo: fuluFI, Body: ssz(t, phase0Aggregate(slotIn(fuluEpoch)))}, ErrWrongNetwork, "aggregate_and_proof.aggregate.data.slot", 0, 0},
		{"aggregate phase0 body declared electra", Request{Type: TypeAggregateAndProofV2, Version: ForkElectra, ForkInfo: electraFI, Body: ssz(t, phase0Aggregate(slotIn(electraEpoch)))}, ErrMalformed, "aggregate_and_proof.data", 0, 0},
		{"aggregate deneb", Request{Type: TypeAggregateAndProofV2, Version: ForkDeneb, ForkInfo: denebFI, Body: ssz(t, phase0Aggregate(slotIn(denebEpoch)))}, nil, "", ForkDeneb, DomainAggregateAndProof},

		{"aggregation slot", Request{Type: TypeAggregationSlot, ForkInfo: fuluFI, Body: le8(slotIn(fuluEpoch))}, nil, "", ForkFulu, DomainSelectionProof},
		{"randao", Request{Type: TypeRandaoReveal, ForkInfo: fuluFI, Body: le8(fuluEpoch + 1)}, nil, "", ForkFulu, DomainRandao},
		{"randao 9 bytes", Request{Type: TypeRandaoReveal, ForkInfo: fuluFI, Body: make([]byte, 9)}, ErrMalformed, "randao_reveal.epoch", 0, 0},
		{"sync message", Request{Type: TypeSyncCommitteeMessage, ForkInfo: fuluFI, Body: append(make([]byte, 32), le8(slotIn(fuluEpoch))...)}, nil, "", ForkFulu, DomainSyncCommittee},
		{"sync message before altair", Request{Type: TypeSyncCommitteeMessage, ForkInfo: transitionInfo(n, ForkPhase0), Body: append(make([]byte, 32), le8(64)...)}, ErrWrongNetwork, "sync_committee_message.slot", 0, 0},
		{"sync selection", Request{Type: TypeSyncCommitteeSelectionProof, ForkInfo: fuluFI, Body: ssz(t, &altair.SyncAggregatorSelectionData{Slot: phase0.Slot(slotIn(fuluEpoch)), SubcommitteeIndex: 2})}, nil, "", ForkFulu, DomainSyncCommitteeSelectionProof},
		{"contribution", Request{Type: TypeSyncCommitteeContributionAndProof, ForkInfo: fuluFI, Body: ssz(t, &altair.ContributionAndProof{Contribution: &altair.SyncCommitteeContribution{Slot: phase0.Slot(slotIn(fuluEpoch)), AggregationBits: make([]byte, 16)}})}, nil, "", ForkFulu, DomainContributionAndProof},
		{"contribution before altair", Request{Type: TypeSyncCommitteeContributionAndProof, ForkInfo: transitionInfo(n, ForkPhase0), Body: ssz(t, &altair.ContributionAndProof{Contribution: &altair.SyncCommitteeContribution{Slot: 10, AggregationBits: make([]byte, 16)}})}, ErrWrongNetwork, "contribution_and_proof.contribution.slot", 0, 0},

		// EIP-7044 exit rule.
		{"exit in bellatrix, chain in capella", Request{Type: TypeVoluntaryExit, ForkInfo: transitionInfo(n, ForkCapella), Body: ssz(t, &phase0.VoluntaryExit{Epoch: 150000, ValidatorIndex: 9})}, nil, "", ForkBellatrix, DomainVoluntaryExit},
		{"exit in bellatrix, chain in fulu", Request{Type: TypeVoluntaryExit, ForkInfo: fuluFI, Body: ssz(t, &phase0.VoluntaryExit{Epoch: 150000, ValidatorIndex: 9})}, nil, "", ForkCapella, DomainVoluntaryExit},
		{"exit in fulu", Request{Type: TypeVoluntaryExit, ForkInfo: fuluFI, Body: ssz(t, &phase0.VoluntaryExit{Epoch: fuluEpoch + 10, ValidatorIndex: 9})}, nil, "", ForkCapella, DomainVoluntaryExit},
		{"exit in deneb, old fork_info", Request{Type: TypeVoluntaryExit, ForkInfo: transitionInfo(n, ForkCapella), Body: ssz(t, &phase0.VoluntaryExit{Epoch: denebEpoch, ValidatorIndex: 9})}, nil, "", ForkCapella, DomainVoluntaryExit},
		{"exit wrong gvr", Request{Type: TypeVoluntaryExit, ForkInfo: &badGVR, Body: ssz(t, &phase0.VoluntaryExit{Epoch: 1})}, ErrWrongNetwork, "fork_info.genesis_validators_root", 0, 0},
		{"exit no fork_info", Request{Type: TypeVoluntaryExit, Body: ssz(t, &phase0.VoluntaryExit{Epoch: 1})}, ErrMalformed, "fork_info", 0, 0},

		{"deposit", Request{Type: TypeDeposit, Body: append(ssz(t, &phase0.DepositMessage{WithdrawalCredentials: make([]byte, 32), Amount: 32e9}), 0, 0, 0, 0)}, nil, "", ForkPhase0, DomainDeposit},
		{"deposit other network", Request{Type: TypeDeposit, Body: append(ssz(t, &phase0.DepositMessage{WithdrawalCredentials: make([]byte, 32), Amount: 32e9}), 0x10, 0, 0x09, 0x10)}, ErrWrongNetwork, "deposit.genesis_fork_version", 0, 0},
		{"deposit short", Request{Type: TypeDeposit, Body: make([]byte, 88)}, ErrMalformed, "deposit", 0, 0},
		{"registration", Request{Type: TypeValidatorRegistration, Body: ssz(t, &apiv1.ValidatorRegistration{FeeRecipient: [20]byte{0xfe}, GasLimit: 30e6})}, nil, "", ForkPhase0, DomainApplicationBuilder},
		{"registration with bad fork_info", Request{Type: TypeValidatorRegistration, ForkInfo: &badGVR, Body: ssz(t, &apiv1.ValidatorRegistration{})}, ErrWrongNetwork, "fork_info.genesis_validators_root", 0, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s, err := n.Signable(&tc.r)
			if tc.err != nil {
				var fe *FieldError
				if !errors.Is(err, tc.err) || !errors.As(err, &fe) || fe.Field != tc.field {
					t.Fatalf("got %v, want %v on %s", err, tc.err, tc.field)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			gvr := n.GenesisValidatorsRoot
			if tc.r.Type == TypeDeposit || tc.r.Type == TypeValidatorRegistration {
				gvr = [32]byte{}
			}
			if want := ComputeDomain(tc.domType, n.Version(tc.fork), gvr); s.Domain != want {
				t.Fatalf("domain %x, want %s's %x", s.Domain, tc.fork, want)
			}
			if s.SigningRoot != ComputeSigningRoot(s.ObjectRoot, s.Domain) || s.Class == ClassInvalid {
				t.Fatal("inconsistent signable")
			}
		})
	}
}

// TestSignableFacts checks the fields protection and policy read.
func TestSignableFacts(t *testing.T) {
	n := mainnet(t)
	fi := transitionInfo(n, ForkFulu)
	s, err := n.Signable(&Request{Type: TypeAttestation, ForkInfo: fi, Body: ssz(t, attData(fuluEpoch*32, fuluEpoch-1, fuluEpoch))})
	if err != nil || s.Class != ClassAttestation || s.SourceEpoch != fuluEpoch-1 || s.TargetEpoch != fuluEpoch {
		t.Fatalf("attestation: %+v %v", s, err)
	}
	s, err = n.Signable(&Request{Type: TypeBlockV2, Version: ForkFulu, ForkInfo: fi, Body: ssz(t, header(fuluEpoch*32+7))})
	if err != nil || s.Class != ClassBlock || s.Slot != fuluEpoch*32+7 {
		t.Fatalf("block: %+v %v", s, err)
	}
	s, err = n.Signable(&Request{Type: TypeVoluntaryExit, ForkInfo: fi, Body: ssz(t, &phase0.VoluntaryExit{Epoch: 5, ValidatorIndex: 77})})
	if err != nil || s.Class != ClassOther || s.Exit != (ExitInfo{5, 77}) {
		t.Fatalf("exit: %+v %v", s, err)
	}
	reg := &apiv1.ValidatorRegistration{FeeRecipient: [20]byte{1, 2}, GasLimit: 36e6, Pubkey: phase0.BLSPubKey{9}}
	s, err = n.Signable(&Request{Type: TypeValidatorRegistration, Body: ssz(t, reg)})
	if err != nil || s.Registration.FeeRecipient != reg.FeeRecipient || s.Registration.GasLimit != 36e6 || s.Registration.Pubkey != [48]byte(reg.Pubkey) {
		t.Fatalf("registration: %+v %v", s, err)
	}
	dm := &phase0.DepositMessage{PublicKey: phase0.BLSPubKey{4}, WithdrawalCredentials: append([]byte{1}, make([]byte, 31)...), Amount: 32e9}
	s, err = n.Signable(&Request{Type: TypeDeposit, Body: append(ssz(t, dm), 0, 0, 0, 0)})
	if err != nil || s.Deposit.Amount != 32e9 || s.Deposit.WithdrawalCredentials[0] != 1 || s.Deposit.Pubkey[0] != 4 {
		t.Fatalf("deposit: %+v %v", s, err)
	}
}

// TestSignableRootMismatch_Inv2: a caller's signingRoot is compared, and a difference is
// refused naming both roots.
func TestSignableRootMismatch_Inv2(t *testing.T) {
	n := mainnet(t)
	r := &Request{Type: TypeRandaoReveal, ForkInfo: transitionInfo(n, ForkFulu), Body: le8(fuluEpoch)}
	s, err := n.Signable(r)
	if err != nil {
		t.Fatal(err)
	}
	bad := s.SigningRoot
	bad[31] ^= 0xff
	r.SigningRoot = &bad
	_, err = n.Signable(r)
	var fe *FieldError
	if !errors.Is(err, ErrRootMismatch) || !errors.As(err, &fe) || fe.Field != "signingRoot" ||
		!strings.Contains(err.Error(), strings.TrimPrefix(hexs(bad[:]), "0x")) || !strings.Contains(err.Error(), hexs(s.SigningRoot[:])) {
		t.Fatalf("got %v", err)
	}
}

func hexs(b []byte) string {
	const d = "0123456789abcdef"
	out := []byte("0x")
	for _, c := range b {
		out = append(out, d[c>>4], d[c&15])
	}
	return string(out)
}

// TestSignableZeroValues_Inv8: zero values refuse, never panic.
func TestSignableZeroValues_Inv8(t *testing.T) {
	var zero Network
	if _, err := zero.Signable(&Request{Type: TypeAttestation}); !errors.Is(err, ErrBadConfig) {
		t.Fatalf("zero network: %v", err)
	}
	var nilNet *Network
	if _, err := nilNet.Signable(&Request{}); err == nil {
		t.Fatal("nil network accepted")
	}
	if _, err := mainnet(t).Signable(nil); !errors.Is(err, ErrMalformed) {
		t.Fatalf("nil request: %v", err)
	}
	if _, err := mainnet(t).Signable(&Request{}); !errors.Is(err, ErrMalformed) {
		t.Fatalf("zero request: %v", err)
	}
	if ClassInvalid.String() != "invalid" || Class(0) != ClassInvalid {
		t.Fatal("zero class must be invalid")
	}
}

func BenchmarkSignableAttestation(b *testing.B) {
	n := mainnet(b)
	r := &Request{Type: TypeAttestation, ForkInfo: transitionInfo(n, ForkFulu), Body: ssz(b, attData(fuluEpoch*32+5, fuluEpoch-1, fuluEpoch))}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := n.Signable(r); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkSignableBlockV2Header(b *testing.B) {
	n := mainnet(b)
	r := &Request{Type: TypeBlockV2, Version: ForkFulu, ForkInfo: transitionInfo(n, ForkFulu), Body: ssz(b, header(fuluEpoch*32+5))}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := n.Signable(r); err != nil {
			b.Fatal(err)
		}
	}
}
