package tezos

import (
	"crypto/ecdh"
	"math/big"
)

// Point validation for public keys, with math/big (public data only; nothing
// here handles secrets, so constant time is not needed). The curves' constants
// are from SEC 2 (secp256k1), FIPS 186-4 (P-256), RFC 8032 (Ed25519) and the
// BLS12-381 specification (draft-irtf-cfrg-pairing-friendly-curves).

func hexInt(s string) *big.Int {
	n, ok := new(big.Int).SetString(s, 16)
	if !ok {
		panic("tezos: internal error: bad curve constant")
	}
	return n
}

// weierstrass is y² = x³ + a·x + b over GF(p); n is the group order used to
// range-check secret scalars.
type weierstrass struct {
	p, a, b, n *big.Int
}

func secp256k1Curve() weierstrass {
	return weierstrass{
		p: hexInt("fffffffffffffffffffffffffffffffffffffffffffffffffffffffefffffc2f"),
		a: big.NewInt(0),
		b: big.NewInt(7),
		n: hexInt("fffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141"),
	}
}

func p256Curve() weierstrass {
	p := hexInt("ffffffff00000001000000000000000000000000ffffffffffffffffffffffff")
	return weierstrass{
		p: p,
		a: new(big.Int).Sub(p, big.NewInt(3)),
		b: hexInt("5ac635d8aa3a93e7b3ebbd55769886bc651d06b0cc53b0f63bce3c3e27d2604b"),
		n: hexInt("ffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551"),
	}
}

// blsOrder is r, the order of the BLS12-381 groups: a BLS secret key is a
// scalar in [1, r).
func blsOrder() *big.Int {
	return hexInt("73eda753299d7d483339d80809a1d80553bda402fffe5bfeffffffff00000001")
}

func blsFieldPrime() *big.Int {
	return hexInt("1a0111ea397fe69a4b1ba7b6434bacd764774b84f38512bf6730d2a0f6b0f6241eabfffeb153ffffb9feffffffffaaab")
}

// decompress validates a 33-byte SEC 1 compressed point and returns its affine
// y coordinate. It refuses a bad leading byte, x ≥ p, and an x with no point.
func (c weierstrass) decompress(pt []byte) (x, y *big.Int, ok bool) {
	if len(pt) != 33 || (pt[0] != 0x02 && pt[0] != 0x03) {
		return nil, nil, false
	}
	x = new(big.Int).SetBytes(pt[1:])
	if x.Cmp(c.p) >= 0 {
		return nil, nil, false
	}
	rhs := new(big.Int).Mul(x, x)
	rhs.Mul(rhs, x)
	rhs.Add(rhs, new(big.Int).Mul(c.a, x))
	rhs.Add(rhs, c.b)
	rhs.Mod(rhs, c.p)
	y = new(big.Int).ModSqrt(rhs, c.p)
	if y == nil {
		return nil, nil, false
	}
	if y.Bit(0) != uint(pt[0]&1) {
		y.Sub(c.p, y)
	}
	return x, y, true
}

// validSecp256k1Point reports whether pt is a compressed point of secp256k1.
// The curve has cofactor 1, so every point on it is in the group.
func validSecp256k1Point(pt []byte) bool {
	_, _, ok := secp256k1Curve().decompress(pt)
	return ok
}

// validP256Point reports whether pt is a compressed point of P-256. The
// decompressed point is also checked by crypto/ecdh.
func validP256Point(pt []byte) bool {
	x, y, ok := p256Curve().decompress(pt)
	if !ok {
		return false
	}
	u := make([]byte, 65)
	u[0] = 4
	x.FillBytes(u[1:33])
	y.FillBytes(u[33:])
	_, err := ecdh.P256().NewPublicKey(u)
	return err == nil
}

// validBLSG1Point checks a 48-byte compressed BLS12-381 G1 point (ZCash
// serialisation): compression flag set, not the point at infinity, x < p, and
// x³ + 4 a square with the sign flag consistent. It does NOT check membership
// of the prime-order subgroup: that needs the curve arithmetic of blst, which
// this package must not import (the gateway imports it, Inv 1). The key layer
// (internal/keys) runs blst's KeyValidate before a BLS key is used to verify.
func validBLSG1Point(pt []byte) bool {
	if len(pt) != 48 {
		return false
	}
	if pt[0]&0x80 == 0 || pt[0]&0x40 != 0 { // uncompressed form or infinity
		return false
	}
	p := blsFieldPrime()
	xb := make([]byte, 48)
	copy(xb, pt)
	xb[0] &= 0x1f
	x := new(big.Int).SetBytes(xb)
	if x.Cmp(p) >= 0 {
		return false
	}
	rhs := new(big.Int).Mul(x, x)
	rhs.Mul(rhs, x)
	rhs.Add(rhs, big.NewInt(4))
	rhs.Mod(rhs, p)
	y := new(big.Int).ModSqrt(rhs, p)
	if y == nil {
		return false
	}
	// A zero y has no "larger" root; its sign flag must then be clear.
	return y.Sign() != 0 || pt[0]&0x20 == 0
}

// validEd25519Point decodes a 32-byte Ed25519 public key as in RFC 8032
// section 5.1.3: y < p, and x² = (y² − 1)/(d·y² + 1) has a root whose parity
// can match the sign bit (x = 0 with the sign bit set is refused).
func validEd25519Point(pk []byte) bool {
	if len(pk) != 32 {
		return false
	}
	p := new(big.Int).Sub(new(big.Int).Lsh(big.NewInt(1), 255), big.NewInt(19))
	le := make([]byte, 32)
	for i := range 32 {
		le[31-i] = pk[i]
	}
	sign := le[0] >> 7
	le[0] &= 0x7f
	y := new(big.Int).SetBytes(le)
	if y.Cmp(p) >= 0 {
		return false
	}
	// d = −121665 / 121666 mod p
	d := new(big.Int).ModInverse(big.NewInt(121666), p)
	d.Mul(d, big.NewInt(-121665))
	d.Mod(d, p)
	y2 := new(big.Int).Mul(y, y)
	u := new(big.Int).Sub(y2, big.NewInt(1))
	u.Mod(u, p)
	v := new(big.Int).Mul(d, y2)
	v.Add(v, big.NewInt(1))
	v.Mod(v, p)
	vi := new(big.Int).ModInverse(v, p)
	if vi == nil {
		return false
	}
	x2 := u.Mul(u, vi)
	x2.Mod(x2, p)
	x := new(big.Int).ModSqrt(x2, p)
	if x == nil {
		return false
	}
	return x.Sign() != 0 || sign == 0
}

// scalarInRange reports whether the big-endian scalar k is in [1, n).
func scalarInRange(k []byte, n *big.Int) bool {
	s := new(big.Int).SetBytes(k)
	ok := s.Sign() > 0 && s.Cmp(n) < 0
	s.SetInt64(0)
	return ok
}
