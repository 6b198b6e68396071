package tezos

import (
	"encoding/binary"
	"fmt"
	"math"
)

// reader is a strict cursor over untrusted bytes. Every read checks the
// remaining length first; no read allocates except where a copy is returned.
type reader struct {
	b   []byte
	off int
}

func (r *reader) remaining() int { return len(r.b) - r.off }

func (r *reader) take(n int) ([]byte, error) {
	if n < 0 || n > r.remaining() {
		return nil, fmt.Errorf("%w: need %d bytes at offset %d, have %d", ErrTruncated, n, r.off, r.remaining())
	}
	s := r.b[r.off : r.off+n : r.off+n]
	r.off += n
	return s, nil
}

func (r *reader) skip(n int) error {
	_, err := r.take(n)
	return err
}

func (r *reader) u8() (byte, error) {
	b, err := r.take(1)
	if err != nil {
		return 0, err
	}
	return b[0], nil
}

func (r *reader) u16() (uint16, error) {
	b, err := r.take(2)
	if err != nil {
		return 0, err
	}
	return binary.BigEndian.Uint16(b), nil
}

func (r *reader) u32() (uint32, error) {
	b, err := r.take(4)
	if err != nil {
		return 0, err
	}
	return binary.BigEndian.Uint32(b), nil
}

// nonNegInt32 reads a big-endian int32 that must be ≥ 0, as Octez levels
// (Raw_level_repr) and rounds (Round_repr) are.
func (r *reader) nonNegInt32(field string) (uint32, error) {
	v, err := r.u32()
	if err != nil {
		return 0, err
	}
	if v > math.MaxInt32 {
		return 0, fmt.Errorf("%w: negative %s", ErrMalformed, field)
	}
	return v, nil
}

func (r *reader) array32(field string) ([32]byte, error) {
	b, err := r.take(32)
	if err != nil {
		return [32]byte{}, err
	}
	return [32]byte(b), nil
}

// presence reads a Data_encoding option tag: 0x00 absent, 0xff present.
func (r *reader) presence() (bool, error) {
	b, err := r.u8()
	if err != nil {
		return false, err
	}
	switch b {
	case 0x00:
		return false, nil
	case 0xff:
		return true, nil
	}
	return false, fmt.Errorf("%w: option tag 0x%02x", ErrMalformed, b)
}

// dynamic reads a Data_encoding dynamic_size field: a uint30 byte length, then
// that many bytes.
func (r *reader) dynamic() ([]byte, error) {
	n, err := r.u32()
	if err != nil {
		return nil, err
	}
	if n > 1<<30-1 {
		return nil, fmt.Errorf("%w: length %d over uint30", ErrMalformed, n)
	}
	if int64(n) > int64(r.remaining()) {
		return nil, fmt.Errorf("%w: length %d overruns the payload", ErrTruncated, n)
	}
	return r.take(int(n))
}

// maxZarithBytes bounds the Zarith integers this package decodes into uint64:
// 10 bytes carry 70 bits, and Octez bounds fees, counters and limits with
// check_size 10. Larger values are refused.
const maxZarithBytes = 10

// natural reads a Data_encoding n (unsigned Zarith: 7 bits per byte,
// little-endian groups, high bit = continuation) into a uint64. It refuses a
// trailing zero byte (Data_encoding's canonical-form rule), more than
// maxZarithBytes bytes, and values over math.MaxUint64.
func (r *reader) natural(field string) (uint64, error) {
	var v uint64
	for i := 0; ; i++ {
		if i == maxZarithBytes {
			return 0, fmt.Errorf("%w: %s over %d bytes", ErrMalformed, field, maxZarithBytes)
		}
		b, err := r.u8()
		if err != nil {
			return 0, err
		}
		chunk := uint64(b & 0x7f)
		shift := uint(7 * i)
		if shift >= 64 || (shift > 0 && chunk>>(64-shift) != 0) {
			return 0, fmt.Errorf("%w: %s over 64 bits", ErrMalformed, field)
		}
		v |= chunk << shift
		if b&0x80 == 0 {
			if b == 0 && i > 0 {
				return 0, fmt.Errorf("%w: %s has a trailing zero byte", ErrMalformed, field)
			}
			return v, nil
		}
	}
}

// mutez reads a Tez_repr amount: a natural of at most 10 bytes that fits an
// int64.
func (r *reader) mutez(field string) (uint64, error) {
	v, err := r.natural(field)
	if err != nil {
		return 0, err
	}
	if v > math.MaxInt64 {
		return 0, fmt.Errorf("%w: %s over int64", ErrMalformed, field)
	}
	return v, nil
}

// zarithBytes reads a Data_encoding z (signed Zarith: first byte has a sign bit
// 0x40 and 6 value bits) of any length, checks its canonical form, refuses
// negative values when nonNegative is set, and returns the raw bytes.
func (r *reader) zarithBytes(field string, nonNegative bool) ([]byte, error) {
	start := r.off
	first, err := r.u8()
	if err != nil {
		return nil, err
	}
	if nonNegative && first&0x40 != 0 {
		return nil, fmt.Errorf("%w: negative %s", ErrMalformed, field)
	}
	last := first
	for last&0x80 != 0 {
		if last, err = r.u8(); err != nil {
			return nil, err
		}
	}
	n := r.off - start
	if n > 1 && last == 0 {
		return nil, fmt.Errorf("%w: %s has a trailing zero byte", ErrMalformed, field)
	}
	if n == 1 && first == 0x40 { // "-0"
		return nil, fmt.Errorf("%w: %s is negative zero", ErrMalformed, field)
	}
	return r.b[start:r.off:r.off], nil
}

// pkh reads a 21-byte binary public key hash.
func (r *reader) pkh() (PublicKeyHash, error) {
	tag, err := r.u8()
	if err != nil {
		return PublicKeyHash{}, err
	}
	kind, ok := kindOfTag(tag)
	if !ok {
		return PublicKeyHash{}, fmt.Errorf("%w: public key hash tag %d: %w", ErrUnknownTag, tag, ErrKeyKind)
	}
	b, err := r.take(PublicKeyHashSize)
	if err != nil {
		return PublicKeyHash{}, err
	}
	return PublicKeyHash{Kind: kind, Hash: [20]byte(b)}, nil
}

// publicKey reads a binary public key: a kind tag then the raw key, validated.
func (r *reader) publicKey() (PublicKey, error) {
	tag, err := r.u8()
	if err != nil {
		return PublicKey{}, err
	}
	kind, ok := kindOfTag(tag)
	if !ok {
		return PublicKey{}, fmt.Errorf("%w: public key tag %d: %w", ErrUnknownTag, tag, ErrKeyKind)
	}
	b, err := r.take(kind.PublicKeySize())
	if err != nil {
		return PublicKey{}, err
	}
	pk, err := NewPublicKey(kind, b)
	if err != nil {
		return PublicKey{}, fmt.Errorf("%w: %w", ErrMalformed, err)
	}
	return pk, nil
}

// contract reads a 22-byte Contract_repr: tag 0 then a 21-byte public key
// hash, or tag 1 then a 20-byte KT1 hash and one zero padding byte.
func (r *reader) contract() (Contract, error) {
	tag, err := r.u8()
	if err != nil {
		return Contract{}, err
	}
	switch tag {
	case 0:
		h, err := r.pkh()
		if err != nil {
			return Contract{}, err
		}
		return Contract{Kind: ContractImplicit, Implicit: h}, nil
	case 1:
		b, err := r.take(21)
		if err != nil {
			return Contract{}, err
		}
		if b[20] != 0 {
			return Contract{}, fmt.Errorf("%w: contract padding byte 0x%02x", ErrMalformed, b[20])
		}
		return Contract{Kind: ContractOriginated, Originated: [20]byte(b[:20])}, nil
	}
	return Contract{}, fmt.Errorf("%w: contract tag %d", ErrUnknownTag, tag)
}

// originated reads Contract_repr.originated_encoding: the same union restricted
// to tag 1.
func (r *reader) originated() (Contract, error) {
	if r.remaining() > 0 && r.b[r.off] != 1 {
		return Contract{}, fmt.Errorf("%w: originated contract tag %d", ErrUnknownTag, r.b[r.off])
	}
	return r.contract()
}
