package keys

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
	"time"

	"golang.org/x/crypto/scrypt"
)

// BenchmarkImportKeystore is one keystore import as `keyward keys import` does it per
// file (parse, decrypt with keystorev4, derive and check the public key, seal, one
// durable commit), on the EIP-2335 scrypt vector (n=2^18, r=8, p=1), beside
// golang.org/x/crypto/scrypt.Key alone (the baseline of keyward bench --import): the
// difference is what keyward adds to scrypt. B/op is dominated by scrypt's 256 MiB.
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
	b.Run("import", func(b *testing.B) {
		s, _, _ := testStore(b)
		b.ReportAllocs()
		for b.Loop() {
			res := s.ImportKeystore(data, pw, "bench", time.Unix(1_800_000_000, 0))
			if res.Status != ImportImported {
				b.Fatalf("%v: %v", res.Status, res.Err)
			}
			b.StopTimer()
			if err := s.Delete(res.PublicKey); err != nil {
				b.Fatal(err)
			}
			b.StartTimer()
		}
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
