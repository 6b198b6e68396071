package keys

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"
	"time"

	keystorev4 "github.com/wealdtech/go-eth2-wallet-encryptor-keystorev4"
	"golang.org/x/crypto/scrypt"
)

// rawKeystore is a keystore whose key is derived from exactly the bytes key (no
// normalisation), by golang.org/x/crypto/scrypt (n=16) or PBKDF2 (c=16).
func rawKeystore(t *testing.T, secret, key []byte, useScrypt bool) []byte {
	t.Helper()
	salt := bytes.Repeat([]byte{7}, 32)
	iv := bytes.Repeat([]byte{9}, 16)
	var dk []byte
	kdf := map[string]any{"function": "pbkdf2", "message": "",
		"params": map[string]any{"dklen": 32, "c": 16, "prf": "hmac-sha256", "salt": hex.EncodeToString(salt)}}
	if useScrypt {
		var err error
		if dk, err = scrypt.Key(key, salt, 16, 8, 1, 32); err != nil {
			t.Fatal(err)
		}
		kdf = map[string]any{"function": "scrypt", "message": "",
			"params": map[string]any{"dklen": 32, "n": 16, "r": 8, "p": 1, "salt": hex.EncodeToString(salt)}}
	} else {
		dk = pbkdf2SHA256(key, salt, 16)
	}
	block, err := aes.NewCipher(dk[:16])
	if err != nil {
		t.Fatal(err)
	}
	ct := make([]byte, len(secret))
	cipher.NewCTR(block, iv).XORKeyStream(ct, secret)
	sum := sha256.Sum256(append(dk[16:32:32], ct...))
	crypto := map[string]any{
		"kdf":      kdf,
		"checksum": map[string]any{"function": "sha256", "params": map[string]any{}, "message": hex.EncodeToString(sum[:])},
		"cipher":   map[string]any{"function": "aes-128-ctr", "params": map[string]any{"iv": hex.EncodeToString(iv)}, "message": hex.EncodeToString(ct)},
	}
	return keystoreJSON(t, secret, "", func(m map[string]any) { m["crypto"] = crypto })
}

// pbkdf2SHA256 is one PBKDF2-HMAC-SHA256 block (32 bytes), written out so that the test
// does not share the code under test.
func pbkdf2SHA256(key, salt []byte, c int) []byte {
	mac := func(m []byte) []byte {
		h := hmac.New(sha256.New, key)
		h.Write(m)
		return h.Sum(nil)
	}
	u := mac(append(bytes.Clone(salt), 0, 0, 0, 1))
	res := bytes.Clone(u)
	for range c - 1 {
		u = mac(u)
		for i := range res {
			res[i] ^= u[i]
		}
	}
	return res
}

// v4Decrypts reports whether keystorev4 v1.4.1 opens the keystore data with password.
func v4Decrypts(t *testing.T, data []byte, password string) bool {
	t.Helper()
	var f struct {
		Crypto map[string]any `json:"crypto"`
	}
	if err := json.Unmarshal(data, &f); err != nil {
		t.Fatal(err)
	}
	_, err := keystorev4.New().Decrypt(f.Crypto, password)
	return err == nil
}

// ourDecrypts reports whether keyward opens data with password, and checks the secret.
func ourDecrypts(t *testing.T, data []byte, password string, secret []byte) bool {
	t.Helper()
	ks, err := parseKeystore(data)
	if err != nil {
		t.Fatal(err)
	}
	var sc kdfScratch
	got, err := ks.decrypt([]byte(password), &sc)
	if errors.Is(err, errChecksum) {
		return false
	}
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, secret) {
		t.Fatalf("password %q: decrypted to another secret", password)
	}
	return true
}

// testPasswords are passwords where normalisation matters, then random ones: random
// bytes (often invalid UTF-8) and random runes from ranges with controls, combining
// marks, compatibility forms and C1.
func testPasswords(rng *rand.Rand) []string {
	pws := []string{
		"", "a", "testpassword", "𝔱𝔢𝔰𝔱𝔭𝔞𝔰𝔰𝔴𝔬𝔯𝔡🔑", "\x00pass\x1f word\x7f", "\u0085pw\u009f\u0080",
		"ü", "u\u0308", "Åström ﬁ ½ ㌀", "e\u0301\u0327\u0308", "\u1e9b\u0323", "한국어", "\xff\xfepw", "pw\xc3",
		"\t\n\r", "Ω\u0344\u0345", "\u0fb2\u0f81",
	}
	ranges := [][2]rune{{0, 0x7f}, {0x80, 0x24f}, {0x300, 0x36f}, {0x1100, 0x11ff}, {0xac00, 0xac20}, {0xfb00, 0xfb4f}, {0x1d400, 0x1d4ff}, {0x1f300, 0x1f320}}
	for range 150 {
		n := rng.IntN(8)
		if rng.IntN(3) == 0 {
			b := make([]byte, n)
			for i := range b {
				b[i] = byte(rng.UintN(256))
			}
			pws = append(pws, string(b))
			continue
		}
		rs := make([]rune, n)
		for i := range rs {
			rg := ranges[rng.IntN(len(ranges))]
			rs[i] = rg[0] + rune(rng.IntN(int(rg[1]-rg[0]+1)))
		}
		pws = append(pws, string(rs))
	}
	return pws
}

// TestDecryptMatchesKeystorev4: keyward opens a keystore with a password exactly when
// keystorev4 v1.4.1 (which it used before) does: keystores written by keystorev4, and
// keystores keyed by each of the two normalisations keyward tries, or by something else.
func TestDecryptMatchesKeystorev4(t *testing.T) {
	secret := randomSecret(t)
	rng := rand.New(rand.NewPCG(1, 2))
	alt := 0
	for i, pw := range testPasswords(rng) {
		useScrypt := i%2 == 0
		opts := []keystorev4.Option{keystorev4.WithCost(t, 4)}
		if useScrypt {
			opts = append(opts, keystorev4.WithCipher("scrypt"))
		}
		crypto, err := keystorev4.New(opts...).Encrypt(secret, pw)
		if err != nil {
			t.Fatal(err)
		}
		written := keystoreJSON(t, secret, "", func(m map[string]any) { m["crypto"] = crypto })
		if !ourDecrypts(t, written, pw, secret) {
			t.Fatalf("password %q: keyward does not open what keystorev4 wrote", pw)
		}
		first, second := normPassword(pw), altNormPassword(pw)
		if !bytes.Equal(first, second) {
			alt++
		}
		cases := map[string][]byte{"first": first, "alternative": second, "other": append(bytes.Clone(first), 'x')}
		for name, key := range cases {
			data := rawKeystore(t, secret, key, useScrypt)
			v4, ours := v4Decrypts(t, data, pw), ourDecrypts(t, data, pw, secret)
			if v4 != ours || v4 == (name == "other") {
				t.Fatalf("password %q, keystore keyed by the %s normalisation %q: keystorev4 opens it: %v, keyward: %v", pw, name, key, v4, ours)
			}
		}
	}
	if alt == 0 {
		t.Fatal("no password where the two normalisations differ: the alternative path was not tested")
	}
	t.Logf("%d passwords where the two normalisations differ", alt)
}

// TestScryptKeyMatchesXCrypto: scryptKey with a reused, growing and shrinking scratch
// gives golang.org/x/crypto/scrypt's key, and wipe zeroes the scratch.
func TestScryptKeyMatchesXCrypto(t *testing.T) {
	var sc kdfScratch
	for _, c := range []struct{ n, r, p int }{{16, 8, 1}, {1024, 8, 1}, {2, 1, 1}, {64, 2, 3}, {1024, 8, 1}, {32, 16, 2}} {
		pw, salt := []byte("password"), []byte("NaCl")
		want, err := scrypt.Key(pw, salt, c.n, c.r, c.p, 64)
		if err != nil {
			t.Fatal(err)
		}
		got, err := scryptKey(&sc, string(pw), salt, c.n, c.r, c.p, 64)
		if err != nil || !bytes.Equal(got, want) {
			t.Fatalf("n=%d r=%d p=%d: %x, want %x (%v)", c.n, c.r, c.p, got, want, err)
		}
	}
	if len(sc.v) != 32*1024*8 {
		t.Fatalf("scratch of %d words: it should have grown to the largest n·r only", len(sc.v))
	}
	sc.wipe()
	for _, w := range append(sc.v, sc.xy...) {
		if w != 0 {
			t.Fatal("wipe left data")
		}
	}
	if _, err := scryptKey(&sc, "", nil, 1<<19, 8, 1, 32); err == nil {
		t.Fatal("scrypt beyond the memory limit accepted")
	}
}

// BenchmarkImportKeystore is one keystore import as `keyward keys import` does it per
// file (parse, decrypt with the worker's scrypt buffer, derive and check the public key,
// seal, one durable commit), on the EIP-2335 scrypt vector (n=2^18, r=8, p=1). B/op and
// allocs/op are what one key costs beyond the worker's buffer. "one-off" is the
// Keymanager and migrate path (Store.ImportKeystore), which allocates its 256 MiB
// buffer per call; "scrypt" is golang.org/x/crypto/scrypt.Key alone, the baseline of
// keyward bench --import.
func BenchmarkImportKeystore(b *testing.B) {
	data, err := os.ReadFile(filepath.Join("testdata", "eip2335", "scrypt.json"))
	if err != nil {
		b.Fatal(err)
	}
	vectors, err := os.ReadFile(filepath.Join("testdata", "eip2335", "vectors.json"))
	if err != nil {
		b.Fatal(err)
	}
	var v eip2335Vectors
	if err := json.Unmarshal(vectors, &v); err != nil {
		b.Fatal(err)
	}
	pw := []byte(v.Password)
	now := func() time.Time { return time.Unix(1_800_000_000, 0) }
	run := func(b *testing.B, imp func(s *Store, ks *keystore) ImportResult) {
		s, _, _ := testStore(b)
		b.ReportAllocs()
		for b.Loop() {
			ks, err := parseKeystore(data)
			if err != nil {
				b.Fatal(err)
			}
			if res := imp(s, ks); res.Status != ImportImported {
				b.Fatalf("%v: %v", res.Status, res.Err)
			}
			b.StopTimer()
			if err := s.Delete(ks.pub); err != nil {
				b.Fatal(err)
			}
			b.StartTimer()
		}
	}
	b.Run("worker", func(b *testing.B) {
		var sc kdfScratch
		defer sc.wipe()
		if _, err := scryptKey(&sc, "", []byte{1}, 1<<18, 8, 1, 32); err != nil { // the worker's buffer, allocated before
			b.Fatal(err)
		}
		run(b, func(s *Store, ks *keystore) ImportResult { return s.sealKeystore(ks, "bench", pw, now, &sc) })
	})
	b.Run("one-off", func(b *testing.B) {
		run(b, func(s *Store, ks *keystore) ImportResult { return s.ImportKeystore(data, pw, "bench", now()) })
	})
	b.Run("scrypt", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := scrypt.Key(pw, []byte{1}, 1<<18, 8, 1, 32); err != nil {
				b.Fatal(err)
			}
		}
	})
}
