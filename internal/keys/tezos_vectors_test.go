package keys

import (
	"bytes"
	"crypto/ed25519"
	"encoding/hex"
	"encoding/json"
	"errors"
	"math/big"
	"os"
	"testing"
	"time"

	"github.com/decred/dcrd/dcrec/secp256k1/v4"

	"github.com/keyward/keyward/internal/tezos"
)

type tezosSigningVector struct {
	ID                   string `json:"id"`
	Curve                string `json:"curve"`
	SecretKey            string `json:"secret_key"`
	PublicKey            string `json:"public_key"`
	PublicKeyHash        string `json:"public_key_hash"`
	Kind                 string `json:"kind"`
	SignedBytesHex       string `json:"signed_bytes_hex"`
	ExpectedSignatureHex string `json:"expected_signature_hex"`
	Comparison           string `json:"comparison"`
}

type tezosVerifyVector struct {
	ID        string `json:"id"`
	Message   string `json:"message_hex"`
	PublicKey string `json:"public_key"`
	Signature string `json:"signature"`
	POP       bool   `json:"proof_of_possession"`
	Expected  string `json:"expected"`
}

func loadTezosSignatures(t *testing.T) ([]tezosSigningVector, []tezosVerifyVector) {
	t.Helper()
	b, err := os.ReadFile("testdata/tezos/signatures.json")
	if err != nil {
		t.Fatal(err)
	}
	var f struct {
		Signing []tezosSigningVector `json:"signing_vectors"`
		Verify  []tezosVerifyVector  `json:"verification_vectors"`
	}
	if err := json.Unmarshal(b, &f); err != nil {
		t.Fatal(err)
	}
	if len(f.Signing) < 40 || len(f.Verify) < 20 {
		t.Fatalf("only %d signing and %d verification vectors", len(f.Signing), len(f.Verify))
	}
	return f.Signing, f.Verify
}

// loadOne seals secret in a fresh store, loads it back and returns the key.
func loadOne(t *testing.T, kind tezos.KeyKind, secret []byte) *TezosKey {
	t.Helper()
	s, _, _ := testStore(t)
	if _, err := s.PutTezos(kind, secret, genMeta()); err != nil {
		t.Fatal(err)
	}
	ks, err := s.LoadTezos(testArena(t, 1))
	if err != nil || len(ks) != 1 {
		t.Fatalf("load: %v (%d keys)", err, len(ks))
	}
	t.Cleanup(ks[0].Destroy)
	return ks[0]
}

// TestTezosSigningVectors: Ed25519 and BLS signatures (and BLS proofs of possession) are
// byte-for-byte those of Taquito, tzgo and Octez; ECDSA signatures verify and are low-S.
func TestTezosSigningVectors(t *testing.T) {
	signing, _ := loadTezosSignatures(t)
	for _, v := range signing {
		t.Run(v.ID, func(t *testing.T) {
			t.Parallel()
			kind, secret, err := tezos.ParseSecretKey(v.SecretKey, nil)
			if err != nil {
				t.Fatal(err)
			}
			k := loadOne(t, kind, secret)
			if k.PublicKey().String() != v.PublicKey || k.Hash().String() != v.PublicKeyHash {
				t.Fatalf("derived %s %s, want %s %s", k.PublicKey(), k.Hash(), v.PublicKey, v.PublicKeyHash)
			}
			msg, _ := hex.DecodeString(v.SignedBytesHex)
			want, _ := hex.DecodeString(v.ExpectedSignatureHex)
			var sig []byte
			if v.Kind == "proof_of_possession" {
				override := msg
				if bytes.Equal(msg, k.PublicKey().Bytes()) {
					override = nil
				}
				if sig, err = k.ProvePossession(override); err != nil {
					t.Fatal(err)
				}
				if !bytes.Equal(sig, want) || !VerifyPossession(k.PublicKey(), msg, sig) {
					t.Fatalf("proof %x, want %x", sig, want)
				}
				return
			}
			if sig, err = k.Sign(msg); err != nil {
				t.Fatal(err)
			}
			switch kind {
			case tezos.KeyKindEd25519, tezos.KeyKindBLS:
				if !bytes.Equal(sig, want) {
					t.Fatalf("signature %x, want %x", sig, want)
				}
			default: // ECDSA: nonces differ between implementations; both must verify
				if !VerifyTezos(k.PublicKey(), msg, want) {
					t.Fatalf("the vector's own signature does not verify")
				}
				again, _ := k.Sign(msg)
				if !bytes.Equal(sig, again) {
					t.Fatal("ECDSA signature is not deterministic")
				}
				var s secp256k1.ModNScalar
				s.SetByteSlice(sig[32:])
				if kind == tezos.KeyKindSecp256k1 && s.IsOverHalfOrder() {
					t.Fatal("high-S secp256k1 signature")
				}
				if kind == tezos.KeyKindP256 && new(big.Int).SetBytes(sig[32:]).Cmp(p256HalfOrder) > 0 {
					t.Fatal("high-S P-256 signature")
				}
			}
			if !k.Verify(msg, sig) {
				t.Fatal("own signature does not verify")
			}
			if k.Verify(append(msg, 0), sig) {
				t.Fatal("signature verifies over other bytes")
			}
		})
	}
}

// TestTezosVerificationVectors: VerifyTezos agrees with Taquito's verifySignature.
func TestTezosVerificationVectors(t *testing.T) {
	_, verify := loadTezosSignatures(t)
	for _, v := range verify {
		t.Run(v.ID, func(t *testing.T) {
			pk, err := tezos.ParsePublicKey(v.PublicKey)
			if err != nil {
				if v.Expected == "valid" {
					t.Fatalf("public key: %v", err)
				}
				return
			}
			sig, err := tezos.ParseSignature(v.Signature)
			msg, herr := hex.DecodeString(v.Message)
			if err != nil || herr != nil {
				if v.Expected == "valid" {
					t.Fatalf("signature or message: %v %v", err, herr)
				}
				return
			}
			var ok bool
			if v.POP {
				ok = VerifyPossession(pk, msg, sig.Raw)
			} else {
				ok = VerifyTezos(pk, msg, sig.Raw)
			}
			if ok != (v.Expected == "valid") {
				t.Fatalf("verify = %v, expected %s", ok, v.Expected)
			}
		})
	}
}

// TestTezosGenerateLoadSign_Inv1_Inv6: generated keys of each kind survive sealing and
// loading, sign, and verify; the AUG scheme exists for tz4 only.
func TestTezosGenerateLoadSign_Inv1_Inv6(t *testing.T) {
	s, _, _ := testStore(t)
	kinds := []tezos.KeyKind{tezos.KeyKindEd25519, tezos.KeyKindSecp256k1, tezos.KeyKindP256, tezos.KeyKindBLS}
	want := map[tezos.PublicKeyHash]bool{}
	for _, k := range kinds {
		pk, err := GenerateTezos(s, k, Meta{Created: time.Now()})
		if err != nil {
			t.Fatal(err)
		}
		want[pk.Hash()] = true
	}
	bls, _ := s.List()
	if len(bls) != 0 {
		t.Fatalf("Tezos keys listed as Ethereum keys: %v", bls)
	}
	// And an Ethereum key is never a tz4 key: distinct types, distinct buckets.
	if _, err := GenerateBLS(s, 1, genMeta()); err != nil {
		t.Fatal(err)
	}
	list, err := s.ListTezos()
	if err != nil || len(list) != 4 {
		t.Fatalf("list: %v %d", err, len(list))
	}
	ks, err := s.LoadTezos(testArena(t, 4))
	if err != nil {
		t.Fatal(err)
	}
	payload := []byte{0x11, 1, 2, 3}
	for _, k := range ks {
		if !want[k.Hash()] {
			t.Fatalf("unexpected key %s", k)
		}
		sig, err := k.Sign(payload)
		if err != nil || !k.Verify(payload, sig) {
			t.Fatalf("%s: %v", k, err)
		}
		aug, err := k.SignAUG(payload)
		if (err == nil) != (k.Kind() == tezos.KeyKindBLS) {
			t.Fatalf("%s: AUG: %v", k, err)
		}
		if err == nil && (!VerifyTezosAUG(k.PublicKey(), payload, aug) || VerifyTezos(k.PublicKey(), payload, aug)) {
			t.Fatal("AUG signature does not verify as AUG only")
		}
		if got := k.String(); got != "keys.TezosKey("+k.Hash().String()+")" {
			t.Fatalf("String %q", got)
		}
		k.Destroy()
		if _, err := k.Sign(payload); err == nil {
			t.Fatal("destroyed key signed")
		}
	}
}

// TestImportOctezSecretKeys: unencrypted and encrypted entries import with the password,
// a wrong scheme fails alone, a second import reports the keys as present.
func TestImportOctezSecretKeys(t *testing.T) {
	b, err := os.ReadFile("testdata/tezos/encrypted_keys.json")
	if err != nil {
		t.Fatal(err)
	}
	var f struct {
		Entries []struct {
			Curve     string `json:"curve"`
			Encrypted string `json:"encrypted_secret_key"`
			Password  string `json:"password"`
			PKH       string `json:"derived_public_key_hash"`
		} `json:"entries"`
	}
	if err := json.Unmarshal(b, &f); err != nil {
		t.Fatal(err)
	}
	e := f.Entries[0]
	file, _ := json.Marshal([]map[string]string{
		{"name": "baker", "value": "encrypted:" + e.Encrypted},
		{"name": "plain", "value": "unencrypted:edsk4TjJWEszkHKono7XMnepVqwi37FrpbVt1KCsifJeAGimxheShG"},
		{"name": "ledger", "value": "ledger://foo/ed25519/0h/0h"},
	})
	s, _, _ := testStore(t)
	pw := func() ([]byte, error) { return []byte(e.Password), nil }
	res, err := ImportOctezSecretKeys(s, file, pw, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if res[0].Status != ImportImported || res[0].Hash.String() != e.PKH {
		t.Fatalf("encrypted: %+v", res[0])
	}
	if res[1].Status != ImportImported || res[1].Hash.String() != "tz1b9kV41KV9N3sp69ycLdSoZ2Ak8jXwtNPv" {
		t.Fatalf("unencrypted: %+v", res[1])
	}
	if res[2].Status != ImportFailed || res[2].Err == nil {
		t.Fatalf("ledger: %+v", res[2])
	}
	res, _ = ImportOctezSecretKeys(s, file, func() ([]byte, error) { return []byte("wrong"), nil }, time.Now())
	if res[0].Status != ImportFailed || !errors.Is(res[0].Err, tezos.ErrDecrypt) || res[1].Status != ImportExists {
		t.Fatalf("second import: %+v", res)
	}
	if _, err := ImportOctezSecretKeys(s, []byte(`{"name":1}`), pw, time.Now()); err == nil {
		t.Fatal("accepted a non-list")
	}
}

// TestEd25519ExpandedMatchesStdlib: the arena signer (RFC 8032 over edwards25519) gives
// the same public keys and signatures as crypto/ed25519.
func TestEd25519ExpandedMatchesStdlib(t *testing.T) {
	for i := range 200 {
		seed := bytes.Repeat([]byte{byte(i), byte(i * 7)}, 16)
		msg := bytes.Repeat([]byte{byte(i)}, i)
		var exp [64]byte
		pub, err := ed25519Expand(exp[:], seed)
		if err != nil {
			t.Fatal(err)
		}
		priv := ed25519.NewKeyFromSeed(seed)
		if !bytes.Equal(pub, priv[32:]) {
			t.Fatalf("seed %d: public key differs", i)
		}
		sig, err := ed25519SignExpanded(exp[:], pub, msg)
		if err != nil || !bytes.Equal(sig, ed25519.Sign(priv, msg)) {
			t.Fatalf("seed %d: signature differs: %v", i, err)
		}
	}
}
