// Package keys is the core's sealed key store and its importers. It is trusted-core code:
// the network-facing gateway must never import it.
//
// # What it upholds
//
//   - Inv 1: secret scalars exist in plaintext only inside a secmem.Arena slot (locked,
//     excluded from core dumps). LoadBLS decrypts each record straight into its slot; the
//     only other plaintext copies (keystore decryption at import, key generation) are zeroed
//     as soon as they are sealed. On disk keys exist only sealed under the master key.
//     Tezos keys (TezosKey) are opened into slots the same way; the libraries of tz1
//     (crypto/ed25519) and tz3 (crypto/ecdsa) need their own heap copies, and tz2
//     (dcrd secp256k1) a short-lived one per signature: TezosKey's doc says where each lives.
//   - Inv 6: BLSKey.Verify checks a signature against the key's own validated public key,
//     with the signature subgroup check. The core signs points (SignPoint, or SignHashed
//     from a BLSHashCache entry) and checks each with VerifySignature or, across
//     concurrent requests, VerifyBLSBatch, which hash the message themselves: no cached
//     hash is ever used to verify.
//   - Inv 9: the master key file must be 0600 (no group/other bits) and owned by the
//     effective user, or LoadMasterKey refuses it and says how to fix it; the store file is
//     held to the same rule; imported keys are re-sealed under the master key and keystore
//     passwords are never written anywhere.
//
// # Master key and data key
//
// The master key is 32 random bytes in a file (CreateMasterKey, LoadMasterKey). OpenStore
// derives the store's data key with HKDF-SHA256 from the master key and a random 32-byte
// salt kept in the store, and keeps only the data key; the caller zeroes the master key
// after opening.
//
// # File format (bbolt)
//
// Bucket "meta": "format" = 0x01; "salt" = 32 random bytes; "check" = a 24-byte nonce and
// the XChaCha20-Poly1305 tag of an empty message whose associated data is a fixed label —
// it tells a wrong master key apart from a tampered record.
//
// One bucket per key type: "bls" (Ethereum), "tz1" (ed25519), "tz2" (secp256k1), "tz3"
// (P-256), "tz4" (Tezos BLS; a distinct type from Ethereum BLS so that neither key is ever
// served as the other). The bucket key is the public key; the value is a
// record, all integers big-endian:
//
//	off  size  field
//	0    1     record version (1)
//	1    1     key type (1 BLS12-381 Ethereum; 2 ed25519, 3 secp256k1, 4 P-256, 5 BLS Tezos)
//	2    1     public key length L (48 for BLS; 32 or 33 for the Tezos curves)
//	3    L     public key (compressed); must equal the bucket key
//	     1     source (1 generated, 2 imported)
//	     8     created, unix seconds (0 = unknown)
//	     1+n   EIP-2334 derivation path, length-prefixed (may be empty)
//	     1+n   keystore uuid, length-prefixed (may be empty)
//	     2+n   description, length-prefixed (may be empty)
//	     24    nonce (random)
//	     rest  XChaCha20-Poly1305 ciphertext of the secret (BLS, secp256k1, P-256: 32-byte
//	           big-endian scalar; ed25519: 32-byte seed)
//	           plus its 16-byte tag
//
// The associated data is a fixed label followed by every byte of the record before the
// nonce, so version, key type, public key and metadata are all authenticated: a record
// moved under another public key, a ciphertext swapped between records, or edited metadata
// fails to open.
//
// # Loading
//
// LoadBLS opens every BLS record in parallel. It does not run a KDF or recompute the public
// key from the secret (the associated data already binds them, and every signature is
// verified); it decompresses and validates each public key once and keeps it for Verify.
package keys
