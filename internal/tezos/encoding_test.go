package tezos

import (
	"bytes"
	"encoding/hex"
	"errors"
	"strings"
	"testing"

	"golang.org/x/crypto/blake2b"
)

func TestSigningBytes(t *testing.T) {
	payload := []byte{0x03, 1, 2, 3}
	d := blake2b.Sum256(payload)
	for _, k := range []KeyKind{KeyKindEd25519, KeyKindSecp256k1, KeyKindP256} {
		got, err := SigningBytes(k, payload)
		if err != nil || !bytes.Equal(got, d[:]) {
			t.Errorf("%s: %x, %v", k, got, err)
		}
	}
	got, err := SigningBytes(KeyKindBLS, payload)
	if err != nil || !bytes.Equal(got, payload) {
		t.Errorf("bls: %x, %v", got, err)
	}
	if got, err := SigningBytes(0, payload); got != nil || !errors.Is(err, ErrKeyKind) {
		t.Errorf("zero kind: %x, %v", got, err)
	}
}

func TestAuthenticationBytes(t *testing.T) {
	pkh, err := ParsePublicKeyHash("tz1SodoUsWVe1Yey9eMFbqRUtNpBWfir5NRr")
	if err != nil {
		t.Fatal(err)
	}
	got, err := AuthenticationBytes(pkh, []byte{0x11, 0xaa})
	want, _ := hex.DecodeString("0401" + "00" + "4e99eea7224c93d2f1e614bf86d74025b3e26a64" + "11aa")
	if err != nil || !bytes.Equal(got, want) {
		t.Fatalf("AuthenticationBytes = %x, %v", got, err)
	}
	if _, err := AuthenticationBytes(PublicKeyHash{}, nil); !errors.Is(err, ErrKeyKind) {
		t.Fatalf("zero pkh: %v", err)
	}
	// An authentication message is never a signable payload.
	if _, err := Classify(got); !errors.Is(err, ErrUnknownMagic) {
		t.Fatalf("Classify(authentication bytes) = %v", err)
	}
}

func TestParseRefusals(t *testing.T) {
	tz5 := b58Encode(b58Prefix{"tz5", []byte{0x06, 0xa1, 0xa9}, 20}, make([]byte, 20))
	if _, err := ParsePublicKeyHash(tz5); !errors.Is(err, ErrEncoding) {
		t.Errorf("tz5: %v", err)
	}
	if _, err := ParsePublicKeyHash("KT1WvzYHCNBvDSdwafTHv7nJ1dWmZ8GCYuuC"); !errors.Is(err, ErrEncoding) {
		t.Errorf("KT1 as pkh: %v", err)
	}
	if _, err := ParsePublicKeyHash(strings.Repeat("1", 200)); !errors.Is(err, ErrEncoding) {
		t.Errorf("long: %v", err)
	}
	if _, err := ParsePublicKeyHash("tz1SodoUsWVe1Yey9eMFbqRUtNpBWfir5NR0"); !errors.Is(err, ErrEncoding) {
		t.Errorf("bad alphabet: %v", err)
	}
	// Off-curve points of the right length.
	for _, c := range []struct {
		kind KeyKind
		raw  []byte
	}{
		{KeyKindSecp256k1, append([]byte{0x02}, bytes.Repeat([]byte{0xff}, 32)...)}, // x ≥ p
		{KeyKindSecp256k1, append([]byte{0x04}, make([]byte, 32)...)},               // bad prefix
		{KeyKindP256, append([]byte{0x03}, bytes.Repeat([]byte{0xff}, 32)...)},
		{KeyKindBLS, make([]byte, 48)},                                            // uncompressed flag
		{KeyKindBLS, append([]byte{0xc0}, make([]byte, 47)...)},                   // infinity
		{KeyKindEd25519, bytes.Repeat([]byte{0xff}, 32)},                          // y ≥ p
		{KeyKindEd25519, append([]byte{0x01}, append(make([]byte, 30), 0x80)...)}, // x = 0, sign 1
	} {
		if _, err := NewPublicKey(c.kind, c.raw); !errors.Is(err, ErrInvalidKey) {
			t.Errorf("%s %x: %v", c.kind, c.raw, err)
		}
	}
	// Secret scalars out of range.
	for _, c := range []struct {
		p   b58Prefix
		raw []byte
	}{
		{pfxSpsk, make([]byte, 32)},
		{pfxP2sk, bytes.Repeat([]byte{0xff}, 32)},
		{pfxBLsk, bytes.Repeat([]byte{0xff}, 32)},
		{pfxBLsk, make([]byte, 32)},
	} {
		if _, _, err := ParseSecretKey(b58Encode(c.p, c.raw), nil); !errors.Is(err, ErrInvalidKey) {
			t.Errorf("%s %x: %v", c.p.name, c.raw, err)
		}
	}
	// 64-byte edsk whose public half does not match.
	if _, _, err := ParseSecretKey(b58Encode(pfxEdsk64, make([]byte, 64)), nil); !errors.Is(err, ErrInvalidKey) {
		t.Errorf("edsk64 mismatch: %v", err)
	}
	if _, err := EncodeSignature(KeyKindBLS, make([]byte, 64)); !errors.Is(err, ErrInvalidSignature) {
		t.Errorf("short BLS signature: %v", err)
	}
	if _, err := EncodeSignature(0, make([]byte, 64)); !errors.Is(err, ErrKeyKind) {
		t.Errorf("zero kind: %v", err)
	}
}

func TestZeroValues(t *testing.T) {
	if KeyKind(0).Valid() || (PublicKeyHash{}).Valid() || (PublicKey{}).Valid() {
		t.Fatal("zero values must be invalid")
	}
	if (PublicKeyHash{}).String() != "invalid" || (PublicKey{}).String() != "invalid" ||
		(Contract{}).String() != "invalid" || OperationKind(0).String() != "invalid" ||
		RequestKind(0).String() != "invalid" || Class(0).String() != "invalid" {
		t.Fatal("zero values must print as invalid")
	}
	if (PublicKey{}).Hash().Valid() {
		t.Fatal("hash of the zero key must be invalid")
	}
	if _, err := (&Request{}).WatermarkKey(); !errors.Is(err, ErrNoWatermark) {
		t.Fatal("zero request has no watermark key")
	}
	for k := OperationKind(1); k < opKindEnd; k++ {
		if got, ok := ParseOperationKind(k.String()); !ok || got != k {
			t.Errorf("ParseOperationKind(%s) = %v, %v", k, got, ok)
		}
	}
	if _, ok := ParseOperationKind("invalid"); ok {
		t.Error("ParseOperationKind(invalid) accepted")
	}
}
