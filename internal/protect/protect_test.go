package protect

import (
	"errors"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"

	bolt "go.etcd.io/bbolt"
)

var (
	gvrA = [32]byte{1}
	gvrB = [32]byte{2}
	pubA = [48]byte{0xa}
	pubB = [48]byte{0xb}
)

func root(b byte) [32]byte { return [32]byte{b} }

func openT(t *testing.T, path string) *Store {
	t.Helper()
	s, err := Open(path, Options{GenesisValidatorsRoot: gvrA})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

type step struct {
	att          bool
	slotOrSource uint64
	target       uint64
	root         byte
	wantRefused  string // "" = allowed; otherwise the Refusal.Rule
}

// TestRules_Inv5 walks sequences of requests for one key through the store.
func TestRules_Inv5(t *testing.T) {
	cases := []struct {
		name  string
		steps []step
	}{
		{"blocks increase", []step{{slotOrSource: 10, root: 1}, {slotOrSource: 11, root: 2}, {slotOrSource: 1000, root: 3}}},
		{"same block again is re-signed", []step{{slotOrSource: 10, root: 1}, {slotOrSource: 10, root: 1}}},
		{"double block", []step{{slotOrSource: 10, root: 1}, {slotOrSource: 10, root: 2, wantRefused: "double block"}}},
		{"block below watermark", []step{{slotOrSource: 10, root: 1}, {slotOrSource: 9, root: 2, wantRefused: "block below watermark"}}},
		{"block zero first", []step{{slotOrSource: 0, root: 1}, {slotOrSource: 0, root: 2, wantRefused: "double block"}}},
		{"attestations increase", []step{{att: true, slotOrSource: 1, target: 2, root: 1}, {att: true, slotOrSource: 2, target: 3, root: 2}}},
		{"same attestation again", []step{{att: true, slotOrSource: 1, target: 2, root: 1}, {att: true, slotOrSource: 1, target: 2, root: 1}}},
		{"double vote", []step{{att: true, slotOrSource: 1, target: 2, root: 1}, {att: true, slotOrSource: 1, target: 2, root: 2, wantRefused: "double vote"}}},
		{"source after target", []step{{att: true, slotOrSource: 3, target: 2, root: 1, wantRefused: "source after target"}}},
		{"surrounding vote", []step{{att: true, slotOrSource: 3, target: 4, root: 1}, {att: true, slotOrSource: 2, target: 5, root: 2, wantRefused: "surround vote"}}},
		{"surrounded vote (target below)", []step{{att: true, slotOrSource: 1, target: 10, root: 1}, {att: true, slotOrSource: 2, target: 9, root: 2, wantRefused: "target below watermark"}}},
		{"blocks and attestations independent", []step{{slotOrSource: 100, root: 1}, {att: true, slotOrSource: 0, target: 1, root: 2}, {slotOrSource: 101, root: 3}}},
		{"refusal does not move watermark", []step{{att: true, slotOrSource: 5, target: 6, root: 1}, {att: true, slotOrSource: 4, target: 7, root: 2, wantRefused: "surround vote"}, {att: true, slotOrSource: 5, target: 7, root: 3}}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "p.db")
			s := openT(t, path)
			defer s.Close()
			for i, st := range tc.steps {
				var err error
				if st.att {
					err = s.CheckAttestation(pubA, st.slotOrSource, st.target, root(st.root))
				} else {
					err = s.CheckBlock(pubA, st.slotOrSource, root(st.root))
				}
				var ref *Refusal
				switch {
				case st.wantRefused == "" && err != nil:
					t.Fatalf("step %d: unexpected refusal: %v", i, err)
				case st.wantRefused != "" && !errors.As(err, &ref):
					t.Fatalf("step %d: want refusal %q, got %v", i, st.wantRefused, err)
				case st.wantRefused != "" && ref.Rule != st.wantRefused:
					t.Fatalf("step %d: want refusal %q, got %q", i, st.wantRefused, ref.Rule)
				}
			}
		})
	}
}

// TestDurableAcrossReopen_Inv5: a recorded block is remembered by a new process.
func TestDurableAcrossReopen_Inv5(t *testing.T) {
	path := filepath.Join(t.TempDir(), "p.db")
	s := openT(t, path)
	if err := s.CheckBlock(pubA, 7, root(1)); err != nil {
		t.Fatal(err)
	}
	if err := s.CheckAttestation(pubA, 3, 4, root(2)); err != nil {
		t.Fatal(err)
	}
	s.Close()
	s = openT(t, path)
	defer s.Close()
	var ref *Refusal
	if err := s.CheckBlock(pubA, 7, root(9)); !errors.As(err, &ref) {
		t.Fatalf("double block after reopen not refused: %v", err)
	}
	if err := s.CheckAttestation(pubA, 2, 5, root(9)); !errors.As(err, &ref) {
		t.Fatalf("surround after reopen not refused: %v", err)
	}
	if err := s.CheckBlock(pubA, 7, root(1)); err != nil {
		t.Fatalf("identical block after reopen refused: %v", err)
	}
}

// TestConcurrentConflicts_Inv5: many goroutines race conflicting requests for one key;
// exactly one of each conflicting set is allowed, and other keys are unaffected.
func TestConcurrentConflicts_Inv5(t *testing.T) {
	s := openT(t, filepath.Join(t.TempDir(), "p.db"))
	defer s.Close()
	const racers = 64
	for slot := uint64(1); slot <= 20; slot++ {
		var ok atomic.Int32
		var wg sync.WaitGroup
		for i := 0; i < racers; i++ {
			wg.Add(1)
			go func(i int) {
				defer wg.Done()
				if s.CheckBlock(pubA, slot, root(byte(i))) == nil {
					ok.Add(1)
				}
				// A different key at the same time is always allowed once.
				if i == 0 {
					if err := s.CheckBlock(pubB, slot, root(1)); err != nil {
						t.Errorf("key B slot %d: %v", slot, err)
					}
				}
			}(i)
		}
		wg.Wait()
		if ok.Load() != 1 {
			t.Fatalf("slot %d: %d conflicting blocks allowed, want 1", slot, ok.Load())
		}
	}
	// Attestations: racers each try a distinct (source, target) that conflicts with all others
	// (same target, different roots, or surrounds); exactly one may win per round.
	for round := uint64(0); round < 10; round++ {
		var ok atomic.Int32
		var wg sync.WaitGroup
		base := 100 + round*10
		for i := 0; i < racers; i++ {
			wg.Add(1)
			go func(i int) {
				defer wg.Done()
				if s.CheckAttestation(pubA, base, base+1, root(byte(i))) == nil {
					ok.Add(1)
				}
			}(i)
		}
		wg.Wait()
		if ok.Load() != 1 {
			t.Fatalf("round %d: %d conflicting votes allowed, want 1", round, ok.Load())
		}
	}
}

// TestWrongNetwork_Inv3: a database pinned to another genesis validators root is refused.
func TestWrongNetwork_Inv3(t *testing.T) {
	path := filepath.Join(t.TempDir(), "p.db")
	openT(t, path).Close()
	if _, err := Open(path, Options{GenesisValidatorsRoot: gvrB}); !errors.Is(err, ErrWrongNetwork) {
		t.Fatalf("want ErrWrongNetwork, got %v", err)
	}
}

// TestSecondProcessLocked: a second opener of the same file fails instead of signing blind.
func TestSecondProcessLocked(t *testing.T) {
	path := filepath.Join(t.TempDir(), "p.db")
	s := openT(t, path)
	defer s.Close()
	if _, err := Open(path, Options{GenesisValidatorsRoot: gvrA, LockTimeout: 50e6}); err == nil {
		t.Fatal("second open of a locked database succeeded")
	}
}

// TestCorruptRecord: an undecodable record fails the open rather than being skipped.
func TestCorruptRecord(t *testing.T) {
	path := filepath.Join(t.TempDir(), "p.db")
	s := openT(t, path)
	if err := s.CheckBlock(pubA, 1, root(1)); err != nil {
		t.Fatal(err)
	}
	s.Close()
	db, err := bolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Update(func(tx *bolt.Tx) error { return tx.Bucket(bucketEth).Put(pubA[:], []byte{1, 2, 3}) }); err != nil {
		t.Fatal(err)
	}
	db.Close()
	if _, err := Open(path, Options{GenesisValidatorsRoot: gvrA}); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("want ErrCorrupt, got %v", err)
	}
}

// TestClosed: a closed store refuses to record.
func TestClosed(t *testing.T) {
	s := openT(t, filepath.Join(t.TempDir(), "p.db"))
	s.Close()
	if err := s.CheckBlock(pubA, 1, root(1)); !errors.Is(err, ErrClosed) {
		t.Fatalf("want ErrClosed, got %v", err)
	}
}

// TestGroupCommit: concurrent records for many keys share commits.
func TestGroupCommit(t *testing.T) {
	var commits atomic.Int32
	s, err := Open(filepath.Join(t.TempDir(), "p.db"), Options{GenesisValidatorsRoot: gvrA, testOnlyAfterCommit: func() { commits.Add(1) }})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	const n = 256
	var wg sync.WaitGroup
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			pub := [48]byte{byte(i), byte(i >> 8), 1}
			if err := s.CheckAttestation(pub, 1, 2, root(1)); err != nil {
				t.Error(err)
			}
		}(i)
	}
	wg.Wait()
	if c := commits.Load(); c >= n {
		t.Fatalf("%d commits for %d concurrent records: no grouping", c, n)
	} else {
		t.Logf("%d records in %d commits", n, c)
	}
}

func BenchmarkCheckAttestationParallel(b *testing.B) {
	s, err := Open(filepath.Join(b.TempDir(), "p.db"), Options{GenesisValidatorsRoot: gvrA})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	var next atomic.Uint64
	b.SetParallelism(32)
	b.RunParallel(func(pb *testing.PB) {
		id := next.Add(1)
		pub := [48]byte{byte(id), byte(id >> 8)}
		for e := uint64(1); pb.Next(); e++ {
			if err := s.CheckAttestation(pub, e-1, e, root(1)); err != nil {
				b.Error(err)
				return
			}
		}
	})
}
