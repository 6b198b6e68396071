package wire

import (
	"encoding/json"
	"fmt"
)

// maxStatus bounds the status document the gateway accepts from the core.
const maxStatus = 64 << 10

// Status is the core's report of itself, sent as JSON inside a MsgStatusResult frame. It
// carries no secret.
type Status struct {
	// Ready is true once keys are loaded and the protection store is open.
	Ready bool `json:"ready"`
	// Network is the name of the pinned Ethereum network.
	Network string `json:"network"`
	// GenesisValidatorsRoot is the pinned network's root, 0x-hex.
	GenesisValidatorsRoot string `json:"genesis_validators_root"`
	// BLSKeys is the number of Ethereum keys that can sign.
	BLSKeys int `json:"bls_keys"`
	// TezosKeys is the number of Tezos keys (tz1…tz4) that can sign.
	TezosKeys int `json:"tezos_keys"`
	// KeyMemoryLocked tells whether secret keys sit in mlocked, non-dumpable memory.
	KeyMemoryLocked bool `json:"key_memory_locked"`
	// ConfinementRequired is what the configuration asked for ("full" or "best-effort").
	ConfinementRequired string `json:"confinement_required"`
	// ConfinementLevel is what was achieved: "full", "partial" or "none".
	ConfinementLevel string `json:"confinement_level"`
	// Confinement is the core's detailed sandbox report, including the self-probes.
	Confinement json.RawMessage `json:"confinement"`
	// Protection names the slashing-protection store.
	Protection string `json:"protection"`
	// Version is the core's build version.
	Version string `json:"version"`
	// PendingApprovals is the number of requests waiting for an operator's approval.
	PendingApprovals int `json:"pending_approvals"`
	// ApprovalTimeoutMillis is how long a request waits for an operator
	// (core.approval_timeout): the gateway keeps such a request open that much longer.
	ApprovalTimeoutMillis int64 `json:"approval_timeout_ms,omitempty"`
}

// EncodeStatus encodes s for a MsgStatusResult body.
func EncodeStatus(s *Status) ([]byte, error) {
	b, err := json.Marshal(s)
	if err != nil {
		return nil, fmt.Errorf("encode status: %w", err)
	}
	return b, nil
}

// DecodeStatus decodes a MsgStatusResult body, refusing oversized documents and unknown fields.
func DecodeStatus(b []byte) (*Status, error) {
	if len(b) > maxStatus {
		return nil, fmt.Errorf("%w: status of %d bytes", ErrMalformed, len(b))
	}
	var s Status
	if err := json.Unmarshal(b, &s); err != nil {
		return nil, fmt.Errorf("%w: status: %v", ErrMalformed, err)
	}
	return &s, nil
}
