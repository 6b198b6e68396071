package protect

import (
	"errors"
	"fmt"
)

// Errors of opening and writing the store.
var (
	// ErrWrongNetwork means the database belongs to another genesis validators root.
	ErrWrongNetwork = errors.New("protect: database belongs to another network")
	// ErrCorrupt means a stored record does not decode.
	ErrCorrupt = errors.New("protect: corrupt record")
	// ErrClosed means the store was closed.
	ErrClosed = errors.New("protect: store closed")
)

// Refusal is a final, typed refusal by a protection rule. Retrying the same request gives
// the same answer.
type Refusal struct {
	Rule   string // short rule name, e.g. "double block"
	Detail string // what was asked and what was signed before
}

func (r *Refusal) Error() string { return fmt.Sprintf("%s: %s", r.Rule, r.Detail) }
