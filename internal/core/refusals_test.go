package core

import (
	"context"
	"net"
	"sync/atomic"
	"testing"
	"time"

	"github.com/keyward/keyward/internal/audit"
	"github.com/keyward/keyward/internal/policy"
	"github.com/keyward/keyward/internal/wire"
)

// refusalService serves a core with an in-memory audit trail and a clock the test moves.
func refusalService(t *testing.T) (*wire.Client, chan error, *memAudit, *atomic.Int64) {
	t.Helper()
	s := newService(t, asBLS(realKeys(t, 1)))
	a := &memAudit{}
	var clock atomic.Int64
	clock.Store(1e9)
	now := func() time.Time { return time.Unix(clock.Load(), 0) }
	if err := s.EnablePolicy(PolicyOptions{Policy: policy.Default(), Audit: a, Now: now}); err != nil {
		t.Fatal(err)
	}
	c, done := serve(t, s, Limits{MaxConcurrent: 1, QueueDepth: 1})
	return c, done, a, &clock
}

// sync waits until the core has read every frame sent before (frames are read in order).
func syncCore(t *testing.T, c *wire.Client) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := c.Status(ctx); err != nil {
		t.Fatal(err)
	}
}

// TestGatewayRefusalsAudited: a refusal the gateway decided (401, 403 out of scope) is
// recorded in the core's trail, marked as the gateway's, with what the gateway knew.
func TestGatewayRefusalsAudited(t *testing.T) {
	c, _, a, _ := refusalService(t)
	reports := []wire.GatewayRefusal{
		{Status: 401, Remote: "198.51.100.7:4000", API: "eth2", Key: "0xab", Reason: "authentication required"},
		{Status: 403, Client: "vc-1", Remote: "127.0.0.1:1", API: "tezos", Key: "tz1x", Op: "tezos:block", Reason: "client vc-1 may not ask for tezos:block"},
	}
	for i := range reports {
		if err := c.ReportRefusal(&reports[i]); err != nil {
			t.Fatal(err)
		}
	}
	syncCore(t, c)
	if len(a.events) != 2 {
		t.Fatalf("%d events, want 2", len(a.events))
	}
	want := []audit.Event{
		{Decision: audit.Refused, Reason: "401: authentication required", Chain: "eth", Key: "0xab", Origin: "gateway", Remote: "198.51.100.7:4000"},
		{Decision: audit.Refused, Reason: "403: client vc-1 may not ask for tezos:block", Client: "vc-1", Chain: "tezos", Key: "tz1x", Kind: "tezos:block", Origin: "gateway", Remote: "127.0.0.1:1"},
	}
	for i, ev := range a.events {
		ev.Time = time.Time{}
		if ev.Decision != want[i].Decision || ev.Reason != want[i].Reason || ev.Client != want[i].Client || ev.Chain != want[i].Chain ||
			ev.Key != want[i].Key || ev.Kind != want[i].Kind || ev.Origin != want[i].Origin || ev.Remote != want[i].Remote || ev.Suppressed != nil {
			t.Errorf("event %d: %+v, want %+v", i, ev, want[i])
		}
	}
}

// TestGatewayRefusalFlood: a flood of refusal reports (the network hammering the port
// without credentials, or a gateway inventing them) is recorded at a bounded rate, and
// the next recorded event counts every one left out, the gateway's own count included.
func TestGatewayRefusalFlood(t *testing.T) {
	c, _, a, clock := refusalService(t)
	const flood = 1000
	r := &wire.GatewayRefusal{Status: 401, Remote: "203.0.113.9:1", API: "eth2", Reason: "authentication required"}
	for range flood {
		if err := c.ReportRefusal(r); err != nil {
			t.Fatal(err)
		}
	}
	syncCore(t, c)
	if len(a.events) != refusalBurst {
		t.Fatalf("%d events recorded from a flood of %d at one instant, want the burst %d", len(a.events), flood, refusalBurst)
	}
	clock.Add(1) // one second later: room again; the gateway says it dropped 5 itself
	if err := c.ReportRefusal(&wire.GatewayRefusal{Status: 401, Suppressed: 5, API: "eth2", Reason: "authentication required"}); err != nil {
		t.Fatal(err)
	}
	syncCore(t, c)
	last := a.last(t)
	if last.Suppressed == nil || *last.Suppressed != flood-refusalBurst+5 {
		t.Fatalf("suppressed %v, want %d", last.Suppressed, flood-refusalBurst+5)
	}
}

// TestGatewayRefusalMalformed_Inv7: a refusal report that does not decode breaks the
// protocol: the gateway is disconnected, nothing is recorded.
func TestGatewayRefusalMalformed_Inv7(t *testing.T) {
	s := newService(t, asBLS(realKeys(t, 1)))
	a := &memAudit{}
	if err := s.EnablePolicy(PolicyOptions{Policy: policy.Default(), Audit: a}); err != nil {
		t.Fatal(err)
	}
	p, q := net.Pipe()
	done := make(chan error, 1)
	go func() {
		done <- s.Serve(q, Limits{MaxConcurrent: 1, QueueDepth: 1}, func() *wire.Status { return &wire.Status{} }, discardLog())
	}()
	bad := wire.AppendGatewayRefusal(nil, &wire.GatewayRefusal{Status: 200})
	go p.Write(wire.AppendFrame(nil, wire.MsgGatewayRefusal, 0, bad))
	select {
	case err := <-done:
		if err == nil {
			t.Fatal("Serve accepted a malformed refusal report")
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Serve did not end on a malformed refusal report")
	}
	p.Close()
	if len(a.events) != 0 {
		t.Fatalf("recorded %+v", a.events)
	}
}
