package core

import (
	"cmp"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/keyward/keyward/internal/audit"
	"github.com/keyward/keyward/internal/config"
	"github.com/keyward/keyward/internal/wire"
)

// Operator approvals (Inv 4). A request whose policy says "approve" is decided in two
// passes. The first stops at the policy and holds the request: it gets a pending entry
// with a random one-shot ID, the facts the core decoded and the digest of the exact
// request (the Ethereum signing root, the BLAKE2b-256 of the Tezos payload), and waits,
// without a signing worker and without its key's lock, until an operator approves or
// denies it on the admin socket (adminsock.go), the approval timeout passes, or the
// gateway connection ends. Only an approval runs the second pass: the whole decision again
// from the start, with the policy in force then (a reload to "refuse" wins), protection,
// the Tezos spend ledger, signing and verification unchanged (Inv 4, 5, 6). Each ID is
// decided once: whichever of decide and expire takes the entry out of the pending map
// decides, and the other finds nothing. The audit trail records the approval asked, the
// decision (who, from SO_PEERCRED), and the final signed or refused event, all with the ID.

// ApprovalOptions configure operator approvals (EnableApprovals). Zero values take the
// defaults.
type ApprovalOptions struct {
	// Timeout is how long a request waits for an operator. Default
	// config.DefaultApprovalTimeout.
	Timeout time.Duration
	// Max bounds the requests waiting at once; beyond it a request that needs approval is
	// refused at once. Default config.DefaultMaxPendingApprovals.
	Max int
	// Now and After are the clock; tests pass a fake. nil: time.Now and time.After.
	Now   func() time.Time
	After func(time.Duration) <-chan time.Time
}

// EnableApprovals sets how requests under an "approve" rule wait. Without it the defaults
// apply. It must be called before Serve.
func (s *Service) EnableApprovals(o ApprovalOptions) error {
	if o.Timeout < 0 || o.Max < 0 {
		return errors.New("core: negative approval timeout or bound")
	}
	s.appr.opts = o
	return nil
}

// PendingApprovals returns the number of requests waiting for an operator.
func (s *Service) PendingApprovals() int {
	s.appr.mu.Lock()
	defer s.appr.mu.Unlock()
	return len(s.appr.pending)
}

// approvals holds the requests waiting for an operator. The zero value is ready: it uses
// the defaults of ApprovalOptions.
type approvals struct {
	opts ApprovalOptions // set before Serve, then read-only

	mu      sync.Mutex // guards pending, and each entry's verdict until its decided is closed
	pending map[wire.ApprovalID]*pendingApproval
}

// pendingApproval is one request waiting for an operator.
type pendingApproval struct {
	id       wire.ApprovalID
	created  time.Time
	deadline time.Time
	digest   [32]byte
	view     wire.PendingApproval // what an operator is shown (ages are set when listed)
	event    audit.Event          // the request as decoded, for the decision's audit event

	decided chan struct{}   // closed once verdict is set, by decide or expire
	verdict approvalVerdict // written under approvals.mu before decided is closed
	result  chan *wire.Error
	// result receives the request's final failure (nil: signed) once, for the approver;
	// buffered 1, so the request never waits for a reader.
}

// approvalVerdict is how a pending approval ended.
type approvalVerdict struct {
	decision audit.Decision // audit.Approved, audit.Denied or audit.Expired
	uid      uint32         // who decided (Approved, Denied)
	operator string         // "uid 0 (root)", for the audit trail
	reason   string         // the operator's reason for a denial, or why it expired
	failure  *wire.Error    // what the client gets when not approved
}

// grant is an operator's approval of one request, for its second pass: policyError lets
// an "approve" verdict through only for the digest it was given for.
type grant struct {
	id     wire.ApprovalID
	digest [32]byte
}

// covers reports whether g approves the request whose digest is digest (false for nil).
func (g *grant) covers(digest [32]byte) bool { return g != nil && g.digest == digest }

func (a *approvals) now() time.Time {
	if a.opts.Now != nil {
		return a.opts.Now()
	}
	return time.Now()
}

func (a *approvals) timeout() time.Duration {
	return cmp.Or(a.opts.Timeout, config.DefaultApprovalTimeout)
}

// requestInfo is what one pass of a decision knows of its request.
type requestInfo struct {
	event  audit.Event // as decoded (Decision unset)
	digest [32]byte    // what an approval covers
	facts  []wire.Fact // what an operator is shown beyond the event's own fields
	held   bool        // decoded far enough to be held for an operator
}

// hold puts a request that needs approval in the pending map; reason is the policy's
// words. It fails (unavailable) when Max requests wait already.
func (a *approvals) hold(reason string, info requestInfo) (*pendingApproval, *wire.Error) {
	var id wire.ApprovalID
	if _, err := rand.Read(id[:]); err != nil {
		return nil, wire.Errorf(wire.KindUnavailable, "approval id: %v", err)
	}
	bound := cmp.Or(a.opts.Max, config.DefaultMaxPendingApprovals)
	ev := info.event
	now := a.now()
	p := &pendingApproval{
		id: id, created: now, deadline: now.Add(a.timeout()), digest: info.digest, event: ev,
		view: wire.PendingApproval{ID: id, Chain: ev.Chain, Key: ev.Key, Kind: ev.Kind, Client: ev.Client, Reason: reason,
			Digest: info.digest, Facts: append(eventFacts(ev), info.facts...)},
		decided: make(chan struct{}),
		result:  make(chan *wire.Error, 1),
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if len(a.pending) >= bound {
		return nil, wire.Errorf(wire.KindUnavailable, "%s; but %d requests await an operator already (core.max_pending_approvals): refused", reason, bound)
	}
	if a.pending == nil {
		a.pending = make(map[wire.ApprovalID]*pendingApproval)
	}
	if a.pending[id] != nil { // 2^-128: refuse rather than confuse two requests
		return nil, wire.Errorf(wire.KindUnavailable, "approval id collision")
	}
	a.pending[id] = p
	return p, nil
}

// end takes p out of the pending map with verdict v, if nothing decided it before; a.mu
// must be held. It reports whether v is p's verdict.
func (a *approvals) end(p *pendingApproval, v approvalVerdict) bool {
	if a.pending[p.id] != p {
		return false
	}
	delete(a.pending, p.id)
	p.verdict = v
	close(p.decided)
	return true
}

// expire ends p without approval, unless it was decided already.
func (a *approvals) expire(p *pendingApproval, v approvalVerdict) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.end(p, v)
}

// timedOut is the verdict of a request nobody decided in time.
func (a *approvals) timedOut() approvalVerdict {
	d := shortDuration(a.timeout())
	return approvalVerdict{decision: audit.Expired, reason: "approval timed out after " + d,
		failure: wire.Errorf(wire.KindPolicy, "approval timed out after %s: not signed", d)}
}

// decide applies an operator's verdict to the pending request id. An ID is decided once:
// a second decision, one after a denial or after expiry, finds nothing.
func (a *approvals) decide(id wire.ApprovalID, verdict wire.ApprovalVerdict, reason string, op peer) (*pendingApproval, *wire.Error) {
	v := approvalVerdict{uid: op.uid, operator: op.String()}
	switch verdict {
	case wire.VerdictApprove:
		v.decision = audit.Approved
	case wire.VerdictDeny:
		v.decision, v.reason = audit.Denied, reason
		msg := fmt.Sprintf("denied by operator (uid %d)", op.uid)
		if reason != "" {
			msg += ": " + reason
		}
		v.failure = wire.Errorf(wire.KindPolicy, "%s", msg)
	default:
		return nil, wire.Errorf(wire.KindBadRequest, "unknown verdict %d", verdict) // fail closed
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	p := a.pending[id]
	if p == nil {
		return nil, wire.Errorf(wire.KindUnknownKey, "no pending request %s (an ID is decided once; it may have been decided, expired or never existed)", id)
	}
	if !a.now().Before(p.deadline) { // its timer has not fired yet: it is expired all the same
		a.end(p, a.timedOut())
		return nil, wire.Errorf(wire.KindUnknownKey, "no pending request %s: it expired (approval timed out after %s)", id, shortDuration(a.timeout()))
	}
	a.end(p, v)
	return p, nil
}

// await waits until p is decided, expires, or ctx ends (the gateway connection is gone),
// and returns its verdict.
func (a *approvals) await(ctx context.Context, p *pendingApproval) approvalVerdict {
	after := time.After
	if a.opts.After != nil {
		after = a.opts.After
	}
	select {
	case <-p.decided:
	case <-after(max(p.deadline.Sub(a.now()), 0)):
		a.expire(p, a.timedOut())
	case <-ctx.Done():
		a.expire(p, approvalVerdict{decision: audit.Expired, reason: "the gateway connection ended",
			failure: wire.Errorf(wire.KindUnavailable, "the gateway connection ended while the request awaited approval: not signed")})
	}
	<-p.decided // closed by whichever of decide and expire took p out
	return p.verdict
}

// list returns the pending requests, oldest first, with their ages.
func (a *approvals) list() []wire.PendingApproval {
	now := a.now()
	a.mu.Lock()
	ps := make([]*pendingApproval, 0, len(a.pending))
	for _, p := range a.pending {
		ps = append(ps, p)
	}
	a.mu.Unlock()
	slices.SortFunc(ps, func(x, y *pendingApproval) int {
		return cmp.Or(x.created.Compare(y.created), slices.Compare(x.id[:], y.id[:]))
	})
	out := make([]wire.PendingApproval, len(ps))
	for i, p := range ps {
		out[i] = p.view
		out[i].AgeMillis = uint64(max(now.Sub(p.created), 0).Milliseconds())
		out[i].LeftMillis = uint64(max(p.deadline.Sub(now), 0).Milliseconds())
	}
	return out
}

// begin follows the first pass of a decision, whose failure is werr. Unless the policy
// asked for an operator, it records the decision and returns the failure to answer. A
// request that needs approval is held: begin records that and returns its pending entry
// (finish waits on it), or, when it cannot be held, records and returns the refusal.
func (s *Service) begin(werr *wire.Error, info func() requestInfo) (*pendingApproval, *wire.Error) {
	if werr == nil || werr.Kind != wire.KindApproval {
		if s.rec.audit != nil {
			s.record(info().event, werr)
		}
		return nil, werr
	}
	in := info()
	if !in.held { // fail closed: nothing to show an operator
		werr = wire.Errorf(wire.KindPolicy, "%s: the request cannot be held for an operator", werr.Msg)
		s.record(in.event, werr)
		return nil, werr
	}
	p, herr := s.appr.hold(werr.Msg, in)
	if herr != nil {
		s.record(in.event, herr)
		return nil, herr
	}
	ev := in.event
	ev.ApprovalID = p.id.String()
	s.record(ev, werr) // audit.Approval
	return p, nil
}

// finish waits for the operator's decision on p. Approved, and with the gateway still
// connected (ctx), it runs the decision again from the start through again with the
// grant; otherwise the request is refused. It records the decision and the outcome, hands
// the outcome to the approver, and returns it (nil: signed).
func (s *Service) finish(ctx context.Context, p *pendingApproval, again func(*grant) (*wire.Error, func() requestInfo)) *wire.Error {
	v := s.appr.await(ctx, p)
	ev := p.event
	ev.ApprovalID, ev.Operator = p.id.String(), v.operator
	dec := ev
	dec.Decision, dec.Reason = v.decision, v.reason
	s.appendEvent(dec)
	werr := v.failure
	switch {
	case v.decision != audit.Approved:
		if werr == nil {
			werr = wire.Errorf(wire.KindPolicy, "not approved") // fail closed
		}
	case ctx.Err() != nil: // approved, but nobody is left to answer: sign nothing
		werr = wire.Errorf(wire.KindUnavailable, "the gateway connection ended: approved but not signed")
	default:
		var info func() requestInfo
		werr, info = again(&grant{id: p.id, digest: p.digest})
		if werr != nil && werr.Kind == wire.KindApproval { // fail closed: never a second wait
			werr = wire.Errorf(wire.KindPolicy, "%s: the approval does not cover the request as decided now", werr.Msg)
		}
		if s.rec.audit != nil {
			ev = info().event
			ev.ApprovalID, ev.Operator = p.id.String(), v.operator
		}
	}
	p.result <- werr
	s.record(ev, werr)
	return werr
}

// maxOutcomeWait bounds how long an approver waits for the outcome of the request it
// approved (protection records, signing and verification take milliseconds).
const maxOutcomeWait = 30 * time.Second

// decideApproval applies an operator's decision d (op: the peer the kernel named) and
// waits for what became of the request, at most maxOutcomeWait or until stop.
func (s *Service) decideApproval(d *wire.ApprovalDecision, op peer, stop <-chan struct{}) (*wire.ApprovalOutcome, *wire.Error) {
	p, werr := s.appr.decide(d.ID, d.Verdict, d.Reason, op)
	if werr != nil {
		return nil, werr
	}
	out := &wire.ApprovalOutcome{Approval: p.view, Verdict: d.Verdict}
	out.Approval.AgeMillis = uint64(max(s.appr.now().Sub(p.created), 0).Milliseconds())
	t := time.NewTimer(maxOutcomeWait)
	defer t.Stop()
	select {
	case out.Result = <-p.result:
	case <-stop:
		out.Result = wire.Errorf(wire.KindUnavailable, "the core is stopping: outcome unknown")
	case <-t.C:
		out.Result = wire.Errorf(wire.KindUnavailable, "no outcome after %s", maxOutcomeWait)
	}
	return out, nil
}

// shortDuration writes d as an operator would ("2m", "90s", "1m30s").
func shortDuration(d time.Duration) string {
	switch {
	case d%time.Hour == 0:
		return fmt.Sprintf("%dh", d/time.Hour)
	case d < time.Hour && d%time.Minute == 0:
		return fmt.Sprintf("%dm", d/time.Minute)
	case d < time.Minute && d%time.Second == 0:
		return fmt.Sprintf("%ds", d/time.Second)
	}
	return d.String()
}
