package tezos

import (
	"crypto/subtle"
	"fmt"
)

// Class is a high-watermark class: one mark is kept per (chain, key, class).
// The zero value is invalid.
//
// The class is the magic byte, not the operation tag: attestations with and
// without DAL content (tags 21 and 23) and BLS-mode attestations (tag 41) all
// share ClassAttestation, as octez-signer's per-magic files do. Signatory keys
// its marks by request kind, so "attestation" and "attestation_with_dal" get
// separate marks and one key can sign both at the same level and round with
// different payloads; keyward deliberately does not reproduce that.
type Class uint8

// Watermark classes.
const (
	_                   Class = iota
	ClassBlock                // 0x11
	ClassPreattestation       // 0x12
	ClassAttestation          // 0x13, every tag
)

// String returns "block", "preattestation", "attestation" or "invalid".
func (c Class) String() string {
	switch c {
	case ClassBlock:
		return "block"
	case ClassPreattestation:
		return "preattestation"
	case ClassAttestation:
		return "attestation"
	}
	return "invalid"
}

// WatermarkKey is where a request falls in the high-watermark order. The store
// keys marks by (ChainID, key, Class) and compares (Level, Round).
type WatermarkKey struct {
	ChainID ChainID
	Class   Class
	Level   uint32
	Round   uint32
}

// WatermarkKey returns the request's watermark position. Generic operations
// have none (ErrNoWatermark): they are governed by policy, not by the mark.
func (r *Request) WatermarkKey() (WatermarkKey, error) {
	var c Class
	switch r.Kind {
	case RequestBlock:
		c = ClassBlock
	case RequestPreattestation:
		c = ClassPreattestation
	case RequestAttestation:
		c = ClassAttestation
	default:
		return WatermarkKey{}, fmt.Errorf("%w: %s", ErrNoWatermark, r.Kind)
	}
	return WatermarkKey{ChainID: r.ChainID, Class: c, Level: r.Level, Round: r.Round}, nil
}

// Mark is the stored high watermark of one (chain, key, class): the position
// and the blake2b-256 hash of the whole payload (magic byte included) last
// recorded, and the signature produced for it. Signature is empty while the
// signature is not yet recorded (intent recorded, signing not finished).
type Mark struct {
	Level, Round uint32
	PayloadHash  [32]byte
	Signature    []byte
}

// Verdict is the outcome of the high-watermark rule. The zero value refuses.
type Verdict uint8

// Verdicts.
const (
	// VerdictRefuse: do not sign. It is the zero value.
	VerdictRefuse Verdict = iota
	// VerdictSign: record the new mark durably, then sign.
	VerdictSign
	// VerdictReissue: the same bytes were signed before; return the stored
	// signature and do not sign again.
	VerdictReissue
)

// String returns "refuse", "sign" or "reissue".
func (v Verdict) String() string {
	switch v {
	case VerdictSign:
		return "sign"
	case VerdictReissue:
		return "reissue"
	}
	return "refuse"
}

// CheckWatermark applies the high-watermark rule to a request at (level,
// round) whose payload hashes to payloadHash, given the stored mark of the
// same (chain, key, class); stored is nil when there is none. It is a pure
// function; the caller holds the key's lock around check, record and sign
// (Inv 5).
//
//   - no mark, or (level, round) above the mark: VerdictSign.
//   - (level, round) below the mark: refused (ErrBelowWatermark).
//   - same (level, round), different payload: refused (ErrDifferentPayload).
//   - same (level, round), same payload, signature recorded: VerdictReissue.
//     The stored signature is returned, never a new one: ECDSA signers (tz2,
//     tz3, cloud KMS and HSMs) draw a fresh nonce, and a second, different
//     signature of the same block header is a second block: double baking.
//   - same (level, round), same payload, no signature recorded: VerdictSign.
//     This is safe only because the core records the signature durably
//     before it returns it, so an unrecorded signature never left the core.
//
// Every refusal returns VerdictRefuse with a *WatermarkError.
func CheckWatermark(stored *Mark, level, round uint32, payloadHash [32]byte) (Verdict, error) {
	if stored == nil {
		return VerdictSign, nil
	}
	werr := &WatermarkError{StoredLevel: stored.Level, StoredRound: stored.Round,
		RequestLevel: level, RequestRound: round}
	switch {
	case level > stored.Level, level == stored.Level && round > stored.Round:
		return VerdictSign, nil
	case level < stored.Level, round < stored.Round:
		werr.Err = ErrBelowWatermark
		return VerdictRefuse, werr
	}
	// Same level and round.
	if subtle.ConstantTimeCompare(payloadHash[:], stored.PayloadHash[:]) != 1 {
		werr.Err = ErrDifferentPayload
		return VerdictRefuse, werr
	}
	if len(stored.Signature) == 0 {
		return VerdictSign, nil
	}
	return VerdictReissue, nil
}
