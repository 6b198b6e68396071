package main

import (
	"net/http"
	"strings"
	"sync/atomic"
	"testing"

	blst "github.com/supranational/blst/bindings/go"
)

// BenchmarkSignAttestationHTTP measures an attestation through HTTP, gateway, wire, core,
// durable protection, signing and verification, with clients on the same 2 cores. Compare
// with BenchmarkRawBLSSign from the same run: the ratio is the figure that matters.
func BenchmarkSignAttestationHTTP(b *testing.B) {
	s := startSignerB(b, 32)
	ks := s.keys()
	var next atomic.Int64
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 256}}
	b.SetParallelism(16)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		id := next.Add(1)
		key := ks[int(id)%len(ks)]
		epoch := uint64(id) << 20 // distinct, increasing epochs per goroutine
		for pb.Next() {
			epoch++
			req, _ := http.NewRequest(http.MethodPost, s.url+"/api/v1/eth2/sign/"+key, strings.NewReader(attestation(epoch-1, epoch, 1, "")))
			req.Header.Set("Accept", "application/json")
			resp, err := client.Do(req)
			if err != nil {
				b.Error(err)
				return
			}
			resp.Body.Close()
			if resp.StatusCode != 200 && resp.StatusCode != 412 { // 412: two goroutines shared a key
				b.Errorf("status %d", resp.StatusCode)
				return
			}
		}
	})
}

// BenchmarkRawBLSSign is the baseline: blst signing alone on the same cores.
func BenchmarkRawBLSSign(b *testing.B) {
	var ikm [32]byte
	sk := blst.KeyGen(ikm[:])
	msg := [32]byte{1}
	dst := []byte("BLS_SIG_BLS12381G2_XMD:SHA-256_SSWU_RO_POP_")
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			new(blst.P2Affine).Sign(sk, msg[:], dst)
		}
	})
}

// BenchmarkRawBLSSignVerify is blst signing plus the verification Inv 6 requires.
func BenchmarkRawBLSSignVerify(b *testing.B) {
	var ikm [32]byte
	sk := blst.KeyGen(ikm[:])
	pk := new(blst.P1Affine).From(sk)
	msg := [32]byte{1}
	dst := []byte("BLS_SIG_BLS12381G2_XMD:SHA-256_SSWU_RO_POP_")
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			sig := new(blst.P2Affine).Sign(sk, msg[:], dst)
			if !sig.Verify(false, pk, false, msg[:], dst) {
				b.Error("verify")
			}
		}
	})
}
