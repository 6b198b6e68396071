package protect

import (
	"bytes"
	"path/filepath"
	"testing"

	"github.com/keyward/keyward/internal/tezos"
)

// noteSign is tzSign with the signature noted without waiting for its commit.
func noteSign(t *testing.T, s *Store, wk tezos.WatermarkKey, hash [32]byte, sig []byte) {
	t.Helper()
	g, err := s.LockTezos(tzKeyA)
	if err != nil {
		t.Fatal(err)
	}
	defer g.Unlock()
	if v, _, err := g.Check(wk, hash); v != tezos.VerdictSign {
		t.Fatalf("verdict %v, %v", v, err)
	}
	if err := g.Record(wk, hash); err != nil {
		t.Fatal(err)
	}
	if err := g.NoteSignature(wk, hash, sig); err != nil {
		t.Fatal(err)
	}
}

func stored(t *testing.T, s *Store, wk tezos.WatermarkKey) *tezos.Mark {
	t.Helper()
	for _, m := range s.TezosMarks() {
		if m.Key == tzKeyA && m.ChainID == wk.ChainID && m.Class == wk.Class {
			return &m.Mark
		}
	}
	return nil
}

// A noted signature is reissued at once, reaches the disk with the store's next commit
// (at the latest on Close), and a note for a mark that is not the one just recorded is refused (Inv 5).
func TestTezosNoteSignature_Inv5(t *testing.T) {
	path := filepath.Join(t.TempDir(), "p.db")
	s := openT(t, path)
	wk := tezos.WatermarkKey{ChainID: tzChain, Class: tezos.ClassAttestation, Level: 10}
	hash, sig := [32]byte{1}, bytes.Repeat([]byte{7}, 64)
	noteSign(t, s, wk, hash, sig)
	g, err := s.LockTezos(tzKeyA)
	if err != nil {
		t.Fatal(err)
	}
	if v, got, _ := g.Check(wk, hash); v != tezos.VerdictReissue || !bytes.Equal(got, sig) {
		t.Fatalf("verdict %v, signature %x: want the noted signature reissued", v, got)
	}
	g.Unlock()
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = openT(t, path)
	if m := stored(t, s, wk); m == nil || m.Level != 10 || !bytes.Equal(m.Signature, sig) {
		t.Fatalf("after reopen: %+v, want level 10 with the signature", m)
	}

	// A newer mark recorded before a stale signature write lands: the write is dropped.
	wk2 := wk
	wk2.Level = 11
	noteSign(t, s, wk2, [32]byte{2}, bytes.Repeat([]byte{8}, 64))
	g, err = s.LockTezos(tzKeyA)
	if err != nil {
		t.Fatal(err)
	}
	wk3 := wk
	wk3.Level = 12
	if err := g.Record(wk3, [32]byte{3}); err != nil {
		t.Fatal(err)
	}
	// The mark at level 11 is superseded: a note for it must not bring it back.
	if err := g.NoteSignature(wk2, [32]byte{2}, bytes.Repeat([]byte{9}, 64)); err == nil {
		t.Fatal("note for a superseded mark accepted")
	}
	g.Unlock()
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = openT(t, path)
	defer s.Close()
	if m := stored(t, s, wk); m == nil || m.Level != 12 || len(m.Signature) != 0 {
		t.Fatalf("after reopen: %+v, want the unsigned mark at level 12", m)
	}
}
