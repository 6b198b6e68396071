package keys

import (
	"bytes"
	"crypto/rand"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"

	blst "github.com/supranational/blst/bindings/go"
)

// BLSBatchItem is one signature of a batch for VerifyBLSBatch.
type BLSBatchItem struct {
	pk  *blst.P1Affine
	msg []byte
	sig *blst.P2Affine
}

// BatchItem prepares sig, a signature of msg from SignPoint or SignHashed, for
// VerifyBLSBatch.
func (k *BLSKey) BatchItem(msg []byte, sig BLSSignature) BLSBatchItem {
	return BLSBatchItem{pk: &k.pk, msg: msg, sig: sig.p}
}

// batchScalarBytes is the size of each random scalar of a batch: 64 bits.
const batchScalarBytes = 8

// VerifyBLSBatch checks every signature of the batch at once and, only if all hold,
// returns their compressions in order (Inv 6, as VerifySignature).
//
// It checks one random linear combination, grouped by message. With independent 64-bit
// scalars rᵢ from crypto/rand (top bit set, so never zero: 63 random bits), for each
// distinct message m_g it computes P_g = Σ_{i: msgᵢ = m_g} rᵢ·pkᵢ and H_g = H(m_g), hashed
// here, fresh, never taken from a BLSHashCache (a signature made from a corrupted cached
// hash is sk·H' ≠ sk·H(m) and fails); with S = Σ rᵢ·sigᵢ it checks
//
//	Π_g e(P_g, H_g) · e(−g1, S) = 1
//
// with Miller loops over the G+1 pairs (blst spreads them over the threads) and one final
// exponentiation; the G hashes are computed in parallel too.
//
// By bilinearity the left side is Π_i (e(pkᵢ, H(msgᵢ)) / e(g1, sigᵢ))^rᵢ, so a batch whose
// signatures all hold passes, and a batch with any wrong signature passes with
// probability about 2⁻⁶³: the rᵢ are drawn after the signatures exist. Keys signing the
// same message (Ethereum attestations of one slot since Electra, EIP-7549) cost one hash
// and one Miller loop per batch together; distinct messages cost one each, as in blst's
// MultipleAggregateVerify.
//
// The subgroup checks are skipped for the reason given at VerifySignature, and the
// argument above needs them no more than it does there: the small-exponent test can miss
// a component of small order h in some sigᵢ (it cancels when h divides rᵢ), but every
// sigᵢ was computed here as sk·H with H in G2 (SignPoint, SignHashed), every pkᵢ was
// validated when the key was loaded, and H_g is computed here by hash_to_curve, which
// clears the cofactor. What the check is for is a wrong secret, a faulty computation or
// corrupted memory (of a signature or a cached hash), and a fault yields a wrong multiple
// (caught as above) or a point off the curve (the pairing product is then a value the
// equation matches only by chance; the tests flip bits of a hash to check it fails), not
// a correct point plus a crafted torsion component.
// Combinations that come out as the point at infinity (negligible for honest input) fail
// the batch.
//
// On false the caller verifies the signatures one by one to find the bad ones.
func VerifyBLSBatch(items []BLSBatchItem) ([][BLSSignatureSize]byte, bool) {
	n := len(items)
	if n == 0 {
		return nil, false
	}
	for _, it := range items {
		if it.sig == nil || it.pk == nil {
			return nil, false
		}
	}
	// Order by message, so that each group is a run; pks, sigs and scalars follow it.
	order := make([]int, n)
	for i := range order {
		order[i] = i
	}
	slices.SortFunc(order, func(a, b int) int { return bytes.Compare(items[a].msg, items[b].msg) })
	pks := make([]*blst.P1Affine, n)
	sigs := make([]*blst.P2Affine, n)
	for j, i := range order {
		pks[j], sigs[j] = items[i].pk, items[i].sig
	}
	scalars := make([]byte, n*batchScalarBytes) // little-endian, as blst reads them
	if _, err := rand.Read(scalars); err != nil {
		return nil, false
	}
	for j := range n {
		scalars[j*batchScalarBytes+batchScalarBytes-1] |= 0x80 // never zero
	}
	// Groups: the runs of one message. Pair g is (H_g, P_g); the last is (−S, g1).
	var starts []int
	for a := 0; a < n; {
		b := a + 1
		for b < n && bytes.Equal(items[order[b]].msg, items[order[a]].msg) {
			b++
		}
		starts = append(starts, a)
		a = b
	}
	starts = append(starts, n)
	groups := len(starts) - 1
	qs := make([]blst.P2Affine, groups+1)
	ps := make([]blst.P1Affine, groups+1)
	dst := []byte(BLSDST)
	forEach(groups, func(g int) {
		a, b := starts[g], starts[g+1]
		qs[g] = *blst.HashToG2(items[order[a]].msg, dst).ToAffine() // fresh (see above)
		ps[g] = *groupMult(pks[a:b], scalars[a*batchScalarBytes:b*batchScalarBytes]).ToAffine()
	})
	sigs, scalars = padMSM(sigs, scalars)
	var negS blst.P2
	negS.SubAssign(blst.P2AffinesMult(sigs, scalars, 8*batchScalarBytes))
	qs[groups], ps[groups] = *negS.ToAffine(), *blst.P1Generator().ToAffine()
	var inf1 blst.P1Affine
	var inf2 blst.P2Affine
	for g := range qs {
		if qs[g].Equals(&inf2) || ps[g].Equals(&inf1) {
			return nil, false
		}
	}
	one := blst.Fp12One()
	if !blst.Fp12FinalVerify(&one, blst.Fp12MillerLoopN(qs, ps)) { // Miller loops on several threads
		return nil, false
	}
	out := make([][BLSSignatureSize]byte, n)
	for i, it := range items {
		copy(out[i][:], it.sig.Compress())
	}
	return out, true
}

// groupMult returns Σ scalarᵢ·pkᵢ with 64-bit little-endian scalars.
func groupMult(pks []*blst.P1Affine, scalars []byte) *blst.P1 {
	if len(pks) == 1 {
		var p blst.P1
		return p.MultNAccumulate(pks[0], scalars, 8*batchScalarBytes)
	}
	pks, scalars = padMSM(pks, scalars)
	return blst.P1AffinesMult(pks, scalars, 8*batchScalarBytes)
}

// forEach calls f(0), …, f(n-1) on up to GOMAXPROCS goroutines (the hashes of a batch's
// distinct messages are independent).
func forEach(n int, f func(int)) {
	workers := min(n, runtime.GOMAXPROCS(0))
	if workers <= 1 {
		for i := range n {
			f(i)
		}
		return
	}
	var next atomic.Int64
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for i := int(next.Add(1) - 1); i < n; i = int(next.Add(1) - 1) {
				f(i)
			}
		})
	}
	wg.Wait()
}

// blst's multi-scalar multiplication uses Pippenger's method from msmPippenger points on
// (when it may use several threads) and one windowed multiplication per point below,
// which costs two to four times as much per point at 8–24 points (BenchmarkBLSBatchVerify
// and docs/benchmarks.md). Points with a zero scalar cost Pippenger next to nothing, so
// from msmPadFrom points on a smaller set is padded to msmPippenger with zero scalars.
const (
	msmPippenger = 32
	msmPadFrom   = 4
)

// padMSM pads points (with copies of the first) and scalars (with zeros) to
// msmPippenger when there are msmPadFrom to msmPippenger-1 of them. The sum is unchanged.
func padMSM[P any](points []*P, scalars []byte) ([]*P, []byte) {
	n := len(points)
	if n < msmPadFrom || n >= msmPippenger {
		return points, scalars
	}
	pp := make([]*P, msmPippenger)
	copy(pp, points)
	for i := n; i < msmPippenger; i++ {
		pp[i] = points[0]
	}
	ss := make([]byte, msmPippenger*batchScalarBytes)
	copy(ss, scalars[:n*batchScalarBytes])
	return pp, ss
}
