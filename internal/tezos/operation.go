package tezos

// OperationKind names an operation content of a generic (0x03) payload. The
// zero value is invalid. Names (String) are Octez's "kind" strings, plus the
// four staking pseudo-operations, which are transactions to oneself with a
// reserved entrypoint.
type OperationKind uint8

// Operation kinds. The comment gives the Octez binary tag
// (src/proto_025_PsUshuai/lib_protocol/operation_repr.ml, unchanged in
// proto_alpha except for tz5 addresses).
const (
	_                                  OperationKind = iota
	OpSeedNonceRevelation                            // 1
	OpDoubleConsensusOperationEvidence               // 2
	OpDoubleBakingEvidence                           // 3
	OpActivateAccount                                // 4
	OpProposals                                      // 5
	OpBallot                                         // 6
	OpVDFRevelation                                  // 8
	OpDrainDelegate                                  // 9
	OpFailingNoop                                    // 17
	OpDALEntrapmentEvidence                          // 24 (not decoded)
	OpReveal                                         // 107
	OpTransaction                                    // 108
	OpOrigination                                    // 109
	OpDelegation                                     // 110
	OpRegisterGlobalConstant                         // 111
	OpSetDepositsLimit                               // 112
	OpIncreasePaidStorage                            // 113
	OpUpdateConsensusKey                             // 114
	OpUpdateCompanionKey                             // 115
	OpTransferTicket                                 // 158
	OpSmartRollupOriginate                           // 200
	OpSmartRollupAddMessages                         // 201
	OpSmartRollupCement                              // 202
	OpSmartRollupPublish                             // 203
	OpSmartRollupRefute                              // 204 (not decoded)
	OpSmartRollupTimeout                             // 205
	OpSmartRollupExecuteOutboxMessage                // 206
	OpSmartRollupRecoverBond                         // 207
	OpDALPublishCommitment                           // 230
	OpZKRollupOrigination                            // 250 (not decoded)
	OpZKRollupPublish                                // 251 (not decoded)
	OpZKRollupUpdate                                 // 252 (not decoded)
	OpStake                                          // transaction to self, entrypoint "stake"
	OpUnstake                                        // transaction to self, entrypoint "unstake"
	OpFinalizeUnstake                                // transaction to self, entrypoint "finalize_unstake"
	OpSetDelegateParameters                          // transaction to self, entrypoint "set_delegate_parameters"
	opKindEnd
)

var opKindNames = [opKindEnd]string{
	"invalid",
	"seed_nonce_revelation",
	"double_consensus_operation_evidence",
	"double_baking_evidence",
	"activate_account",
	"proposals",
	"ballot",
	"vdf_revelation",
	"drain_delegate",
	"failing_noop",
	"dal_entrapment_evidence",
	"reveal",
	"transaction",
	"origination",
	"delegation",
	"register_global_constant",
	"set_deposits_limit",
	"increase_paid_storage",
	"update_consensus_key",
	"update_companion_key",
	"transfer_ticket",
	"smart_rollup_originate",
	"smart_rollup_add_messages",
	"smart_rollup_cement",
	"smart_rollup_publish",
	"smart_rollup_refute",
	"smart_rollup_timeout",
	"smart_rollup_execute_outbox_message",
	"smart_rollup_recover_bond",
	"dal_publish_commitment",
	"zk_rollup_origination",
	"zk_rollup_publish",
	"zk_rollup_update",
	"stake",
	"unstake",
	"finalize_unstake",
	"set_delegate_parameters",
}

// String returns the Octez kind name, or "invalid".
func (k OperationKind) String() string {
	if k >= opKindEnd {
		return "invalid"
	}
	return opKindNames[k]
}

// ParseOperationKind returns the kind named s (as String prints it), for
// policy configuration. It refuses "invalid" and unknown names.
func ParseOperationKind(s string) (OperationKind, bool) {
	for k := OperationKind(1); k < opKindEnd; k++ {
		if opKindNames[k] == s {
			return k, true
		}
	}
	return 0, false
}

// IsManager reports whether k is a manager operation (it has a source paying
// a fee, a counter and limits). The staking pseudo-operations are.
func (k OperationKind) IsManager() bool {
	return k >= OpReveal && k <= OpZKRollupUpdate || k >= OpStake && k < opKindEnd
}

// Ballot is a vote in a ballot operation. The zero value is invalid.
type Ballot uint8

// Ballot values; the binary form is the value minus one (0 yay, 1 nay, 2 pass).
const (
	_ Ballot = iota
	BallotYay
	BallotNay
	BallotPass
)

// String returns "yay", "nay", "pass" or "invalid".
func (b Ballot) String() string {
	switch b {
	case BallotYay:
		return "yay"
	case BallotNay:
		return "nay"
	case BallotPass:
		return "pass"
	}
	return "invalid"
}

// Operation is one decoded content of a generic operation. Fields a kind does
// not carry are zero; the comment on each field lists the kinds that set it.
type Operation struct {
	Kind OperationKind

	// Source: every manager operation; ballot and proposals (the voter);
	// drain_delegate (the consensus key that signs it).
	Source PublicKeyHash
	// Fee (mutez), Counter, GasLimit, StorageLimit: manager operations.
	Fee, Counter, GasLimit, StorageLimit uint64

	// Amount: mutez sent by transaction and the staking pseudo-operations,
	// initial balance of origination; bytes of storage bought by
	// increase_paid_storage; tickets moved by transfer_ticket.
	Amount uint64
	// Destination: transaction (and pseudo-operations, where it equals the
	// source), increase_paid_storage, transfer_ticket, drain_delegate.
	Destination Contract
	// Entrypoint: transaction and transfer_ticket. "default" when absent.
	Entrypoint string
	// Parameters: the raw Micheline bytes of a transaction's parameters (nil
	// for the default entrypoint with Unit).
	Parameters []byte

	// Delegate: delegation (HasDelegate false = withdraw delegation),
	// origination (optional), drain_delegate (the drained baker).
	Delegate    PublicKeyHash
	HasDelegate bool

	// PublicKey: reveal, update_consensus_key, update_companion_key.
	PublicKey PublicKey
	// HasProof: a BLS proof of possession is attached (reveal and key updates).
	HasProof bool

	// Limit: set_deposits_limit (HasLimit false = remove the limit).
	Limit    uint64
	HasLimit bool

	// Period: ballot and proposals. Ballot: ballot. Proposals: the protocol
	// hashes voted for (ballot: one).
	Period    uint32
	Ballot    Ballot
	Proposals []ProtocolHash

	// Level: seed_nonce_revelation.
	Level uint32
	// Rollup: smart rollup operations that name one.
	Rollup RollupAddress
}
