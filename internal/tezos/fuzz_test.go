package tezos

import (
	"errors"
	"math"
	"testing"
)

// FuzzClassify (Inv 7): Classify never panics, every error wraps ErrPayload, and
// whatever it accepts is internally consistent.
func FuzzClassify(f *testing.F) {
	for _, v := range loadPayloads(f) {
		f.Add(unhex(f, v.Hex))
	}
	f.Fuzz(func(t *testing.T, payload []byte) {
		req, err := Classify(payload)
		if err != nil {
			if req != nil || !errors.Is(err, ErrPayload) {
				t.Fatalf("error %v with request %+v", err, req)
			}
			return
		}
		if req.Magic != payload[0] || req.Level > math.MaxInt32 || req.Round > math.MaxInt32 {
			t.Fatalf("inconsistent request %+v", req)
		}
		key, err := req.WatermarkKey()
		switch req.Kind {
		case RequestGeneric:
			if err == nil || len(req.Operations) == 0 {
				t.Fatalf("generic request: %v, %d operations", err, len(req.Operations))
			}
			for _, op := range req.Operations {
				if op.Kind == 0 || op.Kind >= opKindEnd {
					t.Fatalf("operation kind %d", op.Kind)
				}
				_ = op.Source.String() + op.Destination.String() + op.Delegate.String() + op.PublicKey.String()
			}
		case RequestBlock, RequestPreattestation, RequestAttestation:
			if err != nil || key.Class == 0 || key.Level != req.Level {
				t.Fatalf("watermark key %+v, %v", key, err)
			}
		default:
			t.Fatalf("kind %d", req.Kind)
		}
	})
}

func FuzzParsePublicKeyHash(f *testing.F) {
	f.Add("tz1SodoUsWVe1Yey9eMFbqRUtNpBWfir5NRr")
	f.Add("tz4MvCEiLgK6vYRSkug9Nz64UNTbT4McNq8m")
	f.Add("KT1WvzYHCNBvDSdwafTHv7nJ1dWmZ8GCYuuC")
	f.Fuzz(func(t *testing.T, s string) {
		h, err := ParsePublicKeyHash(s)
		if err != nil {
			return
		}
		if !h.Valid() || h.String() != s {
			t.Fatalf("%q parsed to %v", s, h)
		}
	})
}

func FuzzParsePublicKey(f *testing.F) {
	f.Add("edpkufnz668CdgnVC4X5KRvJoXCMgicr29Tjmr5vxGzvMdipwkTZmM")
	f.Add("sppk7c7hkPj47yjYFEHX85q46sFJGw6RBrqoVSHwAJAT4e14KJwzoey")
	f.Add("p2pk66CAD7Aokw1zTCL7kGzYWTJEeDPu6ofMNGwUkUD1fVw61sDJ3U6")
	f.Add("BLpk1oMu38Jfc6nAvxqudMyqr5BHWAaQXzAJkJqh6aPwn1vcRenuceokhfUC4v3oWq4TaXymK8V7")
	f.Fuzz(func(t *testing.T, s string) {
		pk, err := ParsePublicKey(s)
		if err != nil {
			return
		}
		if !pk.Valid() || pk.String() != s || !pk.Hash().Valid() {
			t.Fatalf("%q parsed to %v", s, pk)
		}
		again, err := NewPublicKey(pk.Kind(), pk.Bytes())
		if err != nil || again != pk {
			t.Fatalf("NewPublicKey round trip: %v", err)
		}
	})
}

func FuzzParseSignature(f *testing.F) {
	f.Add("edsigtzWvLTwvEqaZy1BMzQoeFTCxALJ94aDx5YyDh6qhYNQowHfAb7k23doKazVMGvGnT6bCeTG9qbJfBqRqeL64zpEFLJyp9C")
	f.Add("spsig1Joen9pavJsoyjRQ6xEHFEDvB3WUDxX9LxbJKstvXss8b5tJpRqZBMPvWqvQ5xqavjcvpDe4TyvcfJjuYxKBeqGtSUAkBr")
	f.Add("sigphTDQj1xuPXupC4rNxTJ9vSPWDD5wMMhsDUxkqiY2PrdTia6DpvxaZQYPsZBT6S1Z7aiwUnzyLtT3PdzBk6omA9TpiPrq")
	f.Add("BLsigAqfbS14US8aPsoe6xu6VbQ3ukXZGbhx7X3WVmk2UpTvkZW4bkEctwvZ8S8ajprdDUfArjc6m4JqWRpffpK6jHKc23hToq8LtCs1fqXB3nfPeAQqiqo5Fe6DoomuJi9NXMMxLQ8N8k")
	f.Fuzz(func(t *testing.T, s string) {
		sig, err := ParseSignature(s)
		if err != nil {
			return
		}
		if sig.String() != s {
			t.Fatalf("%q re-encoded as %q", s, sig.String())
		}
	})
}

// FuzzParseSecretKey runs without a password: encrypted keys stop at
// ErrPasswordRequired (PBKDF2 is too slow to fuzz), plain ones are validated.
func FuzzParseSecretKey(f *testing.F) {
	f.Add("edsk3qAQSJaDBSYN2PCMdv7BuJoBKeRyDFq5uPAwDfFRAhQdwHxPMN")
	f.Add("edskS3DtVSbWbPD1yviMGebjYwWJtruMjDcfAZsH9uba22EzKeYhmQkkraFosFETmEMfFNVcDYQ5QbFerj9ozDKroXZ6mb5oxV")
	f.Add("edesk1oGXxunJ5FTGpQ6o1xdop8VGKdT36Fj7LwWF9HLjzEqaCC4V6tdRVN1jaeJTfCHS8bYf7U2YhMK2yW6jSUy")
	f.Fuzz(func(t *testing.T, s string) {
		kind, raw, err := ParseSecretKey(s, nil)
		if err != nil {
			if kind != 0 || raw != nil {
				t.Fatal("partial result with an error")
			}
			return
		}
		if !kind.Valid() || len(raw) != 32 {
			t.Fatalf("kind %s, %d bytes", kind, len(raw))
		}
	})
}
