package core

import (
	"crypto/ed25519"
	"encoding/hex"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/crypto/blake2b"

	"github.com/keyward/keyward/internal/config"
	"github.com/keyward/keyward/internal/eth"
	"github.com/keyward/keyward/internal/keys"
	"github.com/keyward/keyward/internal/protect"
	"github.com/keyward/keyward/internal/secmem"
	"github.com/keyward/keyward/internal/tezos"
	"github.com/keyward/keyward/internal/wire"
)

// realTezosKeys generates one sealed key of each Tezos kind and loads them as the core does.
func realTezosKeys(tb testing.TB) []*keys.TezosKey {
	tb.Helper()
	st := testStore(tb)
	defer st.Close()
	for _, k := range []tezos.KeyKind{tezos.KeyKindEd25519, tezos.KeyKindSecp256k1, tezos.KeyKindP256, tezos.KeyKindBLS} {
		if _, err := keys.GenerateTezos(st, k, keys.Meta{}); err != nil {
			tb.Fatal(err)
		}
	}
	arena, err := secmem.New(4, keys.BLSSlotSize, false)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { arena.Destroy() })
	ks, err := st.LoadTezos(arena)
	if err != nil {
		tb.Fatal(err)
	}
	return ks
}

func newTezosService(tb testing.TB, cfg config.Tezos) (*Service, []*keys.TezosKey) {
	tb.Helper()
	n, _ := eth.BuiltinNetwork("mainnet")
	prot, err := protect.Open(filepath.Join(tb.TempDir(), "p.db"), protect.Options{GenesisValidatorsRoot: n.GenesisValidatorsRoot})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { prot.Close() })
	s, err := New(n, nil, prot)
	if err != nil {
		tb.Fatal(err)
	}
	pol, err := cfg.Policy()
	if err != nil {
		tb.Fatal(err)
	}
	ks := realTezosKeys(tb)
	signers := make([]TezosKey, len(ks))
	for i, k := range ks {
		signers[i] = k
	}
	if err := s.EnableTezos(pol, signers, ProtectTezos(prot)); err != nil {
		tb.Fatal(err)
	}
	return s, ks
}

// transferHex is a generic operation holding one transaction (Signatory's vectors).
const transferHex = "03573a2d2d49a3b9634d1605c3aa48ebdd5d21a5885ad17aa44c2b1d0dbcbcac686c004b415314d2b56b0481a3ae8c992ce8bb8dba0369d086039ecb2dc35000c0843d000076b2f1ea1cf6753888ac5488693977446652d79e00"

// TestTezosPolicy_Inv3_Inv4: by default a key signs consensus payloads only; a per-key
// table allows named operations under 0x03, and its magic_bytes replace the default.
func TestTezosPolicy_Inv3_Inv4(t *testing.T) {
	cfg := config.DefaultTezos()
	s, ks := newTezosService(t, cfg)
	tz1 := ks[0].Hash()
	tr, _ := hex.DecodeString(transferHex)
	sign := func() *wire.TezosSignResult {
		return s.SignTezos(&wire.TezosSignRequest{PKH: tz1, Version: wire.TezosVersionUnset, Payload: tr})
	}
	if res := sign(); res.Err == nil || res.Err.Kind != wire.KindPolicy {
		t.Fatalf("default policy signed a transfer: %+v", res)
	}
	signers := []TezosKey{ks[0]}
	withTable := func(k config.TezosKey) {
		cfg.Keys[tz1.String()] = k
		pol, err := cfg.Policy()
		if err != nil {
			t.Fatal(err)
		}
		if err := s.EnableTezos(pol, signers, s3Prot(t)); err != nil {
			t.Fatal(err)
		}
	}
	withTable(config.TezosKey{MagicBytes: []string{"0x03"}, Operations: []string{"delegation"}, ChainIDs: []string{"NetXdQprcVkpaWU"}})
	if res := sign(); res.Err == nil || res.Err.Kind != wire.KindPolicy || !strings.Contains(res.Err.Msg, "operation transaction not allowed") {
		t.Fatalf("transaction with only delegation allowed: %+v", res.Err)
	}
	withTable(config.TezosKey{MagicBytes: []string{"0x03"}, Operations: []string{"transaction"}, ChainIDs: []string{"NetXdQprcVkpaWU"}})
	// keyward.toml allows the kind; policy.toml must allow the destination too (Inv 4).
	if res := sign(); res.Err == nil || res.Err.Kind != wire.KindPolicy || !strings.Contains(res.Err.Msg, "transaction: not allowed") {
		t.Fatalf("transaction without policy.toml: %+v", res.Err)
	}
	allowTransfers(t, s, tz1, tr, 1)
	if res := sign(); res.Err != nil || !keys.VerifyTezos(ks[0].PublicKey(), tr, res.Signature) {
		t.Fatalf("allowed transaction: %+v", res.Err)
	}
	block := append([]byte{tezos.MagicBlock}, make([]byte, 10)...)
	if res := s.SignTezos(&wire.TezosSignRequest{PKH: tz1, Version: wire.TezosVersionUnset, Payload: block}); res.Err == nil || res.Err.Kind != wire.KindPolicy {
		t.Fatalf("block with magic_bytes = [0x03]: %+v", res.Err)
	}
}

func s3Prot(t *testing.T) TezosProtection {
	n, _ := eth.BuiltinNetwork("mainnet")
	prot, err := protect.Open(filepath.Join(t.TempDir(), "p.db"), protect.Options{GenesisValidatorsRoot: n.GenesisValidatorsRoot})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { prot.Close() })
	return ProtectTezos(prot)
}

// TestTezosAuthenticationGeneric_Inv4: an authentication signature in the generic "sig"
// form is accepted from an Ed25519 authorized key; a BLS key is not tried for it.
func TestTezosAuthenticationGeneric_Inv4(t *testing.T) {
	seed := make([]byte, 32)
	seed[0] = 9
	priv := ed25519.NewKeyFromSeed(seed)
	pk, err := tezos.NewPublicKey(tezos.KeyKindEd25519, priv[32:])
	if err != nil {
		t.Fatal(err)
	}
	cfg := config.DefaultTezos()
	cfg.AuthorizedKeys = []string{pk.String()}
	s, ks := newTezosService(t, cfg)
	tr, _ := hex.DecodeString(transferHex)
	msg, _ := tezos.AuthenticationBytes(ks[0].Hash(), tr)
	d := blake2b.Sum256(msg)
	auth := &tezos.Signature{Raw: ed25519.Sign(priv, d[:])} // generic "sig"
	res := s.SignTezos(&wire.TezosSignRequest{PKH: ks[0].Hash(), Version: wire.TezosVersionUnset, Payload: tr, Auth: auth})
	// Authenticated, then refused by policy: the transfer is not allowed by default.
	if res.Err == nil || res.Err.Kind != wire.KindPolicy || !strings.Contains(res.Err.Msg, "magic byte") {
		t.Fatalf("generic authentication: %+v", res.Err)
	}
	if a := s.TezosAuthorizedKeys(); !a.Required || len(a.Keys) != 1 || a.Keys[0] != pk.Hash() {
		t.Fatalf("authorized keys: %+v", a)
	}
	if _, werr := s.TezosKnownKeys(); werr == nil || werr.Kind != wire.KindPolicy {
		t.Fatal("known keys listed without allow_known_keys")
	}
	if res := s.TezosProvePossession(&wire.TezosProvePossession{PKH: ks[3].Hash()}); res.Err == nil || res.Err.Kind != wire.KindPolicy {
		t.Fatal("proof of possession without allow_prove_possession")
	}
}

// TestTezosReissueOtherVersion_Inv5_Inv6: identical bytes signed by a tz4 key with the POP
// scheme are not re-signed with AUG (a second, different signature of the same block):
// the request is refused; the same version gets the stored signature back.
func TestTezosReissueOtherVersion_Inv5_Inv6(t *testing.T) {
	s, ks := newTezosService(t, config.DefaultTezos())
	tz4 := ks[3].Hash()
	p := append([]byte{tezos.MagicPreattestation, 0x7a, 0x06, 0xa7, 0x70}, make([]byte, 32)...)
	p = append(p, tezos.TagBLSModePreattestation, 0, 0, 0, 9, 0, 0, 0, 0)
	p = append(p, make([]byte, 32)...)
	first := s.SignTezos(&wire.TezosSignRequest{PKH: tz4, Version: 2, Payload: p})
	if first.Err != nil {
		t.Fatal(first.Err)
	}
	again := s.SignTezos(&wire.TezosSignRequest{PKH: tz4, Version: 3, Payload: p})
	if again.Err != nil || string(again.Signature) != string(first.Signature) {
		t.Fatalf("reissue: %+v", again.Err)
	}
	aug := s.SignTezos(&wire.TezosSignRequest{PKH: tz4, Version: 1, Payload: p})
	if aug.Err == nil || aug.Err.Kind != wire.KindProtection {
		t.Fatalf("same bytes under AUG: %+v", aug)
	}
}
