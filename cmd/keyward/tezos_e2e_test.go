package main

import (
	"bytes"
	"crypto/ed25519"
	"crypto/elliptic"
	"encoding/hex"
	"encoding/json"
	"io"
	"math/big"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/decred/dcrd/dcrec/secp256k1/v4"
	"golang.org/x/crypto/blake2b"

	"github.com/keyward/keyward/internal/keys"
	"github.com/keyward/keyward/internal/tezos"
)

// Payload templates for the end-to-end tests. tzBlockTemplate is Signatory's
// mainnet-derived block A1 (signatory-02 in the shared vectors: 198 bytes, fitness of 33
// bytes, level 20878, round 0); its chain id, level and round are rewritten per test.
const tzBlockTemplate = "11ed9d217c0000518e0118425847ac255b6d7c30ce8fec23b8eaf13b741de7d18509ac2ef83c741209630000000061947af504805682ea5d089837764b3efcc90b91db24294ff9ddb66019f332ccba17cc4741000000210000000102000000040000518e0000000000000004ffffffff0000000400000000eb1320a71e8bf8b0162a3ec315461e9153a38b70d00d5dde2df85eb92748f8d068d776e356683a9e23c186ccfb72ddc6c9857bb1704487972922e7c89a7121f800000000a8e1dd3c000000000000"

// tzTransfer is a generic operation holding one transaction (signatory-12).
const tzTransfer = "03573a2d2d49a3b9634d1605c3aa48ebdd5d21a5885ad17aa44c2b1d0dbcbcac686c004b415314d2b56b0481a3ae8c992ce8bb8dba0369d086039ecb2dc35000c0843d000076b2f1ea1cf6753888ac5488693977446652d79e00"

var (
	tzMainnet = [4]byte{0x7a, 0x06, 0xa7, 0x70} // NetXdQprcVkpaWU
	tzOther   = [4]byte{0xed, 0x9d, 0x21, 0x7c} // the template's test chain
)

func tzBlock(chain [4]byte, level, round uint32) []byte {
	b, _ := hex.DecodeString(tzBlockTemplate)
	copy(b[1:5], chain[:])
	copy(b[5:9], be32(level))
	copy(b[83+4+5+4:83+4+5+8], be32(level)) // the fitness repeats the level
	copy(b[83+33:83+37], be32(round))       // the fitness's last item
	return b
}

// tzConsensus builds a (pre)attestation: tags 20/21 (with slot) for tz1..tz3, the BLS-mode
// tags 40/41 (no slot) for tz4. variant changes the block payload hash.
func tzConsensus(magic byte, bls bool, chain [4]byte, level, round uint32, variant byte) []byte {
	b := append([]byte{magic}, chain[:]...)
	b = append(b, bytes.Repeat([]byte{0x33}, 32)...) // branch
	tag := tezos.TagPreattestation
	if magic == tezos.MagicAttestation {
		tag = tezos.TagAttestation
	}
	if bls {
		tag += tezos.TagBLSModePreattestation - tezos.TagPreattestation
	}
	b = append(b, tag)
	if !bls {
		b = append(b, 0, 7) // slot
	}
	b = append(b, be32(level)...)
	b = append(b, be32(round)...)
	return append(b, bytes.Repeat([]byte{variant}, 32)...)
}

func be32(v uint32) []byte { return []byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)} }

// tzSigner is a signer under test with one generated key of each Tezos type.
type tzSigner struct {
	*signer
	tezURL string
	pkhs   []string // tz1, tz2, tz3, tz4
	pks    map[string]tezos.PublicKey
}

func startTezosSigner(t *testing.T, edit func(cfg string) string) *tzSigner {
	t.Helper()
	ts := &tzSigner{pks: map[string]tezos.PublicKey{}}
	addr := freeAddr(t)
	ts.tezURL = "http://" + addr
	ts.signer = startSignerWith(t, 0, func(dir string) []string {
		for _, typ := range []string{"tz1", "tz2", "tz3", "tz4"} {
			f := strings.Fields(run(t, "keys", "generate", "--dir", dir, "--type", typ))
			pk, err := tezos.ParsePublicKey(f[1])
			if err != nil || pk.Hash().String() != f[0] || !strings.HasPrefix(f[0], typ) {
				t.Fatalf("keys generate --type %s printed %q: %v", typ, f, err)
			}
			ts.pkhs = append(ts.pkhs, f[0])
			ts.pks[f[0]] = pk
		}
		return []string{"--tezos-listen", addr}
	}, edit)
	return ts
}

// tzPost signs payload with key pkh; query is appended to the URL.
func (s *tzSigner) tzPost(t *testing.T, pkh string, body, query string) (int, map[string]string, []map[string]string) {
	t.Helper()
	resp, err := http.Post(s.tezURL+"/keys/"+pkh+query, "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode == 200 {
		var ok map[string]string
		if err := json.Unmarshal(b, &ok); err != nil {
			t.Fatalf("answer %s: %v", b, err)
		}
		return 200, ok, nil
	}
	var e []map[string]string // the Tezos error shape octez-client decodes
	if err := json.Unmarshal(b, &e); err != nil || len(e) != 1 || e[0]["kind"] != "temporary" || e[0]["id"] != "failure" || e[0]["msg"] == "" {
		t.Fatalf("status %d: error body %s is not [{kind, id, msg}]", resp.StatusCode, b)
	}
	return resp.StatusCode, nil, e
}

func (s *tzSigner) sign(t *testing.T, pkh string, payload []byte, query string) (int, string, string) {
	t.Helper()
	code, ok, e := s.tzPost(t, pkh, `"`+hex.EncodeToString(payload)+`"`, query)
	if code == 200 {
		return code, ok["signature"], ""
	}
	return code, "", e[0]["msg"]
}

// verifyTz checks a returned signature with internal/tezos and the curve, and the low-S
// rule for ECDSA keys.
func (s *tzSigner) verifyTz(t *testing.T, pkh string, payload []byte, sigStr string) {
	t.Helper()
	pk := s.pks[pkh]
	sig, err := tezos.ParseSignature(sigStr)
	if err != nil || sig.Kind != pk.Kind() {
		t.Fatalf("%s: signature %q: %v", pkh, sigStr, err)
	}
	if !keys.VerifyTezos(pk, payload, sig.Raw) {
		t.Fatalf("%s: signature does not verify", pkh)
	}
	switch pk.Kind() {
	case tezos.KeyKindSecp256k1:
		var sc secp256k1.ModNScalar
		sc.SetByteSlice(sig.Raw[32:])
		if sc.IsOverHalfOrder() {
			t.Fatalf("%s: high-S signature", pkh)
		}
	case tezos.KeyKindP256:
		half := new(big.Int).Rsh(elliptic.P256().Params().N, 1)
		if new(big.Int).SetBytes(sig.Raw[32:]).Cmp(half) > 0 {
			t.Fatalf("%s: high-S signature", pkh)
		}
	}
}

// TestTezosEndToEnd_Inv2_Inv3_Inv5_Inv6 drives the real binary through the Octez API: each
// key type signs a block, a preattestation and an attestation, each signature verified
// against the key; identical bytes get the identical signature back; lower levels and
// different bytes at the same level and round get 409; a transfer is refused by the
// default policy; another chain is refused; unknown keys, malformed and oversized bodies
// are refused with the Tezos error shape.
func TestTezosEndToEnd_Inv2_Inv3_Inv5_Inv6(t *testing.T) {
	s := startTezosSigner(t, nil)
	var known map[string][]string
	resp, err := http.Get(s.tezURL + "/known_keys")
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != 403 { // off by default
		t.Fatalf("known_keys without allow_known_keys: %d", resp.StatusCode)
	}
	resp.Body.Close()
	resp, _ = http.Get(s.tezURL + "/authorized_keys")
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if strings.TrimSpace(string(b)) != "{}" {
		t.Fatalf("authorized_keys: %s", b)
	}
	for _, pkh := range s.pkhs {
		resp, _ := http.Get(s.tezURL + "/keys/" + pkh)
		_ = json.NewDecoder(resp.Body).Decode(&known)
		resp.Body.Close()
		var pkAnswer map[string]string
		resp, _ = http.Get(s.tezURL + "/keys/" + pkh)
		_ = json.NewDecoder(resp.Body).Decode(&pkAnswer)
		resp.Body.Close()
		if pkAnswer["public_key"] != s.pks[pkh].String() {
			t.Fatalf("GET /keys/%s: %v", pkh, pkAnswer)
		}
		bls := strings.HasPrefix(pkh, "tz4")
		payloads := [][]byte{
			tzBlock(tzMainnet, 100, 0),
			tzConsensus(tezos.MagicPreattestation, bls, tzMainnet, 100, 0, 1),
			tzConsensus(tezos.MagicAttestation, bls, tzMainnet, 100, 0, 1),
		}
		for _, p := range payloads {
			code, sig, msg := s.sign(t, pkh, p, "")
			if code != 200 {
				t.Fatalf("%s: sign 0x%02x: %d %s", pkh, p[0], code, msg)
			}
			s.verifyTz(t, pkh, p, sig)
			if _, again, _ := s.sign(t, pkh, p, ""); again != sig {
				t.Fatalf("%s: identical bytes got another signature", pkh)
			}
		}
		// Same level and round, other bytes: a double bake / double attestation.
		if code, _, msg := s.sign(t, pkh, tzConsensus(tezos.MagicAttestation, bls, tzMainnet, 100, 0, 2), ""); code != 409 || !strings.Contains(msg, "different data") {
			t.Fatalf("%s: different attestation at the same level: %d %s", pkh, code, msg)
		}
		if code, _, msg := s.sign(t, pkh, tzBlock(tzMainnet, 99, 5), ""); code != 409 || !strings.Contains(msg, "below") {
			t.Fatalf("%s: lower level: %d %s", pkh, code, msg)
		}
		// A transfer is refused by the default policy (consensus only).
		tr, _ := hex.DecodeString(tzTransfer)
		if code, _, msg := s.sign(t, pkh, tr, ""); code != 403 || !strings.Contains(msg, "magic byte 0x03") {
			t.Fatalf("%s: transfer: %d %s", pkh, code, msg)
		}
		// Inv 3: a payload of another chain.
		if code, _, msg := s.sign(t, pkh, tzBlock(tzOther, 200, 0), ""); code != 403 || !strings.Contains(msg, "chain") {
			t.Fatalf("%s: other chain: %d %s", pkh, code, msg)
		}
		// The payload form must match the key (tz4 signs BLS-mode tags only).
		if code, _, _ := s.sign(t, pkh, tzConsensus(tezos.MagicAttestation, !bls, tzMainnet, 101, 0, 1), ""); code != 400 {
			t.Fatalf("%s: consensus form of the other key kind: %d", pkh, code)
		}
	}
	tz1, tz4 := s.pkhs[0], s.pkhs[3]
	// Attestations with and without DAL share one mark: tag 23 after tag 21 at the same
	// level and round is a second attestation (Signatory keeps them apart).
	att := tzConsensus(tezos.MagicAttestation, false, tzMainnet, 700, 0, 1)
	if code, _, msg := s.sign(t, tz1, att, ""); code != 200 {
		t.Fatalf("attestation: %d %s", code, msg)
	}
	dal := append(bytes.Clone(att), 0x01) // DAL bitset 1 (signed Zarith)
	dal[37] = tezos.TagAttestationWithDAL
	if code, _, msg := s.sign(t, tz1, dal, ""); code != 409 {
		t.Fatalf("attestation with DAL after one without: %d %s", code, msg)
	}
	if code, _, msg := s.sign(t, tz1, tzConsensus(tezos.MagicAttestation, false, tzMainnet, 700, 1, 1), ""); code != 200 {
		t.Fatalf("next round: %d %s", code, msg)
	}
	dal2 := append(tzConsensus(tezos.MagicAttestation, false, tzMainnet, 701, 0, 1), 0x01)
	dal2[37] = tezos.TagAttestationWithDAL
	code, sig, msg := s.sign(t, tz1, dal2, "")
	if code != 200 {
		t.Fatalf("attestation with DAL: %d %s", code, msg)
	}
	s.verifyTz(t, tz1, dal2, sig)
	// tz4 version 1 signs with the AUG scheme; 2 and 3 with POP.
	p := tzConsensus(tezos.MagicPreattestation, true, tzMainnet, 300, 0, 1)
	code, sig, msg = s.sign(t, tz4, p, "?version=1")
	if code != 200 {
		t.Fatalf("version 1: %d %s", code, msg)
	}
	parsed, _ := tezos.ParseSignature(sig)
	if !keys.VerifyTezosAUG(s.pks[tz4], p, parsed.Raw) {
		t.Fatal("version 1 signature is not an AUG signature")
	}
	for q, want := range map[string]int{"?version=0": 400, "?version=4": 400, "?version=x": 400} {
		if code, _, _ := s.sign(t, tz4, tzConsensus(tezos.MagicPreattestation, true, tzMainnet, 301, 0, 1), q); code != want {
			t.Fatalf("%s: %d, want %d", q, code, want)
		}
	}
	// Unknown key, malformed bodies.
	if code, _, _ := s.sign(t, "tz1b9kV41KV9N3sp69ycLdSoZ2Ak8jXwtNPv", tzBlock(tzMainnet, 1000, 0), ""); code != 404 {
		t.Fatalf("unknown key: %d", code)
	}
	for name, body := range map[string]string{
		"odd hex": `"123"`, "not hex": `"zz"`, "empty": `""`, "no body": ``, "not a string": `{"a":1}`,
		"unknown magic": `"05010203"`, "truncated block": `"` + tzBlockTemplate[:100] + `"`,
	} {
		code, _, _ := s.tzPost(t, tz1, body, "")
		if code != 400 && !(name == "unknown magic" && code == 403) {
			t.Fatalf("%s: %d", name, code)
		}
	}
	if code, _, _ := s.tzPost(t, tz1, `"`+strings.Repeat("00", 200_000)+`"`, ""); code != 413 {
		t.Fatalf("oversized body: %d", code)
	}
	if code, _, _ := s.tzPost(t, "tz5nope", `"11"`, ""); code != 400 {
		t.Fatalf("bad pkh: %d", code)
	}
	// Racing different payloads at one level and round: exactly one is signed.
	var wg sync.WaitGroup
	var mu sync.Mutex
	signed := map[string]bool{}
	for i := range 16 {
		wg.Go(func() {
			code, sig, _ := s.sign(t, s.pkhs[1], tzConsensus(tezos.MagicPreattestation, false, tzMainnet, 500, 0, byte(i%4)), "")
			if code == 200 {
				mu.Lock()
				signed[sig] = true
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if len(signed) != 1 {
		t.Fatalf("%d distinct signatures at one level and round", len(signed))
	}
	// Metrics count Tezos requests by kind and outcome.
	resp, _ = http.Get(s.url + "/metrics")
	mb, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !bytes.Contains(mb, []byte(`keyward_tezos_requests_total{endpoint="sign",kind="block",outcome="watermark"}`)) {
		t.Fatal("metrics: no Tezos watermark refusals counted")
	}
}

// TestTezosAuthentication_Inv4: with authorized keys configured, a request without an
// authentication signature, or with one by another key or over other bytes, is refused
// by the core (403); a correct one is signed. known_keys and prove possession are served
// when enabled.
func TestTezosAuthentication_Inv4(t *testing.T) {
	// The client's key: Taquito's test key tz1b9kV41KV9N3sp69ycLdSoZ2Ak8jXwtNPv.
	const clientSK = "edsk4TjJWEszkHKono7XMnepVqwi37FrpbVt1KCsifJeAGimxheShG"
	const clientPK = "edpkuhmrbunxumoiVdQuxBZUPMmwkPt7yLtY5Qnua3VJVTLWr3vXXa"
	s := startTezosSigner(t, func(cfg string) string {
		cfg = strings.Replace(cfg, "authorized_keys = []", `authorized_keys = ["`+clientPK+`"]`, 1)
		cfg = strings.Replace(cfg, "allow_known_keys = false", "allow_known_keys = true", 1)
		return strings.Replace(cfg, "allow_prove_possession = false", "allow_prove_possession = true", 1)
	})
	_, seed, err := tezos.ParseSecretKey(clientSK, nil)
	if err != nil {
		t.Fatal(err)
	}
	priv := ed25519.NewKeyFromSeed(seed)
	authFor := func(pkh string, payload []byte, key ed25519.PrivateKey) string {
		h, _ := tezos.ParsePublicKeyHash(pkh)
		msg, _ := tezos.AuthenticationBytes(h, payload)
		d := blake2b.Sum256(msg)
		sig, _ := tezos.EncodeSignature(tezos.KeyKindEd25519, ed25519.Sign(key, d[:]))
		return "?authentication=" + url.QueryEscape(sig)
	}
	resp, _ := http.Get(s.tezURL + "/authorized_keys")
	var ak map[string][]string
	_ = json.NewDecoder(resp.Body).Decode(&ak)
	resp.Body.Close()
	if len(ak["authorized_keys"]) != 1 || ak["authorized_keys"][0] != "tz1b9kV41KV9N3sp69ycLdSoZ2Ak8jXwtNPv" {
		t.Fatalf("authorized_keys: %v", ak)
	}
	for i, pkh := range s.pkhs {
		bls := strings.HasPrefix(pkh, "tz4")
		p := tzConsensus(tezos.MagicPreattestation, bls, tzMainnet, 10, 0, 1)
		if code, _, msg := s.sign(t, pkh, p, ""); code != 403 || !strings.Contains(msg, "missing authentication") {
			t.Fatalf("%s: without authentication: %d %s", pkh, code, msg)
		}
		other := ed25519.NewKeyFromSeed(bytes.Repeat([]byte{byte(i + 1)}, 32))
		if code, _, msg := s.sign(t, pkh, p, authFor(pkh, p, other)); code != 403 || !strings.Contains(msg, "invalid authentication") {
			t.Fatalf("%s: another key's authentication: %d %s", pkh, code, msg)
		}
		if code, _, _ := s.sign(t, pkh, p, authFor(pkh, append([]byte{}, p[:len(p)-1]...), priv)); code != 403 {
			t.Fatalf("%s: authentication over other bytes: %d", pkh, code)
		}
		if code, _, _ := s.sign(t, pkh, p, "?authentication=edsignope"); code != 400 {
			t.Fatalf("%s: malformed authentication: %d", pkh, code)
		}
		code, sig, msg := s.sign(t, pkh, p, authFor(pkh, p, priv))
		if code != 200 {
			t.Fatalf("%s: authenticated: %d %s", pkh, code, msg)
		}
		s.verifyTz(t, pkh, p, sig)
	}
	var known map[string][]string
	resp, _ = http.Get(s.tezURL + "/known_keys")
	_ = json.NewDecoder(resp.Body).Decode(&known)
	resp.Body.Close()
	if len(known["known_keys"]) != 4 {
		t.Fatalf("known_keys: %v", known)
	}
	tz4 := s.pkhs[3]
	var pop map[string]string
	resp, _ = http.Get(s.tezURL + "/bls_prove_possession/" + tz4)
	_ = json.NewDecoder(resp.Body).Decode(&pop)
	resp.Body.Close()
	proof, err := tezos.ParseSignature(pop["bls_prove_possession"])
	if err != nil || !keys.VerifyPossession(s.pks[tz4], s.pks[tz4].Bytes(), proof.Raw) {
		t.Fatalf("proof of possession %v: %v", pop, err)
	}
	resp, _ = http.Get(s.tezURL + "/bls_prove_possession/" + s.pkhs[0])
	resp.Body.Close()
	if resp.StatusCode != 400 {
		t.Fatalf("proof of possession of a tz1 key: %d", resp.StatusCode)
	}
}
