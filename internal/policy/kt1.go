package policy

import (
	"bytes"
	"crypto/sha256"
	"fmt"
	"math/big"
	"strings"
)

// kt1Prefix is the base58check prefix of originated contracts (Octez base58.ml,
// contract_hash "KT1"), followed by a 20-byte hash.
var kt1Prefix = []byte{2, 90, 121}

const b58Alphabet = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"

// checkKT1 verifies that s is a well-formed KT1 address: base58, the KT1 prefix, a 20-byte
// hash and a valid checksum. Only the operator's file is checked with it; destinations of
// requests are compared in their canonical string form.
func checkKT1(s string) error {
	if len(s) != 36 {
		return fmt.Errorf("%q is not a KT1 address (length %d, want 36)", s, len(s))
	}
	n := new(big.Int)
	radix := big.NewInt(58)
	for _, c := range []byte(s) {
		i := strings.IndexByte(b58Alphabet, c)
		if i < 0 {
			return fmt.Errorf("%q is not a KT1 address (character %q)", s, c)
		}
		n.Mul(n, radix)
		n.Add(n, big.NewInt(int64(i)))
	}
	b := n.Bytes() // KT1 starts with no '1' (no leading zero byte)
	if len(b) != len(kt1Prefix)+20+4 || !bytes.HasPrefix(b, kt1Prefix) {
		return fmt.Errorf("%q is not a KT1 address", s)
	}
	body, sum := b[:len(b)-4], b[len(b)-4:]
	h := sha256.Sum256(body)
	h = sha256.Sum256(h[:])
	if !bytes.Equal(h[:4], sum) {
		return fmt.Errorf("%q is not a KT1 address (bad checksum)", s)
	}
	return nil
}
