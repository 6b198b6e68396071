package policy

import (
	"slices"

	"github.com/keyward/keyward/internal/tezos"
)

// TezosKey is one Tezos key's policy for transactions (or the default for keys without a
// table). It comes on top of keyward.toml's [tezos] policy (magic bytes, operation kinds,
// chains), which the core applies first: a transaction must be allowed by both.
type TezosKey struct {
	// Transaction is what to do with a generic operation holding transactions. Default
	// refuse.
	Transaction Action
	// Destinations are the only destinations (canonical tz1…tz4 or KT1… strings) a
	// transaction may send to. Required when Transaction is not refuse.
	Destinations []string
	// DailyLimitMutez bounds the sum of transaction amounts over any rolling 24 hours
	// (Window), this request included. 0: only transactions of amount 0 (contract calls).
	DailyLimitMutez uint64
}

// TezosDecision is the verdict on a Tezos request before the daily limit, and what the
// limit needs: the amount the request moves and the key's limit.
type TezosDecision struct {
	Decision
	// Amount is the sum, in mutez, of the amounts of the request's transactions.
	Amount uint64
	// Limit is the key's DailyLimitMutez.
	Limit uint64
}

// Tezos decides whether pkh may sign req, except for the daily limit: when the verdict is
// Allow and Amount is not 0, the core must then charge Amount against the key's window
// (Ledger.Charge, which applies Fits) before signing, and refuse if it does not fit.
// Only transactions are judged here: blocks, consensus operations and the other operation
// kinds are governed by keyward.toml's [tezos] policy, which the core applies first.
// Fees are not counted in the amount.
func (p *Policy) Tezos(pkh tezos.PublicKeyHash, req *tezos.Request) TezosDecision {
	if p == nil || req == nil {
		return TezosDecision{Decision: refuse("no policy")}
	}
	k := p.TezosKeyPolicy(pkh)
	switch req.Kind {
	case tezos.RequestBlock, tezos.RequestPreattestation, tezos.RequestAttestation:
		return TezosDecision{Decision: allow, Limit: k.DailyLimitMutez}
	case tezos.RequestGeneric:
	default:
		return TezosDecision{Decision: refuse("unclassified payload")}
	}
	d := TezosDecision{Decision: allow, Limit: k.DailyLimitMutez}
	n := 0
	for i := range req.Operations {
		op := &req.Operations[i]
		if op.Kind != tezos.OpTransaction {
			continue
		}
		n++
		switch k.Transaction {
		case ActionAllow, ActionApprove:
		default:
			return TezosDecision{Decision: refuse("transaction: not allowed by the key's policy")}
		}
		dst := op.Destination.String()
		if !slices.Contains(k.Destinations, dst) {
			return TezosDecision{Decision: refuse("transaction to %s: destination not in the key's destinations", dst)}
		}
		sum := d.Amount + op.Amount
		if sum < d.Amount { // overflow: fail closed
			return TezosDecision{Decision: refuse("transaction amounts overflow")}
		}
		d.Amount = sum
	}
	if d.Amount > k.DailyLimitMutez { // cannot fit whatever was spent before
		return TezosDecision{Decision: refuse("transactions of %d mutez exceed the daily limit of %d mutez", d.Amount, k.DailyLimitMutez)}
	}
	if n > 0 && k.Transaction == ActionApprove {
		d.Decision = approve("%d transaction(s) of %d mutez in total: needs operator approval", n, d.Amount)
	}
	return d
}

// TezosKeyPolicy returns the policy of pkh: its table, or the default.
func (p *Policy) TezosKeyPolicy(pkh tezos.PublicKeyHash) TezosKey {
	if k, ok := p.tezos[pkh]; ok {
		return k
	}
	return p.tezosDefault
}
