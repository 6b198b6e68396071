package core

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/keyward/keyward/internal/keys"
	"github.com/keyward/keyward/internal/wire"
)

// wrongHashKey signs from the hash of another message whatever hash it is given, as it
// would with a corrupted entry of the Service's hash cache; SignPoint is right.
type wrongHashKey struct{ *keys.BLSKey }

func (k wrongHashKey) SignHashed(*keys.BLSMessageHash) keys.BLSSignature {
	return k.BLSKey.SignHashed(keys.HashBLSMessage([]byte("another root")))
}

// panicKey makes verification panic, in a batch or alone.
type panicKey struct{ *keys.BLSKey }

func (panicKey) BatchItem([]byte, keys.BLSSignature) keys.BLSBatchItem { panic("batch item") }

func (panicKey) VerifySignature([]byte, keys.BLSSignature) ([96]byte, bool) { panic("verify") }

// keyedService makes n keys and a Service whose key i is wrap(i, key i) and returns the
// keys and their public keys too.
func keyedService(t *testing.T, n int, wrap func(i int, k *keys.BLSKey) BLSKey) (*Service, []*keys.BLSKey, [][48]byte) {
	t.Helper()
	ks := realKeys(t, n)
	signers := make([]BLSKey, n)
	pubs := make([][48]byte, n)
	for i, k := range ks {
		signers[i], pubs[i] = wrap(i, k), k.PublicKey()
	}
	return newService(t, signers), ks, pubs
}

// replaceKey is a wrap for keyedService that replaces key i0 by mk(key) only.
func replaceKey(i0 int, mk func(*keys.BLSKey) BLSKey) func(int, *keys.BLSKey) BLSKey {
	return func(i int, k *keys.BLSKey) BLSKey {
		if i == i0 {
			return mk(k)
		}
		return k
	}
}

// signAll signs one attestation per key at once (keys at the same target sign the same
// root) and returns the results; a panic becomes a nil result, as handleSign would
// answer "unavailable".
func signAll(s *Service, pubs [][48]byte, target func(i int) uint64, blockRoot func(i int) byte) []*wire.SignResult {
	res := make([]*wire.SignResult, len(pubs))
	var wg sync.WaitGroup
	for i, pub := range pubs {
		wg.Go(func() {
			defer func() { _ = recover() }()
			res[i] = s.SignEth(attestationReq(pub, target(i)-1, target(i), blockRoot(i)))
		})
	}
	wg.Wait()
	return res
}

// wantVerified checks that r carries key k's valid signature of the request's root.
func wantVerified(t *testing.T, s *Service, k *keys.BLSKey, req *wire.EthSignRequest, r *wire.SignResult) {
	t.Helper()
	if r == nil || r.Err != nil {
		t.Fatalf("key %x: %+v", k.PublicKey(), r)
	}
	sg, err := s.network.Signable(&req.Req)
	if err != nil {
		t.Fatal(err)
	}
	if !k.Verify(sg.SigningRoot[:], r.Signature) {
		t.Fatalf("key %x: returned signature does not verify", k.PublicKey())
	}
}

// Inv 6 with the shared hash: signatures made from a wrong cached hash never leave; the
// entry is evicted and every key is served from a fresh hash, verified.
func TestWrongCachedHashNeverLeaves_Inv6(t *testing.T) {
	s, ks, pubs := keyedService(t, 8, func(_ int, k *keys.BLSKey) BLSKey { return wrongHashKey{k} })
	one := func(int) uint64 { return 1 }
	same := func(int) byte { return 7 }
	res := signAll(s, pubs, one, same)
	for i, r := range res {
		wantVerified(t, s, ks[i], attestationReq(pubs[i], 0, 1, 7), r)
	}
	if n := s.hashes.Len(); n != 0 {
		t.Fatalf("the cache still holds %d entries after their signatures failed", n)
	}
}

// The verifier under a mix of shared and distinct roots, many rounds of concurrent
// requests: every signature is served and verifies, a corrupt key is refused every time,
// and the cache stays within its bound.
func TestBatchVerifierMixedRoots_Inv6(t *testing.T) {
	s, ks, pubs := keyedService(t, 24, replaceKey(5, func(k *keys.BLSKey) BLSKey { return corruptKey{k} }))
	for round := uint64(1); round <= 4; round++ {
		target := func(i int) uint64 { return round*10 + uint64(i%3) } // three roots shared by 8 keys each…
		root := func(i int) byte {
			if round%2 == 0 {
				return byte(i) // …or every key its own root
			}
			return 0
		}
		res := signAll(s, pubs, target, root)
		for i, r := range res {
			if i == 5 {
				wantKind(t, r, wire.KindUnavailable)
				continue
			}
			wantVerified(t, s, ks[i], attestationReq(pubs[i], target(i)-1, target(i), root(i)), r)
		}
	}
	if n := s.hashes.Len(); n > hashCacheSize {
		t.Fatalf("cache holds %d > %d", n, hashCacheSize)
	}
}

// A panic while verifying a batch (Inv 8 recovers it in handleSign) releases every
// request of the batch: the others are verified alone and served (or see the panic, if
// they led the batch), the panicking key gets no signature, and later requests are still
// verified (the lead was not lost).
func TestBatchVerifierPanicReleasesBatch(t *testing.T) {
	s, ks, pubs := keyedService(t, 8, replaceKey(0, func(k *keys.BLSKey) BLSKey { return panicKey{k} }))
	for round := uint64(1); round <= 3; round++ {
		res := signAll(s, pubs, func(int) uint64 { return round }, func(int) byte { return 1 })
		for i, r := range res {
			if i == 0 {
				if r != nil {
					t.Fatalf("the panicking key got an answer: %+v", r)
				}
				continue
			}
			if r == nil {
				continue // this request led the batch that panicked
			}
			wantVerified(t, s, ks[i], attestationReq(pubs[i], round-1, round, 1), r)
		}
	}
	res := signAll(s, pubs[1:], func(int) uint64 { return 9 }, func(int) byte { return 1 })
	for i, r := range res {
		wantVerified(t, s, ks[i+1], attestationReq(pubs[i+1], 8, 9, 1), r)
	}
	s.verifier.mu.Lock()
	defer s.verifier.mu.Unlock()
	if s.verifier.leaders != 0 || len(s.verifier.queue) != 0 || s.verifier.collecting {
		t.Fatalf("verifier not idle: %d leaders, %d queued, collecting %v", s.verifier.leaders, len(s.verifier.queue), s.verifier.collecting)
	}
}

// BenchmarkSignEthShared signs attestations with 64 goroutines on 128 keys, beside raw
// blst signing in the same run (hash and multiply, and multiply only from a shared hash).
// Each goroutine takes the next free key, as `keyward bench` does, so keys sign in
// rounds: the keys of one round sign the same root (attestations of a slot since
// Electra), or each key its own root (the worst case). ns/op is per signature on all
// cores.
func BenchmarkSignEthShared(b *testing.B) {
	ks := realKeys(b, 128)
	for _, distinct := range []bool{false, true} {
		name := "same-root"
		if distinct {
			name = "distinct-roots"
		}
		b.Run(name, func(b *testing.B) {
			s := newService(b, asBLS(ks))
			free := make(chan int, len(ks))
			for i := range ks {
				free <- i
			}
			seq := make([]uint64, len(ks)) // per key; a key has one owner at a time
			b.SetParallelism(32)
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					i := <-free
					seq[i]++
					root := byte(0)
					if distinct {
						root = byte(i)
					}
					r := s.SignEth(attestationReq(ks[i].PublicKey(), seq[i]-1, seq[i], root))
					free <- i
					if r.Err != nil {
						b.Error(r.Err)
						return
					}
				}
			})
		})
	}
	b.Run("raw-blst-sign", func(b *testing.B) {
		msg := [32]byte{1}
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				ks[0].Sign(msg[:])
			}
		})
	})
	b.Run("raw-sign-shared-hash", func(b *testing.B) {
		h := keys.HashBLSMessage([]byte("root"))
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				ks[0].SignHashed(h)
			}
		})
	})
}

// signPanicKey panics while signing.
type signPanicKey struct{ *keys.BLSKey }

func (signPanicKey) SignHashed(*keys.BLSMessageHash) keys.BLSSignature { panic("signing broke") }

// TestSigningPanicUncounted_Inv8: a panic while signing becomes "unavailable" through
// Serve (Inv 8) and leaves no request counted as signing, so later batches' leaders never
// wait for it.
func TestSigningPanicUncounted_Inv8(t *testing.T) {
	ks := realKeys(t, 2)
	s := newService(t, []BLSKey{signPanicKey{ks[0]}, ks[1]})
	c, _ := serve(t, s, Limits{MaxConcurrent: 2, QueueDepth: 2})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	res, err := c.EthSign(ctx, attestationReq(ks[0].PublicKey(), 1, 2, 1))
	if err != nil || res.Err == nil || res.Err.Kind != wire.KindUnavailable {
		t.Fatalf("signing that panics: %+v, %v", res, err)
	}
	if n := s.verifier.signing.Load(); n != 0 {
		t.Fatalf("%d requests still counted as signing after the panic", n)
	}
	if res, err := c.EthSign(ctx, attestationReq(ks[1].PublicKey(), 1, 2, 1)); err != nil || res.Err != nil {
		t.Fatalf("the next request: %+v, %v", res, err)
	}
}
