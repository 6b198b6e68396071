package protect

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"

	bolt "go.etcd.io/bbolt"
)

// TestConcurrentConflicts_Inv5: many goroutines race conflicting requests for one key
// (same-slot blocks, double votes, surrounding and surrounded votes): exactly one of each
// conflicting set is signed, while other keys sign in parallel unaffected.
func TestConcurrentConflicts_Inv5(t *testing.T) {
	s := openT(t, filepath.Join(t.TempDir(), "p.db"))
	defer s.Close()
	const racers = 48
	var others sync.WaitGroup
	var otherFailed atomic.Int32
	for k := range 8 { // other keys, signing monotonically the whole time
		others.Add(1)
		go func(k int) {
			defer others.Done()
			pub := [48]byte{0xc, byte(k)}
			for e := uint64(1); e <= 60; e++ {
				if s.CheckBlock(pub, e, root(1)) != nil || s.CheckAttestation(pub, e-1, e, root(1)) != nil {
					otherFailed.Add(1)
				}
			}
		}(k)
	}
	race := func(name string, reqs []func() error) {
		t.Helper()
		var ok atomic.Int32
		var wg sync.WaitGroup
		for _, r := range reqs {
			wg.Add(1)
			go func() {
				defer wg.Done()
				err := r()
				var ref *Refusal
				switch {
				case err == nil:
					ok.Add(1)
				case !errors.As(err, &ref):
					t.Errorf("%s: not a refusal: %v", name, err)
				}
			}()
		}
		wg.Wait()
		if n := ok.Load(); n != 1 {
			t.Fatalf("%s: %d of a conflicting set signed, want 1", name, n)
		}
	}
	for slot := uint64(1); slot <= 15; slot++ {
		var reqs []func() error
		for i := range racers {
			reqs = append(reqs, func() error { return s.CheckBlock(pubA, slot, root(byte(1+i))) })
		}
		race(fmt.Sprintf("blocks at slot %d", slot), reqs)
	}
	for round := uint64(0); round < 15; round++ {
		b := 10 * round
		// Nested votes (b+1,b+6) ⊃ (b+2,b+5) ⊃ (b+3,b+4), each also with several roots:
		// every pair is a double, surrounding or surrounded vote.
		var reqs []func() error
		for i := range racers {
			d := uint64(i % 3)
			reqs = append(reqs, func() error { return s.CheckAttestation(pubA, b+1+d, b+6-d, root(byte(1+i))) })
		}
		race(fmt.Sprintf("votes round %d", round), reqs)
	}
	others.Wait()
	if n := otherFailed.Load(); n != 0 {
		t.Fatalf("%d requests of other keys failed", n)
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
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := s.CheckAttestation([48]byte{byte(i), byte(i >> 8), 1}, 1, 2, root(1)); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	if c := commits.Load(); c >= n {
		t.Fatalf("%d commits for %d concurrent records: no grouping", c, n)
	} else {
		t.Logf("%d records in %d commits", n, c)
	}
}

var errInjected = errors.New("injected fsync failure")

// TestCommitFailure_Inv5: when the commit fails (failpoint before bbolt commits), the
// request gets an error that is not a refusal, nothing is remembered in memory or on disk,
// and the next request is decided on what is durable.
func TestCommitFailure_Inv5(t *testing.T) {
	path := filepath.Join(t.TempDir(), "p.db")
	var fail atomic.Bool
	opts := Options{GenesisValidatorsRoot: gvrA, testOnlyBeforeCommit: func() error {
		if fail.Load() {
			return errInjected
		}
		return nil
	}}
	s, err := Open(path, opts)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.CheckBlock(pubA, 5, root(1)); err != nil {
		t.Fatal(err)
	}
	fail.Store(true)
	var ref *Refusal
	if err := s.CheckBlock(pubA, 6, root(1)); !errors.Is(err, errInjected) || errors.As(err, &ref) {
		t.Fatalf("failed commit: want the injected error, got %v", err)
	}
	if err := s.CheckAttestation(pubA, 1, 2, root(1)); !errors.Is(err, errInjected) {
		t.Fatalf("failed commit: want the injected error, got %v", err)
	}
	fail.Store(false)
	// Nothing of the failed requests was recorded: another root at slot 6 is allowed.
	if err := s.CheckBlock(pubA, 6, root(2)); err != nil {
		t.Fatalf("after a failed commit: %v", err)
	}
	if err := s.CheckAttestation(pubA, 1, 2, root(2)); err != nil {
		t.Fatalf("after a failed commit: %v", err)
	}
	s.Close()
	s = openT(t, path)
	defer s.Close()
	for i, st := range []step{blk(5, 9, RuleDoubleBlock), blk(6, 1, RuleDoubleBlock), blk(6, 2, ""), att(1, 2, 1, RuleDoubleVote), att(1, 2, 2, "")} {
		expectStep(t, i, do(s, pubA, st), st.wantRefused)
	}
}

// TestCrashSnapshots_Inv5 simulates a crash before and after every commit: the database
// and its journal are copied at that instant, as a power cut would leave them (bbolt's
// last committed state, taken in a read transaction, and the journal file, which only the
// paused committer writes). Each copy must hold every record whose request had returned
// nil before the copy was taken (nothing is signed that a restart would forget), and must
// open cleanly.
func TestCrashSnapshots_Inv5(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "p.db")
	type snap struct {
		file     string
		returned int64 // requests that had returned nil when the copy was taken
	}
	var (
		mu       sync.Mutex
		snaps    []snap
		returned atomic.Int64
		done     [][3]uint64 // (key, epoch, returned index) in return order
	)
	var s *Store
	var err error
	take := func(when string) {
		mu.Lock()
		defer mu.Unlock()
		if len(snaps) >= 40 {
			return
		}
		n := returned.Load() // read before the copy: all of them are durable already
		f := filepath.Join(dir, fmt.Sprintf("snap-%d-%s.db", len(snaps), when))
		if err := snapshot(s, f); err != nil {
			t.Error(err)
			return
		}
		snaps = append(snaps, snap{f, n})
	}
	s, err = Open(path, Options{GenesisValidatorsRoot: gvrA, journalSize: minJournalLen,
		testOnlyBeforeCommit: func() error { take("before"); return nil },
		testOnlyAfterCommit:  func() { take("after") }})
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	var doneMu sync.Mutex
	for k := range 6 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			pub := [48]byte{byte(k)}
			for e := uint64(1); e <= 20; e++ {
				if err := s.CheckAttestation(pub, e-1, e, root(1)); err != nil {
					t.Error(err)
					return
				}
				doneMu.Lock()
				done = append(done, [3]uint64{uint64(k), e, uint64(returned.Add(1))})
				doneMu.Unlock()
			}
		}()
	}
	wg.Wait()
	s.Close()
	for _, sn := range snaps {
		c, err := Open(sn.file, Options{GenesisValidatorsRoot: gvrA})
		if err != nil {
			t.Fatalf("%s: %v", sn.file, err)
		}
		for _, d := range done {
			if int64(d[2]) > sn.returned {
				continue
			}
			pub := [48]byte{byte(d[0])}
			if wouldSign(t, c, pub, false, d[1]-1, d[1], root(2)) {
				t.Errorf("%s: vote (%d,%d) of key %d returned nil before the crash but is not on disk", sn.file, d[1]-1, d[1], d[0])
			}
		}
		c.Close()
	}
	if len(snaps) < 4 {
		t.Fatalf("only %d crash points", len(snaps))
	}
}

// snapshot copies s as a crash at this instant would leave it on disk, to path and its
// journal: bbolt's committed state (a read transaction) and the journal file. It must be
// called with the committer paused (a commit failpoint), so that the journal does not
// change during the copy; the applier may run, and an entry is overwritten only after
// bbolt holds it.
func snapshot(s *Store, path string) error {
	err := s.db.View(func(tx *bolt.Tx) error {
		f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
		if err != nil {
			return err
		}
		if _, err := tx.WriteTo(f); err != nil {
			f.Close()
			return err
		}
		return f.Close()
	})
	if err != nil {
		return err
	}
	b, err := os.ReadFile(s.jr.f.Name())
	if err != nil {
		return err
	}
	return os.WriteFile(path+journalSuffix, b, 0o600)
}
