package keys

import (
	"errors"
	"os"
	"testing"
	"time"
)

// TestImportKeystoreBytesAndLoadOne: the Keymanager path imports a keystore from bytes,
// reports a duplicate, refuses a wrong password, and loads the one key into an arena.
func TestImportKeystoreBytesAndLoadOne(t *testing.T) {
	s, _, _ := testStore(t)
	data, err := os.ReadFile("testdata/eip2335/pbkdf2.json")
	if err != nil {
		t.Fatal(err)
	}
	pw := []byte("testpassword\xf0\x9f\x94\x91")
	if r := s.ImportKeystore(data, []byte("wrong"), "k0", time.Now()); r.Status != ImportFailed || !errors.Is(r.Err, ErrWrongPassword) {
		t.Fatalf("wrong password: %+v", r)
	}
	r := s.ImportKeystore(data, pw, "k0", time.Now())
	if r.Status != ImportImported {
		t.Fatalf("import: %+v", r)
	}
	if r2 := s.ImportKeystore(data, pw, "k0", time.Now()); r2.Status != ImportExists {
		t.Fatalf("duplicate: %+v", r2)
	}
	if r3 := s.ImportKeystore(append(data, make([]byte, 70<<10)...), pw, "big", time.Now()); r3.Status != ImportFailed {
		t.Fatalf("oversized keystore: %+v", r3)
	}
	a := testArena(t, 2)
	k, err := s.LoadOneBLS(a, r.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	msg := []byte("keymanager")
	if !k.Verify(msg, k.Sign(msg)) {
		t.Fatal("loaded key does not sign verifiably")
	}
	if _, err := s.LoadOneBLS(a, [48]byte{1}); !errors.Is(err, ErrNotFound) {
		t.Fatalf("unknown key: %v", err)
	}
}
