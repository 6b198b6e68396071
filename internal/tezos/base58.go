package tezos

import (
	"bytes"
	"crypto/sha256"
	"fmt"
)

// maxBase58Len bounds every base58check string this package decodes. The
// longest string it accepts is a BLS signature (142 characters); anything much
// longer is refused before any arithmetic is done on it (Inv 7).
const maxBase58Len = 160

const base58Alphabet = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"

// b58Prefix is a Tezos base58check prefix: the raw bytes prepended to the
// payload before encoding, and the payload length they are registered with in
// Octez src/lib_crypto/base58.ml.
type b58Prefix struct {
	name   string
	prefix []byte
	size   int
}

// The prefixes this package encodes and decodes. Values from Octez
// src/lib_crypto/base58.ml (module Prefix), cross-checked against
// testdata/encodings.json and the shared base58_prefixes.json.
var (
	pfxTz1       = b58Prefix{"tz1", []byte{0x06, 0xa1, 0x9f}, 20}
	pfxTz2       = b58Prefix{"tz2", []byte{0x06, 0xa1, 0xa1}, 20}
	pfxTz3       = b58Prefix{"tz3", []byte{0x06, 0xa1, 0xa4}, 20}
	pfxTz4       = b58Prefix{"tz4", []byte{0x06, 0xa1, 0xa6}, 20}
	pfxKT1       = b58Prefix{"KT1", []byte{0x02, 0x5a, 0x79}, 20}
	pfxEdpk      = b58Prefix{"edpk", []byte{0x0d, 0x0f, 0x25, 0xd9}, 32}
	pfxSppk      = b58Prefix{"sppk", []byte{0x03, 0xfe, 0xe2, 0x56}, 33}
	pfxP2pk      = b58Prefix{"p2pk", []byte{0x03, 0xb2, 0x8b, 0x7f}, 33}
	pfxBLpk      = b58Prefix{"BLpk", []byte{0x06, 0x95, 0x87, 0xcc}, 48}
	pfxEdsig     = b58Prefix{"edsig", []byte{0x09, 0xf5, 0xcd, 0x86, 0x12}, 64}
	pfxSpsig     = b58Prefix{"spsig1", []byte{0x0d, 0x73, 0x65, 0x13, 0x3f}, 64}
	pfxP2sig     = b58Prefix{"p2sig", []byte{0x36, 0xf0, 0x2c, 0x34}, 64}
	pfxBLsig     = b58Prefix{"BLsig", []byte{0x28, 0xab, 0x40, 0xcf}, 96}
	pfxSig       = b58Prefix{"sig", []byte{0x04, 0x82, 0x2b}, 64}
	pfxEdskSeed  = b58Prefix{"edsk", []byte{0x0d, 0x0f, 0x3a, 0x07}, 32}
	pfxEdsk64    = b58Prefix{"edsk", []byte{0x2b, 0xf6, 0x4e, 0x07}, 64}
	pfxSpsk      = b58Prefix{"spsk", []byte{0x11, 0xa2, 0xe0, 0xc9}, 32}
	pfxP2sk      = b58Prefix{"p2sk", []byte{0x10, 0x51, 0xee, 0xbd}, 32}
	pfxBLsk      = b58Prefix{"BLsk", []byte{0x03, 0x96, 0xc0, 0x28}, 32}
	pfxEdesk     = b58Prefix{"edesk", []byte{0x07, 0x5a, 0x3c, 0xb3, 0x29}, 56}
	pfxSpesk     = b58Prefix{"spesk", []byte{0x09, 0xed, 0xf1, 0xae, 0x96}, 56}
	pfxP2esk     = b58Prefix{"p2esk", []byte{0x09, 0x30, 0x39, 0x73, 0xab}, 56}
	pfxBLesk     = b58Prefix{"BLesk", []byte{0x02, 0x05, 0x1e, 0x35, 0x19}, 56}
	pfxChainID   = b58Prefix{"Net", []byte{0x57, 0x52, 0x00}, 4}
	pfxBlock     = b58Prefix{"B", []byte{0x01, 0x34}, 32}
	pfxPayload   = b58Prefix{"vh", []byte{0x01, 0x6a, 0xf2}, 32}
	pfxProtocol  = b58Prefix{"P", []byte{0x02, 0xaa}, 32}
	pfxRollupSr1 = b58Prefix{"sr1", []byte{0x06, 0x7c, 0x75}, 20}
)

// b58Encode returns the base58check encoding of p.prefix ‖ payload. It panics
// if payload does not have the prefix's registered size: callers hold typed,
// fixed-size values, so a mismatch is a programming error.
func b58Encode(p b58Prefix, payload []byte) string {
	if len(payload) != p.size {
		panic(fmt.Sprintf("tezos: internal error: %s payload of %d bytes", p.name, len(payload)))
	}
	buf := make([]byte, 0, len(p.prefix)+len(payload)+4)
	buf = append(buf, p.prefix...)
	buf = append(buf, payload...)
	sum := checksum(buf)
	buf = append(buf, sum[:]...)
	return base58Encode(buf)
}

// b58Decode decodes s and returns the payload of the first prefix in ps whose
// bytes and payload size match exactly. Anything else is ErrEncoding.
func b58Decode(s string, ps ...b58Prefix) (b58Prefix, []byte, error) {
	raw, err := b58CheckDecode(s)
	if err != nil {
		return b58Prefix{}, nil, err
	}
	for _, p := range ps {
		if len(raw) == len(p.prefix)+p.size && bytes.HasPrefix(raw, p.prefix) {
			return p, raw[len(p.prefix):], nil
		}
	}
	return b58Prefix{}, nil, fmt.Errorf("%w: unexpected prefix or length", ErrEncoding)
}

// b58CheckDecode decodes a base58check string and verifies its 4-byte
// double-SHA-256 checksum, returning prefix ‖ payload.
func b58CheckDecode(s string) ([]byte, error) {
	if len(s) == 0 || len(s) > maxBase58Len {
		return nil, fmt.Errorf("%w: length %d", ErrEncoding, len(s))
	}
	raw, ok := base58Decode(s)
	if !ok {
		return nil, fmt.Errorf("%w: bad character", ErrEncoding)
	}
	if len(raw) < 5 {
		return nil, fmt.Errorf("%w: too short", ErrEncoding)
	}
	body, sum := raw[:len(raw)-4], raw[len(raw)-4:]
	want := checksum(body)
	if !bytes.Equal(sum, want[:]) {
		return nil, fmt.Errorf("%w: bad checksum", ErrEncoding)
	}
	return body, nil
}

func checksum(b []byte) [4]byte {
	h1 := sha256.Sum256(b)
	h2 := sha256.Sum256(h1[:])
	return [4]byte(h2[:4])
}

// base58Encode is plain base58 (Bitcoin alphabet): leading zero bytes become
// '1', the rest is the big-endian number in base 58.
func base58Encode(b []byte) string {
	zeros := 0
	for zeros < len(b) && b[zeros] == 0 {
		zeros++
	}
	// log(256)/log(58) < 1.37; digits are little-endian in out.
	out := make([]byte, 0, len(b)*138/100+1)
	for _, c := range b[zeros:] {
		carry := int(c)
		for i := range out {
			carry += int(out[i]) << 8
			out[i] = byte(carry % 58)
			carry /= 58
		}
		for carry > 0 {
			out = append(out, byte(carry%58))
			carry /= 58
		}
	}
	res := make([]byte, zeros+len(out))
	for i := range zeros {
		res[i] = '1'
	}
	for i, d := range out {
		res[len(res)-1-i] = base58Alphabet[d]
	}
	return string(res)
}

// base58Decode is the inverse of base58Encode. The caller bounds len(s).
func base58Decode(s string) ([]byte, bool) {
	zeros := 0
	for zeros < len(s) && s[zeros] == '1' {
		zeros++
	}
	out := make([]byte, 0, len(s)*733/1000+1) // log(58)/log(256) < 0.733; little-endian
	for i := zeros; i < len(s); i++ {
		d := b58Digit(s[i])
		if d < 0 {
			return nil, false
		}
		carry := d
		for j := range out {
			carry += int(out[j]) * 58
			out[j] = byte(carry)
			carry >>= 8
		}
		for carry > 0 {
			out = append(out, byte(carry))
			carry >>= 8
		}
	}
	res := make([]byte, zeros+len(out))
	for i, c := range out {
		res[len(res)-1-i] = c
	}
	return res, true
}

func b58Digit(c byte) int {
	switch {
	case c >= '1' && c <= '9':
		return int(c - '1')
	case c >= 'A' && c <= 'H':
		return int(c-'A') + 9
	case c >= 'J' && c <= 'N':
		return int(c-'J') + 17
	case c >= 'P' && c <= 'Z':
		return int(c-'P') + 22
	case c >= 'a' && c <= 'k':
		return int(c-'a') + 33
	case c >= 'm' && c <= 'z':
		return int(c-'m') + 44
	}
	return -1
}
