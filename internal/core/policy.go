package core

import (
	"encoding/hex"
	"errors"
	"log/slog"
	"strings"
	"sync/atomic"
	"time"

	"github.com/keyward/keyward/internal/audit"
	"github.com/keyward/keyward/internal/eth"
	"github.com/keyward/keyward/internal/policy"
	"github.com/keyward/keyward/internal/tezos"
	"github.com/keyward/keyward/internal/wire"
)

// Auditor receives one event per decision (audit.Trail). Append must not wait for the
// disk (the trail syncs in batches, off the signing path) and must not fail the request:
// an error is logged, the answer stands.
type Auditor interface {
	Append(audit.Event) error
}

var _ Auditor = (*audit.Trail)(nil)

// PolicyOptions are the dependencies of the per-key policy.
type PolicyOptions struct {
	// Policy is the policy in force (policy.Load). Required.
	Policy *policy.Policy
	// Ledger keeps the Tezos daily limits (protect.Store). Without one, a transaction
	// with an amount is refused.
	Ledger policy.Ledger
	// Audit receives every decision; nil: none.
	Audit Auditor
	// Log receives audit failures; nil: slog.Default.
	Log *slog.Logger
	// Now is the clock of the daily limits and the audit events; nil: time.Now.
	Now func() time.Time
}

// recorder holds what the policy needs besides the policy itself. It is set once by
// EnablePolicy, before Serve.
type recorder struct {
	ledger    policy.Ledger
	audit     Auditor
	log       *slog.Logger
	now       func() time.Time
	auditFail atomic.Bool    // an audit failure was logged (log once, not per request)
	refusals  refusalLimiter // bounds the gateway's refusal reports (refusals.go)
}

// EnablePolicy puts a policy, a spend ledger and an audit trail in force. It must be
// called before Serve. Without it the service applies policy.Default() (no exit, no
// deposit, no transfer) and writes no audit event.
func (s *Service) EnablePolicy(o PolicyOptions) error {
	if o.Policy == nil {
		return errors.New("core: no policy")
	}
	if o.Log == nil {
		o.Log = slog.Default()
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	s.pol.Store(o.Policy)
	s.rec.ledger, s.rec.audit, s.rec.log, s.rec.now = o.Ledger, o.Audit, o.Log, o.Now
	return nil
}

// SetPolicy replaces the policy in force, whole, for the requests that start after it
// (a reload: the caller validated p with policy.Load first). A nil p is refused.
func (s *Service) SetPolicy(p *policy.Policy) error {
	if p == nil {
		return errors.New("core: no policy")
	}
	s.pol.Store(p)
	return nil
}

// policyError maps a policy decision to the failure the client gets (Inv 8), nil when the
// request may go on. An "approve" verdict goes on only with g, an operator's approval of
// this very request (its digest: the signing root or the payload hash, recomputed by the
// caller); without it the answer is "awaiting approval", which the core turns into a wait
// for an operator (approval.go), never into a signature. A refusal stands whatever an
// operator approved: a policy reloaded to "refuse" while the request waited wins.
func policyError(d policy.Decision, g *grant, digest [32]byte) *wire.Error {
	switch d.Verdict {
	case policy.Allow:
		return nil
	case policy.NeedsApproval:
		if g.covers(digest) {
			return nil
		}
		return wire.Errorf(wire.KindApproval, "%s", d.Reason)
	}
	if d.Reason == "" {
		return wire.Errorf(wire.KindPolicy, "refused by policy")
	}
	return wire.Errorf(wire.KindPolicy, "%s", d.Reason)
}

// chargeTezos charges a request's transaction amount to the key's rolling window, durably,
// before it is signed; nil when it fits.
func (s *Service) chargeTezos(pkh tezos.PublicKeyHash, td policy.TezosDecision) *wire.Error {
	if td.Amount == 0 {
		return nil
	}
	if s.rec.ledger == nil {
		return wire.Errorf(wire.KindPolicy, "transactions of %d mutez: no spend ledger in this core", td.Amount)
	}
	now := time.Now
	if s.rec.now != nil {
		now = s.rec.now
	}
	_, err := s.rec.ledger.Charge(pkh, now(), td.Amount, td.Limit)
	switch {
	case err == nil:
		return nil
	case errors.Is(err, policy.ErrOverLimit):
		return wire.Errorf(wire.KindPolicy, "%s: %v", pkh, err)
	}
	return wire.Errorf(wire.KindUnavailable, "spend ledger unavailable: %v", err)
}

// record appends ev with the decision err carries (nil: signed).
func (s *Service) record(ev audit.Event, err *wire.Error) {
	switch {
	case err == nil:
		ev.Decision = audit.Signed
	case err.Kind == wire.KindApproval:
		ev.Decision, ev.Reason = audit.Approval, err.Msg
	default:
		ev.Decision, ev.Reason = audit.Refused, err.Kind.String()+": "+err.Msg
	}
	s.appendEvent(ev)
}

// appendEvent stamps ev with the time and appends it to the audit trail, if there is one.
func (s *Service) appendEvent(ev audit.Event) {
	a := s.rec.audit
	if a == nil {
		return
	}
	ev.Time = s.rec.now()
	if aerr := a.Append(ev); aerr != nil && !s.rec.auditFail.Swap(true) {
		s.rec.log.Error("audit trail: cannot append; decisions are no longer recorded", "err", aerr)
	}
}

func u64p(v uint64) *uint64 { return &v }

// ethEvent describes an Ethereum request for the audit trail (Decision unset); sg is nil
// when the request did not decode.
func ethEvent(r *wire.EthSignRequest, sg *eth.Signable) audit.Event {
	ev := audit.Event{Client: r.Client, Chain: "eth", Key: "0x" + hex.EncodeToString(r.Pubkey[:]), Kind: r.Req.Type.String()}
	if sg == nil {
		return ev
	}
	switch sg.Type {
	case eth.TypeVoluntaryExit:
		ev.ValidatorIndex, ev.Epoch = u64p(sg.Exit.ValidatorIndex), u64p(sg.Exit.Epoch)
	case eth.TypeValidatorRegistration:
		ev.FeeRecipient = "0x" + hex.EncodeToString(sg.Registration.FeeRecipient[:])
		ev.GasLimit = u64p(sg.Registration.GasLimit)
	case eth.TypeDeposit:
		ev.Amount = u64p(sg.Deposit.Amount) // gwei
	default:
		ev.Slot = u64p(sg.Slot)
	}
	return ev
}

// tezosEvent describes a Tezos request for the audit trail (Decision unset); req is nil
// when the payload did not decode.
func tezosEvent(r *wire.TezosSignRequest, req *tezos.Request) audit.Event {
	ev := audit.Event{Client: r.Client, Chain: "tezos", Key: r.PKH.String(), Kind: "undecoded"}
	if req == nil {
		return ev
	}
	ev.Kind = req.Kind.String()
	switch req.Kind {
	case tezos.RequestGeneric:
		var kinds, dsts []string
		var amount uint64
		for _, op := range req.Operations {
			kinds = append(kinds, op.Kind.String())
			if op.Kind == tezos.OpTransaction {
				dsts = append(dsts, op.Destination.String())
				amount += op.Amount // for the record only; the policy checks overflow
			}
		}
		ev.Kind += ": " + strings.Join(kinds, ",")
		if len(dsts) > 0 {
			ev.Destination = strings.Join(dsts, ",")
			ev.Amount = u64p(amount)
		}
	default:
		l := req.Level
		ev.Level = &l
	}
	return ev
}
