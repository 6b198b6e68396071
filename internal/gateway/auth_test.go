package gateway

import (
	"context"
	"encoding/hex"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/keyward/keyward/internal/tezos"
	"github.com/keyward/keyward/internal/wire"
)

// fakeCore signs everything and remembers the client name it was given.
type fakeCore struct {
	bls     [][48]byte
	client  string
	reports chan wire.GatewayRefusal // refusals the gateway reported; nil: not kept
}

func (f *fakeCore) ReportRefusal(r *wire.GatewayRefusal) error {
	if f.reports != nil {
		f.reports <- *r
	}
	return nil
}

func (f *fakeCore) EthSign(_ context.Context, r *wire.EthSignRequest) (*wire.SignResult, error) {
	f.client = r.Client
	return &wire.SignResult{}, nil
}
func (f *fakeCore) ListKeys(context.Context) (*wire.KeyList, error) {
	return &wire.KeyList{BLS: f.bls}, nil
}
func (f *fakeCore) Status(context.Context) (*wire.Status, error) {
	return &wire.Status{Ready: true}, nil
}
func (f *fakeCore) TezosSign(_ context.Context, r *wire.TezosSignRequest) (*wire.TezosSignResult, error) {
	f.client = r.Client
	return &wire.TezosSignResult{Kind: tezos.KeyKindEd25519, Signature: make([]byte, 64)}, nil
}
func (f *fakeCore) TezosPublicKey(context.Context, tezos.PublicKeyHash) (*wire.TezosPublicKeyResult, error) {
	pk, err := tezos.NewPublicKey(tezos.KeyKindEd25519, make([]byte, 32))
	return &wire.TezosPublicKeyResult{PublicKey: pk}, err
}
func (f *fakeCore) TezosKnownKeys(context.Context) (*wire.TezosKeyList, error) {
	return &wire.TezosKeyList{}, nil
}
func (f *fakeCore) TezosAuthorizedKeys(context.Context) (*wire.TezosAuthorizedKeys, error) {
	return &wire.TezosAuthorizedKeys{}, nil
}
func (f *fakeCore) TezosProvePossession(context.Context, *wire.TezosProvePossession) (*wire.TezosSignResult, error) {
	return nil, wire.Errorf(wire.KindPolicy, "no")
}

var (
	keyA = "0x" + strings.Repeat("aa", 48)
	keyB = "0x" + strings.Repeat("bb", 48)
	pkhA = tezos.PublicKeyHash{Kind: tezos.KeyKindEd25519, Hash: [20]byte{1}}.String()
	pkhB = tezos.PublicKeyHash{Kind: tezos.KeyKindEd25519, Hash: [20]byte{2}}.String()
)

const gvr = "0x4b363db94e286120d76eb905340fdd4e54bfe9f06bf33ff6cf5ad27f511bfe95"

var forkInfo = `"fork_info":{"fork":{"previous_version":"0x05000000","current_version":"0x06000000","epoch":"411392"},"genesis_validators_root":"` + gvr + `"}`

var attestationBody = `{"type":"ATTESTATION",` + forkInfo + `,"attestation":{"slot":"13164576","index":"0","beacon_block_root":"0x` + strings.Repeat("00", 32) +
	`","source":{"epoch":"411490","root":"0x` + strings.Repeat("00", 32) + `"},"target":{"epoch":"411491","root":"0x` + strings.Repeat("00", 32) + `"}}}`

var aggregationSlotBody = `{"type":"AGGREGATION_SLOT",` + forkInfo + `,"aggregation_slot":{"slot":"13164576"}}`

// newAuthServer builds a server with clients: "validator" (key A, attestations only),
// "baker" (tz1 A, consensus only) and the loopback client of c.
func newAuthServer(t *testing.T, loopback bool) (*Server, *fakeCore, map[string]string) {
	t.Helper()
	c := &Clients{Clients: map[string]ClientEntry{}}
	if loopback {
		c.Loopback = &LoopbackClient{Keys: []string{"*"}, Operations: []string{"*"}}
	}
	tokens := map[string]string{}
	for name, e := range map[string]ClientEntry{
		"validator": {Keys: []string{keyA}, Operations: []string{"ATTESTATION"}},
		"baker":     {Keys: []string{pkhA}, Operations: []string{"tezos:preattestation", "tezos:attestation"}},
		"all":       {Keys: []string{"*"}, Operations: []string{"*"}},
	} {
		tok, hash, err := NewToken()
		if err != nil {
			t.Fatal(err)
		}
		e.TokenSHA256 = hash
		c.Clients[name] = e
		tokens[name] = tok
	}
	var a, b [48]byte
	hex.Decode(a[:], []byte(keyA[2:]))
	hex.Decode(b[:], []byte(keyB[2:]))
	core := &fakeCore{bls: [][48]byte{a, b}}
	s, err := New(Options{Core: core, Log: slog.New(slog.DiscardHandler), MaxBodyBytes: 1 << 20, MaxInFlight: 8, Timeout: time.Second, Clients: c})
	if err != nil {
		t.Fatal(err)
	}
	return s, core, tokens
}

func do(h http.Handler, method, path, body, remote, token string, hdr ...string) *httptest.ResponseRecorder {
	r := httptest.NewRequest(method, path, strings.NewReader(body))
	r.RemoteAddr = remote
	if token != "" {
		r.Header.Set("Authorization", "Bearer "+token)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		r.Header.Set(hdr[i], hdr[i+1])
	}
	r.Header.Set("Accept", "application/json")
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w
}

const (
	remote   = "192.0.2.7:40000"
	loopback = "127.0.0.1:40000"
	loop6    = "[::1]:40000"
)

// TestAuth_HostileClients: each hostile case of issue 5 that the gateway decides gets the
// right status and reason.
func TestAuth_HostileClients(t *testing.T) {
	s, core, tok := newAuthServer(t, true)
	core.reports = make(chan wire.GatewayRefusal, 64)
	eth, tez := s.Handler(), s.TezosHandler()
	signA, signB := "/api/v1/eth2/sign/"+keyA, "/api/v1/eth2/sign/"+keyB
	tezBody := func(magic byte) string { return fmt.Sprintf("%q", fmt.Sprintf("%02x", magic)+strings.Repeat("00", 40)) }
	tests := []struct {
		name   string
		h      http.Handler
		method string
		path   string
		body   string
		remote string
		token  string
		hdr    []string
		code   int
		reason string
		client string
	}{
		{"no credentials from the network", eth, "POST", signA, attestationBody, remote, "", nil, 401, "authentication required", ""},
		{"a Host header does not make a loopback client", eth, "POST", signA, attestationBody, remote, "", []string{"Host", "localhost", "X-Forwarded-For", "127.0.0.1"}, 401, "authentication required", ""},
		{"no credentials from loopback", eth, "POST", signA, attestationBody, loopback, "", nil, 200, "", "loopback"},
		{"no credentials from ::1", eth, "POST", signA, attestationBody, loop6, "", nil, 200, "", "loopback"},
		{"a wrong token, even from loopback", eth, "POST", signA, attestationBody, loopback, "kw1_wrong", nil, 401, "authentication required", ""},
		{"not a bearer scheme", eth, "POST", signA, attestationBody, remote, "", []string{"Authorization", "Basic " + tok["all"]}, 401, "authentication required", ""},
		{"the token, from the network", eth, "POST", signA, attestationBody, remote, tok["validator"], nil, 200, "", "validator"},
		{"a token for key A used on key B", eth, "POST", signB, attestationBody, remote, tok["validator"], nil, 403, "may not use key " + keyB, ""},
		{"the key scope is checked before the body is read", eth, "POST", signB, "{not json", remote, tok["validator"], nil, 403, "may not use key", ""},
		{"tezos: prove possession of another key", tez, "GET", "/bls_prove_possession/" + pkhB, "", remote, tok["baker"], nil, 403, "may not use key", ""},
		{"a client scoped to attestations asks for another type", eth, "POST", signA, aggregationSlotBody, remote, tok["validator"], nil, 403, "may not ask for AGGREGATION_SLOT", ""},
		{"the public keys need credentials", eth, "GET", "/api/v1/eth2/publicKeys", "", remote, "", nil, 401, "", ""},
		{"tezos: no credentials from the network", tez, "POST", "/keys/" + pkhA, tezBody(0x13), remote, "", nil, 401, "authentication required", ""},
		{"tezos: the baker's token", tez, "POST", "/keys/" + pkhA, tezBody(0x13), remote, tok["baker"], nil, 200, "", "baker"},
		{"tezos: a token for key A used on key B", tez, "POST", "/keys/" + pkhB, tezBody(0x13), remote, tok["baker"], nil, 403, "may not use key " + pkhB, ""},
		{"tezos: a baker scoped to consensus asks for a block", tez, "POST", "/keys/" + pkhA, tezBody(0x11), remote, tok["baker"], nil, 403, "may not ask for tezos:block", ""},
		{"tezos: a baker asks for a transfer", tez, "POST", "/keys/" + pkhA, tezBody(0x03), remote, tok["baker"], nil, 403, "may not ask for tezos:generic", ""},
		{"tezos: public key of another key", tez, "GET", "/keys/" + pkhB, "", remote, tok["baker"], nil, 403, "may not use key", ""},
		{"health stays open", eth, "GET", "/upcheck", "", remote, "", nil, 200, "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			core.client = ""
			w := do(tt.h, tt.method, tt.path, tt.body, tt.remote, tt.token, tt.hdr...)
			if w.Code != tt.code || !strings.Contains(w.Body.String(), tt.reason) {
				t.Fatalf("%d %s, want %d %q", w.Code, w.Body.String(), tt.code, tt.reason)
			}
			if tt.code == 401 && w.Header().Get("WWW-Authenticate") == "" {
				t.Fatal("401 without WWW-Authenticate")
			}
			if core.client != tt.client {
				t.Fatalf("core got client %q, want %q", core.client, tt.client)
			}
			if tt.code == 401 || tt.code == 403 { // every refusal reaches the core's audit trail
				wantReport(t, core.reports, tt.code, tt.remote, tt.reason)
			}
		})
	}
	// No other request was reported: the next report is the next refusal.
	do(eth, "POST", signA, attestationBody, "198.51.100.1:1", "", nil...)
	wantReport(t, core.reports, 401, "198.51.100.1:1", "authentication required")
	// A client sees only its keys.
	w := do(eth, "GET", "/api/v1/eth2/publicKeys", "", remote, tok["validator"])
	if w.Code != 200 || strings.TrimSpace(w.Body.String()) != `["`+keyA+`"]` {
		t.Fatalf("publicKeys for validator: %d %s", w.Code, w.Body.String())
	}
}

// wantReport waits for the gateway's report of a refusal and checks it.
func wantReport(t *testing.T, reports <-chan wire.GatewayRefusal, code int, remote, reason string) {
	t.Helper()
	select {
	case r := <-reports:
		if int(r.Status) != code || r.Remote != remote || !strings.Contains(r.Reason, reason) || r.API == "" {
			t.Fatalf("reported %+v, want %d from %s (%q)", r, code, remote, reason)
		}
	case <-time.After(10 * time.Second):
		t.Fatalf("refusal %d %q not reported to the core", code, reason)
	}
}

// TestAuth_LoopbackOff: without a loopback client, loopback needs a token too.
func TestAuth_LoopbackOff(t *testing.T) {
	s, _, tok := newAuthServer(t, false)
	if w := do(s.Handler(), "POST", "/api/v1/eth2/sign/"+keyA, attestationBody, loopback, ""); w.Code != 401 {
		t.Fatalf("loopback without token: %d", w.Code)
	}
	if w := do(s.Handler(), "POST", "/api/v1/eth2/sign/"+keyA, attestationBody, loopback, tok["all"]); w.Code != 200 {
		t.Fatalf("loopback with token: %d %s", w.Code, w.Body.String())
	}
}

// TestClients_File: strict decoding, validation, and a round trip.
func TestClients_File(t *testing.T) {
	_, hash, err := NewToken()
	if err != nil {
		t.Fatal(err)
	}
	good := "[loopback]\nkeys = [\"*\"]\noperations = [\"ATTESTATION\"]\n[clients.vc]\ntoken_sha256 = \"" + hash + "\"\nkeys = [\"0xAB*\"]\noperations = [\"*\"]\n"
	c, err := ParseClients([]byte(good))
	if err != nil {
		t.Fatal(err)
	}
	b, err := c.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	if c2, err := ParseClients(b); err != nil || len(c2.Clients) != 1 || c2.Loopback == nil {
		t.Fatalf("round trip: %v\n%s", err, b)
	}
	for name, bad := range map[string]string{
		"unknown key":        "[clients.vc]\ntoken = \"x\"\n",
		"bad hash":           "[clients.vc]\ntoken_sha256 = \"abc\"\nkeys = [\"*\"]\noperations = [\"*\"]\n",
		"upper-case hash":    "[clients.vc]\ntoken_sha256 = \"" + strings.ToUpper(hash) + "\"\nkeys = [\"*\"]\noperations = [\"*\"]\n",
		"no keys":            "[clients.vc]\ntoken_sha256 = \"" + hash + "\"\noperations = [\"*\"]\n",
		"unknown operation":  "[clients.vc]\ntoken_sha256 = \"" + hash + "\"\nkeys = [\"*\"]\noperations = [\"SIGN_ANYTHING\"]\n",
		"star in the middle": "[clients.vc]\ntoken_sha256 = \"" + hash + "\"\nkeys = [\"0x*ab\"]\noperations = [\"*\"]\n",
		"bad name":           "[clients.\"Bad Name\"]\ntoken_sha256 = \"" + hash + "\"\nkeys = [\"*\"]\noperations = [\"*\"]\n",
	} {
		if _, err := ParseClients([]byte(bad)); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	if !matchKey("0xAB*", "0xabcd") || matchKey("0xab*", "0xcd") || !matchKey("*", "tz1x") || matchKey("tz1a", "tz1ab") {
		t.Fatal("matchKey")
	}
}

// TestAuth_RefusalReportFields: a scope refusal reaches the core with the client, key and
// operation; a 401 with the key from the path; a failure that came from the core is not
// reported by the gateway (the core records its own decisions).
func TestAuth_RefusalReportFields(t *testing.T) {
	s, core, tok := newAuthServer(t, false)
	core.reports = make(chan wire.GatewayRefusal, 8)
	do(s.Handler(), "POST", "/api/v1/eth2/sign/"+keyA, aggregationSlotBody, remote, tok["validator"])
	r := <-core.reports
	if r.Status != 403 || r.Client != "validator" || r.Key != keyA || r.Op != "AGGREGATION_SLOT" || r.API != "eth2" {
		t.Fatalf("scope refusal reported as %+v", r)
	}
	do(s.TezosHandler(), "POST", "/keys/"+pkhA, `"13"`, loopback, "")
	r = <-core.reports
	if r.Status != 401 || r.Client != "" || r.Key != pkhA || r.API != "tezos" || r.Remote != loopback {
		t.Fatalf("401 reported as %+v", r)
	}
	if w := do(s.TezosHandler(), "GET", "/bls_prove_possession/"+pkhA, "", remote, tok["all"]); w.Code < 403 {
		t.Fatalf("a failure of the core: %d", w.Code)
	}
	do(s.Handler(), "GET", "/api/v1/eth2/publicKeys", "", remote, "")
	if r = <-core.reports; r.Status != 401 || r.Key != "" {
		t.Fatalf("the core's own refusal was reported by the gateway, or the 401 is wrong: %+v", r)
	}
}
