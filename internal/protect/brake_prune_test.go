package protect

import (
	"math/rand/v2"
	"path/filepath"
	"testing"
	"time"
)

// TestBrake: the emergency brake refuses blocks at or above its slot and votes with a
// source or target at or above its epoch, repeats included, durably until lifted.
func TestBrake(t *testing.T) {
	path := filepath.Join(t.TempDir(), "p.db")
	s := openT(t, path)
	if _, ok := s.Brake(); ok {
		t.Fatal("fresh store has a brake")
	}
	for _, st := range []step{blk(400, 1, ""), att(11, 12, 1, "")} {
		if err := do(s, pubA, st); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.SetBrake(10); err != nil {
		t.Fatal(err)
	}
	if e, ok := s.Brake(); !ok || e != 10 {
		t.Fatalf("Brake() = %d, %v", e, ok)
	}
	rows := []step{
		blk(320, 1, RuleEmergencyBrake), blk(400, 1, RuleEmergencyBrake), blk(319, 1, ""),
		att(11, 12, 1, RuleEmergencyBrake), att(9, 10, 1, RuleEmergencyBrake), att(10, 10, 1, RuleEmergencyBrake),
	}
	for i, st := range rows {
		expectStep(t, i, do(s, pubB, st), st.wantRefused)
	}
	s.Close()
	s = openT(t, path) // durable
	defer s.Close()
	if e, ok := s.Brake(); !ok || e != 10 {
		t.Fatalf("after reopen Brake() = %d, %v", e, ok)
	}
	expectStep(t, 0, do(s, pubA, blk(400, 1, "")), RuleEmergencyBrake)
	if err := s.ClearBrake(); err != nil {
		t.Fatal(err)
	}
	expectStep(t, 1, do(s, pubA, blk(400, 1, "")), "")
	expectStep(t, 2, do(s, pubB, att(9, 10, 1, "")), "")
	if err := s.SetBrake(1 << 62); err != nil { // slot beyond uint64: blocks unaffected
		t.Fatal(err)
	}
	expectStep(t, 3, do(s, pubA, blk(401, 1, "")), "")
}

// TestPrune_Inv5: after pruning (any keep, any history) everything refused before is
// still refused, also after a restart, and normal signing goes on.
func TestPrune_Inv5(t *testing.T) {
	for seed := uint64(0); seed < 40; seed++ {
		rng := rand.New(rand.NewPCG(seed, 3))
		path := filepath.Join(t.TempDir(), "p.db")
		s := openT(t, path)
		randomOps(t, s, rng, pubA, 5+rng.IntN(20))
		if rng.IntN(2) == 0 {
			if _, err := s.ImportInterchange(randomInterchange(rng, gvrA, pubA)); err != nil {
				t.Fatal(err)
			}
		}
		before := refusals(t, s, pubA)
		if _, err := s.Prune(1 + rng.Uint64N(5)); err != nil {
			t.Fatal(err)
		}
		requireSuperset(t, before, refusals(t, s, pubA), "prune")
		s.Close()
		s = openT(t, path)
		requireSuperset(t, before, refusals(t, s, pubA), "prune, reopened")
		s.Close()
	}
	// A long monotonic history: pruning keeps the newest epochs and signing goes on.
	s := openT(t, filepath.Join(t.TempDir(), "p.db"))
	defer s.Close()
	for e := uint64(1); e <= 300; e++ {
		if err := s.CheckAttestation(pubA, e-1, e, root(1)); err != nil {
			t.Fatal(err)
		}
		if err := s.CheckBlock(pubA, 32*e, root(1)); err != nil {
			t.Fatal(err)
		}
	}
	rep, err := s.Prune(100)
	if err != nil {
		t.Fatal(err)
	}
	if rep.AttestationsDeleted != 200 || rep.BlocksDeleted != 200 || rep.Keys != 1 {
		t.Fatalf("prune report %+v", rep)
	}
	if st := s.Stats(); st.Attestations != 100 || st.Blocks != 100 {
		t.Fatalf("after prune %+v", st)
	}
	for i, st := range []step{att(199, 200, 2, RuleTargetBelowLow), att(150, 250, 2, RuleSourceBelowLow), att(200, 201, 1, ""),
		att(300, 301, 1, ""), blk(32*200, 2, RuleBlockBelowLow), blk(32*300+1, 1, "")} {
		expectStep(t, i, do(s, pubA, st), st.wantRefused)
	}
	if _, err := s.Prune(0); err == nil {
		t.Fatal("Prune(0) accepted")
	}
}

// TestPruneSchedule: Options.PruneEvery prunes in the background until Close.
func TestPruneSchedule(t *testing.T) {
	s, err := Open(filepath.Join(t.TempDir(), "p.db"), Options{GenesisValidatorsRoot: gvrA, PruneEvery: 5 * time.Millisecond, PruneKeepEpochs: 10})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for e := uint64(1); e <= 50; e++ {
		if err := s.CheckAttestation(pubA, e-1, e, root(1)); err != nil {
			t.Fatal(err)
		}
	}
	deadline := time.Now().Add(5 * time.Second)
	for s.Stats().Attestations > 10 {
		if time.Now().After(deadline) {
			t.Fatalf("no scheduled pruning: %+v", s.Stats())
		}
		time.Sleep(5 * time.Millisecond)
	}
	if _, err := Open(filepath.Join(t.TempDir(), "q.db"), Options{GenesisValidatorsRoot: gvrA, PruneEvery: time.Second}); err == nil {
		t.Fatal("pruning with keep 0 accepted")
	}
}
