package protect

import (
	"errors"
	"fmt"
)

// Errors of opening the store.
var (
	// ErrWrongNetwork means the database belongs to another genesis validators root (Inv 3).
	ErrWrongNetwork = errors.New("protect: database belongs to another network")
	// ErrLocked means another process (another keyward, or a keyward slashing command)
	// holds the database's file lock.
	ErrLocked = errors.New("protect: database locked by another process")
	// ErrCorrupt means a stored record does not decode.
	ErrCorrupt = errors.New("protect: corrupt record")
)

// Errors of using an open store.
var (
	// ErrClosed means the store was closed.
	ErrClosed = errors.New("protect: store closed")
)

// Errors of interchange (EIP-3076) import. An import that fails with any of them changed
// nothing.
var (
	// ErrInterchangeTooLarge means the document exceeds MaxInterchangeSize.
	ErrInterchangeTooLarge = errors.New("protect: interchange too large")
	// ErrInvalidInterchange means the document is not a valid EIP-3076 version 5
	// interchange: bad JSON, a missing, duplicated or unknown field, a malformed value.
	ErrInvalidInterchange = errors.New("protect: invalid interchange")
	// ErrInterchangeNetwork means the interchange is for another genesis validators root
	// than the one the store is pinned to (Inv 3).
	ErrInterchangeNetwork = errors.New("protect: interchange is for another network")
)

// Refusal is a final, typed refusal by a protection rule. Retrying the same request gives
// the same answer. The zero value is not used; rules always name themselves.
type Refusal struct {
	Rule   string // short rule name, e.g. "double block"; see the Rule* constants
	Detail string // what was asked and what was signed before
}

func (r *Refusal) Error() string { return fmt.Sprintf("%s: %s", r.Rule, r.Detail) }

// Rule names of a Refusal.
const (
	RuleDoubleBlock    = "double block"
	RuleBlockBelowLow  = "block below low watermark"
	RuleSourceAfter    = "source after target"
	RuleDoubleVote     = "double vote"
	RuleSurroundVote   = "surround vote"
	RuleSurroundedVote = "surrounded vote"
	RuleSourceBelowLow = "source below low watermark"
	RuleTargetBelowLow = "target below low watermark"
	RuleEmergencyBrake = "emergency brake"
	RuleNoRuleAllowed  = "refused"
)

func refusef(rule, format string, args ...any) *Refusal {
	return &Refusal{Rule: rule, Detail: fmt.Sprintf(format, args...)}
}
