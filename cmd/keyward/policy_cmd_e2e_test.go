package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/keyward/keyward/internal/audit"
	"github.com/keyward/keyward/internal/policy"
)

// TestPolicyCommands: keyward policy check validates a file offline; keyward policy reload
// has the running, confined core reload its policy.toml over the admin socket: a file that
// does not validate is refused with the reason (exit 1) and the policy in force stays; a
// valid one is in force for the next request; both reloads are in the audit trail.
func TestPolicyCommands(t *testing.T) {
	s := startSignerWith(t, 1, nil, nil)
	key := s.keys()[0]
	pol := filepath.Join(s.dir, policy.FileName)
	if out := run(t, "policy", "check", "--dir", s.dir); !strings.Contains(out, "ok: policy.toml sha256 ") {
		t.Fatalf("check of init's policy.toml: %q", out)
	}
	if code, _ := s.sign(key, exitBody(3)); code != 403 {
		t.Fatalf("exit under init's policy: %d", code)
	}

	bad := "[eth.default]\nexit = \"allow\"\nexits = true\n"
	if err := os.WriteFile(pol, []byte(bad), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, errOut, code := keyward(t, "policy", "check", "--file", pol); code != 1 || !strings.Contains(errOut, "exits") {
		t.Fatalf("check of a bad file: exit %d, %q", code, errOut)
	}
	if _, errOut, code := keyward(t, "policy", "reload", "--dir", s.dir); code != 1 || !strings.Contains(errOut, "exits") || !strings.Contains(errOut, "the policy in force stays") {
		t.Fatalf("reload of a bad file: exit %d, %q", code, errOut)
	}
	if code, _ := s.sign(key, exitBody(3)); code != 403 {
		t.Fatalf("exit after a refused reload: %d", code)
	}

	if err := os.WriteFile(pol, []byte("[eth.default]\nexit = \"allow\"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if out := run(t, "policy", "reload", "--dir", s.dir); !strings.Contains(out, "reloaded: policy.toml sha256 ") {
		t.Fatalf("reload: %q", out)
	}
	if code, m := s.sign(key, exitBody(3)); code != 200 {
		t.Fatalf("exit after the reload: %d %v", code, m)
	}
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		b, _ := os.ReadFile(filepath.Join(s.dir, audit.FileName)) // synced in batches
		if strings.Contains(string(b), `"decision":"policy_reload_failed"`) && strings.Contains(string(b), `"decision":"policy_reloaded"`) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the reloads are not in the audit trail:\n%s", b)
		}
	}
	if out := run(t, "audit", "verify", "--dir", s.dir); !strings.Contains(out, "ok: ") {
		t.Fatalf("audit verify: %s", out)
	}
}
