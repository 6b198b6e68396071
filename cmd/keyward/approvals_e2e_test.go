package main

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/keyward/keyward/internal/audit"
	"github.com/keyward/keyward/internal/policy"
)

// keywardAs runs a subcommand under another user and returns its stderr and exit status.
func keywardAs(t *testing.T, cred *syscall.Credential, args ...string) (string, int) {
	t.Helper()
	// A copy other users can run: the test binary's directory is private.
	dir, err := os.MkdirTemp("", "keyward-as-")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(dir)
	b, err := os.ReadFile(binary)
	if err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(dir, "keyward")
	if err := os.WriteFile(bin, b, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, args...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
	err = cmd.Run()
	if ee, ok := err.(*exec.ExitError); ok {
		return stderr.String(), ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return stderr.String(), 0
}

// pendingOf waits until `keyward approvals list --json` shows n requests and returns them.
func pendingOf(t *testing.T, dir string, n int) []pendingJSON {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		var ps []pendingJSON
		if err := json.Unmarshal([]byte(run(t, "approvals", "list", "--dir", dir, "--json")), &ps); err != nil {
			t.Fatal(err)
		}
		if len(ps) == n {
			return ps
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d pending approvals, want %d: %+v", len(ps), n, ps)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

type signAnswer struct {
	code int
	m    map[string]string
}

func (s *signer) signAsync(key, body string) <-chan signAnswer {
	ch := make(chan signAnswer, 1)
	go func() {
		code, m := s.sign(key, body)
		ch <- signAnswer{code, m}
	}()
	return ch
}

// TestApprovalsEndToEnd_Inv4 drives a real keyward run with exits under an approve rule:
// an exit waits and is listed with its facts; `keyward approve` signs it (the signature
// verifies) and a second approval of the ID is refused; `keyward deny` answers 403 with
// the reason; the gateway has no route to approve (404) and the request stays pending;
// a user who is not root cannot even reach the socket; the audit trail verifies and
// holds every step.
func TestApprovalsEndToEnd_Inv4(t *testing.T) {
	s := startSignerWith(t, 1, func(dir string) []string {
		if err := os.WriteFile(filepath.Join(dir, policy.FileName), []byte("[eth.default]\nexit = \"approve\"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		return nil
	}, nil)
	key := s.keys()[0]
	if fi, err := os.Lstat(filepath.Join(s.dir, "admin.sock")); err != nil || fi.Mode().Type() != os.ModeSocket || fi.Mode().Perm() != 0o600 {
		t.Fatalf("admin socket: %v", err)
	}
	if out := run(t, "approvals", "list", "--dir", s.dir); !strings.Contains(out, "no request awaits approval") {
		t.Fatalf("approvals list, none waiting: %q", out)
	}

	// Approved: signed, and the signature verifies.
	res := s.signAsync(key, exitBody(7))
	p := pendingOf(t, s.dir, 1)[0]
	root := expectedRoot(t, exitBody(7))
	if p.Kind != "VOLUNTARY_EXIT" || p.Chain != "eth" || p.Key != key || p.DigestName != "signing_root" || p.Digest != "0x"+hex.EncodeToString(root[:]) ||
		p.LeftSeconds <= 0 || len(p.Facts) < 2 || p.Facts[0] != (factJSON{"validator_index", "7"}) || p.Facts[1] != (factJSON{"epoch", "411392"}) {
		t.Fatalf("pending exit: %+v", p)
	}
	if out := run(t, "approvals", "list", "--dir", s.dir); !strings.Contains(out, p.ID) || !strings.Contains(out, "validator_index") || !strings.Contains(out, "needs operator approval") {
		t.Fatalf("approvals list: %q", out)
	}
	if m := s.metrics(); !strings.Contains(m, "keyward_pending_approvals 1") {
		t.Fatalf("metrics while an exit waits: no keyward_pending_approvals 1")
	}
	out := run(t, "approve", "--dir", s.dir, p.ID)
	if !strings.Contains(out, "approved "+p.ID+": eth VOLUNTARY_EXIT for "+key+" (validator_index 7, epoch 411392)") || !strings.Contains(out, "signed") {
		t.Fatalf("approve: %q", out)
	}
	a := <-res
	if a.code != 200 {
		t.Fatalf("approved exit: %d %v", a.code, a.m)
	}
	verify(t, key, a.m["signature"], root)
	if _, stderr, code := keyward(t, "approve", p.ID, "--dir", s.dir); code != 1 || !strings.Contains(stderr, "no pending request "+p.ID) {
		t.Fatalf("approved twice: %q", stderr)
	}

	// Through the gateway: no route; the request stays pending. Then denied: 403.
	res = s.signAsync(key, exitBody(8))
	p = pendingOf(t, s.dir, 1)[0]
	for _, path := range []string{"/approvals/" + p.ID, "/api/v1/approvals/" + p.ID + "/approve", "/approve/" + p.ID} {
		resp, err := http.Post(s.url+path, "application/json", strings.NewReader(`{"id":"`+p.ID+`"}`))
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusNotFound {
			t.Fatalf("POST %s: %d, want 404", path, resp.StatusCode)
		}
	}
	if q := pendingOf(t, s.dir, 1)[0]; q.ID != p.ID {
		t.Fatalf("pending after the gateway attempts: %+v", q)
	}
	if os.Geteuid() == 0 { // another user cannot reach the socket (0600 in a 0700 directory)
		stderr, code := keywardAs(t, &syscall.Credential{Uid: 65534, Gid: 65534, NoSetGroups: true}, "approve", "--socket", filepath.Join(s.dir, "admin.sock"), p.ID)
		if code != 1 || !strings.Contains(stderr, "permission denied on ") {
			t.Fatalf("approve as uid 65534: %q", stderr)
		}
	}
	if out := run(t, "deny", "--dir", s.dir, "--reason", "no exit planned", p.ID); !strings.Contains(out, "denied "+p.ID) {
		t.Fatalf("deny: %q", out)
	}
	if a := <-res; a.code != 403 || a.m["error"] != "denied by operator (uid 0): no exit planned" {
		t.Fatalf("denied exit: %d %v", a.code, a.m)
	}
	if _, stderr, code := keyward(t, "approve", "--dir", s.dir, p.ID); code != 1 || !strings.Contains(stderr, "no pending request") {
		t.Fatalf("approved after a denial: %q", stderr)
	}

	time.Sleep(2 * audit.DefaultFlushInterval) // the trail syncs in batches
	b, err := os.ReadFile(filepath.Join(s.dir, audit.FileName))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`"decision":"approval"`, `"decision":"approved"`, `"operator":"uid 0 (root)"`, `"decision":"denied"`, `"approval_id":"` + p.ID + `"`} {
		if !strings.Contains(string(b), want) {
			t.Errorf("audit trail has no %s", want)
		}
	}
	if out := run(t, "audit", "verify", "--dir", s.dir); !strings.Contains(out, "ok: ") {
		t.Fatalf("audit verify: %s", out)
	}
}

func (s *signer) metrics() string {
	resp, err := http.Get(s.url + "/metrics")
	if err != nil {
		s.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}
