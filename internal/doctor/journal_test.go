package doctor

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/keyward/keyward/internal/protect"
)

// TestCheckProtectionJournal: a journal the protection store wrote passes; one that is
// not private, not a regular file or not a journal fails; none yet passes.
func TestCheckProtectionJournal(t *testing.T) {
	dir := t.TempDir()
	db := filepath.Join(dir, "protection.db")
	j := db + ".journal"
	if f := checkProtectionJournal(j); f.Status != Pass {
		t.Fatalf("no journal yet: %+v", f)
	}
	st, err := protect.Open(db, protect.Options{GenesisValidatorsRoot: [32]byte{1}})
	if err != nil {
		t.Fatal(err)
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	if f := checkProtectionJournal(j); f.Status != Pass {
		t.Fatalf("the store's own journal: %+v (is journalMagic still the protect package's?)", f)
	}
	os.Chmod(j, 0o644)
	if f := checkProtectionJournal(j); f.Status != Fail || !strings.Contains(f.Fix, "chmod 600") {
		t.Fatalf("journal 0644: %+v", f)
	}
	os.Chmod(j, 0o600)
	other := filepath.Join(dir, "other")
	os.WriteFile(other, []byte("not a journal at all, just some bytes"), 0o600)
	if f := checkProtectionJournal(other); f.Status != Fail {
		t.Fatalf("not a journal: %+v", f)
	}
	link := filepath.Join(dir, "link")
	os.Symlink(j, link)
	if f := checkProtectionJournal(link); f.Status != Fail {
		t.Fatalf("a symlink: %+v", f)
	}
}
