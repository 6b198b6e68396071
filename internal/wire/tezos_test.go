package wire

import (
	"bytes"
	"errors"
	"reflect"
	"testing"

	"github.com/keyward/keyward/internal/tezos"
)

func mustPKH(t testing.TB, s string) tezos.PublicKeyHash {
	t.Helper()
	h, err := tezos.ParsePublicKeyHash(s)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

func tezosSignSamples(t testing.TB) []*TezosSignRequest {
	return []*TezosSignRequest{
		{Client: "baker", PKH: mustPKH(t, "tz1b9kV41KV9N3sp69ycLdSoZ2Ak8jXwtNPv"), Version: TezosVersionUnset, Payload: []byte{0x11, 1, 2}},
		{PKH: mustPKH(t, "tz4JmbuiJGyC2thisABCS59PnGr749dsP4WY"), Version: 1, Payload: bytes.Repeat([]byte{0x13}, tezos.MaxPayloadSize),
			Auth: &tezos.Signature{Kind: tezos.KeyKindBLS, Raw: bytes.Repeat([]byte{7}, 96)}},
		{Client: "x", PKH: mustPKH(t, "tz2Ch1abG7FNiibmV26Uzgdsnfni9XGrk5wD"), Version: 2, Payload: []byte{0x03},
			Auth: &tezos.Signature{Raw: bytes.Repeat([]byte{9}, 64)}},
	}
}

// TestTezosSignRoundTrip_Inv7: every request round-trips; every truncation and any
// trailing byte is refused.
func TestTezosSignRoundTrip_Inv7(t *testing.T) {
	for _, r := range tezosSignSamples(t) {
		b, err := AppendTezosSign(nil, r)
		if err != nil {
			t.Fatal(err)
		}
		got, err := DecodeTezosSign(b)
		if err != nil || !reflect.DeepEqual(got, r) {
			t.Fatalf("round trip: %v\n%+v\n%+v", err, got, r)
		}
		for n := 0; n < len(b); n += 1 + n/64 {
			if _, err := DecodeTezosSign(b[:n]); !errors.Is(err, ErrMalformed) {
				t.Fatalf("truncated at %d: %v", n, err)
			}
		}
		if _, err := DecodeTezosSign(append(b, 0)); !errors.Is(err, ErrMalformed) {
			t.Fatalf("trailing byte: %v", err)
		}
	}
	bad := []*TezosSignRequest{
		{PKH: mustPKH(t, "tz1b9kV41KV9N3sp69ycLdSoZ2Ak8jXwtNPv"), Version: 4, Payload: []byte{1}},
		{PKH: mustPKH(t, "tz1b9kV41KV9N3sp69ycLdSoZ2Ak8jXwtNPv"), Version: 0},
		{PKH: mustPKH(t, "tz1b9kV41KV9N3sp69ycLdSoZ2Ak8jXwtNPv"), Payload: make([]byte, tezos.MaxPayloadSize+1)},
		{Payload: []byte{1}},
		{PKH: mustPKH(t, "tz1b9kV41KV9N3sp69ycLdSoZ2Ak8jXwtNPv"), Payload: []byte{1}, Auth: &tezos.Signature{Kind: tezos.KeyKindBLS, Raw: make([]byte, 64)}},
	}
	for i, r := range bad {
		if _, err := AppendTezosSign(nil, r); !errors.Is(err, ErrMalformed) {
			t.Errorf("bad %d encoded: %v", i, err)
		}
	}
	// Hand-made bodies the encoder would not produce.
	good, _ := AppendTezosSign(nil, tezosSignSamples(t)[0])
	for name, mut := range map[string]func([]byte) []byte{
		"tz5 kind tag":  func(b []byte) []byte { b[6] = 4; return b },
		"version 9":     func(b []byte) []byte { b[6+21] = 9; return b },
		"unknown flag":  func(b []byte) []byte { b[6+22] = 2; return b },
		"empty payload": func(b []byte) []byte { return append(b[:6+23], 0, 0, 0, 0) },
	} {
		b := mut(bytes.Clone(good))
		if _, err := DecodeTezosSign(b); !errors.Is(err, ErrMalformed) {
			t.Errorf("%s: %v", name, err)
		}
	}
}

// TestTezosResultsRoundTrip_Inv7_Inv8 covers the other Tezos messages.
func TestTezosResultsRoundTrip_Inv7_Inv8(t *testing.T) {
	sr := []*TezosSignResult{
		{Kind: tezos.KeyKindEd25519, Signature: bytes.Repeat([]byte{1}, 64)},
		{Kind: tezos.KeyKindBLS, Signature: bytes.Repeat([]byte{2}, 96)},
		{Err: Errorf(KindProtection, "below high watermark")},
	}
	for _, r := range sr {
		b := AppendTezosSignResult(nil, r)
		got, err := DecodeTezosSignResult(b)
		if err != nil || !reflect.DeepEqual(got, r) {
			t.Fatalf("sign result: %v %+v", err, got)
		}
		if _, err := DecodeTezosSignResult(b[:len(b)-1]); err == nil {
			t.Fatal("truncated sign result accepted")
		}
	}
	pk, err := tezos.ParsePublicKey("BLpk1oWB1ZbeKePu8FiRMpktQoZw1rPs67qu6zbnYxiCcJDyZih8PXUiGnLyMWR6Fay9cDNyCzj9")
	if err != nil {
		t.Fatal(err)
	}
	b := AppendTezosPublicKeyResult(nil, &TezosPublicKeyResult{PublicKey: pk})
	if got, err := DecodeTezosPublicKeyResult(b); err != nil || got.PublicKey != pk {
		t.Fatalf("public key: %v", err)
	}
	if _, err := DecodeTezosPublicKeyResult(b[:len(b)-1]); err == nil {
		t.Fatal("truncated public key accepted")
	}
	keys := []tezos.PublicKeyHash{mustPKH(t, "tz1b9kV41KV9N3sp69ycLdSoZ2Ak8jXwtNPv"), pk.Hash()}
	b = AppendTezosAuthorizedKeys(nil, &TezosAuthorizedKeys{Required: true, Keys: keys})
	if got, err := DecodeTezosAuthorizedKeys(b); err != nil || !got.Required || !reflect.DeepEqual(got.Keys, keys) {
		t.Fatalf("authorized keys: %v", err)
	}
	b[0] = 0
	if _, err := DecodeTezosAuthorizedKeys(b); err == nil {
		t.Fatal("keys without requirement accepted")
	}
	b = AppendTezosKeyList(nil, &TezosKeyList{Keys: keys})
	if _, err := DecodeTezosKeyList(b[:len(b)-1]); err == nil {
		t.Fatal("truncated list accepted")
	}
	for _, r := range []*TezosProvePossession{{PKH: pk.Hash()}, {PKH: pk.Hash(), Override: &pk}} {
		b, err := AppendTezosProvePossession(nil, r)
		if err != nil {
			t.Fatal(err)
		}
		got, err := DecodeTezosProvePossession(b)
		if err != nil || !reflect.DeepEqual(got, r) {
			t.Fatalf("prove possession: %v", err)
		}
		if _, err := DecodeTezosProvePossession(append(b, 0)); err == nil {
			t.Fatal("trailing byte accepted")
		}
	}
}

func FuzzDecodeTezos(f *testing.F) {
	for _, r := range tezosSignSamples(f) {
		b, _ := AppendTezosSign(nil, r)
		f.Add(byte(0), b)
	}
	f.Add(byte(1), AppendTezosSignResult(nil, &TezosSignResult{Kind: tezos.KeyKindEd25519, Signature: make([]byte, 64)}))
	f.Add(byte(2), []byte{1, 1, 0, 0, 0, 0})
	f.Fuzz(func(t *testing.T, which byte, b []byte) {
		switch which % 6 {
		case 0:
			if r, err := DecodeTezosSign(b); err == nil {
				enc, err := AppendTezosSign(nil, r)
				if err != nil || !bytes.Equal(enc, b) {
					t.Fatalf("decoded request does not re-encode to its bytes: %v", err)
				}
			}
		case 1:
			_, _ = DecodeTezosSignResult(b)
		case 2:
			_, _ = DecodeTezosAuthorizedKeys(b)
		case 3:
			_, _ = DecodeTezosKeyList(b)
		case 4:
			_, _ = DecodeTezosPublicKeyResult(b)
		default:
			if r, err := DecodeTezosProvePossession(b); err == nil {
				enc, err := AppendTezosProvePossession(nil, r)
				if err != nil || !bytes.Equal(enc, b) {
					t.Fatalf("decoded request does not re-encode to its bytes: %v", err)
				}
			}
		}
	})
}
