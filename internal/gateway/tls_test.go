package gateway

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/keyward/keyward/internal/tlsgen"
)

type tlsFixture struct {
	dir            string
	ca, otherCA    *tlsgen.Issued
	vc, kc, pinned *tlsgen.Issued // vc: by the CA; kc: known_clients_file; pinned: cert_sha256
	stranger       *tlsgen.Issued // by another CA
	files          TLSFiles
}

func writeIssued(t *testing.T, dir, name string, i *tlsgen.Issued) (string, string) {
	t.Helper()
	k, err := i.KeyPEM()
	if err != nil {
		t.Fatal(err)
	}
	cp, kp := filepath.Join(dir, name+".pem"), filepath.Join(dir, name+".key")
	if err := os.WriteFile(cp, i.CertPEM(), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(kp, k, 0o600); err != nil {
		t.Fatal(err)
	}
	return cp, kp
}

func newTLSFixture(t *testing.T) *tlsFixture {
	t.Helper()
	now := time.Now()
	f := &tlsFixture{dir: t.TempDir()}
	must := func(i *tlsgen.Issued, err error) *tlsgen.Issued {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return i
	}
	f.ca = must(tlsgen.NewCA("test CA", now))
	f.otherCA = must(tlsgen.NewCA("other CA", now))
	srv := must(tlsgen.NewServer(f.ca, nil, now))
	f.vc = must(tlsgen.NewClient(f.ca, "vc", now))
	f.kc = must(tlsgen.NewClient(f.otherCA, "whatever-cn", now))
	f.pinned = must(tlsgen.NewClient(f.otherCA, "pinned", now))
	f.stranger = must(tlsgen.NewClient(f.otherCA, "vc", now)) // claims to be vc
	f.files.Cert, f.files.Key = writeIssued(t, f.dir, "server", srv)
	f.files.ClientCA, _ = writeIssued(t, f.dir, "ca", f.ca)
	f.files.KnownClients = filepath.Join(f.dir, "known_clients")
	known := "# name fingerprint\nkc " + Fingerprint(f.kc.Cert.Raw) + "\n"
	if err := os.WriteFile(f.files.KnownClients, []byte(known), 0o644); err != nil {
		t.Fatal(err)
	}
	return f
}

// serveTLS runs a server with m and the fixture's clients on a loopback port.
func (f *tlsFixture) serveTLS(t *testing.T, m *TLSMaterial) (*Server, *fakeCore, string) {
	t.Helper()
	c := &Clients{Loopback: &LoopbackClient{Keys: []string{"*"}, Operations: []string{"*"}}, Clients: map[string]ClientEntry{
		"vc":     {Keys: []string{"*"}, Operations: []string{"*"}},
		"kc":     {Keys: []string{keyA}, Operations: []string{"ATTESTATION"}},
		"pinned": {CertSHA256: Fingerprint(f.pinned.Cert.Raw), Keys: []string{keyB}, Operations: []string{"*"}},
	}}
	var a, b [48]byte
	hex.Decode(a[:], []byte(keyA[2:]))
	hex.Decode(b[:], []byte(keyB[2:]))
	core := &fakeCore{bls: [][48]byte{a, b}}
	s, err := New(Options{Core: core, Log: slog.New(slog.DiscardHandler), MaxBodyBytes: 1 << 20, MaxInFlight: 8, Timeout: 5 * time.Second, Clients: c, TLS: m})
	if err != nil {
		t.Fatal(err)
	}
	return s, core, "https://" + listen(t, s.Serve)
}

// httpsClient trusts the fixture's CA and presents cert (nil: none).
func (f *tlsFixture) httpsClient(cert *tlsgen.Issued, maxVersion uint16) *http.Client {
	roots := x509.NewCertPool()
	roots.AddCert(f.ca.Cert)
	cfg := &tls.Config{RootCAs: roots, MaxVersion: maxVersion}
	if cert != nil {
		cfg.Certificates = []tls.Certificate{{Certificate: [][]byte{cert.Cert.Raw}, PrivateKey: cert.Key}}
	}
	return &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{TLSClientConfig: cfg, DisableKeepAlives: true}}
}

func sign(t *testing.T, c *http.Client, base, key string) (int, string, error) {
	t.Helper()
	req, _ := http.NewRequest("POST", base+"/api/v1/eth2/sign/"+key, strings.NewReader(attestationBody))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	resp, err := c.Do(req)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), nil
}

// TestTLS_MutualAuth: over TLS 1.3 with client certificates required, a certificate from
// the client CA signs as the client of its CN; a known_clients_file fingerprint and a
// clients.toml cert_sha256 are accepted and scoped; no certificate, a certificate from
// another CA (even with a known client's CN) and TLS 1.2 fail the handshake.
func TestTLS_MutualAuth(t *testing.T) {
	f := newTLSFixture(t)
	m, err := LoadTLS(f.files)
	if err != nil {
		t.Fatal(err)
	}
	_, core, base := f.serveTLS(t, m)

	if code, body, err := sign(t, f.httpsClient(f.vc, 0), base, keyA); err != nil || code != 200 || core.client != "vc" {
		t.Fatalf("CA-issued client: %d %s %v (client %q)", code, body, err, core.client)
	}
	if code, body, err := sign(t, f.httpsClient(f.kc, 0), base, keyA); err != nil || code != 200 || core.client != "kc" {
		t.Fatalf("known client: %d %s %v (client %q)", code, body, err, core.client)
	}
	if code, body, err := sign(t, f.httpsClient(f.kc, 0), base, keyB); err != nil || code != 403 || !strings.Contains(body, "may not use key") {
		t.Fatalf("known client out of scope: %d %s %v", code, body, err)
	}
	if code, body, err := sign(t, f.httpsClient(f.pinned, 0), base, keyB); err != nil || code != 200 || core.client != "pinned" {
		t.Fatalf("pinned client: %d %s %v", code, body, err)
	}
	if code, _, err := sign(t, f.httpsClient(f.pinned, 0), base, keyA); err != nil || code != 403 {
		t.Fatalf("pinned client out of scope: %d %v", code, err)
	}
	for name, c := range map[string]*http.Client{
		"no certificate":          f.httpsClient(nil, 0),
		"certificate of other CA": f.httpsClient(f.stranger, 0),
		"TLS 1.2":                 f.httpsClient(f.vc, tls.VersionTLS12),
	} {
		code, body, err := sign(t, c, base, keyA)
		if err == nil {
			t.Errorf("%s: answered %d %s", name, code, body)
		}
		t.Logf("%s: %v", name, err)
	}
	// Plain HTTP to the TLS port gets no signature either.
	if code, _, err := sign(t, &http.Client{Timeout: 5 * time.Second}, "http"+strings.TrimPrefix(base, "https"), keyA); err == nil && code == 200 {
		t.Fatal("plain HTTP signed")
	}
}

// TestTLS_ServerOnly: with only a server certificate, TLS 1.3 carries the usual rules:
// the loopback client without a token, a token client with one.
func TestTLS_ServerOnly(t *testing.T) {
	f := newTLSFixture(t)
	m, err := LoadTLS(TLSFiles{Cert: f.files.Cert, Key: f.files.Key})
	if err != nil {
		t.Fatal(err)
	}
	_, core, base := f.serveTLS(t, m)
	if code, body, err := sign(t, f.httpsClient(nil, 0), base, keyA); err != nil || code != 200 || core.client != "loopback" {
		t.Fatalf("loopback over TLS: %d %s %v (client %q)", code, body, err, core.client)
	}
	if _, _, err := sign(t, f.httpsClient(nil, tls.VersionTLS12), base, keyA); err == nil {
		t.Fatal("TLS 1.2 accepted")
	}
}

// TestTLS_Reload: SetTLS with a known_clients_file that no longer lists a client refuses
// its next handshake; a key file readable by others is refused.
func TestTLS_Reload(t *testing.T) {
	f := newTLSFixture(t)
	m, err := LoadTLS(f.files)
	if err != nil {
		t.Fatal(err)
	}
	s, _, base := f.serveTLS(t, m)
	if code, _, err := sign(t, f.httpsClient(f.kc, 0), base, keyA); err != nil || code != 200 {
		t.Fatalf("before reload: %d %v", code, err)
	}
	if err := os.WriteFile(f.files.KnownClients, []byte("# nobody\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	m2, err := LoadTLS(f.files)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.SetTLS(m2); err != nil {
		t.Fatal(err)
	}
	if code, _, err := sign(t, f.httpsClient(f.kc, 0), base, keyA); err == nil {
		t.Fatalf("after reload: answered %d", code)
	}
	if code, _, err := sign(t, f.httpsClient(f.vc, 0), base, keyA); err != nil || code != 200 {
		t.Fatalf("CA client after reload: %d %v", code, err)
	}

	if err := os.Chmod(f.files.Key, 0o640); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadTLS(f.files); err == nil || !strings.Contains(err.Error(), "chmod 600") {
		t.Fatalf("key file 0640: %v", err)
	}
}

func TestKnownClientsFormat(t *testing.T) {
	fp := strings.Repeat("AB:", 31) + "AB"
	m, err := ParseKnownClients([]byte("\n# comment\nlighthouse " + fp + "\nteku " + strings.Repeat("cd", 32) + "\n"))
	if err != nil || len(m) != 2 {
		t.Fatalf("%v %v", m, err)
	}
	for _, bad := range []string{"lighthouse\n", "a " + fp + " extra\n", "a AB:CD\n", "a " + fp + "\nb " + fp + "\n"} {
		if _, err := ParseKnownClients([]byte(bad)); err == nil {
			t.Errorf("accepted %q", bad)
		}
	}
}

// TestTLS_Tezos: the Octez listener takes the same TLS: a client certificate gets the
// key of its scope, no certificate gets no answer.
func TestTLS_Tezos(t *testing.T) {
	f := newTLSFixture(t)
	m, err := LoadTLS(f.files)
	if err != nil {
		t.Fatal(err)
	}
	s, _, _ := f.serveTLS(t, m)
	url := "https://" + listen(t, s.ServeTezos) + "/keys/" + pkhA
	resp, err := f.httpsClient(f.vc, 0).Get(url)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("tezos public key over mTLS: %d", resp.StatusCode)
	}
	if _, err := f.httpsClient(nil, 0).Get(url); err == nil {
		t.Fatal("tezos without a client certificate answered")
	}
}

// TestClients_CertEntries: cert_sha256 takes both fingerprint forms; a malformed one and a
// certificate given to two clients are refused.
func TestClients_CertEntries(t *testing.T) {
	fp := strings.Repeat("ab", 32)
	ok := "[clients.a]\ncert_sha256 = \"" + fp + "\"\nkeys = [\"*\"]\noperations = [\"*\"]\n" +
		"[clients.b]\ncert_sha256 = \"" + strings.Repeat("CD:", 31) + "CD\"\nkeys = [\"*\"]\noperations = [\"*\"]\n"
	if _, err := ParseClients([]byte(ok)); err != nil {
		t.Fatal(err)
	}
	for name, bad := range map[string]string{
		"short":     "[clients.a]\ncert_sha256 = \"AB:CD\"\nkeys = [\"*\"]\noperations = [\"*\"]\n",
		"duplicate": "[clients.a]\ncert_sha256 = \"" + fp + "\"\nkeys = [\"*\"]\noperations = [\"*\"]\n[clients.b]\ncert_sha256 = \"" + strings.ToUpper(fp) + "\"\nkeys = [\"*\"]\noperations = [\"*\"]\n",
	} {
		if _, err := ParseClients([]byte(bad)); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}
