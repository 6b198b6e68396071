package keys

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/pbkdf2"
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
)

// errChecksum is a keystore checksum that does not match: a wrong password.
var errChecksum = errors.New("checksum mismatch")

// decrypt returns the secret of ks under password (EIP-2335), using sc for scrypt. The
// password is normalised as github.com/wealdtech/go-eth2-wallet-encryptor-keystorev4
// v1.4.1 does, which keyward used before and which Lighthouse, Teku and Prysm users'
// keystores were checked against: NFKD, then C0 controls and DEL removed; if the
// checksum does not match, keystorev4's older normalisation is tried too (it differs
// for some inputs, such as a combining diaeresis), so every keystore keystorev4 opens
// still opens, and none other. TestDecryptMatchesKeystorev4 holds it to that.
//
// The caller zeroes the secret. The normalised passwords given to the KDF and the derived
// keys are zeroed here (not the NFKD library's intermediate strings, nor HMAC's copies of
// its key); the scratch is wiped by its owner.
func (ks *keystore) decrypt(password []byte, sc *kdfScratch) ([]byte, error) {
	pw := borrowString(password)
	first := normPassword(pw)
	defer clear(first)
	secret, err := ks.decryptNormalised(first, sc)
	if !errors.Is(err, errChecksum) {
		return secret, err
	}
	alt := altNormPassword(pw)
	defer clear(alt)
	if string(alt) == string(first) {
		return nil, err // the same key again: the same mismatch
	}
	return ks.decryptNormalised(alt, sc)
}

// decryptNormalised derives the key from an already normalised password, checks the
// checksum and decrypts.
func (ks *keystore) decryptNormalised(password []byte, sc *kdfScratch) ([]byte, error) {
	var dk []byte
	var err error
	if ks.kdf.scrypt {
		dk, err = scryptKey(sc, borrowString(password), ks.kdf.salt, ks.kdf.n, ks.kdf.r, ks.kdf.p, 32)
	} else {
		dk, err = pbkdf2.Key(sha256.New, borrowString(password), ks.kdf.salt, ks.kdf.c, 32)
	}
	if err != nil {
		return nil, err
	}
	defer clear(dk)
	h := sha256.New()
	h.Write(dk[16:32])
	h.Write(ks.ciphertext[:])
	if subtle.ConstantTimeCompare(h.Sum(nil), ks.checksum[:]) != 1 {
		return nil, errChecksum
	}
	block, err := aes.NewCipher(dk[:16])
	if err != nil {
		return nil, err
	}
	secret := make([]byte, len(ks.ciphertext))
	cipher.NewCTR(block, ks.iv[:]).XORKeyStream(secret, ks.ciphertext[:])
	return secret, nil
}

// isStrippedControl reports whether a one-byte rune is removed from passwords: C0 and
// DEL. (keystorev4 lists C1 too, but tests only one-byte runes, and C1 code points are two
// bytes in UTF-8: they stay.)
func isStrippedControl(b byte) bool { return b < 0x20 || b == 0x7f }

// normPassword is keystorev4's normPassphrase: NFKD, then every rune that encodes as one
// stripped byte is removed; invalid UTF-8 becomes U+FFFD.
func normPassword(pw string) []byte {
	nfkd := norm.NFKD.String(pw)
	out := make([]byte, 0, len(nfkd)+8)
	for _, r := range nfkd {
		if r < utf8.RuneSelf && isStrippedControl(byte(r)) {
			continue
		}
		out = utf8.AppendRune(out, r)
	}
	return out
}

// altNormPassword is keystorev4's altNormPassphrase: for each NFKD segment, its first
// rune only (U+FFFD if invalid), unless it is a stripped byte, normalised again.
func altNormPassword(pw string) []byte {
	var out []byte
	var it norm.Iter
	it.InitString(norm.NFKD, pw)
	var buf [utf8.UTFMax]byte
	for !it.Done() {
		r, _ := utf8.DecodeRune(it.Next())
		n := utf8.EncodeRune(buf[:], r)
		if n == 1 && isStrippedControl(buf[0]) {
			continue
		}
		out = norm.NFKD.Append(out, buf[:n]...)
	}
	return out
}
