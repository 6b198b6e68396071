package gateway

import (
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/keyward/keyward/internal/wire"
)

// deadlineCore remembers the deadline of the last signing call and reports pending
// approvals in its status.
type deadlineCore struct {
	fakeCore
	left time.Duration
}

func (d *deadlineCore) EthSign(ctx context.Context, r *wire.EthSignRequest) (*wire.SignResult, error) {
	dl, _ := ctx.Deadline()
	d.left = time.Until(dl)
	return d.fakeCore.EthSign(ctx, r)
}

func (d *deadlineCore) TezosSign(ctx context.Context, r *wire.TezosSignRequest) (*wire.TezosSignResult, error) {
	dl, _ := ctx.Deadline()
	d.left = time.Until(dl)
	return d.fakeCore.TezosSign(ctx, r)
}

func (d *deadlineCore) Status(context.Context) (*wire.Status, error) {
	return &wire.Status{Ready: true, PendingApprovals: 3}, nil
}

var exitBody = `{"type":"VOLUNTARY_EXIT",` + forkInfo + `,"voluntary_exit":{"epoch":"411392","validator_index":"7"}}`

// TestApprovalTimeouts: a request of a kind a policy may hold for an operator (an exit, a
// Tezos generic operation) may wait the approval timeout on top of the usual one; others
// (an attestation, a Tezos attestation) keep the usual limit.
func TestApprovalTimeouts(t *testing.T) {
	core := &deadlineCore{}
	c := &Clients{Clients: map[string]ClientEntry{}, Loopback: &LoopbackClient{Keys: []string{"*"}, Operations: []string{"*"}}}
	s, err := New(Options{Core: core, Log: slog.New(slog.DiscardHandler), MaxBodyBytes: 1 << 20, MaxInFlight: 8,
		Timeout: 10 * time.Second, ApprovalTimeout: 2 * time.Minute, Clients: c})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, path, body string
		h                http.Handler
		wait             bool
	}{
		{"exit", "/api/v1/eth2/sign/" + keyA, exitBody, s.Handler(), true},
		{"attestation", "/api/v1/eth2/sign/" + keyA, attestationBody, s.Handler(), false},
		{"tezos generic", "/keys/" + pkhA, `"03` + strings.Repeat("00", 40) + `"`, s.TezosHandler(), true},
		{"tezos attestation", "/keys/" + pkhA, `"13` + strings.Repeat("00", 40) + `"`, s.TezosHandler(), false},
	} {
		core.left = 0
		if w := do(tc.h, http.MethodPost, tc.path, tc.body, loopback, ""); w.Code != http.StatusOK {
			t.Fatalf("%s: %d %s", tc.name, w.Code, w.Body)
		}
		switch {
		case tc.wait && (core.left <= 2*time.Minute || core.left > 2*time.Minute+10*time.Second):
			t.Errorf("%s: %v left, want the approval timeout on top of 10 s", tc.name, core.left)
		case !tc.wait && (core.left <= 0 || core.left > 10*time.Second):
			t.Errorf("%s: %v left, want at most 10 s", tc.name, core.left)
		}
	}
}

// TestNoApprovalRoute_Inv4: the gateway has no way to approve: every approval-like path
// is 404 on both APIs, and the pending count is only reported (metric).
func TestNoApprovalRoute_Inv4(t *testing.T) {
	s, _, tokens := newAuthServer(t, true)
	for _, h := range []http.Handler{s.Handler(), s.TezosHandler()} {
		for _, p := range []string{"/approvals", "/approve/aaaaaaaaaaaaaaaaaaaaaaaaaa", "/api/v1/approvals/aaaaaaaaaaaaaaaaaaaaaaaaaa/approve", "/admin/approve"} {
			for _, m := range []string{http.MethodGet, http.MethodPost} {
				if w := do(h, m, p, `{"id":"aaaaaaaaaaaaaaaaaaaaaaaaaa"}`, loopback, tokens["all"]); w.Code != http.StatusNotFound {
					t.Errorf("%s %s: %d, want 404", m, p, w.Code)
				}
			}
		}
	}
	core := &deadlineCore{}
	s2, err := New(Options{Core: core, Log: slog.New(slog.DiscardHandler), MaxBodyBytes: 1 << 20, MaxInFlight: 8, Timeout: time.Second,
		Clients: &Clients{Clients: map[string]ClientEntry{}}})
	if err != nil {
		t.Fatal(err)
	}
	if w := do(s2.Handler(), http.MethodGet, "/metrics", "", loopback, ""); !strings.Contains(w.Body.String(), "keyward_pending_approvals 3") {
		t.Fatalf("metrics: no keyward_pending_approvals 3")
	}
}

// slowCore answers an exit only after wait, unless the call's context ends first.
type slowCore struct {
	fakeCore
	wait time.Duration
}

func (c *slowCore) EthSign(ctx context.Context, r *wire.EthSignRequest) (*wire.SignResult, error) {
	t := time.NewTimer(c.wait)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return nil, ctx.Err()
	case <-t.C:
		return &wire.SignResult{}, nil
	}
}

// TestApprovalOutlivesServerTimeouts: an exit the core holds longer than the server's read
// timeout is still answered: the read timeout covers reading the request only (net/http
// clears the deadline for its background read once the body is read), and the write
// deadline moves with the approval timeout (signContext).
func TestApprovalOutlivesServerTimeouts(t *testing.T) {
	core := &slowCore{wait: 400 * time.Millisecond}
	c := &Clients{Clients: map[string]ClientEntry{}, Loopback: &LoopbackClient{Keys: []string{"*"}, Operations: []string{"*"}}}
	s, err := New(Options{Core: core, Log: slog.New(slog.DiscardHandler), MaxBodyBytes: 1 << 20, MaxInFlight: 8,
		Timeout: 50 * time.Millisecond, ApprovalTimeout: time.Minute, Clients: c})
	if err != nil {
		t.Fatal(err)
	}
	// Both server timeouts pass well before the core answers.
	s.readTimeout, s.writeSlack = 50*time.Millisecond, 50*time.Millisecond
	resp, err := http.Post("http://"+listen(t, s.Serve)+"/api/v1/eth2/sign/"+keyA, "application/json", strings.NewReader(exitBody))
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("an exit held past the read timeout: %d %s", resp.StatusCode, b)
	}
}

// listen runs serve (Server.Serve or ServeTezos) on a loopback port until the test ends
// and returns the address.
func listen(t *testing.T, serve func(context.Context, net.Listener) error) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { _ = serve(ctx, ln); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	return ln.Addr().String()
}
