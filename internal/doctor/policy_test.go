package doctor

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/keyward/keyward/internal/audit"
	"github.com/keyward/keyward/internal/gateway"
	"github.com/keyward/keyward/internal/policy"
)

// TestPolicyFiles: a bad policy.toml, a clients.toml readable by others and an edited
// audit trail each fail; valid ones pass.
func TestPolicyFiles(t *testing.T) {
	dir := t.TempDir()
	status := func(check string) Status {
		for _, f := range checkPolicyFiles(dir) {
			if f.Check == check {
				return f.Status
			}
		}
		t.Fatalf("no %s finding", check)
		return ""
	}
	if status("policy") != Pass || status("clients") != Pass || status("audit trail") != Pass {
		t.Fatalf("empty dir: %+v", checkPolicyFiles(dir))
	}
	writeFile(t, filepath.Join(dir, policy.FileName), "[eth.default]\nexit = \"maybe\"\n", 0o600)
	if status("policy") != Fail {
		t.Fatal("bad policy.toml passed")
	}
	writeFile(t, filepath.Join(dir, policy.FileName), "[eth.default]\nexit = \"approve\"\n", 0o600)
	if status("policy") != Pass {
		t.Fatal("good policy.toml failed")
	}
	writeFile(t, filepath.Join(dir, gateway.ClientsFile), "[loopback]\nkeys = [\"*\"]\noperations = [\"*\"]\n", 0o644)
	if status("clients") != Fail {
		t.Fatal("clients.toml readable by others passed")
	}
	writeFile(t, filepath.Join(dir, gateway.ClientsFile), "[clients]\n", 0o600)
	if status("clients") != Warn {
		t.Fatal("no client at all did not warn")
	}
	p := filepath.Join(dir, audit.FileName)
	tr, err := audit.Open(p, audit.Options{})
	if err != nil {
		t.Fatal(err)
	}
	for range 3 {
		if err := tr.Append(audit.Event{Decision: audit.Refused, Chain: "eth", Key: "0xaa", Kind: "DEPOSIT"}); err != nil {
			t.Fatal(err)
		}
	}
	if err := tr.Close(); err != nil {
		t.Fatal(err)
	}
	if status("audit trail") != Pass {
		t.Fatal("intact trail failed")
	}
	b, _ := os.ReadFile(p)
	writeFile(t, p, strings.Replace(string(b), "refused", "signed", 1), 0o600)
	if status("audit trail") != Fail {
		t.Fatal("edited trail passed")
	}
}
