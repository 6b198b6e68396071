package tezos

import (
	"errors"
	"fmt"
)

// Encoding errors (base58check strings and binary keys).
var (
	// ErrEncoding reports a malformed base58check string: bad alphabet, bad
	// checksum, too long, or a prefix and length that match nothing expected.
	ErrEncoding = errors.New("tezos: invalid base58check encoding")
	// ErrKeyKind reports a key kind that is zero, unknown, or not allowed where it
	// was found (tz5/ML-DSA-44 keys are refused everywhere).
	ErrKeyKind = errors.New("tezos: invalid or unsupported key kind")
	// ErrInvalidKey reports bytes that have the right length but are not a valid
	// key: a point off the curve, a scalar out of range, a seed that does not
	// match its public key.
	ErrInvalidKey = errors.New("tezos: invalid key")
	// ErrInvalidSignature reports a signature of the wrong length for its kind.
	ErrInvalidSignature = errors.New("tezos: invalid signature")
)

// Secret key decryption errors.
var (
	// ErrPasswordRequired reports an encrypted secret key parsed without a
	// password callback.
	ErrPasswordRequired = errors.New("tezos: encrypted secret key needs a password")
	// ErrDecrypt reports a wrong password or a corrupted encrypted secret key
	// (the secretbox authenticator did not verify).
	ErrDecrypt = errors.New("tezos: cannot decrypt secret key")
)

// Payload decoding errors. Every error returned by Classify wraps ErrPayload.
var (
	// ErrPayload is wrapped by every payload decoding error.
	ErrPayload = errors.New("tezos: invalid payload")
	// ErrPayloadTooLarge reports a payload longer than MaxPayloadSize.
	ErrPayloadTooLarge = fmt.Errorf("%w: too large", ErrPayload)
	// ErrUnknownMagic reports a first byte that is not 0x03, 0x11, 0x12 or 0x13.
	ErrUnknownMagic = fmt.Errorf("%w: unknown or unsupported magic byte", ErrPayload)
	// ErrTruncated reports a payload that ends inside a field.
	ErrTruncated = fmt.Errorf("%w: truncated", ErrPayload)
	// ErrTrailingBytes reports bytes left after the last field.
	ErrTrailingBytes = fmt.Errorf("%w: trailing bytes", ErrPayload)
	// ErrUnknownTag reports an operation or union tag this package does not know.
	ErrUnknownTag = fmt.Errorf("%w: unknown tag", ErrPayload)
	// ErrMalformed reports a field whose value is impossible: a negative level or
	// round, a non-canonical integer, a length that overruns its container, a
	// fitness that is not a Tenderbake fitness, a boolean byte other than 0x00/0xff.
	ErrMalformed = fmt.Errorf("%w: malformed field", ErrPayload)
	// ErrUnexpectedOperation reports an operation that is well formed but not
	// allowed where it appears: a consensus operation under the generic magic
	// byte, several non-manager operations in one batch, an empty batch.
	ErrUnexpectedOperation = fmt.Errorf("%w: unexpected operation", ErrPayload)
	// ErrUnsupportedOperation is wrapped by UnsupportedOperationError.
	ErrUnsupportedOperation = fmt.Errorf("%w: operation kind not decoded", ErrPayload)
)

// Request and watermark errors.
var (
	// ErrNoWatermark reports a request kind that has no high watermark (generic
	// operations).
	ErrNoWatermark = errors.New("tezos: request has no watermark class")
	// ErrKeyKindMismatch reports a consensus payload whose form does not match the
	// signing key: BLS-mode tags (40, 41) for a non-BLS key, or slot-carrying
	// tags (20, 21, 23) for a BLS key.
	ErrKeyKindMismatch = errors.New("tezos: payload form does not match key kind")
	// ErrBelowWatermark reports a (level, round) below the stored high watermark.
	ErrBelowWatermark = errors.New("tezos: below high watermark")
	// ErrDifferentPayload reports a request at the stored (level, round) whose
	// bytes differ from the ones already signed.
	ErrDifferentPayload = errors.New("tezos: already signed different data at this level and round")
)

// UnsupportedOperationError names an operation kind that Classify recognises but
// does not decode (its body is too complex to skip exactly, e.g. smart rollup
// refutations and ZK rollup operations). The request is refused.
type UnsupportedOperationError struct {
	Kind OperationKind
}

func (e *UnsupportedOperationError) Error() string {
	return fmt.Sprintf("tezos: operation kind %s is not decoded", e.Kind)
}

// Unwrap returns ErrUnsupportedOperation.
func (e *UnsupportedOperationError) Unwrap() error { return ErrUnsupportedOperation }

// WatermarkError carries the stored and requested positions of a refusal by
// the high watermark. It wraps ErrBelowWatermark or ErrDifferentPayload.
type WatermarkError struct {
	Err                        error
	StoredLevel, StoredRound   uint32
	RequestLevel, RequestRound uint32
}

func (e *WatermarkError) Error() string {
	return fmt.Sprintf("%v: request (%d, %d), stored (%d, %d)", e.Err,
		e.RequestLevel, e.RequestRound, e.StoredLevel, e.StoredRound)
}

// Unwrap returns the sentinel.
func (e *WatermarkError) Unwrap() error { return e.Err }
