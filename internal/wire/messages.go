package wire

import (
	"encoding/binary"
	"fmt"
	"unicode/utf8"

	"github.com/keyward/keyward/internal/eth"
)

// Field sizes of the fixed layouts.
const (
	BLSPubkeyLen    = 48
	BLSSignatureLen = 96
	maxClientName   = 64
	maxErrorMsg     = 1024
)

// EthSignRequest asks the core to sign an Ethereum consensus object.
//
// Layout: client name (1-byte length + UTF-8) | pubkey (48) | type (1) | version (1) |
// flags (1: bit0 fork info, bit1 signing root) | [fork info: prev (4) cur (4) epoch (8) gvr (32)] |
// [signing root (32)] | body length (4) | body (SSZ, see package eth).
type EthSignRequest struct {
	// Client is the authenticated name of the client, for the audit trail. Informational
	// only: the core enforces no scope from it (Inv 4: scoping is the gateway's job).
	Client string
	Pubkey [BLSPubkeyLen]byte
	Req    eth.Request
}

const (
	flagForkInfo    = 1 << 0
	flagSigningRoot = 1 << 1
	flagsKnown      = flagForkInfo | flagSigningRoot
)

// AppendEthSign appends the encoding of r to dst.
func AppendEthSign(dst []byte, r *EthSignRequest) ([]byte, error) {
	if len(r.Client) > maxClientName || !utf8.ValidString(r.Client) {
		return nil, fmt.Errorf("%w: client name", ErrMalformed)
	}
	if len(r.Req.Body) > MaxFrame {
		return nil, fmt.Errorf("%w: body of %d bytes", ErrFrameTooLarge, len(r.Req.Body))
	}
	dst = append(dst, byte(len(r.Client)))
	dst = append(dst, r.Client...)
	dst = append(dst, r.Pubkey[:]...)
	var flags byte
	if r.Req.ForkInfo != nil {
		flags |= flagForkInfo
	}
	if r.Req.SigningRoot != nil {
		flags |= flagSigningRoot
	}
	dst = append(dst, byte(r.Req.Type), byte(r.Req.Version), flags)
	if fi := r.Req.ForkInfo; fi != nil {
		dst = append(dst, fi.PreviousVersion[:]...)
		dst = append(dst, fi.CurrentVersion[:]...)
		dst = binary.BigEndian.AppendUint64(dst, fi.Epoch)
		dst = append(dst, fi.GenesisValidatorsRoot[:]...)
	}
	if r.Req.SigningRoot != nil {
		dst = append(dst, r.Req.SigningRoot[:]...)
	}
	dst = binary.BigEndian.AppendUint32(dst, uint32(len(r.Req.Body)))
	return append(dst, r.Req.Body...), nil
}

// DecodeEthSign decodes an EthSignRequest strictly: known type and fork, known flags,
// exact lengths, no trailing bytes. The body is copied, so b may be reused.
func DecodeEthSign(b []byte) (*EthSignRequest, error) {
	d := decoder{b: b}
	r := &EthSignRequest{}
	n := int(d.byte())
	name := d.bytes(n)
	if n > maxClientName || !utf8.Valid(name) {
		return nil, fmt.Errorf("%w: client name", ErrMalformed)
	}
	r.Client = string(name)
	copy(r.Pubkey[:], d.bytes(BLSPubkeyLen))
	r.Req.Type = eth.SignType(d.byte())
	r.Req.Version = eth.Fork(d.byte())
	flags := d.byte()
	if fi := flags & flagForkInfo; fi != 0 {
		var f eth.ForkInfo
		copy(f.PreviousVersion[:], d.bytes(4))
		copy(f.CurrentVersion[:], d.bytes(4))
		f.Epoch = d.uint64()
		copy(f.GenesisValidatorsRoot[:], d.bytes(32))
		r.Req.ForkInfo = &f
	}
	if flags&flagSigningRoot != 0 {
		var root [32]byte
		copy(root[:], d.bytes(32))
		r.Req.SigningRoot = &root
	}
	bodyLen := d.uint32()
	if d.err == nil && uint64(bodyLen) > uint64(len(d.b)) {
		d.err = ErrMalformed
	}
	if d.err == nil {
		r.Req.Body = append([]byte(nil), d.bytes(int(bodyLen))...)
	}
	if err := d.finish(); err != nil {
		return nil, err
	}
	switch {
	case flags&^flagsKnown != 0:
		return nil, fmt.Errorf("%w: unknown flags %#x", ErrMalformed, flags)
	case !r.Req.Type.Valid():
		return nil, fmt.Errorf("%w: unknown signing type %d", ErrMalformed, r.Req.Type)
	case r.Req.Version != eth.ForkUnset && !r.Req.Version.Valid():
		return nil, fmt.Errorf("%w: unknown fork %d", ErrMalformed, r.Req.Version)
	}
	return r, nil
}

// SignResult is the core's answer to a signing request: a signature, or a typed failure.
//
// Layout: kind (1) | kind OK: signature (96) | otherwise: message length (2) + UTF-8 message.
type SignResult struct {
	Signature [BLSSignatureLen]byte
	Err       *Error // nil on success
}

// AppendSignResult appends the encoding of r to dst.
func AppendSignResult(dst []byte, r *SignResult) []byte {
	if r.Err == nil {
		dst = append(dst, byte(KindOK))
		return append(dst, r.Signature[:]...)
	}
	return appendError(dst, r.Err)
}

// DecodeSignResult decodes a SignResult strictly.
func DecodeSignResult(b []byte) (*SignResult, error) {
	if len(b) == 0 {
		return nil, ErrMalformed
	}
	if Kind(b[0]) == KindOK {
		if len(b) != 1+BLSSignatureLen {
			return nil, fmt.Errorf("%w: signature result of %d bytes", ErrMalformed, len(b))
		}
		r := &SignResult{}
		copy(r.Signature[:], b[1:])
		return r, nil
	}
	e, err := DecodeError(b)
	if err != nil {
		return nil, err
	}
	return &SignResult{Err: e}, nil
}

func appendError(dst []byte, e *Error) []byte {
	msg := e.Msg
	if len(msg) > maxErrorMsg {
		msg = msg[:maxErrorMsg]
	}
	for !utf8.ValidString(msg) {
		msg = msg[:len(msg)-1]
	}
	dst = append(dst, byte(e.Kind))
	dst = binary.BigEndian.AppendUint16(dst, uint16(len(msg)))
	return append(dst, msg...)
}

// AppendError appends the encoding of a failure (MsgError body) to dst.
func AppendError(dst []byte, e *Error) []byte { return appendError(dst, e) }

// DecodeError decodes a failure: a known, non-OK kind and a UTF-8 message of exact length.
func DecodeError(b []byte) (*Error, error) {
	d := decoder{b: b}
	k := Kind(d.byte())
	n := int(d.uint16())
	msg := d.bytes(n)
	if err := d.finish(); err != nil {
		return nil, err
	}
	if k == KindOK || k >= kindEnd || n > maxErrorMsg || !utf8.Valid(msg) {
		return nil, fmt.Errorf("%w: error kind %d", ErrMalformed, k)
	}
	return &Error{Kind: k, Msg: string(msg)}, nil
}

// KeyList is the core's list of BLS public keys.
//
// Layout: count (4) | count × pubkey (48).
type KeyList struct {
	BLS [][BLSPubkeyLen]byte
}

// AppendKeyList appends the encoding of l to dst.
func AppendKeyList(dst []byte, l *KeyList) []byte {
	dst = binary.BigEndian.AppendUint32(dst, uint32(len(l.BLS)))
	for i := range l.BLS {
		dst = append(dst, l.BLS[i][:]...)
	}
	return dst
}

// DecodeKeyList decodes a KeyList strictly.
func DecodeKeyList(b []byte) (*KeyList, error) {
	d := decoder{b: b}
	n := d.uint32()
	if d.err == nil && uint64(n)*BLSPubkeyLen != uint64(len(d.b)) {
		return nil, fmt.Errorf("%w: key list of %d keys in %d bytes", ErrMalformed, n, len(b))
	}
	l := &KeyList{BLS: make([][BLSPubkeyLen]byte, n)}
	for i := range l.BLS {
		copy(l.BLS[i][:], d.bytes(BLSPubkeyLen))
	}
	if err := d.finish(); err != nil {
		return nil, err
	}
	return l, nil
}

// decoder reads fixed-size fields; the first short read sets err and later reads return
// zero values, so callers check once at the end.
type decoder struct {
	b   []byte
	err error
}

func (d *decoder) bytes(n int) []byte {
	if d.err != nil || n < 0 || n > len(d.b) {
		d.err = ErrMalformed
		return nil
	}
	v := d.b[:n:n]
	d.b = d.b[n:]
	return v
}

func (d *decoder) byte() byte {
	if v := d.bytes(1); v != nil {
		return v[0]
	}
	return 0
}

func (d *decoder) uint16() uint16 {
	if v := d.bytes(2); v != nil {
		return binary.BigEndian.Uint16(v)
	}
	return 0
}

func (d *decoder) uint32() uint32 {
	if v := d.bytes(4); v != nil {
		return binary.BigEndian.Uint32(v)
	}
	return 0
}

func (d *decoder) uint64() uint64 {
	if v := d.bytes(8); v != nil {
		return binary.BigEndian.Uint64(v)
	}
	return 0
}

// finish reports a short read or trailing bytes.
func (d *decoder) finish() error {
	if d.err != nil {
		return fmt.Errorf("%w: truncated", ErrMalformed)
	}
	if len(d.b) != 0 {
		return fmt.Errorf("%w: %d trailing bytes", ErrMalformed, len(d.b))
	}
	return nil
}
