package audit

import (
	"errors"
	"fmt"
)

// ErrBroken: the trail does not verify (a line removed, reordered, inserted or edited,
// or not a record). It is wrapped by a *ChainError that says where.
var ErrBroken = errors.New("audit trail broken")

// ErrClosed: Append or Sync after Close.
var ErrClosed = errors.New("audit trail closed")

var errHashForm = errors.New("hash is not 64 lower-case hex digits")

// ChainError says which line of the trail fails and why. Line counts from 1.
type ChainError struct {
	Line   int
	Reason string
}

func (e *ChainError) Error() string {
	return fmt.Sprintf("%v: line %d: %s", ErrBroken, e.Line, e.Reason)
}

// Unwrap returns ErrBroken.
func (e *ChainError) Unwrap() error { return ErrBroken }
