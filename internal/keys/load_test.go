package keys

import (
	"testing"
)

func TestLoadBLSRoundTrip(t *testing.T) {
	s, _, _ := testStore(t)
	pubs, err := GenerateBLS(s, 20, genMeta())
	if err != nil {
		t.Fatal(err)
	}
	keys, err := s.LoadBLS(testArena(t, 20))
	if err != nil {
		t.Fatal(err)
	}
	if len(keys) != len(pubs) {
		t.Fatalf("loaded %d keys, want %d", len(keys), len(pubs))
	}
	want := make(map[[48]byte]bool)
	for _, p := range pubs {
		want[p] = true
	}
	msg := []byte("keyward")
	for _, k := range keys {
		if !want[k.PublicKey()] {
			t.Fatalf("unexpected key %x", k.PublicKey())
		}
		// Inv 6: what Sign returns verifies under the key's own public key.
		sig := k.Sign(msg)
		if !k.Verify(msg, sig) {
			t.Fatalf("signature of %x does not verify", k.PublicKey())
		}
		if k.Verify([]byte("other"), sig) {
			t.Fatal("signature verifies for another message")
		}
		k.Destroy()
		if sig := k.Sign(msg); k.Verify(msg, sig) {
			t.Fatal("destroyed key still signs")
		}
	}
}

func BenchmarkLoadBLS10000(b *testing.B) {
	const n = 10_000
	s, _, _ := testStore(b)
	if _, err := GenerateBLS(s, n, genMeta()); err != nil {
		b.Fatal(err)
	}
	arena := testArena(b, n)
	for b.Loop() {
		keys, err := s.LoadBLS(arena)
		if err != nil {
			b.Fatal(err)
		}
		if len(keys) != n {
			b.Fatalf("loaded %d", len(keys))
		}
		b.StopTimer()
		for _, k := range keys {
			k.Destroy()
		}
		b.StartTimer()
	}
}
