package eth2json

import (
	"encoding/hex"
	"fmt"
	"math/bits"
	"strconv"
)

// conv converts JSON strings to values, keeping the first error so converters read as
// straight-line code; every later call is a no-op returning zero values once one failed.
type conv struct{ err *ParseError }

func (c *conv) fail(field, reason string) {
	if c.err == nil {
		c.err = perr(field, reason)
	}
}

// u64 parses a canonical decimal uint64 string.
func (c *conv) u64(field, s string) uint64 {
	if c.err != nil {
		return 0
	}
	if s == "" {
		c.fail(field, "required")
		return 0
	}
	ok := len(s) <= 20 && (s == "0" || s[0] != '0')
	for i := 0; ok && i < len(s); i++ {
		ok = '0' <= s[i] && s[i] <= '9'
	}
	v, err := strconv.ParseUint(s, 10, 64)
	if !ok || err != nil {
		c.fail(field, "not a decimal uint64")
		return 0
	}
	return v
}

// hexBytes decodes "0x"-prefixed hex of between min and max bytes.
func (c *conv) hexBytes(field, s string, min, max int) []byte {
	if c.err != nil {
		return nil
	}
	if s == "" {
		c.fail(field, "required")
		return nil
	}
	if len(s) < 2 || s[0] != '0' || (s[1] != 'x' && s[1] != 'X') {
		c.fail(field, "not 0x-prefixed hex")
		return nil
	}
	h := s[2:]
	if len(h)%2 != 0 {
		c.fail(field, "odd number of hex digits")
		return nil
	}
	n := len(h) / 2
	if n < min || n > max {
		if min == max {
			c.fail(field, fmt.Sprintf("%d bytes, want %d", n, min))
		} else {
			c.fail(field, fmt.Sprintf("%d bytes, want %d to %d", n, min, max))
		}
		return nil
	}
	b, err := hex.DecodeString(h)
	if err != nil {
		c.fail(field, "not hex")
		return nil
	}
	return b
}

// fixed decodes exactly len(dst) bytes into dst.
func (c *conv) fixed(field, s string, dst []byte) {
	if b := c.hexBytes(field, s, len(dst), len(dst)); b != nil {
		copy(dst, b)
	}
}

// bitlist decodes an SSZ bitlist of at most maxBits bits: non-empty, last byte carries the
// length bit.
func (c *conv) bitlist(field, s string, maxBits int) []byte {
	b := c.hexBytes(field, s, 1, maxBits/8+1)
	if b == nil {
		return nil
	}
	last := b[len(b)-1]
	if last == 0 {
		c.fail(field, "bitlist without its length bit")
		return nil
	}
	if n := (len(b)-1)*8 + bits.Len8(last) - 1; n > maxBits {
		c.fail(field, fmt.Sprintf("bitlist of %d bits, limit %d", n, maxBits))
		return nil
	}
	return b
}

// idx formats a list element path.
func idx(field string, i int) string { return field + "[" + strconv.Itoa(i) + "]" }
