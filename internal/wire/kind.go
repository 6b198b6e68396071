package wire

import "fmt"

// Kind is the type of a failure as it crosses the core → gateway boundary (Inv 8).
// The zero value, KindOK, means success; every other value is a refusal. Each API in the
// gateway maps a Kind to its own status code and error shape; HTTP codes never appear here.
type Kind uint8

// The failure kinds of Inv 8. Values are part of the wire format: never renumber.
const (
	KindOK          Kind = 0 // signed
	KindBadRequest  Kind = 1 // malformed, contradicts the pinned network, or root mismatch
	KindUnknownKey  Kind = 2 // no such key in the core
	KindProtection  Kind = 3 // refused by slashing protection (final)
	KindPolicy      Kind = 4 // refused by the key's policy
	KindApproval    Kind = 5 // awaiting operator approval
	KindUnavailable Kind = 6 // not ready, overloaded, or an internal fault
	kindEnd         Kind = 7 // one past the last kind
)

var kindNames = [...]string{"ok", "bad request", "unknown key", "refused by protection", "refused by policy", "awaiting approval", "unavailable"}

// String returns a short lower-case name of the kind.
func (k Kind) String() string {
	if k < kindEnd {
		return kindNames[k]
	}
	return fmt.Sprintf("kind(%d)", uint8(k))
}

// Error is a typed failure with a short message meant for the client. Messages must not
// contain secrets; they are shown to whoever sent the request.
type Error struct {
	Kind Kind
	Msg  string
}

func (e *Error) Error() string { return e.Kind.String() + ": " + e.Msg }

// Errorf builds an *Error of kind k.
func Errorf(k Kind, format string, args ...any) *Error {
	return &Error{Kind: k, Msg: fmt.Sprintf(format, args...)}
}
