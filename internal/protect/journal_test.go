package protect

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/keyward/keyward/internal/tezos"
)

// tzKey returns the i-th test Tezos key (tz1).
func tzKey(i int) tezos.PublicKeyHash {
	h := tezos.PublicKeyHash{Kind: tezos.KeyKindEd25519}
	h.Hash[0], h.Hash[1] = byte(i), 0x7a
	return h
}

// ethKey returns the i-th test Ethereum key.
func ethKey(i int) [48]byte { return [48]byte{byte(i), 0x6b, 0x39} }

// journalChildEnv names the state directory of TestJournalKillChild; unset, that test is
// skipped (it runs only as the child of TestJournalKill9_Inv5).
const journalChildEnv = "KEYWARD_JOURNAL_KILL_CHILD"

// TestJournalKillChild is the process TestJournalKill9_Inv5 kills: it opens the store in
// the directory its environment names (a small journal whose ring wraps every few
// hundred records, applied to bbolt every few milliseconds, so kills land in every phase),
// records from concurrent goroutines, and prints a line for every record only after its
// call returned nil. It never returns.
func TestJournalKillChild(t *testing.T) {
	dir := os.Getenv(journalChildEnv)
	if dir == "" {
		t.Skip("child of TestJournalKill9_Inv5 only")
	}
	base, _ := strconv.ParseUint(os.Getenv(journalChildEnv+"_BASE"), 10, 64)
	s, err := Open(filepath.Join(dir, "p.db"), Options{GenesisValidatorsRoot: gvrA, journalSize: minJournalLen, applyEvery: 3 * time.Millisecond})
	if err != nil {
		fmt.Printf("open: %v\n", err)
		os.Exit(3)
	}
	var mu sync.Mutex
	out := bufio.NewWriter(os.Stdout)
	ack := func(format string, args ...any) {
		mu.Lock()
		fmt.Fprintf(out, format+"\n", args...)
		out.Flush()
		mu.Unlock()
	}
	var wg sync.WaitGroup
	for k := range 4 { // Ethereum: votes and blocks moving up, in the window of this cycle
		wg.Go(func() {
			pub := ethKey(k)
			for e := base + 2; ; e++ {
				r := byte(e%3 + 1)
				if err := s.CheckAttestation(pub, e-1, e, root(r)); err == nil {
					ack("A %d %d %d %d", k, e-1, e, r)
				}
				if e%4 == 0 {
					if err := s.CheckBlock(pub, e*32, root(r)); err == nil {
						ack("B %d %d %d", k, e*32, r)
					}
				}
			}
		})
	}
	for k := range 4 { // Tezos: a mark, then the signature noted without waiting
		wg.Go(func() {
			pkh := tzKey(k)
			for l := uint32(base) + 1; ; l++ {
				wk := tezos.WatermarkKey{ChainID: tzChain, Class: tezos.ClassAttestation, Level: l}
				g, err := s.LockTezos(pkh)
				if err != nil {
					return
				}
				if v, _, _ := g.Check(wk, [32]byte{byte(l)}); v == tezos.VerdictSign {
					if err := g.Record(wk, [32]byte{byte(l)}); err == nil {
						_ = g.NoteSignature(wk, [32]byte{byte(l)}, bytes.Repeat([]byte{byte(l)}, 64))
						ack("T %d %d", k, l)
					}
				}
				g.Unlock()
			}
		})
	}
	wg.Wait()
}

// TestJournalKill9_Inv5 kills a process that records through the journal with SIGKILL
// after a random number of acknowledged records, again and again on the same state
// directory, and checks that every acknowledged record survives: a double vote, a second
// block at a recorded slot and a Tezos request at or below a recorded level are refused
// after the restart. Some cycles are checked at once (the check reopens and closes the
// store cleanly), the others start the next child straight on the crashed state, so that
// a replay can itself be interrupted; their records are checked at the end.
func TestJournalKill9_Inv5(t *testing.T) {
	if testing.Short() {
		t.Skip("kill -9 test: -short")
	}
	dir := t.TempDir()
	rng := rand.New(rand.NewPCG(3, uint64(time.Now().UnixNano())))
	var acked []string
	const cycles = 40
	for cycle := range cycles {
		cmd := exec.Command(os.Args[0], "-test.run=^TestJournalKillChild$", "-test.count=1")
		cmd.Env = append(os.Environ(), journalChildEnv+"="+dir, fmt.Sprintf("%s_BASE=%d", journalChildEnv, cycle*100_000))
		stdout, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		cmd.Stderr = os.Stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		kill := 1 + rng.IntN(400) // acknowledged records before the kill
		sc := bufio.NewScanner(stdout)
		n := 0
		for sc.Scan() {
			line := sc.Text()
			if !strings.ContainsAny(line[:1], "ABT") {
				t.Fatalf("child: %s", line)
			}
			acked = append(acked, line)
			if n++; n == kill {
				_ = cmd.Process.Signal(syscall.SIGKILL)
			}
		}
		_ = cmd.Wait()
		if n < kill {
			t.Fatalf("cycle %d: the child stopped after %d records", cycle, n)
		}
		if cycle%3 != 2 && cycle != cycles-1 {
			continue // the next child recovers this crash
		}
		checkAcked(t, filepath.Join(dir, "p.db"), acked)
	}
	t.Logf("%d cycles, %d acknowledged records, all durable", cycles, len(acked))
}

// checkAcked opens the store and checks every acknowledged record is refused as a
// conflict, then closes it.
func checkAcked(t *testing.T, path string, acked []string) {
	t.Helper()
	s, err := Open(path, Options{GenesisValidatorsRoot: gvrA, journalSize: minJournalLen})
	if err != nil {
		t.Fatalf("reopen after kill: %v", err)
	}
	defer s.Close()
	marks := map[int]uint32{}
	for _, m := range s.TezosMarks() {
		if m.ChainID == tzChain && m.Class == tezos.ClassAttestation {
			marks[int(m.Key.Hash[0])] = m.Level
		}
	}
	for _, line := range acked {
		f := strings.Fields(line)
		n := make([]uint64, len(f)-1)
		for i := range n {
			n[i], _ = strconv.ParseUint(f[i+1], 10, 64)
		}
		switch f[0] {
		case "A": // key source target root
			if wouldSign(t, s, ethKey(int(n[0])), false, n[1], n[2], root(byte(n[3]%3+1))) {
				t.Fatalf("acknowledged %s lost: a double vote would be signed", line)
			}
		case "B": // key slot root
			if wouldSign(t, s, ethKey(int(n[0])), true, n[1], 0, root(byte(n[2]%3+1))) {
				t.Fatalf("acknowledged %s lost: a second block would be signed", line)
			}
		case "T": // key level
			if marks[int(n[0])] < uint32(n[1]) {
				t.Fatalf("acknowledged %s lost: the mark is at %d", line, marks[int(n[0])])
			}
		}
	}
}

// A store closed cleanly holds everything in bbolt: it opens without its journal, and
// with another store's journal.
func TestJournalCleanCloseNeedsNoJournal(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "p.db")
	s := openT(t, path)
	if err := s.CheckAttestation(pubA, 1, 2, root(1)); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(path + journalSuffix); err != nil {
		t.Fatal(err)
	}
	s = openT(t, path)
	defer s.Close()
	if wouldSign(t, s, pubA, false, 1, 2, root(2)) {
		t.Fatal("the record was lost with the journal of a clean store")
	}
}

// crashed returns a store's files as a crash right after some records would leave them:
// copies taken while the store is open (nothing applied to bbolt yet, applyEvery is long).
func crashed(t *testing.T, records func(s *Store)) (dir string) {
	t.Helper()
	src := t.TempDir()
	s, err := Open(filepath.Join(src, "p.db"), Options{GenesisValidatorsRoot: gvrA, journalSize: minJournalLen, applyEvery: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	records(s)
	dir = t.TempDir()
	s.closeMu.Lock() // no commit runs while the files are copied
	if err := snapshot(s, filepath.Join(dir, "p.db")); err != nil {
		t.Fatal(err)
	}
	s.closeMu.Unlock()
	s.Close()
	return dir
}

// Records only in the journal come back at Open; without the journal, or with a journal
// that is not the database's, a store that was not closed cleanly is refused (fail
// closed: it may be missing records).
func TestJournalRecovery_Inv5(t *testing.T) {
	dir := crashed(t, func(s *Store) {
		for e := uint64(1); e <= 50; e++ {
			if err := s.CheckAttestation(pubA, e-1, e, root(1)); err != nil {
				t.Fatal(err)
			}
		}
		if err := s.settleAll(); err != nil { // half in bbolt, half only in the journal
			t.Fatal(err)
		}
		for e := uint64(51); e <= 100; e++ {
			if err := s.CheckAttestation(pubA, e-1, e, root(1)); err != nil {
				t.Fatal(err)
			}
		}
	})
	path := filepath.Join(dir, "p.db")
	j, err := os.ReadFile(path + journalSuffix)
	if err != nil {
		t.Fatal(err)
	}

	// Without the journal: refused.
	os.Remove(path + journalSuffix)
	if _, err := Open(path, Options{GenesisValidatorsRoot: gvrA, journalSize: minJournalLen}); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("open without its journal: want ErrCorrupt, got %v", err)
	}
	// Another store's journal: refused.
	other := t.TempDir()
	o := openT(t, filepath.Join(other, "p.db"))
	o.Close()
	b, _ := os.ReadFile(filepath.Join(other, "p.db") + journalSuffix)
	os.WriteFile(path+journalSuffix, b, 0o600)
	if _, err := Open(path, Options{GenesisValidatorsRoot: gvrA, journalSize: minJournalLen}); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("open with another journal: want ErrCorrupt, got %v", err)
	}
	// Its own journal: every vote is back.
	os.WriteFile(path+journalSuffix, j, 0o600)
	s := openT(t, path)
	for e := uint64(1); e <= 100; e++ {
		if wouldSign(t, s, pubA, false, e-1, e, root(2)) {
			t.Fatalf("vote %d lost", e)
		}
	}
	if st := s.Stats(); st.Attestations != 100 {
		t.Fatalf("%d attestations after the replay, want 100", st.Attestations)
	}
	s.Close()
}

// A torn last entry (a crash during its write, so never acknowledged) is ignored; an
// entry numbered beyond the next expected one means the files do not belong together.
func TestJournalTornAndGap(t *testing.T) {
	var last span
	dir := crashed(t, func(s *Store) {
		for e := uint64(1); e <= 10; e++ {
			if err := s.CheckAttestation(pubA, e-1, e, root(1)); err != nil {
				t.Fatal(err)
			}
		}
		last = s.jr.live[len(s.jr.live)-1]
	})
	path := filepath.Join(dir, "p.db")
	j, _ := os.ReadFile(path + journalSuffix)

	torn := bytes.Clone(j)
	torn[last.end-1] ^= 0xff // the last vote's entry no longer checks
	os.WriteFile(path+journalSuffix, torn, 0o600)
	s := openT(t, path)
	if !wouldSign(t, s, pubA, false, 9, 10, root(2)) || wouldSign(t, s, pubA, false, 8, 9, root(2)) {
		t.Fatal("torn entry: want votes 1..9 back and vote 10 (never acknowledged) absent")
	}
	s.Close()

	dir = crashed(t, func(s *Store) {
		for e := uint64(1); e <= 10; e++ {
			if err := s.CheckAttestation(pubA, e-1, e, root(1)); err != nil {
				t.Fatal(err)
			}
		}
		last = s.jr.live[len(s.jr.live)-1]
		id := s.jr.id
		// An entry numbered two ahead of the next one, checksummed, where the next belongs.
		e := make([]byte, entryHeaderLen)
		binary.BigEndian.PutUint32(e, entryHeaderLen)
		binary.BigEndian.PutUint64(e[8:], last.seq+2)
		binary.BigEndian.PutUint32(e[4:], entryChecksum(&id, e))
		s.jr.f.WriteAt(e, last.end)
	})
	if _, err := Open(filepath.Join(dir, "p.db"), Options{GenesisValidatorsRoot: gvrA, journalSize: minJournalLen}); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("entry beyond the next: want ErrCorrupt, got %v", err)
	}
}

// The ring wraps many times while the applier lags; the committer waits for it only when
// the ring is full, and nothing is lost across the wraps or a reopen.
func TestJournalRingWraps(t *testing.T) {
	path := filepath.Join(t.TempDir(), "p.db")
	s, err := Open(path, Options{GenesisValidatorsRoot: gvrA, journalSize: minJournalLen, applyEvery: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	const perKey = 600 // about 250 bytes each: the 60 KiB ring wraps about ten times per key
	for k := range 4 {
		wg.Go(func() {
			for e := uint64(1); e <= perKey; e++ {
				if err := s.CheckAttestation(ethKey(k), e-1, e, root(1)); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = openT(t, path)
	defer s.Close()
	if st := s.Stats(); st.Attestations != 4*perKey {
		t.Fatalf("%d attestations, want %d", st.Attestations, 4*perKey)
	}
	for k := range 4 {
		for _, e := range []uint64{1, perKey / 2, perKey} {
			if wouldSign(t, s, ethKey(k), false, e-1, e, root(2)) {
				t.Fatalf("key %d vote %d lost", k, e)
			}
		}
	}
}

// TestJournalPlace covers the ring arithmetic: an entry never overwrites a live one
// (written, not yet durably applied).
func TestJournalPlace(t *testing.T) {
	const H = journalHeaderLen
	j := &journal{size: H + 1000, head: H}
	for i, c := range []struct {
		n       int64
		applied uint64
		want    int64 // -1: no room
	}{
		{400, 0, H}, {400, 0, H + 400}, // entries 1, 2
		{400, 0, -1},      // would wrap onto entry 1
		{400, 1, H},       // entry 1 applied: wrap (entry 3)
		{300, 1, -1},      // would overwrite entry 2 (400..800)
		{200, 2, H + 400}, // entry 2 applied (entry 4)
		{300, 3, H + 600}, // entry 5
		{100, 3, H + 900}, // fits exactly before the end (entry 6)
		{200, 3, H},       // wraps, ahead of entry 4 (entry 7)
		{300, 3, -1},      // would overwrite entry 4 (400..600)
		{300, 4, H + 200}, // entry 4 applied
	} {
		off, ok := j.place(c.n, c.applied)
		if c.want == -1 {
			if ok {
				t.Fatalf("step %d: placed at %d, want no room", i, off)
			}
			continue
		}
		if !ok || off != c.want {
			t.Fatalf("step %d: placed at %d (%v), want %d", i, off, ok, c.want)
		}
		j.seq++
		j.head = off + c.n
		j.live = append(j.live, span{seq: j.seq, start: off, end: j.head})
	}
}

// When bbolt cannot take the journal's entries (a full disk, an I/O error), the store
// fails closed: a read that needs a key's older records and a commit that needs room in
// the ring fail (unavailable, never a signature), Close reports it and does not mark the
// database clean, and the next Open replays every durable record.
func TestJournalApplyFailure_Inv5(t *testing.T) {
	path := filepath.Join(t.TempDir(), "p.db")
	var fail atomic.Bool
	s, err := Open(path, Options{GenesisValidatorsRoot: gvrA, journalSize: minJournalLen, applyEvery: time.Hour,
		testOnlyBeforeApply: func() error {
			if fail.Load() {
				return errInjected
			}
			return nil
		}})
	if err != nil {
		t.Fatal(err)
	}
	fail.Store(true)
	if err := s.CheckAttestation(pubA, 1, 2, root(1)); err != nil {
		t.Fatal(err) // durable in the journal: fine
	}
	// The identical vote needs the record from bbolt: the apply fails, so does the check.
	var ref *Refusal
	if err := s.CheckAttestation(pubA, 1, 2, root(1)); err == nil || errors.As(err, &ref) || !errors.Is(err, errInjected) {
		t.Fatalf("check needing bbolt after a failed apply: want the apply's error, got %v", err)
	}
	// Records fill the ring until the committer needs the applier: then they fail.
	n := 0
	for e := uint64(3); ; e++ {
		err := s.CheckAttestation(pubB, e-1, e, root(1))
		if err != nil {
			if !errors.Is(err, errInjected) || errors.As(err, &ref) {
				t.Fatalf("commit with a full ring: want the apply's error, got %v", err)
			}
			break
		}
		if n++; n > 10_000 {
			t.Fatal("the ring never filled")
		}
	}
	if err := s.Close(); !errors.Is(err, errInjected) {
		t.Fatalf("Close after a failed apply: want its error, got %v", err)
	}
	s = openT(t, path)
	defer s.Close()
	if st := s.Stats(); st.Attestations != uint64(n)+1 {
		t.Fatalf("%d attestations after the replay, want %d", st.Attestations, n+1)
	}
}
