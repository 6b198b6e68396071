package tezos

import (
	"errors"
	"testing"
)

// TestCheckWatermark_Inv5 is the high-watermark rule, one row per case.
func TestCheckWatermark_Inv5(t *testing.T) {
	h1 := [32]byte{1}
	h2 := [32]byte{2}
	signed := &Mark{Level: 100, Round: 2, PayloadHash: h1, Signature: []byte("sig")}
	intent := &Mark{Level: 100, Round: 2, PayloadHash: h1} // recorded, signature not yet recorded
	cases := []struct {
		name   string
		stored *Mark
		level  uint32
		round  uint32
		hash   [32]byte
		want   Verdict
		err    error
	}{
		// First request for this (chain, key, class): sign.
		{"no mark", nil, 5, 0, h1, VerdictSign, nil},
		// Higher level, any round: sign.
		{"higher level, lower round", signed, 101, 0, h2, VerdictSign, nil},
		// Same level, higher round: sign.
		{"same level, higher round", signed, 100, 3, h2, VerdictSign, nil},
		// Lower level: refuse, even with identical bytes.
		{"lower level", signed, 99, 5, h1, VerdictRefuse, ErrBelowWatermark},
		// Same level, lower round: refuse.
		{"same level, lower round", signed, 100, 1, h2, VerdictRefuse, ErrBelowWatermark},
		// Same position, different bytes: the double-sign case; refuse.
		{"same position, other payload", signed, 100, 2, h2, VerdictRefuse, ErrDifferentPayload},
		// Same position, same bytes, signature stored: give it back, never re-sign
		// (an ECDSA re-sign is a second block: double baking).
		{"same bytes, signature stored", signed, 100, 2, h1, VerdictReissue, nil},
		// Same bytes, only the intent recorded: the signature never left the core.
		{"same bytes, intent only", intent, 100, 2, h1, VerdictSign, nil},
		// Same position, different bytes, intent only: refuse.
		{"other payload, intent only", intent, 100, 2, h2, VerdictRefuse, ErrDifferentPayload},
		// Boundaries of the 31-bit range.
		{"max level above zero", &Mark{Level: 0}, 1<<31 - 1, 0, h1, VerdictSign, nil},
		{"zero below max", &Mark{Level: 1<<31 - 1}, 0, 0, h1, VerdictRefuse, ErrBelowWatermark},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := CheckWatermark(c.stored, c.level, c.round, c.hash)
			if got != c.want || !errors.Is(err, c.err) || (c.err == nil) != (err == nil) {
				t.Fatalf("CheckWatermark = %s, %v; want %s, %v", got, err, c.want, c.err)
			}
			var werr *WatermarkError
			if err != nil && (!errors.As(err, &werr) || werr.RequestLevel != c.level || werr.StoredLevel != c.stored.Level) {
				t.Fatalf("error %v is not a complete *WatermarkError", err)
			}
		})
	}
	var zero Verdict
	if zero != VerdictRefuse || zero.String() != "refuse" {
		t.Fatal("the zero Verdict must refuse")
	}
}

// TestAttestationClassesShared: attestations with and without DAL and the
// BLS-mode attestation fall into one class, so the same key cannot sign two of
// them at one (level, round) with different payloads.
func TestAttestationClassesShared(t *testing.T) {
	var classes []Class
	for _, id := range []string{"octez-u025-01", "octez-u025-02", "octez-u025-16"} { // tags 23, 21, 41
		req, err := Classify(vectorHex(t, id))
		if err != nil {
			t.Fatal(err)
		}
		k, err := req.WatermarkKey()
		if err != nil {
			t.Fatal(err)
		}
		classes = append(classes, k.Class)
	}
	if classes[0] != ClassAttestation || classes[1] != classes[0] || classes[2] != classes[0] {
		t.Fatalf("classes %v", classes)
	}
	dal, _ := Classify(vectorHex(t, "octez-u025-01"))
	plain, _ := Classify(vectorHex(t, "octez-u025-02"))
	stored := &Mark{Level: plain.Level, Round: plain.Round, PayloadHash: PayloadHash256(vectorHex(t, "octez-u025-02")), Signature: []byte{1}}
	if v, err := CheckWatermark(stored, dal.Level, dal.Round, PayloadHash256(vectorHex(t, "octez-u025-01"))); v != VerdictRefuse || !errors.Is(err, ErrDifferentPayload) {
		t.Fatalf("DAL attestation after plain attestation at the same position: %s, %v", v, err)
	}
}
