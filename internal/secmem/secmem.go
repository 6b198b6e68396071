// Package secmem holds secret key material outside the Go heap, in memory that is locked
// (never swapped), excluded from core dumps and wiped in a forked child (Inv 1).
//
// An Arena is a fixed-size anonymous mapping handed out in fixed-size slots. Values placed
// in it must not contain Go pointers (secret scalars are plain byte arrays). The garbage
// collector neither moves nor copies arena memory, so a key written here exists in one place
// only, which Destroy zeroes and unmaps.
package secmem

import (
	"errors"
	"fmt"
	"sync"
)

// ErrFull is returned when an arena has no free slot left.
var ErrFull = errors.New("secmem: arena full")

// Arena is a locked region of fixed-size slots. It is safe for concurrent use.
type Arena struct {
	mu     sync.Mutex // guards mem, next and free
	mem    []byte
	slot   int
	next   int
	free   []int
	locked bool
}

// Locked reports whether the arena's pages are locked in RAM (mlock succeeded).
func (a *Arena) Locked() bool { return a.locked }

// Alloc returns a zeroed slot of the arena's slot size.
func (a *Arena) Alloc() ([]byte, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.mem == nil {
		return nil, errors.New("secmem: arena destroyed")
	}
	var off int
	switch {
	case len(a.free) > 0:
		off = a.free[len(a.free)-1]
		a.free = a.free[:len(a.free)-1]
	case a.next+a.slot <= len(a.mem):
		off = a.next
		a.next += a.slot
	default:
		return nil, ErrFull
	}
	b := a.mem[off : off+a.slot : off+a.slot]
	clear(b)
	return b, nil
}

// Free zeroes a slot returned by Alloc and makes it available again.
func (a *Arena) Free(b []byte) {
	clear(b)
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.mem == nil || len(b) != a.slot {
		return
	}
	off := offsetOf(a.mem, b)
	if off < 0 {
		return
	}
	a.free = append(a.free, off)
}

// Destroy zeroes and releases the whole arena. Slots must not be used afterwards.
func (a *Arena) Destroy() error {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.mem == nil {
		return nil
	}
	clear(a.mem)
	err := unmap(a.mem)
	a.mem = nil
	if err != nil {
		return fmt.Errorf("secmem: unmap: %w", err)
	}
	return nil
}
