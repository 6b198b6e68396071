package keys

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"unsafe"

	blst "github.com/supranational/blst/bindings/go"

	"github.com/keyward/keyward/internal/secmem"
)

// BLSDST is the domain separation tag of the BLS proof-of-possession ciphersuite that
// Ethereum consensus (and Tezos tz4) sign with.
const BLSDST = "BLS_SIG_BLS12381G2_XMD:SHA-256_SSWU_RO_POP_"

// Sizes of BLS keys and signatures.
const (
	BLSPublicKeySize = 48 // compressed G1 point
	BLSSignatureSize = 96 // compressed G2 point
)

// BLSSlotSize is the smallest arena slot LoadBLS accepts: the blst scalar in the first 32
// bytes, and 32 bytes of scratch where the AEAD writes the plaintext, so the opened secret
// never touches the Go heap (Inv 1). The scratch is zeroed once the scalar is placed.
const BLSSlotSize = 64

const blsScratch = 32 // offset of the plaintext scratch in a slot

// blst.SecretKey must be exactly 32 plain bytes (no Go pointers) for the slot cast below.
var (
	_ [unsafe.Sizeof(blst.SecretKey{}) - blsSecretSize]struct{}
	_ [blsSecretSize - unsafe.Sizeof(blst.SecretKey{})]struct{}
)

// BLSKey is a BLS secret key held in an arena slot together with its validated public key.
// Sign and Verify are safe for concurrent use; Destroy must not race with them. It redacts
// itself on every fmt verb (only the public key is shown).
type BLSKey struct {
	pub   [BLSPublicKeySize]byte
	pk    blst.P1Affine // decompressed and validated once, used by Verify
	arena *secmem.Arena
	slot  []byte          // the arena slot; nil after Destroy
	sk    *blst.SecretKey // points into slot (not Go memory); nil after Destroy
}

// PublicKey returns the compressed public key.
func (k *BLSKey) PublicKey() [BLSPublicKeySize]byte { return k.pub }

// Sign signs msg with the POP ciphersuite (BLSDST). After Destroy it returns the zero
// value, which is not a valid encoding, so Verify refuses it.
func (k *BLSKey) Sign(msg []byte) [BLSSignatureSize]byte {
	var out [BLSSignatureSize]byte
	if k.sk == nil {
		return out
	}
	sig := new(blst.P2Affine).Sign(k.sk, msg, []byte(BLSDST))
	if sig == nil {
		return out
	}
	copy(out[:], sig.Compress())
	return out
}

// Verify reports whether sig is a valid signature of msg under this key's public key,
// checking that the signature is in the G2 subgroup. Inv 6: the core calls it after
// every Sign and returns nothing that fails.
func (k *BLSKey) Verify(msg []byte, sig [BLSSignatureSize]byte) bool {
	return VerifyBLS(&k.pk, msg, sig[:])
}

// BLSSignature is a signature as Sign computed it: the affine G2 point, never decoded from
// bytes. VerifySignature checks it and returns its compression.
type BLSSignature struct{ p *blst.P2Affine }

// SignPoint signs msg with the POP ciphersuite and keeps the result as a point, for
// VerifySignature. After Destroy it returns a signature that never verifies.
func (k *BLSKey) SignPoint(msg []byte) BLSSignature {
	if k.sk == nil {
		return BLSSignature{}
	}
	return BLSSignature{new(blst.P2Affine).Sign(k.sk, msg, []byte(BLSDST))}
}

// VerifySignature checks sig against msg under this key's public key with a pairing
// check and, only if it holds, returns the compression of that same point: the bytes
// returned are exactly the encoding of the point that was verified (Inv 6).
//
// It skips what VerifyBLS does to bytes from outside (decompression and the G2 subgroup
// check, together about 6–11% of a verification). That is sound because the point was
// computed in this process by SignPoint and never left its memory: it is the scalar
// multiple sk·H(msg) of H(msg), and hash_to_curve clears the cofactor, so H(msg) is in
// the prime-order subgroup G2 and so is every multiple of it. There is no decoding step
// that could yield a point off the curve or outside G2, and nobody outside the core can
// supply the point. What verification is there for (Inv 6) is a wrong secret, a faulty
// computation or corrupted memory; the pairing check catches those: a point that is not
// sk·H(msg) for the key's public key does not satisfy e(pk, H(msg)) = e(g1, sig), except
// for a deliberately crafted torsion component, which a fault does not produce and an
// attacker able to write the core's memory would not need.
func (k *BLSKey) VerifySignature(msg []byte, sig BLSSignature) ([BLSSignatureSize]byte, bool) {
	var out [BLSSignatureSize]byte
	if sig.p == nil || !sig.p.Verify(false, &k.pk, false, msg, []byte(BLSDST)) {
		return out, false
	}
	copy(out[:], sig.p.Compress())
	return out, true
}

// Destroy zeroes the secret and returns its slot to the arena. The key cannot sign after.
func (k *BLSKey) Destroy() {
	if k.sk == nil {
		return
	}
	k.sk.Zeroize()
	k.arena.Free(k.slot)
	k.sk, k.slot = nil, nil
}

// String names the key by its public key; the secret is never printed. The redacting
// methods have value receivers so that a copied BLSKey redacts too.
func (k BLSKey) String() string {
	return "keys.BLSKey(0x" + hex.EncodeToString(k.pub[:]) + ")"
}

// GoString is String: the secret is never printed.
func (k BLSKey) GoString() string { return k.String() }

// Format writes String for every verb.
func (k BLSKey) Format(f fmt.State, _ rune) { _, _ = io.WriteString(f, k.String()) }

// ParseBLSPublicKey decodes a compressed BLS12-381 G1 public key: exactly 48 bytes, a
// point on the curve, in the prime-order subgroup, not infinity (KeyValidate).
func ParseBLSPublicKey(b []byte) (*blst.P1Affine, error) {
	if len(b) != BLSPublicKeySize {
		return nil, fmt.Errorf("parse public key: %d bytes: %w", len(b), ErrInvalidPublicKey)
	}
	pk := new(blst.P1Affine).Uncompress(b)
	if pk == nil {
		return nil, fmt.Errorf("parse public key: not a compressed G1 point: %w", ErrInvalidPublicKey)
	}
	if !pk.KeyValidate() {
		return nil, fmt.Errorf("parse public key: infinity or not in G1: %w", ErrInvalidPublicKey)
	}
	return pk, nil
}

// VerifyBLS reports whether sig (96 bytes, compressed) is a valid POP-ciphersuite
// signature of msg under pk, with the signature subgroup check. pk must come from
// ParseBLSPublicKey (it is not validated again).
func VerifyBLS(pk *blst.P1Affine, msg []byte, sig []byte) bool {
	if pk == nil {
		return false
	}
	s, err := ParseBLSSignature(sig)
	if err != nil {
		return false
	}
	return s.Verify(true, pk, false, msg, []byte(BLSDST))
}

// ParseBLSSignature decodes a compressed G2 signature strictly: exactly 96 bytes, a valid
// encoding of a point on the curve and in the G2 subgroup (the point at infinity decodes;
// verification refuses it).
func ParseBLSSignature(b []byte) (*blst.P2Affine, error) {
	if len(b) != BLSSignatureSize {
		return nil, fmt.Errorf("signature of %d bytes: %w", len(b), ErrInvalidSignature)
	}
	s := new(blst.P2Affine).Uncompress(b)
	if s == nil {
		return nil, fmt.Errorf("signature does not decode: %w", ErrInvalidSignature)
	}
	if !s.InG2() {
		return nil, fmt.Errorf("signature not in G2: %w", ErrInvalidSignature)
	}
	return s, nil
}

// blsPublicFromSecret derives the compressed public key of a 32-byte big-endian scalar.
func blsPublicFromSecret(secret []byte) ([BLSPublicKeySize]byte, error) {
	var pub [BLSPublicKeySize]byte
	if len(secret) != blsSecretSize {
		return pub, fmt.Errorf("secret of %d bytes: %w", len(secret), ErrInvalidSecretKey)
	}
	var sk blst.SecretKey
	defer sk.Zeroize()
	if sk.Deserialize(secret) == nil {
		return pub, fmt.Errorf("secret not in [1, r-1]: %w", ErrInvalidSecretKey)
	}
	copy(pub[:], new(blst.P1Affine).From(&sk).Compress())
	return pub, nil
}

// bindBLSKey turns a slot whose scratch holds a big-endian secret into a BLSKey: the
// scalar is decoded in place into the slot's first 32 bytes, the scratch is zeroed, and
// the scalar must be in [1, r-1]. On error the slot is freed. pk must be validated.
func bindBLSKey(arena *secmem.Arena, slot []byte, pub [BLSPublicKeySize]byte, pk *blst.P1Affine) (*BLSKey, error) {
	sk := (*blst.SecretKey)(unsafe.Pointer(unsafe.SliceData(slot)))
	ok := sk.Deserialize(slot[blsScratch:BLSSlotSize]) != nil
	clear(slot[blsScratch:])
	if !ok {
		arena.Free(slot)
		return nil, fmt.Errorf("secret not in [1, r-1]: %w", ErrInvalidSecretKey)
	}
	return &BLSKey{pub: pub, pk: *pk, arena: arena, slot: slot, sk: sk}, nil
}

// maxGenerate bounds one GenerateBLS call.
const maxGenerate = 100_000

// GenerateBLS creates n BLS keys from 32 random bytes each (blst KeyGen, EIP-2333
// KeyGen), seals and stores them in one durable transaction, and returns their public
// keys. meta.Source is set to SourceGenerated; meta.Path must be empty (the keys are not
// derived from a seed).
func GenerateBLS(s *Store, n int, meta Meta) ([][BLSPublicKeySize]byte, error) {
	if n < 1 || n > maxGenerate {
		return nil, fmt.Errorf("generate keys: count %d not in [1, %d]", n, maxGenerate)
	}
	if meta.Path != "" {
		return nil, fmt.Errorf("generate keys: path %q for random keys: %w", meta.Path, ErrInvalidMeta)
	}
	meta.Source = SourceGenerated
	if err := meta.validate(); err != nil {
		return nil, fmt.Errorf("generate keys: %w", err)
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.db == nil {
		return nil, fmt.Errorf("generate keys: %w", ErrClosed)
	}
	aead, err := s.aead()
	if err != nil {
		return nil, fmt.Errorf("generate keys: %w", err)
	}
	pubs := make([][BLSPublicKeySize]byte, n)
	pubBytes := make([][]byte, n)
	recs := make([][]byte, n)
	var ikm [32]byte
	defer clear(ikm[:])
	for i := range n {
		_, _ = rand.Read(ikm[:])
		sk := blst.KeyGen(ikm[:])
		secret := sk.Serialize()
		sk.Zeroize()
		pub, err := blsPublicFromSecret(secret)
		if err == nil {
			recs[i] = seal(aead, KeyTypeBLS, pub[:], secret, &meta)
		}
		clear(secret)
		if err != nil {
			return nil, fmt.Errorf("generate keys: %w", err)
		}
		pubs[i] = pub
		pubBytes[i] = pubs[i][:]
	}
	if err := s.putRecords(KeyTypeBLS, pubBytes, recs); err != nil {
		return nil, fmt.Errorf("generate keys: %w", err)
	}
	return pubs, nil
}
