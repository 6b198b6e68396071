package tezos

import (
	"bytes"
	"crypto/ecdh"
	"crypto/ed25519"
	"encoding/hex"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"testing"
)

// loadVectors decodes a testdata file strictly: unknown keys and trailing data
// fail the test (STYLE rule 17).
func loadVectors(t testing.TB, name string, v any) {
	t.Helper()
	f, err := os.Open(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	dec := json.NewDecoder(f)
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	if dec.More() {
		t.Fatalf("%s: trailing data", name)
	}
}

func unhex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatalf("bad hex %q: %v", s, err)
	}
	return b
}

func curveKind(t *testing.T, c string) KeyKind {
	t.Helper()
	switch c {
	case "ed25519":
		return KeyKindEd25519
	case "secp256k1":
		return KeyKindSecp256k1
	case "p256":
		return KeyKindP256
	case "bls":
		return KeyKindBLS
	case "generic":
		return 0
	}
	t.Fatalf("unknown curve %q", c)
	return 0
}

type keyVector struct {
	ID               string `json:"id"`
	Curve            string `json:"curve"`
	SecretKey        string `json:"secret_key"`
	SecretKeyHex     string `json:"secret_key_hex"`
	PublicKey        string `json:"public_key"`
	PublicKeyHex     string `json:"public_key_hex"`
	PublicKeyHash    string `json:"public_key_hash"`
	PublicKeyHashHex string `json:"public_key_hash_hex"`
}

type pkhVector struct {
	ID    string `json:"id"`
	Curve string `json:"curve"`
	Hex   string `json:"hex"`
	B58   string `json:"b58"`
}

type keysFile struct {
	Source          string      `json:"source"`
	Keys            []keyVector `json:"keys"`
	PublicKeyHashes []pkhVector `json:"public_key_hashes"`
}

// TestKeyVectors runs every key triple through ParseSecretKey, ParsePublicKey,
// PublicKey.Hash and ParsePublicKeyHash, and derives the public key from the
// secret where the standard library can (Ed25519, P-256).
func TestKeyVectors(t *testing.T) {
	var f keysFile
	loadVectors(t, "keys.json", &f)
	if len(f.Keys) < 200 || len(f.PublicKeyHashes) < 200 {
		t.Fatalf("implausibly few vectors: %d keys, %d hashes", len(f.Keys), len(f.PublicKeyHashes))
	}
	for _, v := range f.Keys {
		t.Run(v.ID, func(t *testing.T) {
			t.Parallel()
			kind := curveKind(t, v.Curve)
			pkh, err := ParsePublicKeyHash(v.PublicKeyHash)
			if err != nil || pkh.Kind != kind || pkh.String() != v.PublicKeyHash {
				t.Fatalf("ParsePublicKeyHash = %v, %v", pkh, err)
			}
			if v.PublicKeyHashHex != "" && !bytes.Equal(pkh.Hash[:], unhex(t, v.PublicKeyHashHex)) {
				t.Fatalf("pkh bytes %x", pkh.Hash)
			}
			pk, err := ParsePublicKey(v.PublicKey)
			if err != nil || pk.Kind() != kind || pk.String() != v.PublicKey {
				t.Fatalf("ParsePublicKey = %v, %v", pk, err)
			}
			if v.PublicKeyHex != "" && !bytes.Equal(pk.Bytes(), unhex(t, v.PublicKeyHex)) {
				t.Fatalf("pk bytes %x", pk.Bytes())
			}
			if pk.Hash() != pkh {
				t.Fatalf("Hash() = %v, want %v", pk.Hash(), pkh)
			}
			skKind, raw, err := ParseSecretKey(v.SecretKey, nil)
			if err != nil || skKind != kind {
				t.Fatalf("ParseSecretKey = %v, %v", skKind, err)
			}
			if v.SecretKeyHex != "" && !bytes.Equal(raw, unhex(t, v.SecretKeyHex)) {
				t.Fatalf("secret %x", raw)
			}
			switch kind {
			case KeyKindEd25519:
				derived := ed25519.NewKeyFromSeed(raw).Public().(ed25519.PublicKey)
				if !bytes.Equal(derived, pk.Bytes()) {
					t.Fatalf("derived ed25519 key %x", derived)
				}
			case KeyKindP256:
				priv, err := ecdh.P256().NewPrivateKey(raw)
				if err != nil {
					t.Fatal(err)
				}
				u := priv.PublicKey().Bytes()
				c := append([]byte{2 | u[64]&1}, u[1:33]...)
				if !bytes.Equal(c, pk.Bytes()) {
					t.Fatalf("derived p256 key %x", c)
				}
			}
		})
	}
	for _, v := range f.PublicKeyHashes {
		t.Run(v.ID, func(t *testing.T) {
			t.Parallel()
			h := PublicKeyHash{Kind: curveKind(t, v.Curve), Hash: [20]byte(unhex(t, v.Hex))}
			if h.String() != v.B58 {
				t.Fatalf("String() = %s, want %s", h, v.B58)
			}
			got, err := ParsePublicKeyHash(v.B58)
			if err != nil || got != h {
				t.Fatalf("ParsePublicKeyHash = %v, %v", got, err)
			}
		})
	}
}

type encodingsFile struct {
	Source     string `json:"source"`
	Signatures []struct {
		ID    string `json:"id"`
		B58   string `json:"b58"`
		Hex   string `json:"hex"`
		Curve string `json:"curve"`
	} `json:"signatures"`
	Malformed []struct {
		ID   string `json:"id"`
		What string `json:"what"`
		B58  string `json:"b58"`
	} `json:"malformed"`
	ChainIDs []struct {
		ID  string `json:"id"`
		B58 string `json:"b58"`
		Hex string `json:"hex"`
	} `json:"chain_ids"`
}

// TestEncodingVectors checks signatures (typed and generic), chain ids, and
// the malformed strings Taquito's tests expect to be refused.
func TestEncodingVectors(t *testing.T) {
	var f encodingsFile
	loadVectors(t, "encodings.json", &f)
	for _, v := range f.Signatures {
		t.Run(v.ID, func(t *testing.T) {
			t.Parallel()
			kind := curveKind(t, v.Curve)
			raw := unhex(t, v.Hex)
			sig, err := ParseSignature(v.B58)
			if err != nil || sig.Kind != kind || !bytes.Equal(sig.Raw, raw) || sig.String() != v.B58 {
				t.Fatalf("ParseSignature = %+v, %v", sig, err)
			}
			if kind != 0 {
				s, err := EncodeSignature(kind, raw)
				if err != nil || s != v.B58 {
					t.Fatalf("EncodeSignature = %s, %v", s, err)
				}
			}
		})
	}
	for _, v := range f.Malformed {
		t.Run(v.ID, func(t *testing.T) {
			t.Parallel()
			var err error
			switch v.What {
			case "public_key":
				_, err = ParsePublicKey(v.B58)
			case "signature":
				_, err = ParseSignature(v.B58)
			default:
				t.Fatalf("unknown kind %q", v.What)
			}
			if !errors.Is(err, ErrEncoding) {
				t.Fatalf("err = %v, want ErrEncoding", err)
			}
		})
	}
	for _, v := range f.ChainIDs {
		t.Run(v.ID, func(t *testing.T) {
			t.Parallel()
			c, err := ParseChainID(v.B58)
			if err != nil || !bytes.Equal(c[:], unhex(t, v.Hex)) || c.String() != v.B58 {
				t.Fatalf("ParseChainID = %v, %v", c, err)
			}
		})
	}
}

type encryptedFile struct {
	Source  string `json:"source"`
	Entries []struct {
		ID        string `json:"id"`
		Curve     string `json:"curve"`
		Encrypted string `json:"encrypted_secret_key"`
		Password  string `json:"password"`
		SecretKey string `json:"secret_key"`
	} `json:"entries"`
}

// TestEncryptedKeyVectors decrypts octez-client, tzgo and Taquito encrypted
// keys and compares with the plain key; a wrong or missing password is refused.
func TestEncryptedKeyVectors(t *testing.T) {
	var f encryptedFile
	loadVectors(t, "encrypted_keys.json", &f)
	for _, v := range f.Entries {
		t.Run(v.ID, func(t *testing.T) {
			t.Parallel()
			kind := curveKind(t, v.Curve)
			wantKind, want, err := ParseSecretKey(v.SecretKey, nil)
			if err != nil || wantKind != kind {
				t.Fatalf("plain key: %v, %v", wantKind, err)
			}
			calls := 0
			gotKind, got, err := ParseSecretKey(v.Encrypted, func() ([]byte, error) {
				calls++
				return []byte(v.Password), nil
			})
			if err != nil || gotKind != kind || !bytes.Equal(got, want) || calls != 1 {
				t.Fatalf("ParseSecretKey = %v, %x, %v (calls %d)", gotKind, got, err, calls)
			}
			if _, _, err := ParseSecretKey(v.Encrypted, func() ([]byte, error) {
				return []byte(v.Password + "x"), nil
			}); !errors.Is(err, ErrDecrypt) {
				t.Fatalf("wrong password: %v", err)
			}
			if _, _, err := ParseSecretKey(v.Encrypted, nil); !errors.Is(err, ErrPasswordRequired) {
				t.Fatalf("no password: %v", err)
			}
		})
	}
}
