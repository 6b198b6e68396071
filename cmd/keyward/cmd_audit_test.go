package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/keyward/keyward/internal/audit"
)

// TestAuditVerify: keyward audit verify accepts an intact trail and names the line of an
// edited one.
func TestAuditVerify(t *testing.T) {
	dir := t.TempDir()
	tr, err := audit.Open(filepath.Join(dir, audit.FileName), audit.Options{})
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range []audit.Decision{audit.Signed, audit.Refused, audit.Signed} {
		if err := tr.Append(audit.Event{Decision: d, Chain: "eth", Key: "0xaa", Kind: "VOLUNTARY_EXIT", Reason: "r"}); err != nil {
			t.Fatal(err)
		}
	}
	if err := tr.Close(); err != nil {
		t.Fatal(err)
	}
	out, errOut, code := keyward(t, "audit", "verify", "--dir", dir)
	if code != 0 || !strings.Contains(out, "ok: 3 records") {
		t.Fatalf("intact: exit %d\n%s%s", code, out, errOut)
	}
	path := filepath.Join(dir, audit.FileName)
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(strings.Replace(string(b), `"refused"`, `"signed"`, 1)), 0o600); err != nil {
		t.Fatal(err)
	}
	out, errOut, code = keyward(t, "audit", "verify", "--file", path)
	if code != 1 || !strings.Contains(errOut, "line 2") {
		t.Fatalf("edited: exit %d\n%s%s", code, out, errOut)
	}
	if _, _, code := keyward(t, "audit", "verify"); code != 1 {
		t.Fatalf("no --dir: exit %d", code)
	}
}
