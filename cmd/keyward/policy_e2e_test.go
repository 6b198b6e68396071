package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/keyward/keyward/internal/audit"
	"github.com/keyward/keyward/internal/policy"
)

func exitBody(index uint64) string {
	return fmt.Sprintf(`{"type":"VOLUNTARY_EXIT","fork_info":{"fork":{"previous_version":"0x05000000","current_version":"0x06000000","epoch":"411392"},"genesis_validators_root":"%s"},`+
		`"voluntary_exit":{"epoch":"411392","validator_index":"%d"}}`, mainnetGVR, index)
}

func registrationBody(fee byte, pub string) string {
	return fmt.Sprintf(`{"type":"VALIDATOR_REGISTRATION","validator_registration":{"fee_recipient":"0x%02x%s","gas_limit":"36000000","timestamp":"1700000000","pubkey":"%s"}}`,
		fee, strings.Repeat("00", 19), pub)
}

// corePID returns the pid of the core, the child of keyward run (started by any of its
// threads).
func corePID(t *testing.T, s *signer) int {
	t.Helper()
	tasks, err := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/children", s.cmd.Process.Pid))
	if err != nil || len(tasks) == 0 {
		t.Skipf("cannot find the core process: %v", err)
	}
	var kids []string
	for _, p := range tasks {
		b, err := os.ReadFile(p)
		if err != nil {
			continue // the thread ended
		}
		kids = append(kids, strings.Fields(string(b))...)
	}
	if len(kids) != 1 {
		t.Fatalf("keyward run has children %q", kids)
	}
	c, err := strconv.Atoi(kids[0])
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// TestPolicyEndToEnd_Inv4: a state directory from init refuses exits (403); a registration
// to a foreign fee recipient is refused once policy.toml lists the fee recipients; SIGHUP
// to keyward run (passed on to the core) or to the core reloads policy.toml (a bad file keeps the old policy); every decision is in
// audit.jsonl, which verifies.
func TestPolicyEndToEnd_Inv4(t *testing.T) {
	s := startSigner(t, 1, nil)
	key := s.keys()[0]
	if code, m := s.sign(key, exitBody(7)); code != 403 || !strings.Contains(m["error"], "voluntary exit") {
		t.Fatalf("exit without policy: %d %v", code, m)
	}
	if code, m := s.sign(key, registrationBody(0xee, key)); code != 200 {
		t.Fatalf("registration without a fee-recipient list: %d %v", code, m)
	}
	core := corePID(t, s)
	write := func(pid int, body string) {
		if err := os.WriteFile(filepath.Join(s.dir, policy.FileName), []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := syscall.Kill(pid, syscall.SIGHUP); err != nil {
			t.Fatal(err)
		}
	}
	// SIGHUP to keyward run is passed on to its core.
	write(s.cmd.Process.Pid, fmt.Sprintf("[eth.default]\nexit = \"allow\"\nfee_recipients = [\"0xfa%s\"]\n", strings.Repeat("00", 19)))
	deadline := time.Now().Add(10 * time.Second)
	for {
		code, _ := s.sign(key, exitBody(7))
		if code == 200 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("exit still %d after the reload", code)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if code, m := s.sign(key, registrationBody(0xee, key)); code != 403 || !strings.Contains(m["error"], "fee recipient") {
		t.Fatalf("registration to a foreign fee recipient: %d %v", code, m)
	}
	if code, m := s.sign(key, registrationBody(0xfa, key)); code != 200 {
		t.Fatalf("registration to the listed fee recipient: %d %v", code, m)
	}
	write(core, "[eth.default]\nexit = \"sometimes\"\n") // refused: the old policy stays
	time.Sleep(200 * time.Millisecond)
	if code, m := s.sign(key, exitBody(8)); code != 200 {
		t.Fatalf("exit after a bad reload: %d %v", code, m)
	}

	time.Sleep(2 * audit.DefaultFlushInterval) // the trail syncs in batches
	b, err := os.ReadFile(filepath.Join(s.dir, audit.FileName))
	if err != nil {
		t.Fatal(err)
	}
	trail := string(b)
	for _, want := range []string{`"decision":"refused","reason":"refused by policy: voluntary exit`, `"fee_recipient":"0xee`, `"decision":"signed"`} {
		if !strings.Contains(trail, want) {
			t.Errorf("audit trail has no %s:\n%s", want, trail)
		}
	}
	if out := run(t, "audit", "verify", "--dir", s.dir); !strings.Contains(out, "ok: ") {
		t.Fatalf("audit verify: %s", out)
	}
}
