package tezos

import "fmt"

// Signature is a parsed signature string. Kind is zero for the generic "sig"
// form, which carries 64 bytes of an Ed25519, secp256k1 or P-256 signature
// without saying which.
type Signature struct {
	Kind KeyKind
	Raw  []byte
}

// EncodeSignature returns the typed base58check form of a raw signature
// (edsig, spsig1, p2sig or BLsig), which is what a signer returns. raw must be
// 64 bytes (96 for BLS).
func EncodeSignature(kind KeyKind, raw []byte) (string, error) {
	if !kind.Valid() {
		return "", ErrKeyKind
	}
	if len(raw) != kind.SignatureSize() {
		return "", fmt.Errorf("%w: %s signature of %d bytes", ErrInvalidSignature, kind, len(raw))
	}
	return b58Encode(kind.sigPrefix(), raw), nil
}

// ParseSignature parses an edsig, spsig1, p2sig, BLsig or generic sig string.
// Only lengths are checked; whether the signature verifies is not this
// package's business.
func ParseSignature(s string) (Signature, error) {
	p, payload, err := b58Decode(s, pfxEdsig, pfxSpsig, pfxP2sig, pfxBLsig, pfxSig)
	if err != nil {
		return Signature{}, fmt.Errorf("parse signature: %w", err)
	}
	sig := Signature{Raw: append([]byte(nil), payload...)}
	switch p.name {
	case "edsig":
		sig.Kind = KeyKindEd25519
	case "spsig1":
		sig.Kind = KeyKindSecp256k1
	case "p2sig":
		sig.Kind = KeyKindP256
	case "BLsig":
		sig.Kind = KeyKindBLS
	}
	return sig, nil
}

// String returns the base58check form: typed when Kind is set, generic "sig"
// when Kind is zero and Raw has 64 bytes, "invalid" otherwise.
func (s Signature) String() string {
	if s.Kind == 0 {
		if len(s.Raw) != 64 {
			return "invalid"
		}
		return b58Encode(pfxSig, s.Raw)
	}
	str, err := EncodeSignature(s.Kind, s.Raw)
	if err != nil {
		return "invalid"
	}
	return str
}
