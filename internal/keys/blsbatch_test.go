package keys

import (
	"fmt"
	"math/rand/v2"
	"sync"
	"syscall"
	"testing"
	"time"
	"unsafe"

	blst "github.com/supranational/blst/bindings/go"
)

// batchKeys loads n generated BLS keys.
func batchKeys(tb testing.TB, n int) []*BLSKey {
	tb.Helper()
	s, _, _ := testStore(tb)
	if _, err := GenerateBLS(s, n, genMeta()); err != nil {
		tb.Fatal(err)
	}
	ks, err := s.LoadBLS(testArena(tb, n))
	if err != nil {
		tb.Fatal(err)
	}
	return ks
}

// oracle is blst's own verdict on a batch: every signature, compressed, verified alone
// with the signature subgroup check (blst Verify through VerifyBLS).
func oracle(items []BLSBatchItem) bool {
	for _, it := range items {
		if it.sig == nil || !VerifyBLS(it.pk, it.msg, it.sig.Compress()) {
			return false
		}
	}
	return true
}

// batchCase is one batch of a property test: which key signs which message, and how.
type batchCase struct {
	ks    []*BLSKey
	keyOf []int    // item → key
	msgs  [][]byte // item → message
	items []BLSBatchItem
}

// randomBatch draws a batch of 1…16 signatures over 1…4 distinct messages, so that groups
// of one message and singletons mix; half the signatures come from SignHashed.
func randomBatch(rng *rand.Rand, ks []*BLSKey) *batchCase {
	n := 1 + rng.IntN(16)
	pool := make([][]byte, 1+rng.IntN(4))
	for i := range pool {
		pool[i] = []byte(fmt.Sprintf("signing root %d of %d", rng.Uint64(), i))
	}
	c := &batchCase{ks: ks, keyOf: make([]int, n), msgs: make([][]byte, n), items: make([]BLSBatchItem, n)}
	for i := range n {
		c.keyOf[i] = rng.IntN(len(ks))
		c.msgs[i] = pool[rng.IntN(len(pool))]
		k := ks[c.keyOf[i]]
		sig := k.SignPoint(c.msgs[i])
		if rng.IntN(2) == 0 {
			sig = k.SignHashed(HashBLSMessage(c.msgs[i]))
		}
		c.items[i] = k.BatchItem(c.msgs[i], sig)
	}
	return c
}

// flipBit damages a hash in memory, as a fault would.
func flipBit(h *BLSMessageHash, bit int) {
	b := (*[unsafe.Sizeof(blst.P2{})]byte)(unsafe.Pointer(&h.p))
	b[bit/8%len(b)] ^= 1 << (bit % 8)
}

// corrupt applies one kind of damage to one item and says what it did; "" when the batch
// offers no place for that kind (a swap needs two keys on one message).
func (c *batchCase) corrupt(rng *rand.Rand, kind int) string {
	i := rng.IntN(len(c.items))
	k := c.ks[c.keyOf[i]]
	switch kind {
	case 0: // a signature of another message
		c.items[i] = k.BatchItem(c.msgs[i], k.SignPoint(append([]byte("x"), c.msgs[i]...)))
		return "signature of another message"
	case 1: // another key's signature of the right message, under this key
		other := c.ks[(c.keyOf[i]+1)%len(c.ks)]
		c.items[i] = k.BatchItem(c.msgs[i], other.SignPoint(c.msgs[i]))
		return "wrong key"
	case 2: // two keys' signatures of one message swapped (an aggregate check would pass)
		for j := range c.items {
			if j != i && c.keyOf[j] != c.keyOf[i] && string(c.msgs[j]) == string(c.msgs[i]) {
				c.items[i].sig, c.items[j].sig = c.items[j].sig, c.items[i].sig
				return "swapped signatures"
			}
		}
		return ""
	case 3: // signed from the hash of another message (a wrong cache entry)
		c.items[i] = k.BatchItem(c.msgs[i], k.SignHashed(HashBLSMessage(append([]byte("y"), c.msgs[i]...))))
		return "hash of another message"
	default: // signed from a hash with one bit flipped (a corrupted cache entry)
		h := HashBLSMessage(c.msgs[i])
		flipBit(h, rng.IntN(int(unsafe.Sizeof(blst.P2{}))*8))
		c.items[i] = k.BatchItem(c.msgs[i], k.SignHashed(h))
		return "corrupted hash"
	}
}

// Inv 6, property: random mixes of same and distinct messages verify as a batch, with the
// compressions Sign returns; any one wrong signature, wrong key, swap of two keys'
// signatures of one message or corrupted hash fails the batch; blst's own verification of
// each signature alone agrees every time.
func TestVerifyBLSBatchGrouped_Inv6(t *testing.T) {
	ks := batchKeys(t, 6)
	rng := rand.New(rand.NewPCG(7, 2026))
	kinds := map[string]int{}
	for trial := range 40 {
		c := randomBatch(rng, ks)
		outs, ok := VerifyBLSBatch(c.items)
		if !ok || !oracle(c.items) {
			t.Fatalf("trial %d: good batch of %d refused (oracle %v)", trial, len(c.items), oracle(c.items))
		}
		for i, o := range outs {
			if o != ks[c.keyOf[i]].Sign(c.msgs[i]) {
				t.Fatalf("trial %d item %d: not the compression of the signed point", trial, i)
			}
		}
		what := c.corrupt(rng, trial%5)
		if what == "" {
			continue
		}
		kinds[what]++
		if _, ok := VerifyBLSBatch(c.items); ok {
			t.Fatalf("trial %d: batch of %d with a %s verified", trial, len(c.items), what)
		}
		if oracle(c.items) {
			t.Fatalf("trial %d: blst verifies the batch with a %s", trial, what)
		}
	}
	if len(kinds) < 5 {
		t.Fatalf("corruptions exercised: %v, want all five kinds", kinds)
	}
}

// The same message signed by many keys, one of them wrong in each way: the batch fails.
func TestVerifyBLSBatchSameMessage_Inv6(t *testing.T) {
	ks := batchKeys(t, 8)
	msg := []byte("one attestation signing root, many keys")
	h := HashBLSMessage(msg)
	good := func() []BLSBatchItem {
		items := make([]BLSBatchItem, len(ks))
		for i, k := range ks {
			items[i] = k.BatchItem(msg, k.SignHashed(h))
		}
		return items
	}
	if _, ok := VerifyBLSBatch(good()); !ok {
		t.Fatal("good batch refused")
	}
	items := good()
	items[2].sig, items[5].sig = items[5].sig, items[2].sig
	if _, ok := VerifyBLSBatch(items); ok {
		t.Fatal("swapped signatures verified")
	}
	items = good()
	items[4].pk = items[3].pk // two items claim one key: its signature is missing
	if _, ok := VerifyBLSBatch(items); ok {
		t.Fatal("signature under the wrong key verified")
	}
	items = good()
	items[7] = BLSBatchItem{pk: items[7].pk, msg: msg, sig: new(blst.P2Affine)} // infinity
	if _, ok := VerifyBLSBatch(items); ok {
		t.Fatal("point at infinity verified")
	}
	items = good()
	items[0].msg = []byte("another root") // the signature is of msg
	if _, ok := VerifyBLSBatch(items); ok {
		t.Fatal("signature verified for another message")
	}
	if _, ok := VerifyBLSBatch([]BLSBatchItem{{pk: items[1].pk, msg: msg}}); ok {
		t.Fatal("missing signature verified")
	}
	if _, ok := VerifyBLSBatch(nil); ok {
		t.Fatal("empty batch verified")
	}
}

// SignHashed from the message's hash is SignPoint; from a destroyed key or no hash it
// never verifies.
func TestSignHashedIsSignPoint(t *testing.T) {
	ks := batchKeys(t, 2)
	msg := []byte("root")
	sig := ks[0].SignHashed(HashBLSMessage(msg))
	got, ok := ks[0].VerifySignature(msg, sig)
	if !ok || got != ks[0].Sign(msg) {
		t.Fatal("SignHashed differs from Sign")
	}
	if _, ok := ks[0].VerifySignature(msg, ks[0].SignHashed(nil)); ok {
		t.Fatal("signature without a hash verified")
	}
	ks[1].Destroy()
	if _, ok := ks[1].VerifySignature(msg, ks[1].SignHashed(HashBLSMessage(msg))); ok {
		t.Fatal("destroyed key still signs")
	}
}

// The cache is bounded, keeps what is used, shares one entry among concurrent callers,
// and Evict removes only the entry it names.
func TestBLSHashCache(t *testing.T) {
	c := NewBLSHashCache(4)
	root := func(i byte) [32]byte { return [32]byte{i} }
	var wg sync.WaitGroup
	got := make([]*BLSMessageHash, 16)
	for i := range got {
		wg.Go(func() { got[i] = c.Hash(root(1)) })
	}
	wg.Wait()
	for _, h := range got {
		if h != got[0] {
			t.Fatal("concurrent callers got different entries for one root")
		}
	}
	r1 := root(1)
	if want := HashBLSMessage(r1[:]); !want.p.Equals(&got[0].p) {
		t.Fatal("cached hash is not H(root)")
	}
	for i := byte(2); i <= 10; i++ {
		c.Hash(root(1)) // kept in use
		c.Hash(root(i))
	}
	if c.Len() != 4 {
		t.Fatalf("cache holds %d, want its capacity 4", c.Len())
	}
	if c.Hash(root(1)) != got[0] {
		t.Fatal("the entry in use was evicted")
	}
	h1 := c.Hash(root(1))
	c.Evict(root(1), h1)
	h2 := c.Hash(root(1))
	if h2 == h1 {
		t.Fatal("Evict kept the entry")
	}
	c.Evict(root(1), h1) // stale: h2 stays
	if c.Hash(root(1)) != h2 {
		t.Fatal("a stale Evict removed the newer entry")
	}
}

// processCPU is the CPU time the test process has used (user and system, all threads):
// blst spreads a batch over several threads, so CPU time per signature, not wall time,
// is what a busy signer pays.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// reportPerSig adds wall and CPU time per signature to a benchmark of batches of n.
func reportPerSig(b *testing.B, n int, cpu time.Duration) {
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/sig")
	b.ReportMetric(float64(cpu.Nanoseconds())/float64(b.N*n), "cpu-ns/sig")
}

// BenchmarkBLSBatchVerify: batch verification per signature (sign excluded), the same
// message across keys (attestations of one slot) and distinct messages (the worst case),
// beside blst's MultipleAggregateVerify of distinct messages.
func BenchmarkBLSBatchVerify(b *testing.B) {
	ks := batchKeys(b, 64)
	for _, n := range []int{1, 4, 16, 64} {
		for _, distinct := range []bool{false, true} {
			items := make([]BLSBatchItem, n)
			for i := range items {
				msg := []byte("attestation signing root.......")
				if distinct {
					msg = fmt.Appendf(nil, "attestation signing root %5d", i)
				}
				items[i] = ks[i].BatchItem(msg, ks[i].SignPoint(msg))
			}
			name := "same"
			if distinct {
				name = "distinct"
			}
			b.Run(fmt.Sprintf("%s-%d", name, n), func(b *testing.B) {
				b.ReportAllocs()
				cpu := processCPU()
				for b.Loop() {
					if _, ok := VerifyBLSBatch(items); !ok {
						b.Fatal("refused")
					}
				}
				reportPerSig(b, n, processCPU()-cpu)
			})
			if !distinct || n == 1 {
				continue
			}
			b.Run(fmt.Sprintf("blst-MultipleAggregateVerify-%d", n), func(b *testing.B) {
				sigs, pks, msgs := make([]*blst.P2Affine, n), make([]*blst.P1Affine, n), make([]blst.Message, n)
				for i, it := range items {
					sigs[i], pks[i], msgs[i] = it.sig, it.pk, it.msg
				}
				randFn := func(s *blst.Scalar) {
					var r [32]byte
					r[24] = 0x80 | byte(time.Now().UnixNano())
					s.FromBEndian(r[:])
				}
				cpu := processCPU()
				for b.Loop() {
					if !new(blst.P2Affine).MultipleAggregateVerify(sigs, false, pks, false, msgs, []byte(BLSDST), randFn, 64) {
						b.Fatal("refused")
					}
				}
				reportPerSig(b, n, processCPU()-cpu)
			})
		}
	}
}

// BenchmarkBLSSignHashed: signing from a shared hash (multiply only) against SignPoint
// (hash and multiply), and the cache's hit path.
func BenchmarkBLSSignHashed(b *testing.B) {
	ks := batchKeys(b, 1)
	msg := []byte("attestation signing root.......")
	h := HashBLSMessage(msg)
	b.Run("SignPoint", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			ks[0].SignPoint(msg)
		}
	})
	b.Run("SignHashed", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			ks[0].SignHashed(h)
		}
	})
	b.Run("HashBLSMessage", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			HashBLSMessage(msg)
		}
	})
	b.Run("cache-hit", func(b *testing.B) {
		c := NewBLSHashCache(256)
		root := [32]byte{1}
		c.Hash(root)
		b.ReportAllocs()
		for b.Loop() {
			c.Hash(root)
		}
	})
}
