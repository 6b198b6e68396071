package eth

import (
	"bytes"
	"fmt"
)

// Class is what slashing protection must do with a Signable. The zero value is invalid and
// must be refused by every consumer (fail closed).
type Class uint8

// Protection classes.
const (
	ClassInvalid     Class = iota
	ClassBlock             // a block proposal: protection records Slot
	ClassAttestation       // an attestation: protection records SourceEpoch, TargetEpoch
	ClassOther             // not slashable; policy may still refuse (exits, registrations, …)
)

var classNames = [...]string{"invalid", "block", "attestation", "other"}

// String returns a lower-case name of the class.
func (c Class) String() string {
	if int(c) < len(classNames) {
		return classNames[c]
	}
	return "invalid"
}

// Signable is a request the core decoded and may sign: the signing root it computed and the
// facts protection and policy decide on. Only the fields documented for r.Type are set.
type Signable struct {
	Type  SignType
	Class Class
	// SigningRoot is compute_signing_root(object, domain), the 32 bytes to sign (Inv 2: it
	// is computed here, never taken from the request).
	SigningRoot [32]byte
	// ObjectRoot is hash_tree_root of the decoded object (for audit).
	ObjectRoot [32]byte
	// Domain is the domain computed from the pinned network (Inv 3).
	Domain [32]byte
	// Epoch is the epoch the domain was computed for (for DEPOSIT and
	// VALIDATOR_REGISTRATION, which are fork-independent, 0).
	Epoch uint64

	// Slot of a block (ClassBlock), of the attestation data (ClassAttestation), and of the
	// slot-bearing other types (aggregation slot, aggregate data, sync messages).
	Slot uint64
	// SourceEpoch and TargetEpoch of an attestation (ClassAttestation).
	SourceEpoch uint64
	TargetEpoch uint64

	// Exit is set for VOLUNTARY_EXIT.
	Exit ExitInfo
	// Registration is set for VALIDATOR_REGISTRATION.
	Registration RegistrationInfo
	// Deposit is set for DEPOSIT.
	Deposit DepositInfo
}

// ExitInfo is what policy needs to judge a voluntary exit.
type ExitInfo struct {
	Epoch          uint64
	ValidatorIndex uint64
}

// RegistrationInfo is what policy needs to judge a builder validator registration.
type RegistrationInfo struct {
	FeeRecipient [20]byte
	GasLimit     uint64
	Timestamp    uint64
	Pubkey       [48]byte
}

// DepositInfo is what policy needs to judge a deposit message.
type DepositInfo struct {
	Pubkey                [48]byte
	WithdrawalCredentials [32]byte
	Amount                uint64
}

// maxBodySize bounds the SSZ body the core decodes (Inv 7). The largest accepted object, a
// full phase0/Altair block at the mainnet preset's list limits, is well under 256 KiB.
const maxBodySize = 1 << 20

// versionRule says which fork version a type's domain is computed with.
type versionRule uint8

const (
	ruleAtEpoch versionRule = iota + 1 // the pinned fork at the message epoch; fork_info must agree
	ruleExit                           // EIP-7044: Capella once Deneb is in effect
	ruleGenesis                        // GENESIS_FORK_VERSION and a zero genesis validators root
)

// decoded is what a per-type decoder hands back to Signable.
type decoded struct {
	root   [32]byte
	domain DomainType
	epoch  uint64
	rule   versionRule
}

// Signable decodes r.Body strictly as the SSZ container for r.Type and r.Version (see the
// package documentation for the table), checks r.ForkInfo against the pinned network,
// computes the signing root with the domain of the pinned network (Inv 3), and compares it
// with r.SigningRoot if given. Every error is a *FieldError wrapping ErrMalformed,
// ErrWrongNetwork, ErrRootMismatch, ErrInternal or ErrBadConfig; all map to "bad request".
// Signable never panics on any input: a decoder panic is recovered as ErrInternal (Inv 8).
func (n *Network) Signable(r *Request) (s *Signable, err error) {
	defer func() {
		if p := recover(); p != nil {
			s, err = nil, fieldErr(ErrInternal, "body", "decoder fault")
		}
	}()
	if n == nil || n.SlotsPerEpoch == 0 {
		return nil, fieldErr(ErrBadConfig, "network", "the pinned network is not valid")
	}
	if r == nil {
		return nil, fieldErr(ErrMalformed, "type", "no request")
	}
	if len(r.Body) > maxBodySize {
		return nil, fieldErr(ErrMalformed, payloadField(r.Type, r.Version), fmt.Sprintf("body is %d bytes, limit %d", len(r.Body), maxBodySize))
	}
	s = &Signable{Type: r.Type}
	var d decoded
	switch r.Type {
	case TypeBlock, TypeBlockV2:
		d, err = n.decodeBlock(r, s)
	case TypeAttestation:
		d, err = n.decodeAttestation(r, s)
	case TypeAggregationSlot:
		d, err = n.decodeAggregationSlot(r, s)
	case TypeAggregateAndProof, TypeAggregateAndProofV2:
		d, err = n.decodeAggregate(r, s)
	case TypeRandaoReveal:
		d, err = n.decodeRandao(r, s)
	case TypeVoluntaryExit:
		d, err = n.decodeExit(r, s)
	case TypeDeposit:
		d, err = n.decodeDeposit(r, s)
	case TypeSyncCommitteeMessage:
		d, err = n.decodeSyncMessage(r, s)
	case TypeSyncCommitteeSelectionProof:
		d, err = n.decodeSyncSelection(r, s)
	case TypeSyncCommitteeContributionAndProof:
		d, err = n.decodeContribution(r, s)
	case TypeValidatorRegistration:
		d, err = n.decodeRegistration(r, s)
	default:
		return nil, fieldErr(ErrMalformed, "type", fmt.Sprintf("unknown signing type %d", uint8(r.Type)))
	}
	if err != nil {
		return nil, err
	}
	if s.Class == ClassInvalid { // every decoder sets a class; refuse if one forgot
		return nil, fieldErr(ErrInternal, "type", "no protection class")
	}

	version, gvr, err := n.domainVersion(r, d)
	if err != nil {
		return nil, err
	}
	s.ObjectRoot = d.root
	s.Epoch = d.epoch
	s.Domain = ComputeDomain(d.domain, version, gvr) // Inv 3: domain from the pinned network
	s.SigningRoot = ComputeSigningRoot(d.root, s.Domain)
	if r.SigningRoot != nil && *r.SigningRoot != s.SigningRoot { // Inv 2: compared, never signed
		return nil, fieldErr(ErrRootMismatch, "signingRoot",
			fmt.Sprintf("0x%x does not match the computed signing root 0x%x", r.SigningRoot[:], s.SigningRoot[:]))
	}
	return s, nil
}

// domainVersion checks fork_info and returns the fork version and genesis validators root the
// domain is computed with, both from the pinned network (Inv 3).
func (n *Network) domainVersion(r *Request, d decoded) ([4]byte, [32]byte, error) {
	fiFork := ForkUnset
	if r.ForkInfo != nil {
		f, err := n.checkForkInfo(r.ForkInfo)
		if err != nil {
			return [4]byte{}, [32]byte{}, err
		}
		fiFork = f
	} else if d.rule != ruleGenesis {
		return [4]byte{}, [32]byte{}, fieldErr(ErrMalformed, "fork_info", "required for "+r.Type.String())
	}
	switch d.rule {
	case ruleGenesis:
		return n.GenesisForkVersion, [32]byte{}, nil
	case ruleExit:
		// EIP-7044 (consensus-specs deneb process_voluntary_exit; Teku
		// getVoluntaryExitDomain, Lodestar getDomainForVoluntaryExit): once Deneb is in
		// effect the exit domain is fixed to CAPELLA_FORK_VERSION. Deneb is in effect when
		// the pinned fork at the exit epoch is Deneb or later, or when the client's chain
		// (fork_info.current_version, already matched against the pinned schedule) is.
		// fork_info is not otherwise compared: an exit may name any epoch.
		if n.ForkAtEpoch(d.epoch) >= ForkDeneb || fiFork >= ForkDeneb {
			return n.Capella.Version, n.GenesisValidatorsRoot, nil
		}
		return n.Version(n.ForkAtEpoch(d.epoch)), n.GenesisValidatorsRoot, nil
	case ruleAtEpoch:
		f := n.ForkAtEpoch(d.epoch)
		pinned := n.Version(f)
		fi := r.ForkInfo
		got := fi.CurrentVersion // get_domain: previous_version if epoch < fork.epoch
		if d.epoch < fi.Epoch {
			got = fi.PreviousVersion
		}
		if got != pinned {
			return [4]byte{}, [32]byte{}, fieldErr(ErrWrongNetwork, "fork_info.fork",
				fmt.Sprintf("gives version 0x%x at epoch %d, but %s is in %s (version 0x%x) then", got[:], d.epoch, n.Name, f, pinned[:]))
		}
		return pinned, n.GenesisValidatorsRoot, nil
	}
	return [4]byte{}, [32]byte{}, fieldErr(ErrInternal, "type", "no domain rule")
}

// checkForkInfo refuses a fork_info whose versions are not one fork transition of the
// pinned network, whose epoch lies before that transition, or that names another genesis
// validators root (Inv 3). It returns the fork the transition introduces.
func (n *Network) checkForkInfo(fi *ForkInfo) (Fork, error) {
	if fi.GenesisValidatorsRoot != n.GenesisValidatorsRoot {
		return ForkUnset, fieldErr(ErrWrongNetwork, "fork_info.genesis_validators_root",
			fmt.Sprintf("0x%x is not %s's 0x%x", fi.GenesisValidatorsRoot[:], n.Name, n.GenesisValidatorsRoot[:]))
	}
	if f, ok := n.matchTransition(fi.PreviousVersion, fi.CurrentVersion, fi.Epoch); ok {
		return f, nil
	}
	// Say which part is wrong.
	cur := ForkUnset
	for f := ForkFulu; f >= ForkPhase0; f-- {
		if n.Version(f) == fi.CurrentVersion && (f == ForkPhase0 || n.sched(f).Scheduled()) {
			cur = f
			break
		}
	}
	switch {
	case cur == ForkUnset:
		return ForkUnset, fieldErr(ErrWrongNetwork, "fork_info.fork.current_version",
			fmt.Sprintf("0x%x is not a scheduled fork version of %s", fi.CurrentVersion[:], n.Name))
	case fi.Epoch < n.Epoch(cur):
		return ForkUnset, fieldErr(ErrWrongNetwork, "fork_info.fork.epoch",
			fmt.Sprintf("%d is before the activation of %s on %s (epoch %d)", fi.Epoch, cur, n.Name, n.Epoch(cur)))
	default:
		return ForkUnset, fieldErr(ErrWrongNetwork, "fork_info.fork.previous_version",
			fmt.Sprintf("0x%x is not the version before %s on %s", fi.PreviousVersion[:], cur, n.Name))
	}
}

// sszObject is a go-eth2-client fastssz type.
type sszObject interface {
	UnmarshalSSZ([]byte) error
	MarshalSSZ() ([]byte, error)
	HashTreeRoot() ([32]byte, error)
}

// decodeSSZ decodes body strictly into obj: an exact size when the container is fixed-size
// (size ≥ 0), a successful UnmarshalSSZ (which refuses bad offsets and list lengths), and a
// canonical encoding (re-encoding gives back the same bytes, so no trailing or ignored
// bytes; Inv 7). It returns hash_tree_root(obj).
func decodeSSZ(field string, body []byte, size int, obj sszObject) ([32]byte, error) {
	if size >= 0 && len(body) != size {
		return [32]byte{}, fieldErr(ErrMalformed, field, fmt.Sprintf("SSZ body is %d bytes, want %d", len(body), size))
	}
	if err := obj.UnmarshalSSZ(body); err != nil {
		return [32]byte{}, fieldErr(ErrMalformed, field, "invalid SSZ: "+err.Error())
	}
	re, err := obj.MarshalSSZ()
	if err != nil || !bytes.Equal(re, body) {
		return [32]byte{}, fieldErr(ErrMalformed, field, "non-canonical SSZ")
	}
	root, err := obj.HashTreeRoot()
	if err != nil {
		return [32]byte{}, fieldErr(ErrMalformed, field, "cannot compute root: "+err.Error())
	}
	return root, nil
}

// payloadField names the JSON payload field of a type, for error messages.
func payloadField(t SignType, v Fork) string {
	switch t {
	case TypeBlock:
		return "block"
	case TypeBlockV2:
		if v == ForkPhase0 || v == ForkAltair {
			return "beacon_block.block"
		}
		return "beacon_block.block_header"
	case TypeAttestation:
		return "attestation"
	case TypeAggregationSlot:
		return "aggregation_slot"
	case TypeAggregateAndProof:
		return "aggregate_and_proof"
	case TypeAggregateAndProofV2:
		return "aggregate_and_proof.data"
	case TypeRandaoReveal:
		return "randao_reveal"
	case TypeVoluntaryExit:
		return "voluntary_exit"
	case TypeDeposit:
		return "deposit"
	case TypeSyncCommitteeMessage:
		return "sync_committee_message"
	case TypeSyncCommitteeSelectionProof:
		return "sync_aggregator_selection_data"
	case TypeSyncCommitteeContributionAndProof:
		return "contribution_and_proof"
	case TypeValidatorRegistration:
		return "validator_registration"
	}
	return "body"
}

// requireFork refuses a message whose epoch is before fork f on the pinned network.
func (n *Network) requireFork(field string, epoch uint64, f Fork) error {
	if at := n.ForkAtEpoch(epoch); at < f {
		return fieldErr(ErrWrongNetwork, field, fmt.Sprintf("epoch %d is in %s on %s; %s is not active", epoch, at, n.Name, f))
	}
	return nil
}
