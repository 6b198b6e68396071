package bench

import (
	"crypto/ed25519"
	"crypto/rand"
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	blst "github.com/supranational/blst/bindings/go"
)

// Baseline is the raw signing rate of a curve on all cores, measured in the same run.
type Baseline struct {
	Curve      string  `json:"curve"`
	Throughput float64 `json:"signatures_per_second"`
	Cores      int     `json:"cores"`
	CPUUs      float64 `json:"cpu_us_per_signature"` // this process's CPU time per signature
}

// RawBLS signs with blst on GOMAXPROCS goroutines for d.
func RawBLS(d time.Duration) Baseline {
	var ikm [32]byte
	_, _ = rand.Read(ikm[:])
	sk := blst.KeyGen(ikm[:])
	dst := []byte("BLS_SIG_BLS12381G2_XMD:SHA-256_SSWU_RO_POP_")
	msg := make([]byte, 32)
	n, cpu := spin(d, func() { new(blst.P2Affine).Sign(sk, msg, dst) })
	return Baseline{Curve: "bls12-381 (blst sign)", Throughput: n, Cores: runtime.GOMAXPROCS(0), CPUUs: cpu}
}

// RawBLSSignVerify is RawBLS plus the verification every keyward signature gets (Inv 6).
func RawBLSSignVerify(d time.Duration) Baseline {
	var ikm [32]byte
	_, _ = rand.Read(ikm[:])
	sk := blst.KeyGen(ikm[:])
	pk := new(blst.P1Affine).From(sk)
	dst := []byte("BLS_SIG_BLS12381G2_XMD:SHA-256_SSWU_RO_POP_")
	msg := make([]byte, 32)
	n, cpu := spin(d, func() {
		sig := new(blst.P2Affine).Sign(sk, msg, dst)
		sig.Verify(false, pk, false, msg, dst)
	})
	return Baseline{Curve: "bls12-381 (blst sign+verify)", Throughput: n, Cores: runtime.GOMAXPROCS(0), CPUUs: cpu}
}

// RawBLSSharedHash is the stricter baseline for workloads whose keys share messages
// (the attestations of one slot): a signer that hashes each message to G2 once for
// perMessage keys and then multiplies per key (blst P2.Mult by the secret scalar, to
// affine), on GOMAXPROCS goroutines for d. RawBLS hashes and multiplies per signature,
// as blst's Sign does.
func RawBLSSharedHash(d time.Duration, perMessage int) Baseline {
	var ikm [32]byte
	_, _ = rand.Read(ikm[:])
	sk := blst.KeyGen(ikm[:])
	dst := []byte("BLS_SIG_BLS12381G2_XMD:SHA-256_SSWU_RO_POP_")
	perMessage = max(perMessage, 1)
	n, cpu := spinEach(d, func() func() {
		msg := make([]byte, 32)
		var h *blst.P2
		i := 0
		return func() {
			if i%perMessage == 0 {
				msg[0]++
				h = blst.HashToG2(msg, dst)
			}
			i++
			h.Mult(sk).ToAffine()
		}
	})
	return Baseline{Curve: fmt.Sprintf("bls12-381 (hash once/%d keys)", perMessage), Throughput: n, Cores: runtime.GOMAXPROCS(0), CPUUs: cpu}
}

// EthBaselines measures, one after the other for d each, the baselines an Ethereum run
// is compared with: raw blst signing (hash and multiply per signature), raw signing
// plus verification, and raw signing with one hash per message shared by keys keys.
func EthBaselines(d time.Duration, keys int) []Baseline {
	return []Baseline{RawBLS(d), RawBLSSignVerify(d), RawBLSSharedHash(d, keys)}
}

// RawEd25519 signs with crypto/ed25519 on GOMAXPROCS goroutines for d.
func RawEd25519(d time.Duration) Baseline {
	_, priv, _ := ed25519.GenerateKey(rand.Reader)
	msg := make([]byte, 32)
	n, cpu := spin(d, func() { ed25519.Sign(priv, msg) })
	return Baseline{Curve: "ed25519 (sign)", Throughput: n, Cores: runtime.GOMAXPROCS(0), CPUUs: cpu}
}

// spin runs f on every core for d and returns calls per second and CPU µs per call.
func spin(d time.Duration, f func()) (float64, float64) {
	return spinEach(d, func() func() { return f })
}

// spinEach is spin with a function of its own per goroutine, made by mk.
func spinEach(d time.Duration, mk func() func()) (float64, float64) {
	cpu0 := processCPU()
	var count atomic.Int64
	var wg sync.WaitGroup
	deadline := time.Now().Add(d)
	start := time.Now()
	for range runtime.GOMAXPROCS(0) {
		wg.Go(func() {
			f := mk()
			for time.Now().Before(deadline) {
				f()
				count.Add(1)
			}
		})
	}
	wg.Wait()
	n := int(count.Load())
	return float64(n) / time.Since(start).Seconds(), perSignature(processCPU()-cpu0, n)
}
