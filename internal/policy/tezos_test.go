package policy

import (
	"errors"
	"math"
	"testing"
	"time"

	"github.com/keyward/keyward/internal/tezos"
)

var (
	pkhA  = tezos.PublicKeyHash{Kind: tezos.KeyKindEd25519, Hash: [20]byte{1}}
	pkhB  = tezos.PublicKeyHash{Kind: tezos.KeyKindSecp256k1, Hash: [20]byte{2}}
	dstOK = tezos.PublicKeyHash{Kind: tezos.KeyKindEd25519, Hash: [20]byte{3}}
	dstKO = tezos.PublicKeyHash{Kind: tezos.KeyKindEd25519, Hash: [20]byte{4}}
	kt1   = tezos.Contract{Kind: tezos.ContractOriginated, Originated: [20]byte{5, 6, 7}}
)

func transfer(to tezos.Contract, amount uint64) tezos.Operation {
	return tezos.Operation{Kind: tezos.OpTransaction, Source: pkhA, Destination: to, Amount: amount}
}

func implicit(p tezos.PublicKeyHash) tezos.Contract {
	return tezos.Contract{Kind: tezos.ContractImplicit, Implicit: p}
}

func generic(ops ...tezos.Operation) *tezos.Request {
	return &tezos.Request{Magic: tezos.MagicGeneric, Kind: tezos.RequestGeneric, Operations: ops}
}

func tezosPolicy(t *testing.T) *Policy {
	return mustParse(t, `
[tezos.keys."`+pkhA.String()+`"]
transaction = "allow"
destinations = ["`+dstOK.String()+`", "`+kt1.String()+`"]
daily_limit_mutez = 1000

[tezos.keys."`+pkhB.String()+`"]
transaction = "approve"
destinations = ["`+dstOK.String()+`"]
daily_limit_mutez = 1000
`)
}

// TestTezosPolicy_Inv4 is the per-key Tezos transaction policy, one row per rule.
func TestTezosPolicy_Inv4(t *testing.T) {
	p := tezosPolicy(t)
	other := tezos.PublicKeyHash{Kind: tezos.KeyKindP256, Hash: [20]byte{9}}
	tests := []struct {
		name   string
		pkh    tezos.PublicKeyHash
		req    *tezos.Request
		want   Verdict
		amount uint64
	}{
		{"attestation: not judged here", other, &tezos.Request{Kind: tezos.RequestAttestation}, Allow, 0},
		{"block: not judged here", other, &tezos.Request{Kind: tezos.RequestBlock}, Allow, 0},
		{"delegation: not judged here", other, generic(tezos.Operation{Kind: tezos.OpDelegation}), Allow, 0},
		{"transaction refused by default", other, generic(transfer(implicit(dstOK), 1)), Refuse, 0},
		{"transaction to an allowed account", pkhA, generic(transfer(implicit(dstOK), 10)), Allow, 10},
		{"transaction to an allowed contract", pkhA, generic(transfer(kt1, 0)), Allow, 0},
		{"transaction to an unknown destination", pkhA, generic(transfer(implicit(dstKO), 10)), Refuse, 0},
		{"batch with one unknown destination", pkhA, generic(transfer(implicit(dstOK), 1), transfer(implicit(dstKO), 1)), Refuse, 0},
		{"batch amounts add up", pkhA, generic(transfer(implicit(dstOK), 400), tezos.Operation{Kind: tezos.OpReveal}, transfer(kt1, 600)), Allow, 1000},
		{"one request over the daily limit", pkhA, generic(transfer(implicit(dstOK), 1001)), Refuse, 0},
		{"amounts that overflow", pkhA, generic(transfer(implicit(dstOK), math.MaxUint64), transfer(implicit(dstOK), 2)), Refuse, 0},
		{"approve rule", pkhB, generic(transfer(implicit(dstOK), 5)), NeedsApproval, 5},
		{"approve rule, unknown destination still refused", pkhB, generic(transfer(implicit(dstKO), 5)), Refuse, 0},
		{"approve rule, no transaction", pkhB, generic(tezos.Operation{Kind: tezos.OpReveal}), Allow, 0},
		{"unclassified request", pkhA, &tezos.Request{}, Refuse, 0},
		{"nil request", pkhA, nil, Refuse, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := p.Tezos(tt.pkh, tt.req)
			if d.Verdict != tt.want {
				t.Fatalf("verdict %s (%q), want %s", d.Verdict, d.Reason, tt.want)
			}
			if d.Verdict != Refuse && d.Amount != tt.amount {
				t.Fatalf("amount %d, want %d", d.Amount, tt.amount)
			}
		})
	}
}

// TestWindowSum: spends count for 24 hours, then no more; future-dated spends count.
func TestWindowSum(t *testing.T) {
	now := time.Date(2026, 11, 21, 12, 0, 0, 0, time.UTC)
	spends := []Spend{
		{At: now.Add(-Window), Amount: 1},                    // exactly 24 h ago: out
		{At: now.Add(-Window + time.Nanosecond), Amount: 10}, // just inside
		{At: now.Add(-time.Hour), Amount: 100},
		{At: now, Amount: 1000},
		{At: now.Add(time.Hour), Amount: 10000}, // the clock went back: counts
	}
	if got := WindowSum(spends, now); got != 11110 {
		t.Fatalf("WindowSum = %d, want 11110", got)
	}
	if got := WindowSum([]Spend{{At: now, Amount: math.MaxUint64}, {At: now, Amount: 1}}, now); got != math.MaxUint64 {
		t.Fatalf("WindowSum does not saturate: %d", got)
	}
	if !Fits(0, 10, 10) || Fits(1, 10, 10) || Fits(0, 11, 10) || Fits(math.MaxUint64, 1, math.MaxUint64) {
		t.Fatal("Fits")
	}
}

// TestMemLedger_DailyLimit: a rolling 24-hour limit per key.
func TestMemLedger_DailyLimit(t *testing.T) {
	var l MemLedger
	t0 := time.Date(2026, 11, 21, 12, 0, 0, 0, time.UTC)
	steps := []struct {
		name   string
		pkh    tezos.PublicKeyHash
		at     time.Time
		amount uint64
		over   bool
	}{
		{"first spend", pkhA, t0, 600, false},
		{"second spend fits exactly", pkhA, t0.Add(time.Hour), 400, false},
		{"third is over", pkhA, t0.Add(2 * time.Hour), 1, true},
		{"another key has its own window", pkhB, t0.Add(2 * time.Hour), 1000, false},
		{"the first spend left the window", pkhA, t0.Add(Window + time.Second), 600, false},
		{"the second still counts", pkhA, t0.Add(Window + 2*time.Second), 1, true},
	}
	for _, s := range steps {
		_, err := l.Charge(s.pkh, s.at, s.amount, 1000)
		if over := errors.Is(err, ErrOverLimit); over != s.over || (err != nil && !over) {
			t.Fatalf("%s: err %v, want over=%v", s.name, err, s.over)
		}
	}
}
