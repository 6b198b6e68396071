package eth

import (
	"fmt"
)

// FarFutureEpoch is FAR_FUTURE_EPOCH (2^64-1): the epoch of a fork that is not scheduled.
const FarFutureEpoch uint64 = 1<<64 - 1

// ScheduledFork is one fork of a network's schedule: its version and activation epoch
// (FarFutureEpoch when not scheduled).
type ScheduledFork struct {
	Version [4]byte
	Epoch   uint64
}

// Scheduled reports whether the fork has an activation epoch.
func (s ScheduledFork) Scheduled() bool { return s.Epoch != FarFutureEpoch }

// Network is the chain identity the core is pinned to at init (Inv 3): genesis, fork
// schedule and slots per epoch. Every domain the core signs under is derived from it, never
// from a request. A Network must pass Validate before use and must not be modified after;
// it is then safe for concurrent use.
type Network struct {
	// Name is keyward's name for the network; it equals ConfigName for every Network built
	// by BuiltinNetwork or ParseNetworkConfig, and is used in refusal messages.
	Name string
	// ConfigName is CONFIG_NAME of the consensus config.yaml.
	ConfigName string
	// PresetBase is PRESET_BASE; only "mainnet" is supported.
	PresetBase            string
	GenesisForkVersion    [4]byte
	GenesisValidatorsRoot [32]byte
	// SlotsPerEpoch is SLOTS_PER_EPOCH: 32 for the mainnet preset.
	SlotsPerEpoch uint64

	Altair    ScheduledFork
	Bellatrix ScheduledFork
	Capella   ScheduledFork
	Deneb     ScheduledFork
	Electra   ScheduledFork
	Fulu      ScheduledFork
}

// sched returns the schedule entry of a post-genesis fork, or nil.
func (n *Network) sched(f Fork) *ScheduledFork {
	switch f {
	case ForkAltair:
		return &n.Altair
	case ForkBellatrix:
		return &n.Bellatrix
	case ForkCapella:
		return &n.Capella
	case ForkDeneb:
		return &n.Deneb
	case ForkElectra:
		return &n.Electra
	case ForkFulu:
		return &n.Fulu
	}
	return nil
}

// Version returns the fork version of f on this network (GENESIS_FORK_VERSION for Phase0,
// zero for an invalid fork).
func (n *Network) Version(f Fork) [4]byte {
	if f == ForkPhase0 {
		return n.GenesisForkVersion
	}
	if s := n.sched(f); s != nil {
		return s.Version
	}
	return [4]byte{}
}

// Epoch returns the activation epoch of f (0 for Phase0, FarFutureEpoch when f is not
// scheduled or not valid).
func (n *Network) Epoch(f Fork) uint64 {
	if f == ForkPhase0 {
		return 0
	}
	if s := n.sched(f); s != nil {
		return s.Epoch
	}
	return FarFutureEpoch
}

// ForkAtEpoch returns the fork in effect at epoch: the latest scheduled fork whose
// activation epoch is ≤ epoch.
func (n *Network) ForkAtEpoch(epoch uint64) Fork {
	for f := ForkFulu; f > ForkPhase0; f-- {
		s := n.sched(f)
		if s.Scheduled() && epoch >= s.Epoch {
			return f
		}
	}
	return ForkPhase0
}

// EpochAtSlot returns compute_epoch_at_slot(slot). SlotsPerEpoch is non-zero on a valid
// Network; a zero value yields epoch 0 rather than a division panic.
func (n *Network) EpochAtSlot(slot uint64) uint64 {
	if n.SlotsPerEpoch == 0 {
		return 0
	}
	return slot / n.SlotsPerEpoch
}

// Validate checks that n is usable as a pinned network: a name, a known preset, non-zero
// slots per epoch, and forks scheduled in non-decreasing epoch order (an unscheduled fork is
// followed only by unscheduled forks).
func (n *Network) Validate() error {
	if !validConfigName(n.ConfigName) {
		return fmt.Errorf("%w: CONFIG_NAME %q must be non-empty and match [a-z0-9-]", ErrBadConfig, n.ConfigName)
	}
	if n.Name == "" {
		return fmt.Errorf("%w: empty network name", ErrBadConfig)
	}
	// The go-eth2-client containers have the mainnet preset's sizes (sync committee 512,
	// committees per slot 64); a minimal-preset network would get wrong roots.
	if n.PresetBase != "mainnet" {
		return fmt.Errorf("%w: PRESET_BASE %q is not mainnet (the only preset keyward supports)", ErrBadConfig, n.PresetBase)
	}
	if n.SlotsPerEpoch == 0 || n.SlotsPerEpoch > maxSlotsPerEpoch {
		return fmt.Errorf("%w: SLOTS_PER_EPOCH %d out of range 1..%d", ErrBadConfig, n.SlotsPerEpoch, maxSlotsPerEpoch)
	}
	prev := uint64(0)
	for f := ForkAltair; f <= ForkFulu; f++ {
		e := n.sched(f).Epoch
		if e < prev {
			return fmt.Errorf("%w: %s_FORK_EPOCH %d is before the previous fork's epoch %d", ErrBadConfig, f, e, prev)
		}
		prev = e
	}
	return nil
}

// maxSlotsPerEpoch bounds SLOTS_PER_EPOCH; real presets use 8 or 32.
const maxSlotsPerEpoch = 1 << 16

func validConfigName(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-') {
			return false
		}
	}
	return true
}

// transition is one fork as a beacon node reports it in fork_info.fork.
type transition struct {
	fork            Fork
	previousVersion [4]byte
	currentVersion  [4]byte
	epoch           uint64
}

// matchTransition returns the fork whose transition (previous_version, current_version,
// epoch) is exactly the given one: genesis is (G, G, 0); each scheduled fork f is
// (version of the fork before f, version of f, epoch of f). Unscheduled forks never match.
// When several forks share versions (test networks), the latest match wins.
func (n *Network) matchTransition(prev, cur [4]byte, epoch uint64) (Fork, bool) {
	for f := ForkFulu; f > ForkPhase0; f-- {
		s := n.sched(f)
		if !s.Scheduled() {
			continue
		}
		// The epoch may be the activation epoch (Teku, Lighthouse, Prysm send the state's
		// fork) or any later epoch (Lodestar sends the epoch of the signing slot). Both give
		// the same get_domain result for messages of that fork; the per-type domain check
		// then refuses a message whose epoch the fork_info would map to another version.
		if s.Version == cur && n.Version(f-1) == prev && epoch >= s.Epoch {
			return f, true
		}
	}
	if prev == n.GenesisForkVersion && cur == n.GenesisForkVersion {
		return ForkPhase0, true
	}
	return ForkUnset, false
}
