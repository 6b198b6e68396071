package policy

import (
	"fmt"
	"math"
	"sync"
	"time"

	"github.com/keyward/keyward/internal/tezos"
)

// Window is the rolling period of the Tezos daily limit.
const Window = 24 * time.Hour

// Spend is an amount charged to a key at a time.
type Spend struct {
	At     time.Time
	Amount uint64 // mutez
}

// WindowSum returns the sum of the spends that count against a charge at now: those after
// now − Window. Spends dated after now (the clock went back) count too: fail closed. The
// sum saturates at math.MaxUint64 instead of wrapping.
func WindowSum(spends []Spend, now time.Time) uint64 {
	from := now.Add(-Window)
	var sum uint64
	for _, s := range spends {
		if !s.At.After(from) {
			continue
		}
		if sum > math.MaxUint64-s.Amount {
			return math.MaxUint64
		}
		sum += s.Amount
	}
	return sum
}

// Fits reports whether amount may be charged when spent was charged in the window.
func Fits(spent, amount, limit uint64) bool {
	return amount <= limit && spent <= limit-amount
}

// Ledger keeps what each Tezos key spent, across restarts.
//
// Charge must be atomic per key: it sums the key's spends in the window ending at now
// (WindowSum), and if Fits(spent, amount, limit) it records the spend durably before it
// returns (spent, nil); otherwise it records nothing and returns (spent, an error wrapping
// ErrOverLimit). Any other error means nothing is known to be recorded: the core refuses.
type Ledger interface {
	Charge(pkh tezos.PublicKeyHash, now time.Time, amount, limit uint64) (spent uint64, err error)
}

// MemLedger is a Ledger in memory (tests, the demo). The zero value is ready; it is safe
// for concurrent use.
type MemLedger struct {
	mu     sync.Mutex // guards spends
	spends map[tezos.PublicKeyHash][]Spend
}

var _ Ledger = (*MemLedger)(nil)

// Charge implements Ledger.
func (l *MemLedger) Charge(pkh tezos.PublicKeyHash, now time.Time, amount, limit uint64) (uint64, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	// Forget what can no longer count (spends dated in the future are kept).
	from := now.Add(-Window)
	kept := l.spends[pkh][:0]
	for _, s := range l.spends[pkh] {
		if s.At.After(from) {
			kept = append(kept, s)
		}
	}
	spent := WindowSum(kept, now)
	if !Fits(spent, amount, limit) {
		if l.spends != nil {
			l.spends[pkh] = kept
		}
		return spent, fmt.Errorf("%w: %d mutez spent in the last 24 h, %d more asked, limit %d", ErrOverLimit, spent, amount, limit)
	}
	if l.spends == nil {
		l.spends = make(map[tezos.PublicKeyHash][]Spend)
	}
	l.spends[pkh] = append(kept, Spend{At: now, Amount: amount})
	return spent, nil
}
