// Package tezos is the pure decoding half of keyward's Tezos support: base58
// encodings of keys, hashes and signatures, octez-client secret keys
// (including encrypted ones), the payloads a baker or client asks a remote
// signer to sign, the high-watermark classes and rule, and the bytes a key
// actually signs.
//
// It does no I/O, no logging and reads no clock: bytes in, values or errors
// out. It holds no keys and cannot sign, so the gateway may import it; it
// must not import blst or any package that holds keys (Inv 1). It runs in the
// trusted core, where every input is hostile.
//
// # Invariants upheld
//
//   - Inv 2: Classify decodes the payload itself; the core signs only what
//     Classify accepted. SigningBytes derives the digest from the payload; no
//     caller-supplied hash is ever signed.
//   - Inv 3: blocks and consensus operations expose their chain id, which the
//     core compares with the key's pinned chains.
//   - Inv 7: every decoder is strict and bounded. Payloads over MaxPayloadSize
//     and base58 strings over 160 characters are refused before they are read;
//     every field is length-checked; tags must be known; integers must be
//     canonical and in range; trailing bytes are refused. The decoders are
//     fuzzed (FuzzClassify, FuzzParse*).
//
// # What is refused
//
// Classify refuses any magic byte other than 0x03 (generic operation), 0x11
// (Tenderbake block), 0x12 (preattestation) and 0x13 (attestation): 0x01 and
// 0x02 (Emmy), 0x04 (authentication messages, which must never be signed as a
// payload), 0x05 (Michelson data) and unknown bytes. It refuses consensus tags
// that do not belong to their magic byte, pre-Tenderbake fitnesses,
// aggregated consensus operations, consensus contents under 0x03, batches that
// mix non-manager operations, and the operation kinds it names but does not
// decode (UnsupportedOperationError: smart_rollup_refute, zk_rollup_*,
// dal_entrapment_evidence). Keys and addresses of kind tz5 (ML-DSA-44) are
// refused everywhere.
//
// # High watermarks
//
// A mark is kept per (chain, key, Class), where the class follows the magic
// byte: attestations with and without DAL share one class (see Class for the
// difference with Signatory). CheckWatermark is the whole rule; its zero
// verdict refuses, and identical bytes get the stored signature back instead
// of a new one.
//
// Errors are the sentinels and types of errors.go; every payload error wraps
// ErrPayload.
package tezos
