package eth

import "errors"

// Sentinel errors. Every error returned by Network.Signable is a *FieldError wrapping one of
// the first four; the core maps all of them to the wire kind "bad request" (Inv 8). Callers
// test with errors.Is, never with strings.
var (
	// ErrMalformed: the request or its SSZ body is not a well-formed object of its type
	// (wrong length, trailing bytes, bad offsets, unknown type or version).
	ErrMalformed = errors.New("malformed request")
	// ErrWrongNetwork: the request contradicts the pinned network: genesis validators root,
	// fork versions, fork schedule, or a fork the message needs that is not active (Inv 3).
	ErrWrongNetwork = errors.New("request contradicts the pinned network")
	// ErrRootMismatch: the caller's signingRoot differs from the one the core computed (Inv 2).
	ErrRootMismatch = errors.New("signing root mismatch")
	// ErrInternal: a decoder failed in a way it should not (a recovered panic); still a
	// refusal, reported as a bad request so that no panic crosses the boundary (Inv 8).
	ErrInternal = errors.New("internal decoding fault")

	// ErrBadConfig: a network configuration (config.yaml or a Network value) is invalid.
	ErrBadConfig = errors.New("invalid network configuration")
	// ErrUnknownNetwork: BuiltinNetwork was asked for a network keyward does not ship.
	ErrUnknownNetwork = errors.New("unknown network")
)

// FieldError is a refusal that names the request field at fault, in the JSON spelling of the
// Web3Signer API (e.g. "fork_info.genesis_validators_root"), and says why. Err is one of the
// sentinels above, so errors.Is works through it.
type FieldError struct {
	Field  string
	Reason string
	Err    error
}

// Error returns "field: reason".
func (e *FieldError) Error() string { return e.Field + ": " + e.Reason }

// Unwrap returns the sentinel the error belongs to.
func (e *FieldError) Unwrap() error { return e.Err }

func fieldErr(sentinel error, field, reason string) *FieldError {
	return &FieldError{Field: field, Reason: reason, Err: sentinel}
}
