package protect

import (
	"os"
	"path/filepath"
	"testing"
)

// FuzzImportInterchange: the interchange parser runs in the core for Keymanager imports
// (Inv 7). Whatever the input, it must not panic, and an import it refuses must leave the
// store unchanged (all or nothing).
func FuzzImportInterchange(f *testing.F) {
	files, _ := filepath.Glob("testdata/eip3076/*.json")
	for _, name := range files[:min(len(files), 8)] {
		if b, err := os.ReadFile(name); err == nil {
			f.Add(b)
		}
	}
	f.Add([]byte(`{"metadata":{"interchange_format_version":"5","genesis_validators_root":"0x0100000000000000000000000000000000000000000000000000000000000000"},"data":[]}`))
	dir := f.TempDir()
	s, err := Open(filepath.Join(dir, "p.db"), Options{GenesisValidatorsRoot: [32]byte{1}})
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { s.Close() })
	f.Fuzz(func(t *testing.T, b []byte) {
		before := s.Stats()
		if _, err := s.ImportInterchange(b); err != nil && s.Stats() != before {
			t.Fatalf("a refused import changed the store: %+v → %+v", before, s.Stats())
		}
	})
}
