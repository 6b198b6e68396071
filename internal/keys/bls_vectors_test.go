package keys

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	blst "github.com/supranational/blst/bindings/go"
)

// The vectors are github.com/ethereum/bls12-381-tests v0.1.1 (see testdata/README.md).
// Each file is parsed strictly: unknown keys fail the test.

type signVector struct {
	Input struct {
		Privkey string `json:"privkey"`
		Message string `json:"message"`
	} `json:"input"`
	Output *string `json:"output"` // null: signing must fail
}

type verifyVector struct {
	Input struct {
		Pubkey    string `json:"pubkey"`
		Message   string `json:"message"`
		Signature string `json:"signature"`
	} `json:"input"`
	Output *bool `json:"output"`
}

type deserializationVector struct {
	Input struct {
		Pubkey string `json:"pubkey"`
	} `json:"input"`
	Output *bool `json:"output"`
}

// readVector decodes one vector file strictly into v.
func readVector(t *testing.T, path string, v any) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	if dec.More() {
		t.Fatalf("%s: trailing data", path)
	}
}

func vectorHex(t *testing.T, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(strings.TrimPrefix(s, "0x"))
	if err != nil {
		t.Fatalf("bad hex %q: %v", s, err)
	}
	return b
}

// forEachVector runs fn as a parallel subtest per JSON file of testdata/bls/<dir>.
func forEachVector(t *testing.T, dir string, fn func(t *testing.T, path string)) {
	files, err := filepath.Glob(filepath.Join("testdata", "bls", dir, "*.json"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no vectors in %s: %v", dir, err)
	}
	for _, f := range files {
		t.Run(strings.TrimSuffix(filepath.Base(f), ".json"), func(t *testing.T) {
			t.Parallel()
			fn(t, f)
		})
	}
}

func TestBLSSignVectors(t *testing.T) {
	arena := testArena(t, 64)
	forEachVector(t, "sign", func(t *testing.T, path string) {
		var v signVector
		readVector(t, path, &v)
		secret, msg := vectorHex(t, v.Input.Privkey), vectorHex(t, v.Input.Message)
		pub, derr := blsPublicFromSecret(secret)
		if derr != nil {
			if v.Output != nil {
				t.Fatalf("valid secret refused: %v", derr)
			}
			// Zero secret: the arena path must refuse it too.
		}
		slot, err := arena.Alloc()
		if err != nil {
			t.Fatal(err)
		}
		copy(slot[blsScratch:], secret)
		pk := new(blst.P1Affine)
		if derr == nil {
			if pk, err = ParseBLSPublicKey(pub[:]); err != nil {
				t.Fatal(err)
			}
		}
		key, err := bindBLSKey(arena, slot, pub, pk)
		if v.Output == nil {
			if !errors.Is(err, ErrInvalidSecretKey) {
				t.Fatalf("signing must fail, bindBLSKey: %v", err)
			}
			return
		}
		if err != nil {
			t.Fatal(err)
		}
		defer key.Destroy()
		if !bytes.Equal(slot[blsScratch:], make([]byte, BLSSlotSize-blsScratch)) {
			t.Fatal("plaintext scratch not zeroed")
		}
		sig := key.Sign(msg)
		if want := vectorHex(t, *v.Output); !bytes.Equal(sig[:], want) {
			t.Fatalf("signature\n got %x\nwant %x", sig, want)
		}
		if !key.Verify(msg, sig) {
			t.Fatal("own signature does not verify")
		}
	})
}

func TestBLSVerifyVectors(t *testing.T) {
	forEachVector(t, "verify", func(t *testing.T, path string) {
		var v verifyVector
		readVector(t, path, &v)
		if v.Output == nil {
			t.Fatal("verify vector without output")
		}
		got := false
		if pk, err := ParseBLSPublicKey(vectorHex(t, v.Input.Pubkey)); err == nil {
			got = VerifyBLS(pk, vectorHex(t, v.Input.Message), vectorHex(t, v.Input.Signature))
		}
		if got != *v.Output {
			t.Fatalf("verify = %v, want %v", got, *v.Output)
		}
	})
}

func TestBLSDeserializationG1Vectors(t *testing.T) {
	forEachVector(t, "deserialization_G1", func(t *testing.T, path string) {
		var v deserializationVector
		readVector(t, path, &v)
		if v.Output == nil {
			t.Fatal("deserialization vector without output")
		}
		want := *v.Output
		if strings.HasSuffix(path, "deserialization_succeeds_infinity_with_true_b_flag.json") {
			// The vector tests decoding only; as a public key, infinity is refused
			// (KeyValidate), which is what ParseBLSPublicKey is for.
			if new(blst.P1Affine).Uncompress(vectorHex(t, v.Input.Pubkey)) == nil {
				t.Fatal("infinity does not decode")
			}
			want = false
		}
		_, err := ParseBLSPublicKey(vectorHex(t, v.Input.Pubkey))
		if got := err == nil; got != want {
			t.Fatalf("parse ok = %v, want %v (err %v)", got, want, err)
		}
		if err != nil && !errors.Is(err, ErrInvalidPublicKey) {
			t.Fatalf("error %v is not ErrInvalidPublicKey", err)
		}
	})
}

type deserializationG2Vector struct {
	Input struct {
		Signature string `json:"signature"`
	} `json:"input"`
	Output *bool `json:"output"`
}

// TestBLSDeserializationG2Vectors runs the G2 (signature) deserialization vectors through
// ParseBLSSignature, the decoder VerifyBLS uses.
func TestBLSDeserializationG2Vectors(t *testing.T) {
	forEachVector(t, "deserialization_G2", func(t *testing.T, path string) {
		var v deserializationG2Vector
		readVector(t, path, &v)
		if v.Output == nil {
			t.Fatal("deserialization vector without output")
		}
		_, err := ParseBLSSignature(vectorHex(t, v.Input.Signature))
		if got := err == nil; got != *v.Output {
			t.Fatalf("parse ok = %v, want %v (err %v)", got, *v.Output, err)
		}
		if err != nil && !errors.Is(err, ErrInvalidSignature) {
			t.Fatalf("error %v is not ErrInvalidSignature", err)
		}
	})
}
