package wire

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"unicode/utf8"

	"github.com/keyward/keyward/internal/tezos"
)

// Tezos message types. Values are part of the wire format: never renumber.
const (
	MsgTezosSign                  MsgType = 16 // gateway → core: TezosSignRequest
	MsgTezosSignResult            MsgType = 17 // core → gateway: TezosSignResult
	MsgTezosPublicKey             MsgType = 18 // gateway → core: pkh (21)
	MsgTezosPublicKeyResult       MsgType = 19 // core → gateway: TezosPublicKeyResult
	MsgTezosKnownKeys             MsgType = 20 // gateway → core: empty body
	MsgTezosKnownKeysResult       MsgType = 21 // core → gateway: TezosKeyList
	MsgTezosAuthorizedKeys        MsgType = 22 // gateway → core: empty body
	MsgTezosAuthorizedKeysResult  MsgType = 23 // core → gateway: TezosAuthorizedKeys
	MsgTezosProvePossession       MsgType = 24 // gateway → core: TezosProvePossession
	MsgTezosProvePossessionResult MsgType = 25 // core → gateway: TezosSignResult
)

// Sizes of the Tezos layouts.
const (
	PKHLen = 21 // Octez binary public key hash: kind tag (0 ed25519 … 3 bls) ‖ 20-byte hash
	// TezosVersionUnset is the version byte of a request without ?version=: the core signs
	// with the current scheme (for tz4: POP).
	TezosVersionUnset byte = 0xff
	// MaxTezosVersion is the highest signature version (Octez Signature.V3).
	MaxTezosVersion byte = 3
	maxTezosSig          = 96
	maxTezosKeyList      = 100_000
)

// EncodePKH returns the 21-byte binary form of a valid pkh.
func EncodePKH(h tezos.PublicKeyHash) [PKHLen]byte { return h.Binary() }

// DecodePKH decodes a 21-byte binary pkh, refusing an unknown kind tag (tz5 included).
func DecodePKH(b []byte) (tezos.PublicKeyHash, error) {
	if len(b) != PKHLen || b[0] > 3 {
		return tezos.PublicKeyHash{}, fmt.Errorf("%w: public key hash", ErrMalformed)
	}
	h := tezos.PublicKeyHash{Kind: tezos.KeyKind(b[0] + 1)}
	copy(h.Hash[:], b[1:])
	return h, nil
}

// TezosSignRequest asks the core to sign a Tezos payload with key PKH.
//
// Layout: client name (1-byte length + UTF-8) | pkh (21) | version (1: 0..3 or 0xff
// unset) | flags (1: bit0 authentication) | [authentication: kind (1: 0 generic "sig", 1
// ed25519, 2 secp256k1, 3 p256, 4 bls) | length (1) | signature (64, or 96 for bls)] |
// payload length (4) | payload (1..tezos.MaxPayloadSize bytes, magic byte included).
type TezosSignRequest struct {
	Client  string
	PKH     tezos.PublicKeyHash
	Version byte
	// Auth is the client's authentication signature (?authentication=), nil when absent.
	Auth    *tezos.Signature
	Payload []byte
}

const flagTezosAuth = 1 << 0

// AppendTezosSign appends the encoding of r to dst.
func AppendTezosSign(dst []byte, r *TezosSignRequest) ([]byte, error) {
	if len(r.Client) > maxClientName || !utf8.ValidString(r.Client) || !r.PKH.Valid() ||
		(r.Version > MaxTezosVersion && r.Version != TezosVersionUnset) ||
		len(r.Payload) == 0 || len(r.Payload) > tezos.MaxPayloadSize {
		return nil, fmt.Errorf("%w: tezos sign request", ErrMalformed)
	}
	dst = append(dst, byte(len(r.Client)))
	dst = append(dst, r.Client...)
	pkh := r.PKH.Binary()
	dst = append(dst, pkh[:]...)
	dst = append(dst, r.Version)
	if r.Auth == nil {
		dst = append(dst, 0)
	} else {
		if !validSigShape(r.Auth.Kind, len(r.Auth.Raw)) {
			return nil, fmt.Errorf("%w: authentication signature", ErrMalformed)
		}
		dst = append(dst, flagTezosAuth, byte(r.Auth.Kind), byte(len(r.Auth.Raw)))
		dst = append(dst, r.Auth.Raw...)
	}
	dst = binary.BigEndian.AppendUint32(dst, uint32(len(r.Payload)))
	return append(dst, r.Payload...), nil
}

// validSigShape: kind 0 is the generic 64-byte form; typed kinds have their own size.
func validSigShape(k tezos.KeyKind, n int) bool {
	if k == 0 {
		return n == 64
	}
	return k.Valid() && n == k.SignatureSize()
}

// DecodeTezosSign decodes a TezosSignRequest strictly; the payload is copied.
func DecodeTezosSign(b []byte) (*TezosSignRequest, error) {
	d := decoder{b: b}
	r := &TezosSignRequest{}
	n := int(d.byte())
	name := d.bytes(n)
	pkhBytes := d.bytes(PKHLen)
	r.Version = d.byte()
	flags := d.byte()
	if flags&flagTezosAuth != 0 {
		kind := tezos.KeyKind(d.byte())
		raw := d.bytes(int(d.byte()))
		if d.err == nil && !validSigShape(kind, len(raw)) {
			return nil, fmt.Errorf("%w: authentication signature", ErrMalformed)
		}
		r.Auth = &tezos.Signature{Kind: kind, Raw: append([]byte(nil), raw...)}
	}
	plen := d.uint32()
	if d.err == nil && (plen == 0 || plen > tezos.MaxPayloadSize || uint64(plen) > uint64(len(d.b))) {
		return nil, fmt.Errorf("%w: payload of %d bytes", ErrMalformed, plen)
	}
	if d.err == nil {
		r.Payload = append([]byte(nil), d.bytes(int(plen))...)
	}
	if err := d.finish(); err != nil {
		return nil, err
	}
	if n > maxClientName || !utf8.Valid(name) {
		return nil, fmt.Errorf("%w: client name", ErrMalformed)
	}
	r.Client = string(name)
	var err error
	if r.PKH, err = DecodePKH(pkhBytes); err != nil {
		return nil, err
	}
	if flags&^flagTezosAuth != 0 {
		return nil, fmt.Errorf("%w: unknown flags %#x", ErrMalformed, flags)
	}
	if r.Version > MaxTezosVersion && r.Version != TezosVersionUnset {
		return nil, fmt.Errorf("%w: signature version %d", ErrMalformed, r.Version)
	}
	return r, nil
}

// TezosSignResult is the core's answer to a Tezos signing or proof-of-possession request.
//
// Layout: kind (1) | kind OK: key kind (1: 1..4) | length (1) | signature (64 or 96) |
// otherwise: message length (2) + UTF-8 message.
type TezosSignResult struct {
	Kind      tezos.KeyKind
	Signature []byte
	Err       *Error // nil on success
}

// AppendTezosSignResult appends the encoding of r to dst.
func AppendTezosSignResult(dst []byte, r *TezosSignResult) []byte {
	if r.Err != nil {
		return appendError(dst, r.Err)
	}
	dst = append(dst, byte(KindOK), byte(r.Kind), byte(len(r.Signature)))
	return append(dst, r.Signature...)
}

// DecodeTezosSignResult decodes a TezosSignResult strictly.
func DecodeTezosSignResult(b []byte) (*TezosSignResult, error) {
	if len(b) == 0 {
		return nil, ErrMalformed
	}
	if Kind(b[0]) != KindOK {
		e, err := DecodeError(b)
		if err != nil {
			return nil, err
		}
		return &TezosSignResult{Err: e}, nil
	}
	d := decoder{b: b[1:]}
	k := tezos.KeyKind(d.byte())
	sig := d.bytes(int(d.byte()))
	if err := d.finish(); err != nil {
		return nil, err
	}
	if !k.Valid() || len(sig) != k.SignatureSize() {
		return nil, fmt.Errorf("%w: tezos signature result", ErrMalformed)
	}
	return &TezosSignResult{Kind: k, Signature: append([]byte(nil), sig...)}, nil
}

// TezosPublicKeyResult answers MsgTezosPublicKey.
//
// Layout: key kind (1: 1..4) | length (1) | public key (32, 33 or 48). A failure is a
// MsgError answer.
type TezosPublicKeyResult struct {
	PublicKey tezos.PublicKey
}

// AppendTezosPublicKeyResult appends the encoding of r to dst.
func AppendTezosPublicKeyResult(dst []byte, r *TezosPublicKeyResult) []byte {
	raw := r.PublicKey.Bytes()
	dst = append(dst, byte(r.PublicKey.Kind()), byte(len(raw)))
	return append(dst, raw...)
}

// DecodeTezosPublicKeyResult decodes a TezosPublicKeyResult strictly; the key is validated.
func DecodeTezosPublicKeyResult(b []byte) (*TezosPublicKeyResult, error) {
	d := decoder{b: b}
	k := tezos.KeyKind(d.byte())
	raw := d.bytes(int(d.byte()))
	if err := d.finish(); err != nil {
		return nil, err
	}
	pk, err := tezos.NewPublicKey(k, raw)
	if err != nil {
		return nil, fmt.Errorf("%w: public key: %v", ErrMalformed, err)
	}
	return &TezosPublicKeyResult{PublicKey: pk}, nil
}

// TezosKeyList is a list of pkhs: the answer to MsgTezosKnownKeys, and the body of
// TezosAuthorizedKeys.
//
// Layout: count (4) | count × pkh (21).
type TezosKeyList struct {
	Keys []tezos.PublicKeyHash
}

// AppendTezosKeyList appends the encoding of l to dst.
func AppendTezosKeyList(dst []byte, l *TezosKeyList) []byte {
	dst = binary.BigEndian.AppendUint32(dst, uint32(len(l.Keys)))
	for _, k := range l.Keys {
		b := k.Binary()
		dst = append(dst, b[:]...)
	}
	return dst
}

// DecodeTezosKeyList decodes a TezosKeyList strictly.
func DecodeTezosKeyList(b []byte) (*TezosKeyList, error) {
	d := decoder{b: b}
	n := d.uint32()
	if d.err != nil || n > maxTezosKeyList || uint64(n)*PKHLen != uint64(len(d.b)) {
		return nil, fmt.Errorf("%w: tezos key list", ErrMalformed)
	}
	l := &TezosKeyList{Keys: make([]tezos.PublicKeyHash, n)}
	for i := range l.Keys {
		h, err := DecodePKH(d.bytes(PKHLen))
		if err != nil {
			return nil, err
		}
		l.Keys[i] = h
	}
	if err := d.finish(); err != nil {
		return nil, err
	}
	return l, nil
}

// TezosAuthorizedKeys answers MsgTezosAuthorizedKeys: whether requests must be
// authenticated, and the pkhs of the keys that may authenticate them.
//
// Layout: required (1: 0 or 1) | TezosKeyList. Not required implies an empty list.
type TezosAuthorizedKeys struct {
	Required bool
	Keys     []tezos.PublicKeyHash
}

// AppendTezosAuthorizedKeys appends the encoding of a to dst.
func AppendTezosAuthorizedKeys(dst []byte, a *TezosAuthorizedKeys) []byte {
	var req byte
	if a.Required {
		req = 1
	}
	return AppendTezosKeyList(append(dst, req), &TezosKeyList{Keys: a.Keys})
}

// DecodeTezosAuthorizedKeys decodes a TezosAuthorizedKeys strictly.
func DecodeTezosAuthorizedKeys(b []byte) (*TezosAuthorizedKeys, error) {
	if len(b) == 0 || b[0] > 1 {
		return nil, fmt.Errorf("%w: authorized keys", ErrMalformed)
	}
	l, err := DecodeTezosKeyList(b[1:])
	if err != nil {
		return nil, err
	}
	if b[0] == 0 && len(l.Keys) != 0 {
		return nil, fmt.Errorf("%w: authorized keys listed but not required", ErrMalformed)
	}
	return &TezosAuthorizedKeys{Required: b[0] == 1, Keys: l.Keys}, nil
}

// TezosProvePossession asks the core for the BLS proof of possession of a tz4 key,
// optionally over another BLS public key (?bls_pk=).
//
// Layout: pkh (21) | flags (1: bit0 override) | [override: compressed BLS public key (48)].
// The answer is a TezosSignResult.
type TezosProvePossession struct {
	PKH      tezos.PublicKeyHash
	Override *tezos.PublicKey
}

const flagPopOverride = 1 << 0

// AppendTezosProvePossession appends the encoding of r to dst.
func AppendTezosProvePossession(dst []byte, r *TezosProvePossession) ([]byte, error) {
	if !r.PKH.Valid() || (r.Override != nil && r.Override.Kind() != tezos.KeyKindBLS) {
		return nil, fmt.Errorf("%w: prove possession request", ErrMalformed)
	}
	b := r.PKH.Binary()
	dst = append(dst, b[:]...)
	if r.Override == nil {
		return append(dst, 0), nil
	}
	dst = append(dst, flagPopOverride)
	return append(dst, r.Override.Bytes()...), nil
}

// DecodeTezosProvePossession decodes a TezosProvePossession strictly; an override must
// be a valid BLS public key.
func DecodeTezosProvePossession(b []byte) (*TezosProvePossession, error) {
	d := decoder{b: b}
	pkhBytes := d.bytes(PKHLen)
	flags := d.byte()
	var raw []byte
	if flags&flagPopOverride != 0 {
		raw = d.bytes(48)
	}
	if err := d.finish(); err != nil {
		return nil, err
	}
	if flags&^flagPopOverride != 0 {
		return nil, fmt.Errorf("%w: unknown flags %#x", ErrMalformed, flags)
	}
	pkh, err := DecodePKH(pkhBytes)
	if err != nil {
		return nil, err
	}
	r := &TezosProvePossession{PKH: pkh}
	if raw != nil {
		pk, err := tezos.NewPublicKey(tezos.KeyKindBLS, raw)
		if err != nil {
			return nil, fmt.Errorf("%w: override public key: %v", ErrMalformed, err)
		}
		r.Override = &pk
	}
	return r, nil
}

// tezosSignCall sends a request whose answer is a TezosSignResult.
func (c *Client) tezosSignCall(ctx context.Context, t, want MsgType, body []byte) (*TezosSignResult, error) {
	f, err := c.call(ctx, t, body)
	if err != nil {
		return nil, err
	}
	if err := expect(f, want); err != nil {
		var we *Error
		if errors.As(err, &we) {
			return &TezosSignResult{Err: we}, nil
		}
		return nil, err
	}
	return DecodeTezosSignResult(f.Body)
}

// TezosSign asks the core to sign a Tezos payload. A refusal is returned in the result;
// a transport failure as a Go error.
func (c *Client) TezosSign(ctx context.Context, r *TezosSignRequest) (*TezosSignResult, error) {
	body, err := AppendTezosSign(nil, r)
	if err != nil {
		return nil, err
	}
	return c.tezosSignCall(ctx, MsgTezosSign, MsgTezosSignResult, body)
}

// TezosProvePossession asks the core for a tz4 key's proof of possession.
func (c *Client) TezosProvePossession(ctx context.Context, r *TezosProvePossession) (*TezosSignResult, error) {
	body, err := AppendTezosProvePossession(nil, r)
	if err != nil {
		return nil, err
	}
	return c.tezosSignCall(ctx, MsgTezosProvePossession, MsgTezosProvePossessionResult, body)
}

// TezosPublicKey asks the core for the public key of pkh. A refusal (unknown key) is an
// *Error.
func (c *Client) TezosPublicKey(ctx context.Context, pkh tezos.PublicKeyHash) (*TezosPublicKeyResult, error) {
	if !pkh.Valid() {
		return nil, fmt.Errorf("%w: public key hash", ErrMalformed)
	}
	b := pkh.Binary()
	f, err := c.call(ctx, MsgTezosPublicKey, b[:])
	if err != nil {
		return nil, err
	}
	if err := expect(f, MsgTezosPublicKeyResult); err != nil {
		return nil, err
	}
	return DecodeTezosPublicKeyResult(f.Body)
}

// TezosKnownKeys asks the core for the pkhs of its Tezos keys. A refusal (not allowed by
// the configuration) is an *Error.
func (c *Client) TezosKnownKeys(ctx context.Context) (*TezosKeyList, error) {
	f, err := c.call(ctx, MsgTezosKnownKeys, nil)
	if err != nil {
		return nil, err
	}
	if err := expect(f, MsgTezosKnownKeysResult); err != nil {
		return nil, err
	}
	return DecodeTezosKeyList(f.Body)
}

// TezosAuthorizedKeys asks the core whether requests must be authenticated, and by whom.
func (c *Client) TezosAuthorizedKeys(ctx context.Context) (*TezosAuthorizedKeys, error) {
	f, err := c.call(ctx, MsgTezosAuthorizedKeys, nil)
	if err != nil {
		return nil, err
	}
	if err := expect(f, MsgTezosAuthorizedKeysResult); err != nil {
		return nil, err
	}
	return DecodeTezosAuthorizedKeys(f.Body)
}
