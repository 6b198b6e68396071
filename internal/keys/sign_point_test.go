package keys

import (
	"bytes"
	"encoding/hex"
	"fmt"
	"testing"

	"github.com/keyward/keyward/internal/tezos"
)

// Inv 6: VerifySignature returns the compression of the point it verified, the same bytes
// Sign returns, and refuses a point that is not this key's signature of the message.
func TestBLSVerifySignaturePoint_Inv6(t *testing.T) {
	s, _, _ := testStore(t)
	if _, err := GenerateBLS(s, 2, genMeta()); err != nil {
		t.Fatal(err)
	}
	ks, err := s.LoadBLS(testArena(t, 2))
	if err != nil {
		t.Fatal(err)
	}
	msg := []byte("keyward")
	got, ok := ks[0].VerifySignature(msg, ks[0].SignPoint(msg))
	if !ok || got != ks[0].Sign(msg) || !ks[0].Verify(msg, got) {
		t.Fatal("verified point does not compress to Sign's signature")
	}
	if _, ok := ks[0].VerifySignature([]byte("other"), ks[0].SignPoint(msg)); ok {
		t.Fatal("signature verified for another message")
	}
	if _, ok := ks[0].VerifySignature(msg, ks[1].SignPoint(msg)); ok {
		t.Fatal("another key's signature verified")
	}
	if _, ok := ks[0].VerifySignature(msg, BLSSignature{}); ok {
		t.Fatal("empty signature verified")
	}
	ks[0].Destroy()
	if _, ok := ks[0].VerifySignature(msg, ks[0].SignPoint(msg)); ok {
		t.Fatal("destroyed key still signs")
	}
}

// The core records Tezos signatures without waiting for their commit only because every
// local key kind re-signs identical bytes identically.
func TestTezosSignaturesDeterministic(t *testing.T) {
	signing, _ := loadTezosSignatures(t)
	kinds := map[tezos.KeyKind]bool{}
	for _, v := range signing {
		kind, secret, err := tezos.ParseSecretKey(v.SecretKey, nil)
		if err != nil {
			t.Fatal(err)
		}
		k := loadOne(t, kind, secret)
		if !k.DeterministicSignatures() {
			t.Fatalf("%s: not deterministic", v.ID)
		}
		msg, _ := hex.DecodeString(v.SignedBytesHex)
		msg = append([]byte{0x13}, msg...)
		a, errA := k.Sign(msg)
		b, errB := k.Sign(msg)
		if errA != nil || errB != nil || !bytes.Equal(a, b) {
			t.Fatalf("%s: two signatures of the same bytes differ (%v, %v)", v.ID, errA, errB)
		}
		kinds[kind] = true
	}
	if len(kinds) < 4 {
		t.Fatalf("vectors cover %d key kinds, want 4", len(kinds))
	}
}

// VerifyBLSBatch returns the compressions of a good batch and refuses a batch with one
// wrong signature (Inv 6).
func TestVerifyBLSBatch_Inv6(t *testing.T) {
	s, _, _ := testStore(t)
	if _, err := GenerateBLS(s, 4, genMeta()); err != nil {
		t.Fatal(err)
	}
	ks, err := s.LoadBLS(testArena(t, 4))
	if err != nil {
		t.Fatal(err)
	}
	items := make([]BLSBatchItem, len(ks))
	msgs := make([][]byte, len(ks))
	for i, k := range ks {
		msgs[i] = []byte{byte(i), 'k'}
		items[i] = k.BatchItem(msgs[i], k.SignPoint(msgs[i]))
	}
	outs, ok := VerifyBLSBatch(items)
	if !ok {
		t.Fatal("good batch refused")
	}
	for i, k := range ks {
		if outs[i] != k.Sign(msgs[i]) {
			t.Fatalf("item %d: not the compression of the signed point", i)
		}
	}
	items[2] = ks[2].BatchItem(msgs[2], ks[2].SignPoint([]byte("other")))
	if _, ok := VerifyBLSBatch(items); ok {
		t.Fatal("batch with a wrong signature verified")
	}
	items[2] = ks[2].BatchItem(msgs[2], ks[1].SignPoint(msgs[2]))
	if _, ok := VerifyBLSBatch(items); ok {
		t.Fatal("batch with another key's signature verified")
	}
	if _, ok := VerifyBLSBatch(nil); ok {
		t.Fatal("empty batch verified")
	}
}

// BenchmarkBLSVerify compares, in one run, the ways the core can check its own signature
// (sign included): the compressed bytes (decompress, subgroup check, pairing), the point
// as signed (pairing only), and batches of the points (per signature).
func BenchmarkBLSVerify(b *testing.B) {
	s, _, _ := testStore(b)
	if _, err := GenerateBLS(s, 32, genMeta()); err != nil {
		b.Fatal(err)
	}
	ks, err := s.LoadBLS(testArena(b, 32))
	if err != nil {
		b.Fatal(err)
	}
	msg := []byte("attestation signing root.......")
	b.Run("sign-only", func(b *testing.B) {
		for b.Loop() {
			ks[0].SignPoint(msg)
		}
	})
	b.Run("sign+verify-compressed", func(b *testing.B) {
		for b.Loop() {
			if !ks[0].Verify(msg, ks[0].Sign(msg)) {
				b.Fatal("refused")
			}
		}
	})
	b.Run("sign+verify-point", func(b *testing.B) {
		for b.Loop() {
			if _, ok := ks[0].VerifySignature(msg, ks[0].SignPoint(msg)); !ok {
				b.Fatal("refused")
			}
		}
	})
	for _, n := range []int{2, 4, 8, 32} {
		b.Run(fmt.Sprintf("sign+verify-batch-%d-per-signature", n), func(b *testing.B) {
			items := make([]BLSBatchItem, n)
			for b.Loop() {
				for j := range items {
					items[j] = ks[j].BatchItem(msg, ks[j].SignPoint(msg))
				}
				if _, ok := VerifyBLSBatch(items); !ok {
					b.Fatal("refused")
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/signature")
		})
	}
}
