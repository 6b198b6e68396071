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
	if code != 0 || !strings.Contains(out, "ok: records 1 to 3 in 1 file(s)") {
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

// TestAuditVerifyRotated: a rotated trail verifies across its files; with the oldest
// files archived it still verifies and says where it starts; a file missing in the
// middle is found.
func TestAuditVerifyRotated(t *testing.T) {
	dir := t.TempDir()
	tr, err := audit.Open(filepath.Join(dir, audit.FileName), audit.Options{MaxFileSize: 1000})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 30 {
		if err := tr.Append(audit.Event{Decision: audit.Signed, Chain: "eth", Key: "0xaa", Kind: "ATTESTATION", Reason: strings.Repeat("r", i)}); err != nil {
			t.Fatal(err)
		}
		if err := tr.Sync(); err != nil {
			t.Fatal(err)
		}
	}
	if err := tr.Close(); err != nil {
		t.Fatal(err)
	}
	names, _, err := audit.RotatedFiles(dir)
	if err != nil || len(names) < 3 {
		t.Fatalf("%d rotated files, %v", len(names), err)
	}
	if out, errOut, code := keyward(t, "audit", "verify", "--dir", dir); code != 0 || !strings.Contains(out, "ok: records 1 to 30 in ") {
		t.Fatalf("rotated: exit %d\n%s%s", code, out, errOut)
	}
	if out, errOut, code := keyward(t, "audit", "verify", "--file", names[1]); code != 0 || !strings.Contains(out, "starts at record") {
		t.Fatalf("one rotated file: exit %d\n%s%s", code, out, errOut)
	}
	os.Remove(names[0]) // archived
	if out, errOut, code := keyward(t, "audit", "verify", "--dir", dir); code != 0 || !strings.Contains(out, "starts at record") {
		t.Fatalf("oldest archived: exit %d\n%s%s", code, out, errOut)
	}
	os.Remove(names[2]) // a gap
	if out, errOut, code := keyward(t, "audit", "verify", "--dir", dir); code != 1 || !strings.Contains(errOut, "want") {
		t.Fatalf("a file missing in the middle: exit %d\n%s%s", code, out, errOut)
	}
}
