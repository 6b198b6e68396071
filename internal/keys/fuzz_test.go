package keys

import (
	"os"
	"testing"
)

// FuzzParseKeystore: the keystore parser runs in the core for Keymanager imports (Inv 7);
// it must refuse garbage without panicking.
func FuzzParseKeystore(f *testing.F) {
	for _, name := range []string{"testdata/eip2335/pbkdf2.json", "testdata/eip2335/scrypt.json"} {
		b, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte(`{}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		_, _ = parseKeystore(b)
	})
}
