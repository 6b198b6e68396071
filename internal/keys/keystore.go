package keys

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/bits"
	"strings"
	"unicode/utf8"

	"github.com/keyward/keyward/internal/boundedio"
)

// Limits on untrusted keystore input.
const (
	// maxKeystoreSize bounds the bytes read from one keystore file; real ones are ~1 KiB.
	maxKeystoreSize = 64 << 10
	// maxScryptMemory bounds 128·r·n, the scrypt working set, to the 256 MiB of the
	// EIP-2335 default (n=2^18, r=8); importParallelism budgets 300 MiB per worker.
	maxScryptMemory = 256 << 20
	// maxScryptWork bounds n·r·p to four times the default cost (~3 s here).
	maxScryptWork = 4 << 18 * 8
	// maxPBKDF2Rounds bounds PBKDF2 iterations to 16 times the EIP-2335 default.
	maxPBKDF2Rounds = 1 << 22
	maxSaltHex      = 1024
)

// keystoreFile is an EIP-2335 version 4 keystore. Fields outside this set are refused.
// "name" is written by some tools (ethdo, Dirk) and ignored.
type keystoreFile struct {
	Crypto      json.RawMessage `json:"crypto"`
	Description *string         `json:"description"`
	Pubkey      *string         `json:"pubkey"`
	Path        *string         `json:"path"`
	UUID        *string         `json:"uuid"`
	Version     *int            `json:"version"`
	Name        *string         `json:"name"`
}

type ksModule struct {
	Function string          `json:"function"`
	Params   json.RawMessage `json:"params"`
	Message  *string         `json:"message"`
}

type ksCrypto struct {
	KDF      *ksModule `json:"kdf"`
	Checksum *ksModule `json:"checksum"`
	Cipher   *ksModule `json:"cipher"`
}

type scryptParams struct {
	DKLen *int    `json:"dklen"`
	N     *int    `json:"n"`
	R     *int    `json:"r"`
	P     *int    `json:"p"`
	Salt  *string `json:"salt"`
}

type pbkdf2Params struct {
	DKLen *int    `json:"dklen"`
	C     *int    `json:"c"`
	PRF   *string `json:"prf"`
	Salt  *string `json:"salt"`
}

type aesParams struct {
	IV *string `json:"iv"`
}

// keystore is a validated keystore: what import needs, nothing secret.
type keystore struct {
	pub    [BLSPublicKeySize]byte
	meta   Meta
	crypto map[string]any // the crypto module, as keystorev4 takes it
}

// isUUID reports whether s is a UUID in its textual 8-4-4-4-12 hex form (RFC 4122).
func isUUID(s string) bool {
	if len(s) != 36 {
		return false
	}
	for i := range len(s) {
		c := s[i]
		switch {
		case i == 8 || i == 13 || i == 18 || i == 23:
			if c != '-' {
				return false
			}
		case '0' <= c && c <= '9', 'a' <= c && c <= 'f', 'A' <= c && c <= 'F':
		default:
			return false
		}
	}
	return true
}

// readKeystore reads at most maxKeystoreSize bytes and parses them strictly.
func readKeystore(r io.Reader) (*keystore, error) {
	data, err := boundedio.ReadAll(r, maxKeystoreSize)
	if errors.Is(err, boundedio.ErrTooLarge) {
		return nil, fmt.Errorf("larger than %d bytes: %w", maxKeystoreSize, ErrInvalidKeystore)
	}
	if err != nil {
		return nil, err
	}
	return parseKeystore(data)
}

// parseKeystore validates an EIP-2335 keystore: version 4, required fields present, no
// unknown fields, the pubkey a valid 48-byte G1 point, and a crypto section this package
// can decrypt within its work limits. It decrypts nothing.
func parseKeystore(data []byte) (*keystore, error) {
	var f keystoreFile
	if err := decodeStrict(data, &f); err != nil {
		return nil, err
	}
	switch {
	case f.Version == nil || *f.Version != 4:
		return nil, fmt.Errorf("version is not 4: %w", ErrInvalidKeystore)
	case f.Crypto == nil:
		return nil, fmt.Errorf("no crypto: %w", ErrInvalidKeystore)
	case f.Pubkey == nil:
		// EIP-2335 makes pubkey optional; keyward needs it to check the decrypted secret.
		return nil, fmt.Errorf("no pubkey: %w", ErrInvalidKeystore)
	case f.Path == nil || f.UUID == nil:
		return nil, fmt.Errorf("no path or uuid: %w", ErrInvalidKeystore)
	case !isUUID(*f.UUID):
		return nil, fmt.Errorf("uuid %q: %w", *f.UUID, ErrInvalidKeystore)
	}
	ks := &keystore{meta: Meta{Source: SourceImported, Path: *f.Path, UUID: strings.ToLower(*f.UUID)}}
	if f.Description != nil {
		ks.meta.Description = *f.Description
	}
	if err := ks.meta.validate(); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalidKeystore, err)
	}
	pub, err := hex.DecodeString(strings.TrimPrefix(*f.Pubkey, "0x"))
	if err != nil || len(pub) != BLSPublicKeySize {
		return nil, fmt.Errorf("pubkey is not 48 bytes of hex: %w", ErrInvalidKeystore)
	}
	if _, err := ParseBLSPublicKey(pub); err != nil {
		return nil, fmt.Errorf("pubkey: %w: %w", ErrInvalidKeystore, err)
	}
	copy(ks.pub[:], pub)
	if err := validateCrypto(f.Crypto); err != nil {
		return nil, err
	}
	if err := json.Unmarshal(f.Crypto, &ks.crypto); err != nil {
		return nil, fmt.Errorf("crypto: %w", ErrInvalidKeystore)
	}
	return ks, nil
}

// validateCrypto checks the crypto section strictly, so that a failure of the decryption
// that follows can only mean a checksum mismatch, that is, a wrong password.
func validateCrypto(raw json.RawMessage) error {
	var c ksCrypto
	if err := decodeStrict(raw, &c); err != nil {
		return fmt.Errorf("crypto: %w", err)
	}
	if c.KDF == nil || c.Checksum == nil || c.Cipher == nil {
		return fmt.Errorf("crypto: kdf, checksum and cipher are required: %w", ErrInvalidKeystore)
	}
	for _, m := range []*ksModule{c.KDF, c.Checksum, c.Cipher} {
		if m.Message == nil || m.Params == nil {
			return fmt.Errorf("crypto %q: message and params are required: %w", m.Function, ErrInvalidKeystore)
		}
	}
	if err := validateKDF(c.KDF); err != nil {
		return err
	}
	if c.Checksum.Function != "sha256" || !isHex(*c.Checksum.Message, 32) {
		return fmt.Errorf("checksum: want sha256 with a 32-byte message: %w", ErrInvalidKeystore)
	}
	if err := decodeStrict(c.Checksum.Params, &struct{}{}); err != nil {
		return fmt.Errorf("checksum params: %w", err)
	}
	var ap aesParams
	if c.Cipher.Function != "aes-128-ctr" {
		return fmt.Errorf("cipher %q unsupported: %w", c.Cipher.Function, ErrInvalidKeystore)
	}
	if err := decodeStrict(c.Cipher.Params, &ap); err != nil {
		return fmt.Errorf("cipher params: %w", err)
	}
	if ap.IV == nil || !isHex(*ap.IV, 16) || !isHex(*c.Cipher.Message, blsSecretSize) {
		return fmt.Errorf("cipher: want a 16-byte iv and a 32-byte message: %w", ErrInvalidKeystore)
	}
	return nil
}

func validateKDF(m *ksModule) error {
	if *m.Message != "" {
		return fmt.Errorf("kdf message not empty: %w", ErrInvalidKeystore)
	}
	switch m.Function {
	case "scrypt":
		var p scryptParams
		if err := decodeStrict(m.Params, &p); err != nil {
			return fmt.Errorf("scrypt params: %w", err)
		}
		if p.DKLen == nil || *p.DKLen != 32 || p.N == nil || p.R == nil || p.P == nil || p.Salt == nil {
			return fmt.Errorf("scrypt params: dklen 32, n, r, p, salt required: %w", ErrInvalidKeystore)
		}
		n, r, pp := *p.N, *p.R, *p.P
		if n < 2 || bits.OnesCount(uint(n)) != 1 || r < 1 || pp < 1 ||
			n > maxScryptMemory/128/r || n*r > maxScryptWork/pp {
			return fmt.Errorf("scrypt n=%d r=%d p=%d beyond limits (memory %d MiB, work %d): %w",
				n, r, pp, maxScryptMemory>>20, maxScryptWork, ErrInvalidKeystore)
		}
		return validateSalt(*p.Salt)
	case "pbkdf2":
		var p pbkdf2Params
		if err := decodeStrict(m.Params, &p); err != nil {
			return fmt.Errorf("pbkdf2 params: %w", err)
		}
		if p.DKLen == nil || *p.DKLen != 32 || p.C == nil || p.PRF == nil || *p.PRF != "hmac-sha256" || p.Salt == nil {
			return fmt.Errorf("pbkdf2 params: dklen 32, c, prf hmac-sha256, salt required: %w", ErrInvalidKeystore)
		}
		if *p.C < 1 || *p.C > maxPBKDF2Rounds {
			return fmt.Errorf("pbkdf2 c=%d not in [1, %d]: %w", *p.C, maxPBKDF2Rounds, ErrInvalidKeystore)
		}
		return validateSalt(*p.Salt)
	default:
		return fmt.Errorf("kdf %q unsupported: %w", m.Function, ErrInvalidKeystore)
	}
}

func validateSalt(s string) error {
	if len(s) == 0 || len(s) > maxSaltHex || !isHex(s, len(s)/2) {
		return fmt.Errorf("kdf salt not hex of 1..%d bytes: %w", maxSaltHex/2, ErrInvalidKeystore)
	}
	return nil
}

// isHex reports whether s is exactly n bytes of hex.
func isHex(s string, n int) bool {
	if len(s) != 2*n {
		return false
	}
	_, err := hex.DecodeString(s)
	return err == nil
}

// decodeStrict decodes one JSON value into v: unknown fields and trailing data refused.
func decodeStrict(data []byte, v any) error {
	if !utf8.Valid(data) {
		return fmt.Errorf("not UTF-8: %w", ErrInvalidKeystore)
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("%w: %w", ErrInvalidKeystore, err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return fmt.Errorf("trailing data: %w", ErrInvalidKeystore)
	}
	return nil
}
