package keys

import (
	"crypto/sha512"
	"fmt"

	"filippo.io/edwards25519"
)

// Ed25519 signing (RFC 8032, section 5.1.6) over a key whose expanded secret lives in an
// arena slot. crypto/ed25519 cannot be used on arena memory: Go 1.26 caches the expanded
// key in a table keyed by a weak pointer to the ed25519.PrivateKey, and the runtime aborts
// on a weak pointer outside the Go heap; a heap copy would live until collected.
//
// Slot layout of a tz1 key: slot[0:32] = the first half of SHA-512(seed) (the scalar before
// clamping), slot[32:64] = the second half (the nonce prefix). The seed itself is not kept.
// Transient copies exist only while one signature is computed: the SHA-512 state holding
// the prefix, and the clamped scalar, which is zeroed before return.

// ed25519Expand writes SHA-512(seed) into dst (64 bytes) and returns the public key.
func ed25519Expand(dst, seed []byte) ([]byte, error) {
	if len(seed) != tezosSecretSize || len(dst) < 64 {
		return nil, fmt.Errorf("ed25519 seed of %d bytes: %w", len(seed), ErrInvalidSecretKey)
	}
	h := sha512.Sum512(seed)
	copy(dst[:64], h[:])
	clear(h[:])
	var s edwards25519.Scalar
	defer s.Set(edwards25519.NewScalar())
	if _, err := s.SetBytesWithClamping(dst[:32]); err != nil {
		return nil, fmt.Errorf("ed25519 scalar: %w", ErrInvalidSecretKey)
	}
	return new(edwards25519.Point).ScalarBaseMult(&s).Bytes(), nil
}

// ed25519PublicFromSeed derives the public key of a seed without keeping the expansion.
func ed25519PublicFromSeed(seed []byte) ([]byte, error) {
	var exp [64]byte
	defer clear(exp[:])
	return ed25519Expand(exp[:], seed)
}

// ed25519SignExpanded signs msg with the expanded key exp (64 bytes, the slot) whose
// public key is pub (32 bytes): R = r·B with r = SHA-512(prefix ‖ msg), S = r + k·s with
// k = SHA-512(R ‖ pub ‖ msg), all mod ℓ.
func ed25519SignExpanded(exp, pub, msg []byte) ([]byte, error) {
	var s edwards25519.Scalar
	defer s.Set(edwards25519.NewScalar())
	if _, err := s.SetBytesWithClamping(exp[:32]); err != nil {
		return nil, fmt.Errorf("ed25519 scalar: %w", ErrInvalidSecretKey)
	}
	h := sha512.New()
	h.Write(exp[32:64])
	h.Write(msg)
	var digest [64]byte
	defer clear(digest[:])
	r, err := edwards25519.NewScalar().SetUniformBytes(h.Sum(digest[:0]))
	if err != nil {
		return nil, err
	}
	h.Reset() // drop the prefix from the hash state
	R := new(edwards25519.Point).ScalarBaseMult(r).Bytes()
	h.Write(R)
	h.Write(pub)
	h.Write(msg)
	k, err := edwards25519.NewScalar().SetUniformBytes(h.Sum(digest[:0]))
	if err != nil {
		return nil, err
	}
	S := edwards25519.NewScalar().MultiplyAdd(k, &s, r)
	r.Set(edwards25519.NewScalar())
	return append(R, S.Bytes()...), nil
}
