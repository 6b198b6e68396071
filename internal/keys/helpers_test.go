package keys

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/keyward/keyward/internal/secmem"
)

// testStore creates a master key and a store in a temp dir.
func testStore(tb testing.TB) (*Store, string, *MasterKey) {
	tb.Helper()
	dir := tb.TempDir()
	mkPath := filepath.Join(dir, "master.key")
	if err := CreateMasterKey(mkPath); err != nil {
		tb.Fatal(err)
	}
	mk, err := LoadMasterKey(mkPath)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(mk.Zero)
	path := filepath.Join(dir, "keys.db")
	s, err := OpenStore(path, mk, StoreOptions{Timeout: time.Second})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { s.Close() })
	return s, path, mk
}

// testArena maps an arena of n BLS slots; locking is not required in tests.
func testArena(tb testing.TB, n int) *secmem.Arena {
	tb.Helper()
	a, err := secmem.New(n, BLSSlotSize, false)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { a.Destroy() })
	return a
}

func genMeta() Meta {
	return Meta{Source: SourceGenerated, Created: time.Unix(1_700_000_000, 0)}
}
