package tezos

import (
	"fmt"

	"golang.org/x/crypto/blake2b"
)

// PayloadHash256 returns blake2b-256 of the whole payload, magic byte
// included: the hash octez-signer stores in its high watermarks and the value
// compared by CheckWatermark.
func PayloadHash256(payload []byte) [32]byte { return blake2b.Sum256(payload) }

// SigningBytes returns what the key of the given kind actually signs for a
// payload (magic byte included): blake2b-256(payload) for Ed25519, secp256k1
// and P-256, and the payload itself for BLS, whose hash-to-curve does the
// hashing (Octez src/lib_crypto/signature_v3.ml). An invalid kind is an error,
// never a default.
func SigningBytes(kind KeyKind, payload []byte) ([]byte, error) {
	switch kind {
	case KeyKindEd25519, KeyKindSecp256k1, KeyKindP256:
		d := blake2b.Sum256(payload)
		return d[:], nil
	case KeyKindBLS:
		return append([]byte(nil), payload...), nil
	}
	return nil, fmt.Errorf("signing bytes: %w", ErrKeyKind)
}

// Authentication request tags (Octez src/lib_signer_services/
// signer_messages.ml, Make_authenticated_signing_request).
const authTagSign = 0x01

// AuthenticationBytes returns the bytes a client signs to authenticate a sign
// request for key pkh: 0x04 ‖ 0x01 ‖ pkh (21-byte binary form) ‖ data, where
// data is the full payload including its magic byte. The core verifies that
// signature against the authorized keys (Inv 4). pkh must be valid.
func AuthenticationBytes(pkh PublicKeyHash, data []byte) ([]byte, error) {
	if !pkh.Valid() {
		return nil, fmt.Errorf("authentication bytes: %w", ErrKeyKind)
	}
	b := make([]byte, 0, 2+21+len(data))
	b = append(b, MagicAuthentication, authTagSign)
	bin := pkh.Binary()
	b = append(b, bin[:]...)
	return append(b, data...), nil
}
