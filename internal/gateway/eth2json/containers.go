package eth2json

import (
	"fmt"

	"github.com/attestantio/go-eth2-client/spec/altair"
	"github.com/attestantio/go-eth2-client/spec/electra"
	"github.com/attestantio/go-eth2-client/spec/phase0"
)

// SSZ list limits of the mainnet preset (consensus-specs presets/mainnet).
const (
	maxProposerSlashings       = 16
	maxAttesterSlashings       = 2
	maxAttestations            = 128
	maxDeposits                = 16
	maxVoluntaryExits          = 16
	maxValidatorsPerCommittee  = 2048
	maxCommitteesPerSlot       = 64
	depositProofLength         = 33
	syncCommitteeBitsBytes     = 64 // SYNC_COMMITTEE_SIZE / 8
	syncContributionBitsBytes  = 16 // SYNC_COMMITTEE_SIZE / SYNC_COMMITTEE_SUBNET_COUNT / 8
	committeeBitsBytes         = 8  // MAX_COMMITTEES_PER_SLOT / 8
	electraAggregationBitsMax  = maxValidatorsPerCommittee * maxCommitteesPerSlot
	phase0AggregationBitsLimit = maxValidatorsPerCommittee
)

type checkpointJSON struct {
	Epoch string `json:"epoch"`
	Root  string `json:"root"`
}

type attestationDataJSON struct {
	Slot            string          `json:"slot"`
	Index           string          `json:"index"`
	BeaconBlockRoot string          `json:"beacon_block_root"`
	Source          *checkpointJSON `json:"source"`
	Target          *checkpointJSON `json:"target"`
}

func (c *conv) checkpoint(f string, j *checkpointJSON) *phase0.Checkpoint {
	if j == nil {
		c.fail(f, "required")
		return nil
	}
	cp := &phase0.Checkpoint{Epoch: phase0.Epoch(c.u64(f+".epoch", j.Epoch))}
	c.fixed(f+".root", j.Root, cp.Root[:])
	return cp
}

func (c *conv) attestationData(f string, j *attestationDataJSON) *phase0.AttestationData {
	if j == nil {
		c.fail(f, "required")
		return nil
	}
	a := &phase0.AttestationData{
		Slot:  phase0.Slot(c.u64(f+".slot", j.Slot)),
		Index: phase0.CommitteeIndex(c.u64(f+".index", j.Index)),
	}
	c.fixed(f+".beacon_block_root", j.BeaconBlockRoot, a.BeaconBlockRoot[:])
	a.Source = c.checkpoint(f+".source", j.Source)
	a.Target = c.checkpoint(f+".target", j.Target)
	return a
}

type blockHeaderJSON struct {
	Slot          string `json:"slot"`
	ProposerIndex string `json:"proposer_index"`
	ParentRoot    string `json:"parent_root"`
	StateRoot     string `json:"state_root"`
	BodyRoot      string `json:"body_root"`
}

func (c *conv) blockHeader(f string, j *blockHeaderJSON) *phase0.BeaconBlockHeader {
	if j == nil {
		c.fail(f, "required")
		return nil
	}
	h := &phase0.BeaconBlockHeader{
		Slot:          phase0.Slot(c.u64(f+".slot", j.Slot)),
		ProposerIndex: phase0.ValidatorIndex(c.u64(f+".proposer_index", j.ProposerIndex)),
	}
	c.fixed(f+".parent_root", j.ParentRoot, h.ParentRoot[:])
	c.fixed(f+".state_root", j.StateRoot, h.StateRoot[:])
	c.fixed(f+".body_root", j.BodyRoot, h.BodyRoot[:])
	return h
}

type signedHeaderJSON struct {
	Message   *blockHeaderJSON `json:"message"`
	Signature string           `json:"signature"`
}

func (c *conv) signedHeader(f string, j *signedHeaderJSON) *phase0.SignedBeaconBlockHeader {
	if j == nil {
		c.fail(f, "required")
		return nil
	}
	s := &phase0.SignedBeaconBlockHeader{Message: c.blockHeader(f+".message", j.Message)}
	c.fixed(f+".signature", j.Signature, s.Signature[:])
	return s
}

type proposerSlashingJSON struct {
	SignedHeader1 *signedHeaderJSON `json:"signed_header_1"`
	SignedHeader2 *signedHeaderJSON `json:"signed_header_2"`
}

type indexedAttestationJSON struct {
	AttestingIndices []string             `json:"attesting_indices"`
	Data             *attestationDataJSON `json:"data"`
	Signature        string               `json:"signature"`
}

func (c *conv) indexedAttestation(f string, j *indexedAttestationJSON) *phase0.IndexedAttestation {
	if j == nil {
		c.fail(f, "required")
		return nil
	}
	if len(j.AttestingIndices) > maxValidatorsPerCommittee {
		c.fail(f+".attesting_indices", fmt.Sprintf("%d entries, limit %d", len(j.AttestingIndices), maxValidatorsPerCommittee))
		return nil
	}
	a := &phase0.IndexedAttestation{AttestingIndices: make([]uint64, len(j.AttestingIndices))}
	for i, s := range j.AttestingIndices {
		a.AttestingIndices[i] = c.u64(idx(f+".attesting_indices", i), s)
	}
	a.Data = c.attestationData(f+".data", j.Data)
	c.fixed(f+".signature", j.Signature, a.Signature[:])
	return a
}

type attesterSlashingJSON struct {
	Attestation1 *indexedAttestationJSON `json:"attestation_1"`
	Attestation2 *indexedAttestationJSON `json:"attestation_2"`
}

type attestationJSON struct {
	AggregationBits string               `json:"aggregation_bits"`
	Data            *attestationDataJSON `json:"data"`
	Signature       string               `json:"signature"`
}

func (c *conv) attestation(f string, j *attestationJSON) *phase0.Attestation {
	if j == nil {
		c.fail(f, "required")
		return nil
	}
	a := &phase0.Attestation{AggregationBits: c.bitlist(f+".aggregation_bits", j.AggregationBits, phase0AggregationBitsLimit)}
	a.Data = c.attestationData(f+".data", j.Data)
	c.fixed(f+".signature", j.Signature, a.Signature[:])
	return a
}

type electraAttestationJSON struct {
	AggregationBits string               `json:"aggregation_bits"`
	Data            *attestationDataJSON `json:"data"`
	Signature       string               `json:"signature"`
	CommitteeBits   string               `json:"committee_bits"`
}

func (c *conv) electraAttestation(f string, j *electraAttestationJSON) *electra.Attestation {
	if j == nil {
		c.fail(f, "required")
		return nil
	}
	a := &electra.Attestation{AggregationBits: c.bitlist(f+".aggregation_bits", j.AggregationBits, electraAggregationBitsMax)}
	a.Data = c.attestationData(f+".data", j.Data)
	c.fixed(f+".signature", j.Signature, a.Signature[:])
	a.CommitteeBits = c.hexBytes(f+".committee_bits", j.CommitteeBits, committeeBitsBytes, committeeBitsBytes)
	return a
}

type depositDataJSON struct {
	Pubkey                string `json:"pubkey"`
	WithdrawalCredentials string `json:"withdrawal_credentials"`
	Amount                string `json:"amount"`
	Signature             string `json:"signature"`
}

type depositJSON struct {
	Proof []string         `json:"proof"`
	Data  *depositDataJSON `json:"data"`
}

func (c *conv) deposit(f string, j *depositJSON) *phase0.Deposit {
	if j == nil {
		c.fail(f, "required")
		return nil
	}
	if len(j.Proof) != depositProofLength {
		c.fail(f+".proof", fmt.Sprintf("%d entries, want %d", len(j.Proof), depositProofLength))
		return nil
	}
	d := &phase0.Deposit{Proof: make([][]byte, len(j.Proof))}
	for i, p := range j.Proof {
		d.Proof[i] = c.hexBytes(idx(f+".proof", i), p, 32, 32)
	}
	if j.Data == nil {
		c.fail(f+".data", "required")
		return nil
	}
	dd := &phase0.DepositData{}
	c.fixed(f+".data.pubkey", j.Data.Pubkey, dd.PublicKey[:])
	dd.WithdrawalCredentials = c.hexBytes(f+".data.withdrawal_credentials", j.Data.WithdrawalCredentials, 32, 32)
	dd.Amount = phase0.Gwei(c.u64(f+".data.amount", j.Data.Amount))
	c.fixed(f+".data.signature", j.Data.Signature, dd.Signature[:])
	d.Data = dd
	return d
}

type voluntaryExitJSON struct {
	Epoch          string `json:"epoch"`
	ValidatorIndex string `json:"validator_index"`
}

func (c *conv) voluntaryExit(f string, j *voluntaryExitJSON) *phase0.VoluntaryExit {
	if j == nil {
		c.fail(f, "required")
		return nil
	}
	return &phase0.VoluntaryExit{
		Epoch:          phase0.Epoch(c.u64(f+".epoch", j.Epoch)),
		ValidatorIndex: phase0.ValidatorIndex(c.u64(f+".validator_index", j.ValidatorIndex)),
	}
}

type signedVoluntaryExitJSON struct {
	Message   *voluntaryExitJSON `json:"message"`
	Signature string             `json:"signature"`
}

type eth1DataJSON struct {
	DepositRoot  string `json:"deposit_root"`
	DepositCount string `json:"deposit_count"`
	BlockHash    string `json:"block_hash"`
}

type syncAggregateJSON struct {
	SyncCommitteeBits      string `json:"sync_committee_bits"`
	SyncCommitteeSignature string `json:"sync_committee_signature"`
}

// blockBodyJSON is the phase0 body; SyncAggregate is set only for Altair.
type blockBodyJSON struct {
	RANDAOReveal      string                     `json:"randao_reveal"`
	ETH1Data          *eth1DataJSON              `json:"eth1_data"`
	Graffiti          string                     `json:"graffiti"`
	ProposerSlashings []*proposerSlashingJSON    `json:"proposer_slashings"`
	AttesterSlashings []*attesterSlashingJSON    `json:"attester_slashings"`
	Attestations      []*attestationJSON         `json:"attestations"`
	Deposits          []*depositJSON             `json:"deposits"`
	VoluntaryExits    []*signedVoluntaryExitJSON `json:"voluntary_exits"`
}

type altairBlockBodyJSON struct {
	blockBodyJSON
	SyncAggregate *syncAggregateJSON `json:"sync_aggregate"`
}

type beaconBlockJSON[B any] struct {
	Slot          string `json:"slot"`
	ProposerIndex string `json:"proposer_index"`
	ParentRoot    string `json:"parent_root"`
	StateRoot     string `json:"state_root"`
	Body          *B     `json:"body"`
}

// phase0Body converts the fields phase0 and Altair bodies share, into *phase0.BeaconBlockBody.
func (c *conv) phase0Body(f string, j *blockBodyJSON) *phase0.BeaconBlockBody {
	b := &phase0.BeaconBlockBody{}
	c.fixed(f+".randao_reveal", j.RANDAOReveal, b.RANDAOReveal[:])
	if j.ETH1Data == nil {
		c.fail(f+".eth1_data", "required")
		return nil
	}
	b.ETH1Data = &phase0.ETH1Data{DepositCount: c.u64(f+".eth1_data.deposit_count", j.ETH1Data.DepositCount)}
	c.fixed(f+".eth1_data.deposit_root", j.ETH1Data.DepositRoot, b.ETH1Data.DepositRoot[:])
	b.ETH1Data.BlockHash = c.hexBytes(f+".eth1_data.block_hash", j.ETH1Data.BlockHash, 32, 32)
	c.fixed(f+".graffiti", j.Graffiti, b.Graffiti[:])

	if c.limit(f+".proposer_slashings", len(j.ProposerSlashings), maxProposerSlashings) {
		b.ProposerSlashings = make([]*phase0.ProposerSlashing, len(j.ProposerSlashings))
		for i, ps := range j.ProposerSlashings {
			p := idx(f+".proposer_slashings", i)
			if ps == nil {
				c.fail(p, "required")
				return nil
			}
			b.ProposerSlashings[i] = &phase0.ProposerSlashing{
				SignedHeader1: c.signedHeader(p+".signed_header_1", ps.SignedHeader1),
				SignedHeader2: c.signedHeader(p+".signed_header_2", ps.SignedHeader2),
			}
		}
	}
	if c.limit(f+".attester_slashings", len(j.AttesterSlashings), maxAttesterSlashings) {
		b.AttesterSlashings = make([]*phase0.AttesterSlashing, len(j.AttesterSlashings))
		for i, as := range j.AttesterSlashings {
			p := idx(f+".attester_slashings", i)
			if as == nil {
				c.fail(p, "required")
				return nil
			}
			b.AttesterSlashings[i] = &phase0.AttesterSlashing{
				Attestation1: c.indexedAttestation(p+".attestation_1", as.Attestation1),
				Attestation2: c.indexedAttestation(p+".attestation_2", as.Attestation2),
			}
		}
	}
	if c.limit(f+".attestations", len(j.Attestations), maxAttestations) {
		b.Attestations = make([]*phase0.Attestation, len(j.Attestations))
		for i, a := range j.Attestations {
			b.Attestations[i] = c.attestation(idx(f+".attestations", i), a)
		}
	}
	if c.limit(f+".deposits", len(j.Deposits), maxDeposits) {
		b.Deposits = make([]*phase0.Deposit, len(j.Deposits))
		for i, d := range j.Deposits {
			b.Deposits[i] = c.deposit(idx(f+".deposits", i), d)
		}
	}
	if c.limit(f+".voluntary_exits", len(j.VoluntaryExits), maxVoluntaryExits) {
		b.VoluntaryExits = make([]*phase0.SignedVoluntaryExit, len(j.VoluntaryExits))
		for i, e := range j.VoluntaryExits {
			p := idx(f+".voluntary_exits", i)
			if e == nil {
				c.fail(p, "required")
				return nil
			}
			se := &phase0.SignedVoluntaryExit{Message: c.voluntaryExit(p+".message", e.Message)}
			c.fixed(p+".signature", e.Signature, se.Signature[:])
			b.VoluntaryExits[i] = se
		}
	}
	return b
}

func (c *conv) limit(f string, n, max int) bool {
	if c.err != nil {
		return false
	}
	if n > max {
		c.fail(f, fmt.Sprintf("%d entries, limit %d", n, max))
		return false
	}
	return true
}

func blockFields[B any](c *conv, f string, j *beaconBlockJSON[B]) (slot phase0.Slot, proposer phase0.ValidatorIndex, parent, state phase0.Root) {
	slot = phase0.Slot(c.u64(f+".slot", j.Slot))
	proposer = phase0.ValidatorIndex(c.u64(f+".proposer_index", j.ProposerIndex))
	c.fixed(f+".parent_root", j.ParentRoot, parent[:])
	c.fixed(f+".state_root", j.StateRoot, state[:])
	return
}

func (c *conv) phase0Block(f string, j *beaconBlockJSON[blockBodyJSON]) *phase0.BeaconBlock {
	b := &phase0.BeaconBlock{}
	b.Slot, b.ProposerIndex, b.ParentRoot, b.StateRoot = blockFields(c, f, j)
	if j.Body == nil {
		c.fail(f+".body", "required")
		return nil
	}
	b.Body = c.phase0Body(f+".body", j.Body)
	return b
}

func (c *conv) altairBlock(f string, j *beaconBlockJSON[altairBlockBodyJSON]) *altair.BeaconBlock {
	b := &altair.BeaconBlock{}
	b.Slot, b.ProposerIndex, b.ParentRoot, b.StateRoot = blockFields(c, f, j)
	if j.Body == nil {
		c.fail(f+".body", "required")
		return nil
	}
	p0 := c.phase0Body(f+".body", &j.Body.blockBodyJSON)
	if c.err != nil {
		return nil
	}
	body := &altair.BeaconBlockBody{
		RANDAOReveal: p0.RANDAOReveal, ETH1Data: p0.ETH1Data, Graffiti: p0.Graffiti,
		ProposerSlashings: p0.ProposerSlashings, AttesterSlashings: p0.AttesterSlashings,
		Attestations: p0.Attestations, Deposits: p0.Deposits, VoluntaryExits: p0.VoluntaryExits,
	}
	sa := j.Body.SyncAggregate
	if sa == nil {
		c.fail(f+".body.sync_aggregate", "required")
		return nil
	}
	body.SyncAggregate = &altair.SyncAggregate{
		SyncCommitteeBits: c.hexBytes(f+".body.sync_aggregate.sync_committee_bits", sa.SyncCommitteeBits, syncCommitteeBitsBytes, syncCommitteeBitsBytes),
	}
	c.fixed(f+".body.sync_aggregate.sync_committee_signature", sa.SyncCommitteeSignature, body.SyncAggregate.SyncCommitteeSignature[:])
	b.Body = body
	return b
}
