package protect

import (
	"errors"
	"path/filepath"
	"testing"
	"time"

	"github.com/keyward/keyward/internal/policy"
	"github.com/keyward/keyward/internal/tezos"
)

// TestCharge_SurvivesRestart: the Tezos daily limit is kept in protection.db.
func TestCharge_SurvivesRestart(t *testing.T) {
	path := filepath.Join(t.TempDir(), "protection.db")
	opts := Options{SlotsPerEpoch: 32}
	s, err := Open(path, opts)
	if err != nil {
		t.Fatal(err)
	}
	a := tezos.PublicKeyHash{Kind: tezos.KeyKindEd25519, Hash: [20]byte{1}}
	b := tezos.PublicKeyHash{Kind: tezos.KeyKindP256, Hash: [20]byte{1}}
	t0 := time.Date(2026, 11, 21, 12, 0, 0, 0, time.UTC)
	if _, err := s.Charge(a, t0, 600, 1000); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Charge(a, t0, 300, 1000); err != nil { // same instant: amounts add up
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s, err = Open(path, opts)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if spent, err := s.Charge(a, t0.Add(time.Hour), 101, 1000); !errors.Is(err, policy.ErrOverLimit) || spent != 900 {
		t.Fatalf("after restart: spent %d, %v", spent, err)
	}
	if _, err := s.Charge(b, t0.Add(time.Hour), 1000, 1000); err != nil {
		t.Fatalf("other key: %v", err)
	}
	if _, err := s.Charge(a, t0.Add(time.Hour), 100, 1000); err != nil {
		t.Fatalf("exactly the limit: %v", err)
	}
	if spent, err := s.Charge(a, t0.Add(policy.Window+time.Minute), 900, 1000); err != nil || spent != 100 {
		t.Fatalf("after the window: spent %d, %v", spent, err)
	}
}
