package bench

import (
	"crypto/ed25519"
	"crypto/rand"
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
}

// RawBLS signs with blst on GOMAXPROCS goroutines for d.
func RawBLS(d time.Duration) Baseline {
	var ikm [32]byte
	_, _ = rand.Read(ikm[:])
	sk := blst.KeyGen(ikm[:])
	dst := []byte("BLS_SIG_BLS12381G2_XMD:SHA-256_SSWU_RO_POP_")
	msg := make([]byte, 32)
	n := spin(d, func() { new(blst.P2Affine).Sign(sk, msg, dst) })
	return Baseline{Curve: "bls12-381 (blst sign)", Throughput: n, Cores: runtime.GOMAXPROCS(0)}
}

// RawBLSSignVerify is RawBLS plus the verification every keyward signature gets (Inv 6).
func RawBLSSignVerify(d time.Duration) Baseline {
	var ikm [32]byte
	_, _ = rand.Read(ikm[:])
	sk := blst.KeyGen(ikm[:])
	pk := new(blst.P1Affine).From(sk)
	dst := []byte("BLS_SIG_BLS12381G2_XMD:SHA-256_SSWU_RO_POP_")
	msg := make([]byte, 32)
	n := spin(d, func() {
		sig := new(blst.P2Affine).Sign(sk, msg, dst)
		sig.Verify(false, pk, false, msg, dst)
	})
	return Baseline{Curve: "bls12-381 (blst sign+verify)", Throughput: n, Cores: runtime.GOMAXPROCS(0)}
}

// RawEd25519 signs with crypto/ed25519 on GOMAXPROCS goroutines for d.
func RawEd25519(d time.Duration) Baseline {
	_, priv, _ := ed25519.GenerateKey(rand.Reader)
	msg := make([]byte, 32)
	n := spin(d, func() { ed25519.Sign(priv, msg) })
	return Baseline{Curve: "ed25519 (sign)", Throughput: n, Cores: runtime.GOMAXPROCS(0)}
}

// spin runs f on every core for d and returns calls per second.
func spin(d time.Duration, f func()) float64 {
	var count atomic.Int64
	var wg sync.WaitGroup
	deadline := time.Now().Add(d)
	start := time.Now()
	for range runtime.GOMAXPROCS(0) {
		wg.Go(func() {
			for time.Now().Before(deadline) {
				f()
				count.Add(1)
			}
		})
	}
	wg.Wait()
	return float64(count.Load()) / time.Since(start).Seconds()
}
