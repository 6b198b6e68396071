package audit

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// oldLine is a record written before the approval fields and decisions existed (its hash
// computed independently of this package): it must verify unchanged, so fields a record
// leaves out hash as they always did.
const oldLine = `{"seq":1,"event":{"time":"2026-01-02T03:04:05Z","decision":"refused","reason":"refused by policy: voluntary exit of validator 7 at epoch 411392: not allowed by the key's policy","client":"vc-1","chain":"eth","key":"0xab","kind":"VOLUNTARY_EXIT","validator_index":7},"prev":"0000000000000000000000000000000000000000000000000000000000000000","hash":"1e2cf2ff5fe468442bdff1c4ff8b1b153e2a0f2f21d0362b14a7944bce18d8ce"}`

// TestApprovalEvents_BackwardCompatible: an old record verifies; the approval decisions
// and fields chain after it, verify, and stay out of records that do not set them.
func TestApprovalEvents_BackwardCompatible(t *testing.T) {
	s, err := Verify(strings.NewReader(oldLine + "\n"))
	if err != nil || s.Records != 1 {
		t.Fatalf("a record of the previous format: %+v, %v", s, err)
	}
	path := filepath.Join(t.TempDir(), FileName)
	if err := os.WriteFile(path, []byte(oldLine+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	tr, err := Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	epoch, idx := uint64(411392), uint64(7)
	base := Event{Time: time.Unix(1e9, 0), Chain: "eth", Key: "0xab", Kind: "VOLUNTARY_EXIT", ValidatorIndex: &idx, Epoch: &epoch, ApprovalID: "aaaaaaaaaaaaaaaaaaaaaaaaaa"}
	for _, d := range []struct {
		dec      Decision
		operator string
	}{{Approval, ""}, {Approved, "uid 0 (root)"}, {Signed, ""}, {Denied, "uid 1001 (alice)"}, {Expired, ""}, {AdminRefused, "uid 65534"}} {
		ev := base
		ev.Decision, ev.Operator = d.dec, d.operator
		if err := tr.Append(ev); err != nil {
			t.Fatal(err)
		}
	}
	if err := tr.Append(Event{Decision: Signed, Chain: "eth", Key: "0xab", Kind: "BLOCK_V2"}); err != nil {
		t.Fatal(err)
	}
	if err := tr.Close(); err != nil {
		t.Fatal(err)
	}
	s, err = VerifyFile(path)
	if err != nil || s.Records != 8 {
		t.Fatalf("verify: %+v, %v", s, err)
	}
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	b := string(raw)
	lines := strings.Split(strings.TrimSpace(b), "\n")
	if lines[0] != oldLine {
		t.Fatalf("the old line changed: %s", lines[0])
	}
	for _, want := range []string{`"decision":"approved"`, `"operator":"uid 0 (root)"`, `"approval_id":"aaaaaaaaaaaaaaaaaaaaaaaaaa"`, `"epoch":411392`, `"decision":"admin_refused"`} {
		if !strings.Contains(b, want) {
			t.Errorf("trail has no %s", want)
		}
	}
	if last := lines[len(lines)-1]; strings.Contains(last, "approval_id") || strings.Contains(last, "operator") || strings.Contains(last, "epoch") {
		t.Errorf("unset approval fields written: %s", last)
	}
}
