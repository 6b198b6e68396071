package protect

import (
	"errors"
	"path/filepath"
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

func openT(t testing.TB, path string) *Store {
	t.Helper()
	// The smallest journal: quick to create, and its ring wraps often in the tests.
	s, err := Open(path, Options{GenesisValidatorsRoot: gvrA, journalSize: minJournalLen})
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

func do(s *Store, pub [48]byte, st step) error {
	if st.att {
		return s.CheckAttestation(pub, st.slotOrSource, st.target, root(st.root))
	}
	return s.CheckBlock(pub, st.slotOrSource, root(st.root))
}

func blk(slot uint64, r byte, refused string) step {
	return step{slotOrSource: slot, root: r, wantRefused: refused}
}
func att(s, t uint64, r byte, refused string) step {
	return step{att: true, slotOrSource: s, target: t, root: r, wantRefused: refused}
}

// TestRules_Inv5 walks sequences of requests for one key through the store; each row is
// one rule of the complete-history protection.
func TestRules_Inv5(t *testing.T) {
	cases := []struct {
		name  string
		steps []step
	}{
		{"blocks increase", []step{blk(10, 1, ""), blk(11, 2, ""), blk(1000, 3, "")}},
		{"identical block is signed again", []step{blk(10, 1, ""), blk(10, 1, "")}},
		{"double block", []step{blk(10, 1, ""), blk(10, 2, RuleDoubleBlock)}},
		{"the first block is the low watermark", []step{blk(10, 1, ""), blk(9, 2, RuleBlockBelowLow)}},
		{"a gap below the newest block may be filled (complete history)", []step{blk(10, 1, ""), blk(20, 2, ""), blk(15, 3, ""), blk(15, 4, RuleDoubleBlock)}},
		{"block at slot zero", []step{blk(0, 1, ""), blk(0, 2, RuleDoubleBlock), blk(0, 1, "")}},
		{"a zero signing root is a root like any other", []step{blk(3, 0, ""), blk(3, 0, ""), blk(3, 1, RuleDoubleBlock)}},
		{"attestations increase", []step{att(1, 2, 1, ""), att(2, 3, 2, "")}},
		{"identical attestation is signed again", []step{att(1, 2, 1, ""), att(1, 2, 1, "")}},
		{"double vote", []step{att(1, 2, 1, ""), att(1, 2, 2, RuleDoubleVote)}},
		{"double vote with another source", []step{att(1, 3, 1, ""), att(2, 3, 1, RuleDoubleVote)}},
		{"source after target", []step{att(3, 2, 1, RuleSourceAfter)}},
		{"source equal to target", []step{att(2, 2, 1, ""), att(2, 3, 1, "")}},
		{"surround vote", []step{att(3, 4, 1, ""), att(2, 5, 2, RuleSourceBelowLow)}},
		{"surround vote above the watermark", []step{att(1, 2, 1, ""), att(3, 4, 2, ""), att(2, 5, 3, RuleSurroundVote)}},
		{"surrounded vote", []step{att(1, 2, 1, ""), att(2, 9, 2, ""), att(3, 8, 3, RuleSurroundedVote)}},
		{"surrounded vote with the same target as the watermark", []step{att(1, 10, 1, ""), att(2, 9, 2, RuleTargetBelowLow)}},
		{"an older vote that is not slashable is allowed (complete history)", []step{att(1, 2, 1, ""), att(5, 9, 2, ""), att(2, 4, 3, ""), att(4, 5, 4, "")}},
		{"an older vote between two recorded ones", []step{att(1, 2, 1, ""), att(3, 4, 2, ""), att(2, 3, 3, ""), att(2, 5, 3, RuleSurroundVote)}},
		{"target at the watermark without record", []step{att(4, 5, 1, ""), att(4, 5, 2, RuleDoubleVote), att(5, 5, 1, RuleDoubleVote)}},
		{"blocks and attestations independent", []step{blk(100, 1, ""), att(0, 1, 2, ""), blk(101, 3, "")}},
		{"refusal does not move anything", []step{att(5, 6, 1, ""), att(4, 7, 2, RuleSourceBelowLow), att(5, 7, 3, "")}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := openT(t, filepath.Join(t.TempDir(), "p.db"))
			defer s.Close()
			for i, st := range tc.steps {
				expectStep(t, i, do(s, pubA, st), st.wantRefused)
			}
		})
	}
}

func expectStep(t *testing.T, i int, err error, want string) {
	t.Helper()
	var ref *Refusal
	switch {
	case want == "" && err != nil:
		t.Fatalf("step %d: unexpected refusal: %v", i, err)
	case want != "" && !errors.As(err, &ref):
		t.Fatalf("step %d: want refusal %q, got %v", i, want, err)
	case want != "" && ref.Rule != want:
		t.Fatalf("step %d: want refusal %q, got %q (%v)", i, want, ref.Rule, ref)
	}
}

// TestDurableAcrossReopen_Inv5: every record is remembered by a new process.
func TestDurableAcrossReopen_Inv5(t *testing.T) {
	path := filepath.Join(t.TempDir(), "p.db")
	s := openT(t, path)
	for _, st := range []step{blk(7, 1, ""), blk(9, 1, ""), att(3, 4, 2, ""), att(4, 8, 3, ""), att(4, 6, 4, "")} {
		if err := do(s, pubA, st); err != nil {
			t.Fatal(err)
		}
	}
	s.Close()
	s = openT(t, path)
	defer s.Close()
	for i, st := range []step{
		blk(7, 9, RuleDoubleBlock), blk(9, 9, RuleDoubleBlock), blk(7, 1, ""), blk(6, 1, RuleBlockBelowLow), blk(8, 1, ""),
		att(3, 4, 9, RuleDoubleVote), att(5, 7, 9, RuleSurroundedVote), att(3, 9, 9, RuleSurroundVote), att(4, 6, 4, ""),
	} {
		expectStep(t, i, do(s, pubA, st), st.wantRefused)
	}
}

// TestOpen_ErrWrongNetwork_Inv3: a database pinned to another genesis validators root is refused.
func TestOpen_ErrWrongNetwork_Inv3(t *testing.T) {
	path := filepath.Join(t.TempDir(), "p.db")
	openT(t, path).Close()
	if _, err := Open(path, Options{GenesisValidatorsRoot: gvrB}); !errors.Is(err, ErrWrongNetwork) {
		t.Fatalf("want ErrWrongNetwork, got %v", err)
	}
}

// TestOpen_ErrLocked: a second opener of the same file fails instead of signing blind.
func TestOpen_ErrLocked(t *testing.T) {
	path := filepath.Join(t.TempDir(), "p.db")
	s := openT(t, path)
	defer s.Close()
	if _, err := Open(path, Options{GenesisValidatorsRoot: gvrA, LockTimeout: 50e6}); !errors.Is(err, ErrLocked) {
		t.Fatalf("want ErrLocked, got %v", err)
	}
}

// TestOpen_ErrCorrupt: an undecodable record fails the open or the check rather than
// being skipped.
func TestOpen_ErrCorrupt(t *testing.T) {
	path := filepath.Join(t.TempDir(), "p.db")
	s := openT(t, path)
	if err := s.CheckBlock(pubA, 1, root(1)); err != nil {
		t.Fatal(err)
	}
	if err := s.CheckBlock(pubB, 1, root(1)); err != nil {
		t.Fatal(err)
	}
	s.Close()
	db, err := bolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	err = db.Update(func(tx *bolt.Tx) error {
		eth := tx.Bucket(bucketEth)
		if err := eth.Bucket(pubA[:]).Put(keySummary, []byte{1, 2, 3}); err != nil {
			return err
		}
		return eth.Bucket(pubB[:]).Bucket(bucketBlocks).Put(be64(1), []byte{7})
	})
	if err != nil {
		t.Fatal(err)
	}
	db.Close()
	if _, err := Open(path, Options{GenesisValidatorsRoot: gvrA}); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("corrupt summary: want ErrCorrupt, got %v", err)
	}
	db, _ = bolt.Open(path, 0o600, nil)
	db.Update(func(tx *bolt.Tx) error { return tx.Bucket(bucketEth).DeleteBucket(pubA[:]) })
	db.Close()
	s = openT(t, path)
	defer s.Close()
	var ref *Refusal
	if err := s.CheckBlock(pubB, 1, root(2)); !errors.Is(err, ErrCorrupt) || errors.As(err, &ref) {
		t.Fatalf("corrupt record: want ErrCorrupt (not a refusal), got %v", err)
	}
}

// TestCheck_ErrClosed: a closed store refuses every operation.
func TestCheck_ErrClosed(t *testing.T) {
	s := openT(t, filepath.Join(t.TempDir(), "p.db"))
	s.Close()
	if err := s.CheckBlock(pubA, 1, root(1)); !errors.Is(err, ErrClosed) {
		t.Fatalf("CheckBlock: want ErrClosed, got %v", err)
	}
	if err := s.CheckAttestation(pubA, 1, 2, root(1)); !errors.Is(err, ErrClosed) {
		t.Fatalf("CheckAttestation: want ErrClosed, got %v", err)
	}
	if _, err := s.ExportInterchange(nil); !errors.Is(err, ErrClosed) {
		t.Fatalf("ExportInterchange: want ErrClosed, got %v", err)
	}
	if err := s.SetBrake(1); !errors.Is(err, ErrClosed) {
		t.Fatalf("SetBrake: want ErrClosed, got %v", err)
	}
}

// TestMigrateV1: records of the minimal layout keep refusing what they refused.
func TestMigrateV1(t *testing.T) {
	path := filepath.Join(t.TempDir(), "p.db")
	db, err := bolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	rec := make([]byte, 90)
	rec[0], rec[1] = 1, 3
	copy(rec[2:], be64(10))
	rec[10] = 1 // block root {1}
	copy(rec[42:], be64(4))
	copy(rec[50:], be64(5))
	rec[58] = 2 // vote root {2}
	err = db.Update(func(tx *bolt.Tx) error {
		m, _ := tx.CreateBucket(bucketMeta)
		m.Put(keyGVR, gvrA[:])
		b, _ := tx.CreateBucket(bucketEthV1)
		return b.Put(pubA[:], rec)
	})
	db.Close()
	if err != nil {
		t.Fatal(err)
	}
	s := openT(t, path)
	defer s.Close()
	for i, st := range []step{blk(10, 1, ""), blk(10, 2, RuleDoubleBlock), blk(9, 1, RuleBlockBelowLow), blk(11, 3, ""),
		att(4, 5, 2, ""), att(4, 5, 3, RuleDoubleVote), att(3, 6, 1, RuleSourceBelowLow), att(4, 4, 1, RuleTargetBelowLow), att(5, 6, 1, "")} {
		expectStep(t, i, do(s, pubA, st), st.wantRefused)
	}
}
