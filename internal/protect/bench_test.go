package protect

import (
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/keyward/keyward/internal/tezos"
)

// BenchmarkCheckRecord measures check + durable record (the whole protection cost of a
// signature) with 1, 16 and 256 keys signing concurrently; the group commit shares each
// fsync between the keys waiting at that moment.
func BenchmarkCheckRecord(b *testing.B) {
	for _, keys := range []int{1, 16, 256} {
		b.Run(fmt.Sprintf("keys=%d", keys), func(b *testing.B) {
			var commits atomic.Int64
			s, err := Open(filepath.Join(b.TempDir(), "p.db"), Options{GenesisValidatorsRoot: gvrA, testOnlyAfterCommit: func() { commits.Add(1) }})
			if err != nil {
				b.Fatal(err)
			}
			defer s.Close()
			var next atomic.Int64
			var wg sync.WaitGroup
			start := time.Now()
			b.ResetTimer()
			for k := range keys {
				wg.Add(1)
				go func() {
					defer wg.Done()
					pub := [48]byte{byte(k), byte(k >> 8), 0xbe}
					for e := uint64(1); next.Add(1) <= int64(b.N); e++ {
						if err := s.CheckAttestation(pub, e-1, e, root(1)); err != nil {
							b.Error(err)
							return
						}
					}
				}()
			}
			wg.Wait()
			el := time.Since(start).Seconds()
			b.ReportMetric(float64(b.N)/el, "records/s")
			b.ReportMetric(float64(commits.Load())/el, "commits/s")
		})
	}
}

// bulkLoad writes n votes (2k-2, 2k) for k = 1..n for pub directly (test setup only).
func bulkLoad(tb testing.TB, s *Store, pub [48]byte, n uint64) {
	tb.Helper()
	const batch = 100_000
	for lo := uint64(1); lo <= n; lo += batch {
		err := s.db.Update(func(tx *bolt.Tx) error {
			kb, err := tx.Bucket(bucketEth).CreateBucketIfNotExists(pub[:])
			if err != nil {
				return err
			}
			ab, err := kb.CreateBucketIfNotExists(bucketAtts)
			if err != nil {
				return err
			}
			ab.FillPercent = 1
			for k := lo; k < lo+batch && k <= n; k++ {
				if err := ab.Put(be64(2*k), attRec{minSource: 2*k - 2, maxSource: 2*k - 2, known: true, root: root(1)}.encode()); err != nil {
					return err
				}
			}
			last := min(lo+batch-1, n)
			sum := summary{hasAtts: true, lowSource: 0, lowTarget: 2, maxSource: 2*last - 2, maxTarget: 2 * last, nAtts: last, sorted: true}
			s.entry(pub).sum = sum
			return kb.Put(keySummary, sum.encode())
		})
		if err != nil {
			tb.Fatal(err)
		}
	}
}

// BenchmarkLookup measures the check alone (no record, no fsync) against 1,000 and
// 1,000,000 stored votes of one key: a new vote at the head (no disk read), a double vote,
// a vote surrounding a recorded one, a vote surrounded by one, an old vote that may be
// signed, each at a random place in the history. The latency stays flat: each is one
// B+tree descent plus the neighbours. The last case shows the scan a history made
// unsorted by imported slashable data costs (linear in the votes above the target).
func BenchmarkLookup(b *testing.B) {
	for _, n := range []uint64{1_000, 1_000_000} {
		s, err := Open(filepath.Join(b.TempDir(), "p.db"), Options{GenesisValidatorsRoot: gvrA})
		if err != nil {
			b.Fatal(err)
		}
		bulkLoad(b, s, pubA, n)
		rng := rand.New(rand.NewPCG(1, 1))
		check := func(b *testing.B, src, tgt uint64, want verdict) {
			e := s.entry(pubA)
			e.mu.Lock()
			v, _, err := s.checkAttestation(pubA, e, src, tgt, root(2))
			e.mu.Unlock()
			if err != nil || v != want {
				b.Fatalf("(%d,%d): verdict %d, %v", src, tgt, v, err)
			}
		}
		k := func() uint64 { return 2 + rng.Uint64N(n-2) }
		cases := []struct {
			name     string
			req      func() (uint64, uint64)
			want     verdict
			unsorted bool
		}{
			{"head", func() (uint64, uint64) { return 2 * n, 2*n + 1 }, record, false},
			{"double", func() (uint64, uint64) { k := k(); return 2*k - 2, 2 * k }, refuse, false},
			{"surrounding", func() (uint64, uint64) { k := k(); return 2*k - 3, 2*k + 1 }, refuse, false},
			{"surrounded", func() (uint64, uint64) { k := k(); return 2*k - 1, 2*k - 1 }, refuse, false},
			{"old-allowed", func() (uint64, uint64) { k := k(); return 2*k - 2, 2*k + 1 }, record, false},
			// Worst case: a history made unsorted by imported slashable data is scanned.
			{"old-allowed-unsorted", func() (uint64, uint64) { k := k(); return 2*k - 2, 2*k + 1 }, record, true},
		}
		for _, c := range cases {
			b.Run(fmt.Sprintf("records=%d/%s", n, c.name), func(b *testing.B) {
				s.entry(pubA).sum.sorted = !c.unsorted
				defer func() { s.entry(pubA).sum.sorted = true }()
				for b.Loop() {
					src, tgt := c.req()
					check(b, src, tgt, c.want)
				}
			})
		}
		b.Run(fmt.Sprintf("records=%d/head+record", n), func(b *testing.B) {
			e := 2 * n
			for b.Loop() {
				e++
				if err := s.CheckAttestation(pubA, e, e+1, root(1)); err != nil {
					b.Fatal(err)
				}
			}
		})
		s.Close()
	}
}

// benchRecorder runs record b.N times over keys goroutines (one key each) and reports,
// besides ns/op and allocs/op, the device flushes per record (fdatasyncs: one per journal
// commit, two per bbolt transaction of the applier) and the latency of one record
// (p50/p99 µs: what a signing request waits for protection).
func benchRecorder(b *testing.B, keys int, record func(s *Store, k int, i uint64) error) {
	var commits, applies atomic.Int64
	s, err := Open(filepath.Join(b.TempDir(), "p.db"), Options{GenesisValidatorsRoot: gvrA,
		testOnlyAfterCommit: func() { commits.Add(1) }, testOnlyAfterApply: func() { applies.Add(1) }})
	if err != nil {
		b.Fatal(err)
	}
	var next atomic.Int64
	lat := make([][]time.Duration, keys)
	var wg sync.WaitGroup
	b.ReportAllocs()
	b.ResetTimer()
	start := time.Now()
	for k := range keys {
		wg.Go(func() {
			for i := uint64(1); next.Add(1) <= int64(b.N); i++ {
				t0 := time.Now()
				if err := record(s, k, i); err != nil {
					b.Error(err)
					return
				}
				lat[k] = append(lat[k], time.Since(t0))
			}
		})
	}
	wg.Wait()
	el := time.Since(start)
	if err := s.Close(); err != nil { // applies the rest: counted
		b.Fatal(err)
	}
	b.StopTimer()
	var all []time.Duration
	for _, l := range lat {
		all = append(all, l...)
	}
	slices.Sort(all)
	pct := func(p float64) float64 { return float64(all[int(p*float64(len(all)-1))].Microseconds()) }
	b.ReportMetric(float64(commits.Load()+2*applies.Load())/float64(b.N), "fsyncs/op")
	b.ReportMetric(float64(b.N)/el.Seconds(), "records/s")
	b.ReportMetric(pct(0.5), "p50-µs")
	b.ReportMetric(pct(0.99), "p99-µs")
}

// BenchmarkTezosRecord measures the Tezos protection path of one consensus signature:
// lock, check, record the mark durably (Inv 5), note the signature, unlock; with 1, 8 and
// 64 keys signing at once.
func BenchmarkTezosRecord(b *testing.B) {
	for _, keys := range []int{1, 8, 64} {
		b.Run(fmt.Sprintf("keys=%d", keys), func(b *testing.B) {
			benchRecorder(b, keys, func(s *Store, k int, i uint64) error {
				pkh := tezos.PublicKeyHash{Kind: tezos.KeyKindEd25519}
				pkh.Hash[0], pkh.Hash[1] = byte(k), byte(k>>8)
				wk := tezos.WatermarkKey{ChainID: tzChain, Class: tezos.ClassAttestation, Level: uint32(i)}
				g, err := s.LockTezos(pkh)
				if err != nil {
					return err
				}
				defer g.Unlock()
				hash := [32]byte{byte(i)}
				if v, _, err := g.Check(wk, hash); v != tezos.VerdictSign {
					return fmt.Errorf("verdict %v: %v", v, err)
				}
				if err := g.Record(wk, hash); err != nil {
					return err
				}
				return g.NoteSignature(wk, hash, make([]byte, 64))
			})
		})
	}
}

// BenchmarkEthRecord is BenchmarkTezosRecord for an Ethereum attestation (check and
// durable record, Inv 5).
func BenchmarkEthRecord(b *testing.B) {
	for _, keys := range []int{1, 8, 64} {
		b.Run(fmt.Sprintf("keys=%d", keys), func(b *testing.B) {
			benchRecorder(b, keys, func(s *Store, k int, i uint64) error {
				return s.CheckAttestation([48]byte{byte(k), byte(k >> 8), 0xbe}, i-1, i, root(1))
			})
		})
	}
}
