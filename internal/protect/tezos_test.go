package protect

import (
	"bytes"
	"errors"
	"fmt"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/keyward/keyward/internal/tezos"
)

var (
	tzChain = tezos.ChainID{0x7a, 0x06, 0xa7, 0x70} // mainnet
	tzKeyA  = tezos.PublicKeyHash{Kind: tezos.KeyKindEd25519, Hash: [20]byte{1}}
	tzKeyB  = tezos.PublicKeyHash{Kind: tezos.KeyKindBLS, Hash: [20]byte{2}}
)

// tzSign runs the core's sequence for one request: lock, check, reissue or record, "sign"
// (the signature is derived from the hash, as a deterministic signer's would be), record
// the signature. It returns the signature, whether it was reissued, and the refusal.
func tzSign(t testing.TB, s *Store, pkh tezos.PublicKeyHash, class tezos.Class, level, round uint32, payload byte, signed *atomic.Int64) ([]byte, bool, error) {
	t.Helper()
	wk := tezos.WatermarkKey{ChainID: tzChain, Class: class, Level: level, Round: round}
	hash := [32]byte{payload}
	g, err := s.LockTezos(pkh)
	if err != nil {
		t.Fatal(err)
	}
	defer g.Unlock()
	v, sig, err := g.Check(wk, hash)
	switch v {
	case tezos.VerdictReissue:
		return sig, true, nil
	case tezos.VerdictSign:
	default:
		return nil, false, err
	}
	if err := g.Record(wk, hash); err != nil {
		t.Fatal(err)
	}
	if signed != nil {
		signed.Add(1)
	}
	sig = bytes.Repeat([]byte{payload, byte(level), byte(round)}, 32)[:64]
	if err := g.RecordSignature(wk, hash, sig); err != nil {
		t.Fatal(err)
	}
	return sig, false, nil
}

// TestTezosWatermarkRule_Inv5 walks the rule through the store, one row per case.
func TestTezosWatermarkRule_Inv5(t *testing.T) {
	s := openT(t, filepath.Join(t.TempDir(), "p.db"))
	defer s.Close()
	rows := []struct {
		name         string
		class        tezos.Class
		level, round uint32
		payload      byte
		want         error // nil: signed or reissued
		reissue      bool
	}{
		{"first block", tezos.ClassBlock, 100, 0, 1, nil, false},
		{"identical bytes: stored signature back", tezos.ClassBlock, 100, 0, 1, nil, true},
		{"same level and round, other bytes: double bake", tezos.ClassBlock, 100, 0, 2, tezos.ErrDifferentPayload, false},
		{"higher round", tezos.ClassBlock, 100, 1, 3, nil, false},
		{"back to the lower round", tezos.ClassBlock, 100, 0, 1, tezos.ErrBelowWatermark, false},
		{"lower level", tezos.ClassBlock, 99, 5, 4, tezos.ErrBelowWatermark, false},
		{"classes are apart: attestation at a lower level", tezos.ClassAttestation, 50, 0, 5, nil, false},
		{"preattestation apart from attestation", tezos.ClassPreattestation, 50, 0, 6, nil, false},
		{"attestation (with or without DAL), other bytes", tezos.ClassAttestation, 50, 0, 7, tezos.ErrDifferentPayload, false},
		{"next level", tezos.ClassBlock, 101, 0, 8, nil, false},
	}
	for _, r := range rows {
		_, re, err := tzSign(t, s, tzKeyA, r.class, r.level, r.round, r.payload, nil)
		if !errors.Is(err, r.want) || (r.want == nil) != (err == nil) || re != r.reissue {
			t.Fatalf("%s: err %v reissue %v, want %v %v", r.name, err, re, r.want, r.reissue)
		}
		var we *tezos.WatermarkError
		if err != nil && !errors.As(err, &we) {
			t.Fatalf("%s: refusal %T is not a *tezos.WatermarkError", r.name, err)
		}
	}
	// Another key is not affected by A's marks.
	if _, _, err := tzSign(t, s, tzKeyB, tezos.ClassBlock, 1, 0, 9, nil); err != nil {
		t.Fatal(err)
	}
}

// TestTezosRacingRequests_Inv5: many racing requests at one level and round with
// different payloads: exactly one payload is signed, every identical retry gets its
// signature, every other payload is refused.
func TestTezosRacingRequests_Inv5(t *testing.T) {
	s := openT(t, filepath.Join(t.TempDir(), "p.db"))
	defer s.Close()
	var signed atomic.Int64
	var wg sync.WaitGroup
	var mu sync.Mutex
	winners := map[byte][]byte{}
	for i := range 64 {
		wg.Go(func() {
			payload := byte(i % 8)
			sig, _, err := tzSign(t, s, tzKeyA, tezos.ClassBlock, 7, 0, payload, &signed)
			if err != nil {
				return
			}
			mu.Lock()
			if old, ok := winners[payload]; ok && !bytes.Equal(old, sig) {
				t.Errorf("two signatures for one payload")
			}
			winners[payload] = sig
			mu.Unlock()
		})
		wg.Go(func() { // other keys race at the same time and are never refused
			other := tezos.PublicKeyHash{Kind: tezos.KeyKindP256, Hash: [20]byte{byte(i), 0xb}}
			if _, _, err := tzSign(t, s, other, tezos.ClassBlock, 7, 0, 1, nil); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if signed.Load() != 1 || len(winners) != 1 {
		t.Fatalf("signed %d times, %d distinct payloads", signed.Load(), len(winners))
	}
}

// TestTezosDurableAcrossReopen_Inv5: marks and signatures survive a reopen; an identical
// retry after the reopen gets the byte-identical signature; a mark recorded without its
// signature (crash between record and response) lets only the same bytes be signed.
func TestTezosDurableAcrossReopen_Inv5(t *testing.T) {
	path := filepath.Join(t.TempDir(), "p.db")
	s := openT(t, path)
	sig, _, err := tzSign(t, s, tzKeyA, tezos.ClassAttestation, 10, 2, 1, nil)
	if err != nil {
		t.Fatal(err)
	}
	// Intent recorded, signature never stored: the crash window.
	wk := tezos.WatermarkKey{ChainID: tzChain, Class: tezos.ClassBlock, Level: 20, Round: 0}
	g, _ := s.LockTezos(tzKeyA)
	if err := g.Record(wk, [32]byte{5}); err != nil {
		t.Fatal(err)
	}
	g.Unlock()
	s.Close()

	s = openT(t, path)
	defer s.Close()
	again, re, err := tzSign(t, s, tzKeyA, tezos.ClassAttestation, 10, 2, 1, nil)
	if err != nil || !re || !bytes.Equal(again, sig) {
		t.Fatalf("reissue after reopen: %v %v %x", err, re, again)
	}
	if _, _, err := tzSign(t, s, tzKeyA, tezos.ClassAttestation, 10, 1, 9, nil); !errors.Is(err, tezos.ErrBelowWatermark) {
		t.Fatalf("below after reopen: %v", err)
	}
	if _, _, err := tzSign(t, s, tzKeyA, tezos.ClassBlock, 20, 0, 6, nil); !errors.Is(err, tezos.ErrDifferentPayload) {
		t.Fatalf("other bytes after an unfinished record: %v", err)
	}
	if _, re, err := tzSign(t, s, tzKeyA, tezos.ClassBlock, 20, 0, 5, nil); err != nil || re {
		t.Fatalf("same bytes after an unfinished record: %v %v", err, re)
	}
	if n := len(s.TezosMarks()); n != 2 {
		t.Fatalf("%d marks", n)
	}
}

// TestTezosImportWatermarks: octez-signer and Signatory files raise marks, never lower
// them; attestation_with_dal merges into the attestation class; bad files change nothing.
func TestTezosImportWatermarks(t *testing.T) {
	s := openT(t, filepath.Join(t.TempDir(), "p.db"))
	defer s.Close()
	if _, _, err := tzSign(t, s, tzKeyA, tezos.ClassBlock, 500, 0, 1, nil); err != nil {
		t.Fatal(err)
	}
	octez := fmt.Sprintf(`{"NetXdQprcVkpaWU":{%q:{"level":400,"round":1,"hash":"%x","signature":"sigeeho3jK4MZKsyqcTc9mjhtz9w6enG3AFniufgUXCuXFW7VjShxLoNmxqkQSRYUwP1LHRMere5LrvxcqLgU9KmDGN356Yz"},%q:{"level":900}}}`,
		tzKeyA, [32]byte{3}, tzKeyB)
	marks, err := ParseOctezWatermarks(tezos.ClassBlock, []byte(octez))
	if err != nil || len(marks) != 2 {
		t.Fatalf("parse: %v %d", err, len(marks))
	}
	n, err := s.ImportTezosMarks(marks)
	if err != nil || n != 1 { // A's 400 is below its 500: kept
		t.Fatalf("import: %v %d", err, n)
	}
	if _, _, err := tzSign(t, s, tzKeyB, tezos.ClassBlock, 900, 3, 1, nil); !errors.Is(err, tezos.ErrBelowWatermark) {
		t.Fatalf("legacy mark without round must refuse its whole level: %v", err)
	}
	sigfile := fmt.Sprintf(`{%q:{"attestation":{"level":30,"round":0,"hash":"vh3RyyzU6KPfhX1kcySCwGQ2sNmeXm5HrrqavVd4Ro8YyydK6A77"},"attestation_with_dal":{"level":31,"round":2}}}`, tzKeyA)
	marks, err = ParseSignatoryWatermarks(tzChain, []byte(sigfile))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.ImportTezosMarks(marks); err != nil {
		t.Fatal(err)
	}
	if _, _, err := tzSign(t, s, tzKeyA, tezos.ClassAttestation, 31, 1, 1, nil); !errors.Is(err, tezos.ErrBelowWatermark) {
		t.Fatalf("attestation_with_dal mark not applied to attestations: %v", err)
	}
	for _, bad := range []string{`[]`, `{"x":{}}`, `{"NetXdQprcVkpaWU":{"tz1":{"level":1}}}`, `{"NetXdQprcVkpaWU":{}} x`} {
		if _, err := ParseOctezWatermarks(tezos.ClassBlock, []byte(bad)); !errors.Is(err, ErrInvalidInterchange) {
			t.Fatalf("%s: %v", bad, err)
		}
	}
	if _, err := ParseSignatoryWatermarks(tzChain, []byte(fmt.Sprintf(`{%q:{"generic":{"level":1}}}`, tzKeyA))); err == nil {
		t.Fatal("unknown request kind accepted")
	}
}
