package tezos

import (
	"fmt"

	"golang.org/x/crypto/blake2b"
)

// KeyKind is the signature scheme of a Tezos key. The zero value is invalid
// and refused everywhere. ML-DSA-44 (tz5) keys are not supported.
type KeyKind uint8

// Key kinds, one per implicit-account prefix.
const (
	_                KeyKind = iota
	KeyKindEd25519           // tz1, edpk, edsk, edsig
	KeyKindSecp256k1         // tz2, sppk, spsk, spsig1
	KeyKindP256              // tz3, p2pk, p2sk, p2sig
	KeyKindBLS               // tz4, BLpk, BLsk, BLsig (BLS12-381 MinPk)
)

// String returns "ed25519", "secp256k1", "p256", "bls" or "invalid".
func (k KeyKind) String() string {
	switch k {
	case KeyKindEd25519:
		return "ed25519"
	case KeyKindSecp256k1:
		return "secp256k1"
	case KeyKindP256:
		return "p256"
	case KeyKindBLS:
		return "bls"
	default:
		return "invalid"
	}
}

// Valid reports whether k is one of the four supported kinds.
func (k KeyKind) Valid() bool { return k >= KeyKindEd25519 && k <= KeyKindBLS }

// binaryTag is the tag of k in the Octez binary unions of public key hashes,
// public keys and signatures (0 ed25519, 1 secp256k1, 2 p256, 3 bls).
func (k KeyKind) binaryTag() byte { return byte(k) - 1 }

func kindOfTag(tag byte) (KeyKind, bool) {
	k := KeyKind(tag + 1)
	return k, tag < 4 && k.Valid()
}

// PublicKeySize returns the length of a raw public key of kind k: 32 for
// Ed25519, 33 (SEC 1 compressed) for secp256k1 and P-256, 48 (compressed G1)
// for BLS; 0 for an invalid kind.
func (k KeyKind) PublicKeySize() int {
	switch k {
	case KeyKindEd25519:
		return 32
	case KeyKindSecp256k1, KeyKindP256:
		return 33
	case KeyKindBLS:
		return 48
	}
	return 0
}

// SignatureSize returns the length of a raw signature of kind k: 64 (R‖S or
// r‖s) or 96 (compressed G2 for BLS); 0 for an invalid kind.
func (k KeyKind) SignatureSize() int {
	switch k {
	case KeyKindEd25519, KeyKindSecp256k1, KeyKindP256:
		return 64
	case KeyKindBLS:
		return 96
	}
	return 0
}

func (k KeyKind) pkhPrefix() b58Prefix {
	return [...]b58Prefix{{}, pfxTz1, pfxTz2, pfxTz3, pfxTz4}[k]
}

func (k KeyKind) pkPrefix() b58Prefix {
	return [...]b58Prefix{{}, pfxEdpk, pfxSppk, pfxP2pk, pfxBLpk}[k]
}

func (k KeyKind) sigPrefix() b58Prefix {
	return [...]b58Prefix{{}, pfxEdsig, pfxSpsig, pfxP2sig, pfxBLsig}[k]
}

// PublicKeyHashSize is the length of the hash in a PublicKeyHash.
const PublicKeyHashSize = 20

// PublicKeyHash is an implicit account address (tz1…tz4): the key kind and the
// blake2b-160 hash of the raw public key. The zero value (Kind 0) is invalid.
type PublicKeyHash struct {
	Kind KeyKind
	Hash [PublicKeyHashSize]byte
}

// String returns the base58check form (tz1…, tz2…, tz3…, tz4…), or
// "invalid" for an invalid kind.
func (h PublicKeyHash) String() string {
	if !h.Kind.Valid() {
		return "invalid"
	}
	return b58Encode(h.Kind.pkhPrefix(), h.Hash[:])
}

// Valid reports whether h has a supported kind.
func (h PublicKeyHash) Valid() bool { return h.Kind.Valid() }

// Binary returns the 21-byte Octez binary form: the kind tag then the hash.
// It panics on an invalid kind (a programming error: parsed values are valid).
func (h PublicKeyHash) Binary() [21]byte {
	if !h.Kind.Valid() {
		panic("tezos: internal error: binary form of an invalid public key hash")
	}
	var b [21]byte
	b[0] = h.Kind.binaryTag()
	copy(b[1:], h.Hash[:])
	return b
}

// ParsePublicKeyHash parses a tz1, tz2, tz3 or tz4 address. tz5 (ML-DSA-44)
// and every other prefix are refused.
func ParsePublicKeyHash(s string) (PublicKeyHash, error) {
	p, payload, err := b58Decode(s, pfxTz1, pfxTz2, pfxTz3, pfxTz4)
	if err != nil {
		return PublicKeyHash{}, fmt.Errorf("parse public key hash: %w", err)
	}
	h := PublicKeyHash{Hash: [20]byte(payload)}
	switch p.name {
	case "tz1":
		h.Kind = KeyKindEd25519
	case "tz2":
		h.Kind = KeyKindSecp256k1
	case "tz3":
		h.Kind = KeyKindP256
	default:
		h.Kind = KeyKindBLS
	}
	return h, nil
}

// maxPublicKeySize is the largest raw public key (BLS, 48 bytes).
const maxPublicKeySize = 48

// PublicKey is a validated public key. It is a comparable value; the zero value
// is invalid. Points are checked on the curve when the key is built (BLS keys
// are not checked for subgroup membership, see validBLSG1Point).
type PublicKey struct {
	kind KeyKind
	key  [maxPublicKeySize]byte
}

// NewPublicKey validates raw as a public key of the given kind.
func NewPublicKey(kind KeyKind, raw []byte) (PublicKey, error) {
	if !kind.Valid() {
		return PublicKey{}, ErrKeyKind
	}
	if len(raw) != kind.PublicKeySize() {
		return PublicKey{}, fmt.Errorf("%w: %s public key of %d bytes", ErrInvalidKey, kind, len(raw))
	}
	var ok bool
	switch kind {
	case KeyKindEd25519:
		ok = validEd25519Point(raw)
	case KeyKindSecp256k1:
		ok = validSecp256k1Point(raw)
	case KeyKindP256:
		ok = validP256Point(raw)
	case KeyKindBLS:
		ok = validBLSG1Point(raw)
	}
	if !ok {
		return PublicKey{}, fmt.Errorf("%w: %s public key is not a curve point", ErrInvalidKey, kind)
	}
	pk := PublicKey{kind: kind}
	copy(pk.key[:], raw)
	return pk, nil
}

// ParsePublicKey parses an edpk, sppk, p2pk or BLpk string and validates the
// point.
func ParsePublicKey(s string) (PublicKey, error) {
	p, payload, err := b58Decode(s, pfxEdpk, pfxSppk, pfxP2pk, pfxBLpk)
	if err != nil {
		return PublicKey{}, fmt.Errorf("parse public key: %w", err)
	}
	var kind KeyKind
	switch p.name {
	case "edpk":
		kind = KeyKindEd25519
	case "sppk":
		kind = KeyKindSecp256k1
	case "p2pk":
		kind = KeyKindP256
	default:
		kind = KeyKindBLS
	}
	pk, err := NewPublicKey(kind, payload)
	if err != nil {
		return PublicKey{}, fmt.Errorf("parse public key: %w", err)
	}
	return pk, nil
}

// Kind returns the key kind (zero for the zero PublicKey).
func (pk PublicKey) Kind() KeyKind { return pk.kind }

// Valid reports whether pk was built by NewPublicKey or ParsePublicKey.
func (pk PublicKey) Valid() bool { return pk.kind.Valid() }

// Bytes returns a copy of the raw key (32, 33 or 48 bytes).
func (pk PublicKey) Bytes() []byte {
	return append([]byte(nil), pk.key[:pk.kind.PublicKeySize()]...)
}

// String returns the base58check form, or "invalid" for the zero value.
func (pk PublicKey) String() string {
	if !pk.kind.Valid() {
		return "invalid"
	}
	return b58Encode(pk.kind.pkPrefix(), pk.key[:pk.kind.PublicKeySize()])
}

// Hash returns the public key hash: blake2b-160 of the raw key. The zero
// PublicKey hashes to the zero (invalid) PublicKeyHash.
func (pk PublicKey) Hash() PublicKeyHash {
	if !pk.kind.Valid() {
		return PublicKeyHash{}
	}
	h, err := blake2b.New(PublicKeyHashSize, nil)
	if err != nil {
		panic("tezos: internal error: blake2b-160: " + err.Error())
	}
	h.Write(pk.key[:pk.kind.PublicKeySize()])
	return PublicKeyHash{Kind: pk.kind, Hash: [20]byte(h.Sum(nil))}
}
