package keys

import "errors"

// Errors of the master key.
var (
	// ErrInsecureFile means a secret file (master key, store, password file) is readable or
	// writable by group or others, is owned by another user, or is not a regular file (Inv 9).
	ErrInsecureFile = errors.New("keys: insecure file permissions")
	// ErrMasterKeyFormat means the master key file does not hold exactly 32 bytes.
	ErrMasterKeyFormat = errors.New("keys: master key file is not 32 bytes")
)

// Errors of the store.
var (
	// ErrWrongMasterKey means the store was sealed under another master key.
	ErrWrongMasterKey = errors.New("keys: store sealed under another master key")
	// ErrUnsupportedFormat means the store or a record has a format version this build
	// does not know.
	ErrUnsupportedFormat = errors.New("keys: unsupported format version")
	// ErrCorrupt means the store metadata or a record does not decode.
	ErrCorrupt = errors.New("keys: corrupt store")
	// ErrUnseal means a record failed authentication: it was altered or moved.
	ErrUnseal = errors.New("keys: record does not authenticate")
	// ErrExists means a key with this public key is already in the store.
	ErrExists = errors.New("keys: key already present")
	// ErrNotFound means no key with this public key is in the store.
	ErrNotFound = errors.New("keys: key not found")
	// ErrClosed means the store was closed.
	ErrClosed = errors.New("keys: store closed")
	// ErrInvalidMeta means a key's metadata is out of range (unknown source, path or
	// description malformed or too long).
	ErrInvalidMeta = errors.New("keys: invalid key metadata")
	// ErrSlotSize means the arena's slots are smaller than BLSSlotSize.
	ErrSlotSize = errors.New("keys: arena slot too small")
)

// Errors of key material.
var (
	// ErrInvalidPublicKey means bytes are not a compressed BLS12-381 G1 point of the
	// prime-order subgroup other than infinity.
	ErrInvalidPublicKey = errors.New("keys: invalid public key")
	// ErrInvalidSecretKey means a secret is not a 32-byte scalar in [1, r-1].
	ErrInvalidSecretKey = errors.New("keys: invalid secret key")
)

// Errors of keystore import (per file, in ImportResult.Err).
var (
	// ErrInvalidKeystore means a file is not an EIP-2335 version 4 keystore this package
	// accepts (malformed, unknown field, unsupported function, parameters out of bounds,
	// too large).
	ErrInvalidKeystore = errors.New("keys: invalid keystore")
	// ErrPublicKeyMismatch means the decrypted secret's public key differs from the
	// keystore's pubkey field; the file is refused.
	ErrPublicKeyMismatch = errors.New("keys: keystore pubkey does not match its secret")
	// ErrWrongPassword means the keystore's checksum does not match: wrong password.
	ErrWrongPassword = errors.New("keys: wrong keystore password")
	// ErrNoPassword means no password file was found for a keystore in the password
	// directory.
	ErrNoPassword = errors.New("keys: no password file for keystore")
	// ErrInvalidSignature means bytes are not a valid compressed G2 signature.
	ErrInvalidSignature = errors.New("keys: invalid BLS signature")
)
