package keys

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"math/big"
	"unsafe"

	"github.com/decred/dcrd/dcrec/secp256k1/v4"
	secpecdsa "github.com/decred/dcrd/dcrec/secp256k1/v4/ecdsa"
	blst "github.com/supranational/blst/bindings/go"
	"golang.org/x/crypto/blake2b"
	"golang.org/x/crypto/cryptobyte"
	"golang.org/x/crypto/cryptobyte/asn1"

	"github.com/keyward/keyward/internal/secmem"
	"github.com/keyward/keyward/internal/tezos"
)

// Domain separation tags of the Tezos BLS schemes (Octez src/lib_crypto/bls.ml). Tezos
// signature versions 2 and 3 sign with the POP ciphersuite (BLSDST); version 1 signed
// with the AUG ciphersuite, whose message is the signer's public key then the bytes.
const (
	BLSAugDST = "BLS_SIG_BLS12381G2_XMD:SHA-256_SSWU_RO_AUG_"
	BLSPopDST = "BLS_POP_BLS12381G2_XMD:SHA-256_SSWU_RO_POP_" // proofs of possession
)

// tezosSecretSize is the length of every sealed Tezos secret: the Ed25519 seed, or a
// big-endian scalar (secp256k1, P-256, BLS).
const tezosSecretSize = 32

// The blake2b-256 digest is what tz1..tz3 keys sign; crypto.BLAKE2b_256 names it for the
// RFC 6979 nonce derivation of crypto/ecdsa (registered by package blake2b).
var _ = blake2b.Size256

// TezosKeyType returns the stored key type of a Tezos key kind.
func TezosKeyType(kind tezos.KeyKind) (KeyType, bool) {
	switch kind {
	case tezos.KeyKindEd25519:
		return KeyTypeEd25519, true
	case tezos.KeyKindSecp256k1:
		return KeyTypeSecp256k1, true
	case tezos.KeyKindP256:
		return KeyTypeP256, true
	case tezos.KeyKindBLS:
		return KeyTypeTezosBLS, true
	}
	return KeyTypeUnknown, false
}

// TezosKind returns the Tezos key kind of a stored key type (zero for a non-Tezos type).
func (t KeyType) TezosKind() tezos.KeyKind {
	switch t {
	case KeyTypeEd25519:
		return tezos.KeyKindEd25519
	case KeyTypeSecp256k1:
		return tezos.KeyKindSecp256k1
	case KeyTypeP256:
		return tezos.KeyKindP256
	case KeyTypeTezosBLS:
		return tezos.KeyKindBLS
	}
	return 0
}

// tezosKeyTypes are the buckets of Tezos keys, in listing order.
var tezosKeyTypes = [...]KeyType{KeyTypeEd25519, KeyTypeSecp256k1, KeyTypeP256, KeyTypeTezosBLS}

// TezosKey is a Tezos secret key held in an arena slot together with its public key and
// hash. Sign and Verify are safe for concurrent use; Destroy must not race with them. It
// redacts itself on every fmt verb (only the pkh is shown).
//
// Where the secret lives (Inv 1):
//   - tz1: the expanded key (SHA-512 of the seed) is in the slot and signed with by
//     tezos_ed25519.go (RFC 8032 over filippo.io/edwards25519): crypto/ed25519 cannot
//     sign from arena memory (see there). Transient copies per signature only.
//   - tz4: the blst scalar is in the slot, as for Ethereum keys.
//   - tz2: the scalar is in the slot; each signature builds a secp256k1.PrivateKey on
//     the heap and zeroes it when done (the library's nonce derivation keeps transient
//     copies on its stack).
//   - tz3: the scalar is in the slot, but crypto/ecdsa needs a *ecdsa.PrivateKey, which
//     keeps its own heap copies (a big.Int and the FIPS module's key) for the life of
//     the process; they cannot be zeroed. This is the one documented exception.
type TezosKey struct {
	typ   KeyType
	pub   tezos.PublicKey
	pkh   tezos.PublicKeyHash
	arena *secmem.Arena
	slot  []byte // the arena slot; nil after Destroy

	bls   *blst.SecretKey   // tz4: points into slot
	blsPK *blst.P1Affine    // tz4: validated public key
	p256  *ecdsa.PrivateKey // tz3: heap copy (see above)
}

// PublicKey returns the validated public key.
func (k *TezosKey) PublicKey() tezos.PublicKey { return k.pub }

// Hash returns the public key hash (tz1…tz4).
func (k *TezosKey) Hash() tezos.PublicKeyHash { return k.pkh }

// Kind returns the key's signature scheme.
func (k *TezosKey) Kind() tezos.KeyKind { return k.pub.Kind() }

// Sign signs a payload (magic byte included) as Octez does: Ed25519, secp256k1 and P-256
// sign blake2b-256(payload) (tezos.SigningBytes); BLS signs the raw payload with the POP
// ciphersuite (signature versions 2 and 3). ECDSA signatures are deterministic (RFC
// 6979) and low-S, 64 bytes R ‖ S.
func (k *TezosKey) Sign(payload []byte) ([]byte, error) {
	if k.slot == nil {
		return nil, fmt.Errorf("sign: %w", ErrClosed)
	}
	msg, err := tezos.SigningBytes(k.Kind(), payload)
	if err != nil {
		return nil, fmt.Errorf("sign: %w", err)
	}
	switch k.typ {
	case KeyTypeEd25519:
		return ed25519SignExpanded(k.slot[:64], k.pub.Bytes(), msg)
	case KeyTypeSecp256k1:
		priv := secp256k1.PrivKeyFromBytes(k.slot[:tezosSecretSize])
		defer priv.Zero()
		sig := secpecdsa.Sign(priv, msg) // RFC 6979, canonical low-S (BIP 62)
		r, s := sig.R(), sig.S()
		out := make([]byte, 64)
		r.PutBytesUnchecked(out[:32])
		s.PutBytesUnchecked(out[32:])
		return out, nil
	case KeyTypeP256:
		der, err := k.p256.Sign(nil, msg, crypto.BLAKE2b_256) // nil rand: RFC 6979
		if err != nil {
			return nil, fmt.Errorf("sign: %w", err)
		}
		return p256RawLowS(der)
	case KeyTypeTezosBLS:
		return blsSignDST(k.bls, msg, BLSDST), nil
	}
	return nil, fmt.Errorf("sign: %w", ErrUnsupportedFormat)
}

// DeterministicSignatures reports whether signing the same bytes again always gives the
// byte-identical signature. It is true for every kind keyward holds locally: Ed25519
// (RFC 8032), secp256k1 and P-256 ECDSA with RFC 6979 nonces and low-S normalization,
// and BLS (no randomness at all). The core relies on it to record a Tezos signature
// without waiting for its commit (core: deterministicSigner; it keeps the durable record
// for tz4 anyway, whose signature also depends on the requested scheme). A backend with random
// nonces (a KMS or HSM signing ECDSA) must answer false, and its signatures are then
// recorded durably before they are returned.
func (k *TezosKey) DeterministicSignatures() bool {
	switch k.typ {
	case KeyTypeEd25519, KeyTypeSecp256k1, KeyTypeP256, KeyTypeTezosBLS:
		return true
	}
	return false
}

// SignAUG signs a payload with the BLS AUG ciphersuite (Tezos signature version 1:
// public key ‖ payload). Only tz4 keys have it.
func (k *TezosKey) SignAUG(payload []byte) ([]byte, error) {
	if k.typ != KeyTypeTezosBLS || k.slot == nil {
		return nil, fmt.Errorf("sign aug: %w", tezos.ErrKeyKind)
	}
	return blsSignDST(k.bls, append(k.pub.Bytes(), payload...), BLSAugDST), nil
}

// ProvePossession returns the BLS proof of possession of the key: a signature with the
// POP-POP tag over the 48-byte public key, or over override when it is not nil (Octez
// bls_prove_possession ?bls_pk=). Only tz4 keys have it.
func (k *TezosKey) ProvePossession(override []byte) ([]byte, error) {
	if k.typ != KeyTypeTezosBLS || k.slot == nil {
		return nil, fmt.Errorf("prove possession: %w", tezos.ErrKeyKind)
	}
	msg := k.pub.Bytes()
	if override != nil {
		msg = override
	}
	return blsSignDST(k.bls, msg, BLSPopDST), nil
}

// Verify reports whether sig is this key's signature of payload (Sign's scheme). Inv 6:
// the core calls it after every Sign.
func (k *TezosKey) Verify(payload, sig []byte) bool { return VerifyTezos(k.pub, payload, sig) }

// Destroy zeroes the secret and returns its slot to the arena. The key cannot sign after.
func (k *TezosKey) Destroy() {
	if k.slot == nil {
		return
	}
	clear(k.slot)
	k.arena.Free(k.slot)
	k.slot, k.bls, k.p256 = nil, nil, nil
}

// String names the key by its public key hash; the secret is never printed.
func (k TezosKey) String() string { return "keys.TezosKey(" + k.pkh.String() + ")" }

// GoString is String: the secret is never printed.
func (k TezosKey) GoString() string { return k.String() }

// Format writes String for every verb.
func (k TezosKey) Format(f fmt.State, _ rune) { _, _ = io.WriteString(f, k.String()) }

// VerifyTezos reports whether sig is a valid signature of payload under pk, as Octez
// checks it: Ed25519, secp256k1 (low-S only, as libsecp256k1) and P-256 over
// blake2b-256(payload); BLS over the raw payload with the POP ciphersuite and the
// signature subgroup check. The core uses it for its own signatures (Inv 6) and for
// the authentication signatures of clients (Inv 4).
func VerifyTezos(pk tezos.PublicKey, payload, sig []byte) bool {
	if !pk.Valid() || len(sig) != pk.Kind().SignatureSize() {
		return false
	}
	msg, err := tezos.SigningBytes(pk.Kind(), payload)
	if err != nil {
		return false
	}
	raw := pk.Bytes()
	switch pk.Kind() {
	case tezos.KeyKindEd25519:
		return ed25519.Verify(ed25519.PublicKey(raw), msg, sig)
	case tezos.KeyKindSecp256k1:
		pub, err := secp256k1.ParsePubKey(raw)
		if err != nil {
			return false
		}
		var r, s secp256k1.ModNScalar
		if r.SetByteSlice(sig[:32]) || s.SetByteSlice(sig[32:]) || r.IsZero() || s.IsZero() || s.IsOverHalfOrder() {
			return false
		}
		return secpecdsa.NewSignature(&r, &s).Verify(msg, pub)
	case tezos.KeyKindP256:
		x, y := elliptic.UnmarshalCompressed(elliptic.P256(), raw)
		if x == nil {
			return false
		}
		pub := &ecdsa.PublicKey{Curve: elliptic.P256(), X: x, Y: y}
		return ecdsa.Verify(pub, msg, new(big.Int).SetBytes(sig[:32]), new(big.Int).SetBytes(sig[32:]))
	case tezos.KeyKindBLS:
		p, err := ParseBLSPublicKey(raw)
		if err != nil {
			return false
		}
		return verifyBLSDST(p, msg, sig, BLSDST)
	}
	return false
}

// VerifyTezosAUG verifies a version-1 (AUG ciphersuite) BLS signature of payload.
func VerifyTezosAUG(pk tezos.PublicKey, payload, sig []byte) bool {
	if pk.Kind() != tezos.KeyKindBLS {
		return false
	}
	p, err := ParseBLSPublicKey(pk.Bytes())
	if err != nil {
		return false
	}
	return verifyBLSDST(p, append(pk.Bytes(), payload...), sig, BLSAugDST)
}

// VerifyPossession verifies a BLS proof of possession of msg (a 48-byte public key) under pk.
func VerifyPossession(pk tezos.PublicKey, msg, proof []byte) bool {
	if pk.Kind() != tezos.KeyKindBLS {
		return false
	}
	p, err := ParseBLSPublicKey(pk.Bytes())
	if err != nil {
		return false
	}
	return verifyBLSDST(p, msg, proof, BLSPopDST)
}

func blsSignDST(sk *blst.SecretKey, msg []byte, dst string) []byte {
	sig := new(blst.P2Affine).Sign(sk, msg, []byte(dst))
	if sig == nil {
		return make([]byte, BLSSignatureSize) // invalid encoding: Verify refuses it
	}
	return sig.Compress()
}

func verifyBLSDST(pk *blst.P1Affine, msg, sig []byte, dst string) bool {
	if pk == nil || len(sig) != BLSSignatureSize {
		return false
	}
	s := new(blst.P2Affine).Uncompress(sig)
	if s == nil {
		return false
	}
	return s.Verify(true, pk, false, msg, []byte(dst))
}

// p256HalfOrder is n/2 of P-256: an S above it is replaced by n − S (low-S).
var p256HalfOrder = new(big.Int).Rsh(elliptic.P256().Params().N, 1)

// p256RawLowS converts an ASN.1 ECDSA signature to 64 bytes R ‖ S with S ≤ n/2. Octez
// accepts both forms for P-256; the low one makes keyward's signatures canonical.
func p256RawLowS(der []byte) ([]byte, error) {
	var r, s = new(big.Int), new(big.Int)
	var inner cryptobyte.String
	in := cryptobyte.String(der)
	if !in.ReadASN1(&inner, asn1.SEQUENCE) || !in.Empty() ||
		!inner.ReadASN1Integer(r) || !inner.ReadASN1Integer(s) || !inner.Empty() {
		return nil, fmt.Errorf("sign: malformed ECDSA signature")
	}
	if s.Cmp(p256HalfOrder) > 0 {
		s.Sub(elliptic.P256().Params().N, s)
	}
	out := make([]byte, 64)
	r.FillBytes(out[:32])
	s.FillBytes(out[32:])
	return out, nil
}

// tezosPublicFromSecret derives the raw public key of a 32-byte secret of type t,
// refusing a scalar out of range.
func tezosPublicFromSecret(t KeyType, secret []byte) ([]byte, error) {
	if len(secret) != tezosSecretSize {
		return nil, fmt.Errorf("secret of %d bytes: %w", len(secret), ErrInvalidSecretKey)
	}
	switch t {
	case KeyTypeEd25519:
		return ed25519PublicFromSeed(secret)
	case KeyTypeSecp256k1:
		var sc secp256k1.ModNScalar
		overflow := sc.SetByteSlice(secret)
		defer sc.Zero()
		if overflow || sc.IsZero() {
			return nil, fmt.Errorf("secret not in [1, n-1]: %w", ErrInvalidSecretKey)
		}
		priv := secp256k1.NewPrivateKey(&sc)
		defer priv.Zero()
		return priv.PubKey().SerializeCompressed(), nil
	case KeyTypeP256:
		priv, err := ecdsa.ParseRawPrivateKey(elliptic.P256(), secret)
		if err != nil {
			return nil, fmt.Errorf("secret not in [1, n-1]: %w", ErrInvalidSecretKey)
		}
		return p256Compressed(&priv.PublicKey)
	case KeyTypeTezosBLS:
		pub, err := blsPublicFromSecret(secret)
		if err != nil {
			return nil, err
		}
		return pub[:], nil
	}
	return nil, fmt.Errorf("key type %v: %w", t, ErrUnsupportedFormat)
}

// p256Compressed returns the SEC 1 compressed form of a P-256 public key.
func p256Compressed(pub *ecdsa.PublicKey) ([]byte, error) {
	u, err := pub.Bytes() // 0x04 ‖ X ‖ Y
	if err != nil || len(u) != 65 {
		return nil, fmt.Errorf("encode public key: %w", ErrInvalidPublicKey)
	}
	out := make([]byte, 33)
	out[0] = 0x02 | u[64]&1
	copy(out[1:], u[1:33])
	return out, nil
}

// bindTezosKey turns a slot whose scratch (slot[32:64]) holds a secret of type t into a
// TezosKey, derives its public key and checks it against pub (the stored one). On error
// the slot is zeroed and freed.
func bindTezosKey(arena *secmem.Arena, slot []byte, t KeyType, pub []byte) (_ *TezosKey, err error) {
	defer func() {
		if err != nil {
			clear(slot)
			arena.Free(slot)
		}
	}()
	kind := t.TezosKind()
	pk, err := tezos.NewPublicKey(kind, pub)
	if err != nil {
		return nil, fmt.Errorf("stored public key: %w", err)
	}
	var derived []byte
	if t == KeyTypeEd25519 {
		// The seed in the scratch is replaced by its expansion, in place (slot[0:64]).
		var seed [tezosSecretSize]byte
		copy(seed[:], slot[blsScratch:BLSSlotSize])
		derived, err = ed25519Expand(slot[:64], seed[:])
		clear(seed[:])
	} else {
		derived, err = tezosPublicFromSecret(t, slot[blsScratch:BLSSlotSize])
	}
	if err != nil {
		return nil, err
	}
	if string(derived) != string(pub) {
		return nil, fmt.Errorf("derived %s: %w", hex.EncodeToString(derived), ErrPublicKeyMismatch)
	}
	k := &TezosKey{typ: t, pub: pk, pkh: pk.Hash(), arena: arena, slot: slot}
	switch t {
	case KeyTypeEd25519: // already expanded in place above
	case KeyTypeSecp256k1:
		copy(slot[:32], slot[blsScratch:BLSSlotSize])
		clear(slot[blsScratch:])
	case KeyTypeP256:
		copy(slot[:32], slot[blsScratch:BLSSlotSize])
		clear(slot[blsScratch:])
		if k.p256, err = ecdsa.ParseRawPrivateKey(elliptic.P256(), slot[:32]); err != nil {
			return nil, fmt.Errorf("secret: %w", ErrInvalidSecretKey)
		}
	case KeyTypeTezosBLS:
		sk := (*blst.SecretKey)(unsafe.Pointer(unsafe.SliceData(slot)))
		ok := sk.Deserialize(slot[blsScratch:BLSSlotSize]) != nil
		clear(slot[blsScratch:])
		if !ok {
			return nil, fmt.Errorf("secret not in [1, r-1]: %w", ErrInvalidSecretKey)
		}
		if k.blsPK, err = ParseBLSPublicKey(pub); err != nil {
			return nil, err
		}
		k.bls = sk
	}
	return k, nil
}

// generateTezosSecret returns 32 fresh secret bytes for a key of type t.
func generateTezosSecret(t KeyType) ([]byte, error) {
	switch t {
	case KeyTypeEd25519:
		seed := make([]byte, tezosSecretSize)
		_, _ = rand.Read(seed)
		return seed, nil
	case KeyTypeSecp256k1:
		priv, err := secp256k1.GeneratePrivateKey()
		if err != nil {
			return nil, err
		}
		defer priv.Zero()
		return priv.Serialize(), nil
	case KeyTypeP256:
		priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			return nil, err
		}
		return priv.Bytes()
	case KeyTypeTezosBLS:
		var ikm [32]byte
		defer clear(ikm[:])
		_, _ = rand.Read(ikm[:])
		sk := blst.KeyGen(ikm[:])
		defer sk.Zeroize()
		return sk.Serialize(), nil
	}
	return nil, fmt.Errorf("key type %v: %w", t, ErrUnsupportedFormat)
}
