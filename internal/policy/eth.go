package policy

import (
	"slices"

	"github.com/keyward/keyward/internal/eth"
)

// Default gas-limit range of a validator registration: wide enough for every gas limit
// mainnet and the test networks have used or announced (30 M in 2021, 36 M and 45 M in
// 2025, 60 M planned), narrow enough that a compromised client cannot register a gas limit
// of 0 or 2^64−1 in the key's name.
const (
	DefaultGasLimitMin uint64 = 30_000_000
	DefaultGasLimitMax uint64 = 100_000_000
)

// EthKey is one Ethereum key's policy (or the default for keys without a table).
type EthKey struct {
	// Exit is what to do with VOLUNTARY_EXIT. Default refuse.
	Exit Action
	// Deposit is what to do with DEPOSIT. Default refuse.
	Deposit Action
	// FeeRecipients, when not empty, lists the only fee recipients a
	// VALIDATOR_REGISTRATION may name. Empty: any fee recipient.
	FeeRecipients [][20]byte
	// GasLimitMin and GasLimitMax bound the gas limit of a VALIDATOR_REGISTRATION,
	// inclusive.
	GasLimitMin, GasLimitMax uint64
}

// DefaultEthKey is the policy of a key without a table when policy.toml says nothing:
// no exit, no deposit, registrations to any fee recipient with a gas limit in
// [DefaultGasLimitMin, DefaultGasLimitMax].
func DefaultEthKey() EthKey {
	return EthKey{GasLimitMin: DefaultGasLimitMin, GasLimitMax: DefaultGasLimitMax}
}

// Eth decides whether the key pub may sign s. Types that carry no policy (blocks,
// attestations, aggregates, RANDAO, sync committee) are allowed here: slashing protection
// decides on them. Unknown types are refused (Inv 2: there is no raw signing).
func (p *Policy) Eth(pub [48]byte, s *eth.Signable) Decision {
	if p == nil || s == nil {
		return refuse("no policy")
	}
	k := p.EthKeyPolicy(pub)
	switch s.Type {
	case eth.TypeBlock, eth.TypeBlockV2, eth.TypeAttestation, eth.TypeAggregationSlot,
		eth.TypeAggregateAndProof, eth.TypeAggregateAndProofV2, eth.TypeRandaoReveal,
		eth.TypeSyncCommitteeMessage, eth.TypeSyncCommitteeSelectionProof,
		eth.TypeSyncCommitteeContributionAndProof:
		return allow
	case eth.TypeVoluntaryExit:
		return byAction(k.Exit, "voluntary exit of validator %d at epoch %d", s.Exit.ValidatorIndex, s.Exit.Epoch)
	case eth.TypeDeposit:
		return byAction(k.Deposit, "deposit of %d gwei", s.Deposit.Amount)
	case eth.TypeValidatorRegistration:
		return k.registration(&s.Registration)
	}
	return refuse("signing type %s has no policy", s.Type)
}

// byAction turns a rule's action into a decision about what.
func byAction(a Action, what string, args ...any) Decision {
	switch a {
	case ActionAllow:
		return allow
	case ActionApprove:
		return approve(what+": needs operator approval", args...)
	}
	return refuse(what+": not allowed by the key's policy", args...)
}

func (k *EthKey) registration(r *eth.RegistrationInfo) Decision {
	if len(k.FeeRecipients) > 0 && !slices.Contains(k.FeeRecipients, r.FeeRecipient) {
		return refuse("validator registration: fee recipient 0x%x is not in the key's fee_recipients", r.FeeRecipient[:])
	}
	if r.GasLimit < k.GasLimitMin || r.GasLimit > k.GasLimitMax {
		return refuse("validator registration: gas limit %d is outside [%d, %d]", r.GasLimit, k.GasLimitMin, k.GasLimitMax)
	}
	return allow
}

// EthKeyPolicy returns the policy of pub: its table, or the default.
func (p *Policy) EthKeyPolicy(pub [48]byte) EthKey {
	if k, ok := p.eth[pub]; ok {
		return k
	}
	return p.ethDefault
}
