package tezos

import (
	"bytes"
	"crypto/ed25519"
	"crypto/sha512"
	"fmt"

	"golang.org/x/crypto/nacl/secretbox"
	"golang.org/x/crypto/pbkdf2"
)

// Parameters of octez-client's encrypted secret keys, from Octez
// src/lib_signer_backends/encrypted.ml (module Raw): the payload after the
// prefix is salt(8) ‖ secretbox(32-byte key), the box key is
// PBKDF2-HMAC-SHA512(password, salt, 32768 iterations, 32 bytes), and the
// NaCl secretbox nonce is fixed at zero (Crypto_box.zero_nonce). A fixed nonce
// is safe here because every key is derived from a fresh random salt.
const (
	encryptedSaltSize  = 8
	encryptedKDFRounds = 32768
	secretKeySize      = 32
)

// ParseSecretKey parses an unencrypted (edsk, spsk, p2sk, BLsk) or encrypted
// (edesk, spesk, p2esk, BLesk) secret key in octez-client's format. password is
// called once, and only for an encrypted key; the slice it returns is zeroed
// after use.
//
// The raw secret returned is, by kind:
//   - Ed25519: the 32-byte seed (both edsk forms; the 64-byte form's public
//     half must match the seed or the key is refused);
//   - secp256k1 and P-256: the 32-byte big-endian scalar, in [1, n);
//   - BLS: the 32-byte BIG-endian scalar (IETF/blst order), in [1, r).
//     Tezos stores BLsk and the plaintext of BLesk little-endian; this
//     function reverses it so callers never see the Tezos order.
//
// The caller owns the returned slice and must zero it when done.
func ParseSecretKey(s string, password func() ([]byte, error)) (KeyKind, []byte, error) {
	p, payload, err := b58Decode(s, pfxEdskSeed, pfxEdsk64, pfxSpsk, pfxP2sk, pfxBLsk,
		pfxEdesk, pfxSpesk, pfxP2esk, pfxBLesk)
	if err != nil {
		return 0, nil, fmt.Errorf("parse secret key: %w", err)
	}
	defer clear(payload)
	var kind KeyKind
	switch p.name {
	case "edsk", "edesk":
		kind = KeyKindEd25519
	case "spsk", "spesk":
		kind = KeyKindSecp256k1
	case "p2sk", "p2esk":
		kind = KeyKindP256
	default:
		kind = KeyKindBLS
	}
	plain := payload
	if p.size == encryptedSaltSize+secretbox.Overhead+secretKeySize {
		if plain, err = decryptSecretKey(payload, password); err != nil {
			return 0, nil, fmt.Errorf("parse secret key: %w", err)
		}
		defer clear(plain)
	}
	raw, err := secretFromPayload(kind, plain)
	if err != nil {
		return 0, nil, fmt.Errorf("parse secret key: %w", err)
	}
	return kind, raw, nil
}

func decryptSecretKey(payload []byte, password func() ([]byte, error)) ([]byte, error) {
	if password == nil {
		return nil, ErrPasswordRequired
	}
	pw, err := password()
	if err != nil {
		return nil, fmt.Errorf("read password: %w", err)
	}
	defer clear(pw)
	salt, box := payload[:encryptedSaltSize], payload[encryptedSaltSize:]
	k := pbkdf2.Key(pw, salt, encryptedKDFRounds, 32, sha512.New)
	defer clear(k)
	var key [32]byte
	defer clear(key[:])
	copy(key[:], k)
	var zeroNonce [24]byte
	plain, ok := secretbox.Open(nil, box, &zeroNonce, &key)
	if !ok {
		return nil, ErrDecrypt
	}
	return plain, nil
}

// secretFromPayload validates a decoded secret key payload and returns the raw
// secret in the order documented on ParseSecretKey.
func secretFromPayload(kind KeyKind, b []byte) ([]byte, error) {
	switch kind {
	case KeyKindEd25519:
		switch len(b) {
		case 32:
			return append([]byte(nil), b...), nil
		case 64:
			priv := ed25519.NewKeyFromSeed(b[:32])
			defer clear(priv)
			if !bytes.Equal(priv[32:], b[32:]) {
				return nil, fmt.Errorf("%w: ed25519 public half does not match the seed", ErrInvalidKey)
			}
			return append([]byte(nil), b[:32]...), nil
		}
	case KeyKindSecp256k1, KeyKindP256:
		if len(b) != secretKeySize {
			break
		}
		c := secp256k1Curve()
		if kind == KeyKindP256 {
			c = p256Curve()
		}
		if !scalarInRange(b, c.n) {
			return nil, fmt.Errorf("%w: %s scalar out of range", ErrInvalidKey, kind)
		}
		return append([]byte(nil), b...), nil
	case KeyKindBLS:
		if len(b) != secretKeySize {
			break
		}
		be := make([]byte, secretKeySize)
		for i := range secretKeySize {
			be[i] = b[secretKeySize-1-i]
		}
		if !scalarInRange(be, blsOrder()) {
			clear(be)
			return nil, fmt.Errorf("%w: bls scalar out of range", ErrInvalidKey)
		}
		return be, nil
	}
	return nil, fmt.Errorf("%w: %s secret key of %d bytes", ErrInvalidKey, kind, len(b))
}
