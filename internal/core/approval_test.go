package core

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/keyward/keyward/internal/audit"
	"github.com/keyward/keyward/internal/eth"
	"github.com/keyward/keyward/internal/keys"
	"github.com/keyward/keyward/internal/policy"
	"github.com/keyward/keyward/internal/tezos"
	"github.com/keyward/keyward/internal/wire"
)

// fakeClock is the approvals' clock in tests: its time moves and its timers fire only when
// the test says, and armed receives one value for every request that starts waiting.
type fakeClock struct {
	mu     sync.Mutex // guards now and timers
	now    time.Time
	timers []chan time.Time
	armed  chan struct{}
}

func newFakeClock() *fakeClock {
	return &fakeClock{now: time.Unix(1_800_000_000, 0), armed: make(chan struct{}, 64)}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) After(time.Duration) <-chan time.Time {
	ch := make(chan time.Time, 1)
	c.mu.Lock()
	c.timers = append(c.timers, ch)
	c.mu.Unlock()
	c.armed <- struct{}{}
	return ch
}

// advance moves the time by d and fires every timer armed so far.
func (c *fakeClock) advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
	for _, t := range c.timers {
		t <- c.now
	}
	c.timers = nil
}

// waitArmed waits until n more requests wait for an operator.
func (c *fakeClock) waitArmed(t *testing.T, n int) {
	t.Helper()
	for range n {
		select {
		case <-c.armed:
		case <-t.Context().Done():
			t.Fatal("no request started waiting for an operator")
		}
	}
}

// approvalService is a service with one real BLS key, policyTOML in force, an audit
// trail in memory and approvals on a fake clock (timeout 2m, at most max pending).
func approvalService(t *testing.T, policyTOML string, max int) (*Service, *keys.BLSKey, *memAudit, *fakeClock) {
	t.Helper()
	ks := realKeys(t, 1)
	s := newService(t, asBLS(ks))
	p, err := policy.Parse([]byte(policyTOML))
	if err != nil {
		t.Fatal(err)
	}
	a := &memAudit{}
	clock := newFakeClock()
	if err := s.EnablePolicy(PolicyOptions{Policy: p, Audit: a, Now: clock.Now}); err != nil {
		t.Fatal(err)
	}
	if err := s.EnableApprovals(ApprovalOptions{Timeout: 2 * time.Minute, Max: max, Now: clock.Now, After: clock.After}); err != nil {
		t.Fatal(err)
	}
	return s, ks[0], a, clock
}

// signAsync signs r on a goroutine of its own; the result arrives on the channel.
func signAsync(s *Service, r *wire.EthSignRequest) <-chan *wire.SignResult {
	ch := make(chan *wire.SignResult, 1)
	go func() { ch <- s.SignEth(r) }()
	return ch
}

// onlyPending returns the one pending approval.
func onlyPending(t *testing.T, s *Service) wire.PendingApproval {
	t.Helper()
	l := s.appr.list()
	if len(l) != 1 {
		t.Fatalf("%d pending approvals, want 1: %+v", len(l), l)
	}
	return l[0]
}

var (
	root   = peer{uid: 0, name: "root"}
	alice  = peer{uid: 1001, name: "alice"}
	noStop = make(chan struct{})
)

func decide(s *Service, id wire.ApprovalID, v wire.ApprovalVerdict, reason string, by peer) (*wire.ApprovalOutcome, *wire.Error) {
	return s.decideApproval(&wire.ApprovalDecision{ID: id, Verdict: v, Reason: reason}, by, noStop)
}

func fact(p wire.PendingApproval, name string) string {
	for _, f := range p.Facts {
		if f.Name == name {
			return f.Value
		}
	}
	return ""
}

// decisions lists the audit decisions recorded for one approval ID, in order.
func decisions(a *memAudit, id wire.ApprovalID) []audit.Decision {
	var out []audit.Decision
	for _, ev := range a.snapshot() {
		if ev.ApprovalID == id.String() {
			out = append(out, ev.Decision)
		}
	}
	return out
}

func sameDecisions(got []audit.Decision, want ...audit.Decision) bool {
	return fmt.Sprint(got) == fmt.Sprint(want)
}

// TestApproval_ApprovedExitSigned_Inv4_Inv6: an exit under an approve rule waits, shown
// with its decoded facts and signing root; approved by root on the admin channel, it is
// signed, the signature verifies, and the trail holds approval, approved (by whom) and
// signed under one ID.
func TestApproval_ApprovedExitSigned_Inv4_Inv6(t *testing.T) {
	s, key, a, clock := approvalService(t, "[eth.default]\nexit = \"approve\"\n", 16)
	n, _ := eth.BuiltinNetwork("mainnet")
	req := &wire.EthSignRequest{Client: "vc-1", Pubkey: key.PublicKey(), Req: exitRequest(t, n)}
	res := signAsync(s, req)
	clock.waitArmed(t, 1)
	p := onlyPending(t, s)
	sg, err := n.Signable(&req.Req)
	if err != nil {
		t.Fatal(err)
	}
	if p.Chain != "eth" || p.Kind != "VOLUNTARY_EXIT" || p.Client != "vc-1" || p.Digest != sg.SigningRoot ||
		fact(p, "validator_index") != "7" || fact(p, "epoch") != fmt.Sprint(fuluEpoch) || !strings.Contains(p.Reason, "needs operator approval") ||
		p.LeftMillis != 120_000 || p.Key != "0x"+hex.EncodeToString(req.Pubkey[:]) {
		t.Fatalf("pending approval: %+v", p)
	}
	if s.PendingApprovals() != 1 {
		t.Fatalf("PendingApprovals() = %d", s.PendingApprovals())
	}
	out, werr := decide(s, p.ID, wire.VerdictApprove, "", root)
	if werr != nil || out.Result != nil || out.Verdict != wire.VerdictApprove || out.Approval.ID != p.ID {
		t.Fatalf("approve: %+v, %v", out, werr)
	}
	r := <-res
	if r.Err != nil || !key.Verify(sg.SigningRoot[:], r.Signature) {
		t.Fatalf("approved exit: %+v", r)
	}
	if got := decisions(a, p.ID); !sameDecisions(got, audit.Approval, audit.Approved, audit.Signed) {
		t.Fatalf("audit decisions %v", got)
	}
	for _, ev := range a.snapshot() {
		if ev.Decision == audit.Approved && (ev.Operator != "uid 0 (root)" || ev.ValidatorIndex == nil || ev.Epoch == nil) {
			t.Fatalf("approved event %+v", ev)
		}
	}
	if s.PendingApprovals() != 0 {
		t.Fatal("still pending after the decision")
	}
}

// waitingExit is an approval service (policy: exits need approval) with one exit of its
// key waiting for an operator.
type waitingExit struct {
	s     *Service
	a     *memAudit
	clock *fakeClock
	res   <-chan *wire.SignResult
	p     wire.PendingApproval
}

func startWaitingExit(t *testing.T) waitingExit {
	t.Helper()
	s, key, a, clock := approvalService(t, "[eth.default]\nexit = \"approve\"\n", 16)
	n, _ := eth.BuiltinNetwork("mainnet")
	res := signAsync(s, &wire.EthSignRequest{Pubkey: key.PublicKey(), Req: exitRequest(t, n)})
	clock.waitArmed(t, 1)
	return waitingExit{s: s, a: a, clock: clock, res: res, p: onlyPending(t, s)}
}

// TestApproval_Denied_Inv4: a denial refuses the request with the operator's uid and
// reason; the trail says who denied it.
func TestApproval_Denied_Inv4(t *testing.T) {
	w := startWaitingExit(t)
	s, a, res, p := w.s, w.a, w.res, w.p
	out, werr := decide(s, p.ID, wire.VerdictDeny, "not today", alice)
	if werr != nil || out.Result == nil || out.Result.Kind != wire.KindPolicy {
		t.Fatalf("deny: %+v, %v", out, werr)
	}
	r := <-res
	if r.Err == nil || r.Err.Kind != wire.KindPolicy || r.Err.Msg != "denied by operator (uid 1001): not today" || r.Signature != ([96]byte{}) {
		t.Fatalf("denied exit: %+v", r)
	}
	if got := decisions(a, p.ID); !sameDecisions(got, audit.Approval, audit.Denied, audit.Refused) {
		t.Fatalf("audit decisions %v", got)
	}
	for _, ev := range a.snapshot() {
		if ev.Decision == audit.Denied && (ev.Operator != "uid 1001 (alice)" || ev.Reason != "not today") {
			t.Fatalf("denied event %+v", ev)
		}
	}
}

// TestApproval_Expired: nobody decides; after the timeout the request is refused.
func TestApproval_Expired(t *testing.T) {
	w := startWaitingExit(t)
	w.clock.advance(2 * time.Minute)
	r := <-w.res
	if r.Err == nil || r.Err.Kind != wire.KindPolicy || !strings.Contains(r.Err.Msg, "approval timed out after 2m") {
		t.Fatalf("expired: %+v", r)
	}
	if got := decisions(w.a, w.p.ID); !sameDecisions(got, audit.Approval, audit.Expired, audit.Refused) {
		t.Fatalf("audit decisions %v", got)
	}
}

// TestApproval_ReplayRefused_Inv4: an ID is decided once. Approving it twice, approving
// after a denial, after expiry, or after its deadline before its timer fired, are refused
// ("no pending request"), and only one signature is made.
func TestApproval_ReplayRefused_Inv4(t *testing.T) {
	s, key, a, clock := approvalService(t, "[eth.default]\nexit = \"approve\"\n", 16)
	n, _ := eth.BuiltinNetwork("mainnet")
	exit := func() *wire.EthSignRequest {
		return &wire.EthSignRequest{Pubkey: key.PublicKey(), Req: exitRequest(t, n)}
	}
	noPending := func(what string, id wire.ApprovalID, by peer) {
		t.Helper()
		for _, v := range []wire.ApprovalVerdict{wire.VerdictApprove, wire.VerdictDeny} {
			if out, werr := decide(s, id, v, "", by); werr == nil || !strings.Contains(werr.Msg, "no pending request "+id.String()) {
				t.Fatalf("%s, %s: %+v, %v", what, v, out, werr)
			}
		}
	}
	// Approved twice.
	res := signAsync(s, exit())
	clock.waitArmed(t, 1)
	p := onlyPending(t, s)
	if _, werr := decide(s, p.ID, wire.VerdictApprove, "", root); werr != nil {
		t.Fatal(werr)
	}
	if r := <-res; r.Err != nil {
		t.Fatalf("first approval: %v", r.Err)
	}
	noPending("approved again", p.ID, root)
	noPending("approved again by another approver", p.ID, alice)
	// After a denial.
	res = signAsync(s, exit())
	clock.waitArmed(t, 1)
	p = onlyPending(t, s)
	if _, werr := decide(s, p.ID, wire.VerdictDeny, "", root); werr != nil {
		t.Fatal(werr)
	}
	<-res
	noPending("approved after a denial", p.ID, root)
	// After expiry.
	res = signAsync(s, exit())
	clock.waitArmed(t, 1)
	p = onlyPending(t, s)
	clock.advance(3 * time.Minute)
	<-res
	noPending("approved after expiry", p.ID, root)
	// Past the deadline, its timer not fired yet: expired all the same.
	res = signAsync(s, exit())
	clock.waitArmed(t, 1)
	p = onlyPending(t, s)
	clock.mu.Lock()
	clock.now = clock.now.Add(2 * time.Minute)
	clock.mu.Unlock()
	if _, werr := decide(s, p.ID, wire.VerdictApprove, "", root); werr == nil || !strings.Contains(werr.Msg, "expired") {
		t.Fatalf("approved past the deadline: %v", werr)
	}
	if r := <-res; r.Err == nil || !strings.Contains(r.Err.Msg, "timed out") {
		t.Fatalf("past the deadline: %+v", r)
	}
	noPending("approved again past the deadline", p.ID, root)
	// A well-formed ID that never existed.
	noPending("never asked", wire.ApprovalID{1, 2, 3}, root)
	if n := signedCount(a, "VOLUNTARY_EXIT"); n != 1 {
		t.Fatalf("%d signatures made, want 1", n)
	}
}

// signedCount counts the signed events of one kind in the trail.
func signedCount(a *memAudit, kind string) int {
	n := 0
	for _, ev := range a.snapshot() {
		if ev.Decision == audit.Signed && ev.Kind == kind {
			n++
		}
	}
	return n
}

// TestApproval_PendingBound: at most Max requests wait; the next one that needs approval
// is refused at once, naming the bound, and requests that need none are still signed.
func TestApproval_PendingBound(t *testing.T) {
	s, key, a, clock := approvalService(t, "[eth.default]\nexit = \"approve\"\n", 2)
	n, _ := eth.BuiltinNetwork("mainnet")
	exit := &wire.EthSignRequest{Pubkey: key.PublicKey(), Req: exitRequest(t, n)}
	waiting := []<-chan *wire.SignResult{signAsync(s, exit), signAsync(s, exit)}
	clock.waitArmed(t, 2)
	r := s.SignEth(exit)
	if r.Err == nil || r.Err.Kind != wire.KindUnavailable || !strings.Contains(r.Err.Msg, "core.max_pending_approvals") {
		t.Fatalf("third exit: %+v", r)
	}
	if ev := a.last(t); ev.Decision != audit.Refused || ev.ApprovalID != "" {
		t.Fatalf("audit of the refused third: %+v", ev)
	}
	wantKind(t, s.SignEth(attestationReq(key.PublicKey(), 1, 2, 1)), wire.KindOK)
	if s.PendingApprovals() != 2 {
		t.Fatalf("PendingApprovals() = %d", s.PendingApprovals())
	}
	clock.advance(2 * time.Minute)
	for _, w := range waiting {
		if r := <-w; r.Err == nil {
			t.Fatal("an expired request was signed")
		}
	}
}

// TestApproval_PolicyReloaded_Inv4: the policy in force after the approval decides: a
// reload to "refuse" while the request waited wins over the approval; a reload to "allow"
// lets it be signed.
func TestApproval_PolicyReloaded_Inv4(t *testing.T) {
	for _, tc := range []struct {
		reload string
		want   wire.Kind
	}{{"refuse", wire.KindPolicy}, {"allow", wire.KindOK}, {"approve", wire.KindOK}} {
		t.Run(tc.reload, func(t *testing.T) {
			w := startWaitingExit(t)
			s, a, res, p := w.s, w.a, w.res, w.p
			pol, err := policy.Parse([]byte("[eth.default]\nexit = \"" + tc.reload + "\"\n"))
			if err != nil {
				t.Fatal(err)
			}
			if err := s.SetPolicy(pol); err != nil {
				t.Fatal(err)
			}
			out, werr := decide(s, p.ID, wire.VerdictApprove, "", root)
			if werr != nil {
				t.Fatal(werr)
			}
			r := <-res
			wantKind(t, r, tc.want)
			if tc.want != wire.KindOK && (!strings.Contains(r.Err.Msg, "not allowed by the key's policy") || out.Result == nil || out.Result.Msg != r.Err.Msg) {
				t.Fatalf("refused after approval: %+v; approver told %+v", r.Err, out.Result)
			}
			if ev := a.last(t); ev.ApprovalID != p.ID.String() || ev.Operator != "uid 0 (root)" {
				t.Fatalf("final audit event %+v", ev)
			}
		})
	}
}

// serveConn serves s on one end of a pipe and returns a wire client on the other; done
// receives Serve's result.
func serveConn(t *testing.T, s *Service, lim Limits) (*wire.Client, net.Conn, <-chan error) {
	t.Helper()
	gw, core := net.Pipe()
	done := make(chan error, 1)
	go func() {
		done <- s.Serve(core, lim, func() *wire.Status { return &wire.Status{Ready: true} }, discardLog())
	}()
	c := wire.NewClient(gw)
	t.Cleanup(func() { c.Close() })
	return c, gw, done
}

// TestServe_ApprovalsDoNotBlockSigning: with one signing worker, requests waiting for an
// operator leave it free: attestations are signed while they wait, and each waiting
// request is answered on the wire once decided.
func TestServe_ApprovalsDoNotBlockSigning(t *testing.T) {
	s, key, a, clock := approvalService(t, "[eth.default]\nexit = \"approve\"\n", 16)
	n, _ := eth.BuiltinNetwork("mainnet")
	c, _, _ := serveConn(t, s, Limits{MaxConcurrent: 1, QueueDepth: 2})
	const waiting = 5
	exits := make(chan *wire.SignResult, waiting)
	for range waiting {
		go func() {
			r, err := c.EthSign(t.Context(), &wire.EthSignRequest{Pubkey: key.PublicKey(), Req: exitRequest(t, n)})
			if err != nil {
				r = &wire.SignResult{Err: wire.Errorf(wire.KindUnavailable, "%v", err)}
			}
			exits <- r
		}()
		clock.waitArmed(t, 1) // one at a time: a burst would overflow the queue of 2
	}
	for i := range uint64(20) {
		r, err := c.EthSign(t.Context(), attestationReq(key.PublicKey(), i, i+1, 1))
		if err != nil {
			t.Fatal(err)
		}
		wantKind(t, r, wire.KindOK)
	}
	for i, p := range s.appr.list() {
		v := wire.VerdictApprove
		if i%2 == 1 {
			v = wire.VerdictDeny
		}
		if _, werr := decide(s, p.ID, v, "", root); werr != nil {
			t.Fatal(werr)
		}
	}
	for range waiting {
		<-exits
	}
	if n := signedCount(a, "VOLUNTARY_EXIT"); n != 3 {
		t.Fatalf("%d exits signed, want 3", n)
	}
}

// TestServe_ConnectionEndRefusesWaiting: when the gateway connection ends, its requests
// waiting for an operator are refused and taken out of the list, and Serve returns.
func TestServe_ConnectionEndRefusesWaiting(t *testing.T) {
	s, key, a, clock := approvalService(t, "[eth.default]\nexit = \"approve\"\n", 16)
	n, _ := eth.BuiltinNetwork("mainnet")
	c, gw, done := serveConn(t, s, Limits{MaxConcurrent: 1, QueueDepth: 2})
	go func() {
		_, _ = c.EthSign(context.Background(), &wire.EthSignRequest{Pubkey: key.PublicKey(), Req: exitRequest(t, n)})
	}()
	clock.waitArmed(t, 1)
	p := onlyPending(t, s)
	gw.Close()
	if err := <-done; err != nil {
		t.Fatalf("Serve: %v", err)
	}
	if s.PendingApprovals() != 0 {
		t.Fatal("a request of a closed connection is still pending")
	}
	if got := decisions(a, p.ID); !sameDecisions(got, audit.Approval, audit.Expired, audit.Refused) {
		t.Fatalf("audit decisions %v", got)
	}
	if _, werr := decide(s, p.ID, wire.VerdictApprove, "", root); werr == nil {
		t.Fatal("approved after its connection ended")
	}
}

// TestServe_AdminFrameFromGatewayDisconnects_Inv4: a gateway that sends an admin message
// (here an approval of a pending request, with its real ID) on its wire connection is
// disconnected; the request stays pending, and is signed only once an operator approves
// it on the admin channel.
func TestServe_AdminFrameFromGatewayDisconnects_Inv4(t *testing.T) {
	s, key, a, clock := approvalService(t, "[eth.default]\nexit = \"approve\"\n", 16)
	n, _ := eth.BuiltinNetwork("mainnet")
	honest, _, _ := serveConn(t, s, Limits{MaxConcurrent: 1, QueueDepth: 2})
	res := make(chan *wire.SignResult, 1)
	go func() {
		r, err := honest.EthSign(t.Context(), &wire.EthSignRequest{Pubkey: key.PublicKey(), Req: exitRequest(t, n)})
		if err != nil {
			r = &wire.SignResult{Err: wire.Errorf(wire.KindUnavailable, "%v", err)}
		}
		res <- r
	}()
	clock.waitArmed(t, 1)
	p := onlyPending(t, s)

	decision := wire.AppendApprovalDecision(nil, &wire.ApprovalDecision{ID: p.ID, Verdict: wire.VerdictApprove})
	for _, typ := range []wire.MsgType{wire.MsgApprovalDecide, wire.MsgApprovalList, wire.MsgApprovalDecided, 63} {
		_, rogue, done := serveConn(t, s, Limits{MaxConcurrent: 1, QueueDepth: 2})
		body := decision
		if typ == wire.MsgApprovalList {
			body = nil
		}
		if _, err := rogue.Write(wire.AppendFrame(nil, typ, 99, body)); err != nil {
			t.Fatal(err)
		}
		if err := <-done; !errors.Is(err, wire.ErrMalformed) {
			t.Fatalf("Serve after admin type %d from the gateway: %v, want ErrMalformed", typ, err)
		}
	}
	if got := onlyPending(t, s); got.ID != p.ID {
		t.Fatalf("pending %+v", got)
	}
	if got := decisions(a, p.ID); !sameDecisions(got, audit.Approval) {
		t.Fatalf("audit decisions after the rogue frame: %v", got)
	}
	if _, werr := decide(s, p.ID, wire.VerdictApprove, "", root); werr != nil {
		t.Fatal(werr)
	}
	if r := <-res; r.Err != nil {
		t.Fatalf("exit approved on the admin channel: %v", r.Err)
	}
}

// TestApproval_Tezos_Inv4: a Tezos transfer under an approve rule waits with its
// destination and amount shown; approved, it is charged to the daily limit and signed.
func TestApproval_Tezos_Inv4(t *testing.T) {
	s, tz1, tr := transferService(t)
	a := allowTransfers(t, s, tz1, tr, 2)
	clock := newFakeClock()
	if err := s.EnableApprovals(ApprovalOptions{Now: clock.Now, After: clock.After}); err != nil {
		t.Fatal(err)
	}
	dst := ""
	for _, op := range mustClassify(t, tr).Operations {
		if op.Kind == tezos.OpTransaction {
			dst = op.Destination.String()
		}
	}
	p, err := policy.Parse(fmt.Appendf(nil, "[tezos.keys.%q]\ntransaction = \"approve\"\ndestinations = [%q]\ndaily_limit_mutez = 1000000000\n", tz1.String(), dst))
	if err != nil {
		t.Fatal(err)
	}
	if err := s.SetPolicy(p); err != nil {
		t.Fatal(err)
	}
	res := make(chan *wire.TezosSignResult, 1)
	go func() {
		res <- s.SignTezos(&wire.TezosSignRequest{Client: "taquito", PKH: tz1, Version: wire.TezosVersionUnset, Payload: tr})
	}()
	clock.waitArmed(t, 1)
	pa := onlyPending(t, s)
	if pa.Chain != "tezos" || pa.Client != "taquito" || fact(pa, "destinations") != dst || fact(pa, "total_amount_mutez") == "" ||
		!strings.Contains(fact(pa, "operation_1")+fact(pa, "operation_2"), "to "+dst) {
		t.Fatalf("pending Tezos approval: %+v", pa)
	}
	if _, werr := decide(s, pa.ID, wire.VerdictApprove, "", root); werr != nil {
		t.Fatal(werr)
	}
	if r := <-res; r.Err != nil || len(r.Signature) == 0 {
		t.Fatalf("approved transfer: %+v", r)
	}
	if got := decisions(a, pa.ID); !sameDecisions(got, audit.Approval, audit.Approved, audit.Signed) {
		t.Fatalf("audit decisions %v", got)
	}
}
