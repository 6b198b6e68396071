package main

import (
	"bytes"
	"crypto/x509"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	pkcs12 "software.sslmate.com/src/go-pkcs12"

	"github.com/keyward/keyward/internal/config"
	"github.com/keyward/keyward/internal/gateway"
)

// TestTLSInit: tls init creates the CA, server and client certificates with 0600 keys,
// PKCS#12 bundles that open with their password files, clients.toml entries pinned to
// the certificates and [tls] in keyward.toml; run again it overwrites nothing and issues
// a new client from the same CA.
func TestTLSInit(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "state")
	if err := ensurePrivateDir(dir); err != nil {
		t.Fatal(err)
	}
	b, err := config.Marshal(config.Default())
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, config.FileName), b, 0o600); err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	o := tlsInitOptions{dir: dir, hosts: []string{"signer.lan", "10.0.0.5"}, clients: []string{"lighthouse", "teku"}, keys: []string{"*"}, ops: []string{"ATTESTATION"}, now: now}
	if _, err := tlsInit(o); err != nil {
		t.Fatal(err)
	}
	td := filepath.Join(dir, "tls")
	for _, p := range []string{"ca.key", "server.key", "clients/lighthouse.key", "clients/teku.key", "clients/teku.p12", "clients/teku.p12.password", "ca-truststore.p12.password"} {
		fi, err := os.Stat(filepath.Join(td, p))
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm() != 0o600 {
			t.Errorf("%s: mode %v", p, fi.Mode().Perm())
		}
	}
	cfg, err := config.Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	files := tlsFilesOf(dir, cfg.TLS)
	if files == nil || !cfg.TLS.ClientAuth() {
		t.Fatalf("[tls] not set: %+v", cfg.TLS)
	}
	if _, err := gateway.LoadTLS(*files); err != nil {
		t.Fatal(err)
	}
	pw, err := os.ReadFile(filepath.Join(td, "clients/teku.p12.password"))
	if err != nil {
		t.Fatal(err)
	}
	p12, err := os.ReadFile(filepath.Join(td, "clients/teku.p12"))
	if err != nil {
		t.Fatal(err)
	}
	_, leaf, chain, err := pkcs12.DecodeChain(p12, strings.TrimSpace(string(pw)))
	if err != nil || leaf.Subject.CommonName != "teku" || len(chain) != 1 {
		t.Fatalf("PKCS#12: %v", err)
	}
	roots := x509.NewCertPool()
	roots.AddCert(chain[0])
	if _, err := leaf.Verify(x509.VerifyOptions{Roots: roots, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}); err != nil {
		t.Fatal(err)
	}
	srvPEM, _ := os.ReadFile(filepath.Join(td, "server.pem"))
	if !bytes.Contains(srvPEM, []byte("CERTIFICATE")) {
		t.Fatal("server.pem")
	}
	clients, err := gateway.LoadClients(dir)
	if err != nil {
		t.Fatal(err)
	}
	if e := clients.Clients["teku"]; e.CertSHA256 != gateway.Fingerprint(leaf.Raw) || e.Operations[0] != "ATTESTATION" {
		t.Fatalf("clients.toml entry: %+v", e)
	}

	// Again, with one more client: nothing existing changes.
	before := map[string][]byte{}
	for _, p := range []string{"ca.key", "ca.pem", "server.key", "server.pem", "clients/teku.p12", "clients/teku.key"} {
		before[p], _ = os.ReadFile(filepath.Join(td, p))
	}
	o.clients = []string{"teku", "prysm"}
	res, err := tlsInit(o)
	if err != nil {
		t.Fatal(err)
	}
	for p, b := range before {
		if now, _ := os.ReadFile(filepath.Join(td, p)); !bytes.Equal(now, b) {
			t.Errorf("%s was rewritten", p)
		}
	}
	for _, c := range res.created {
		if strings.Contains(c, "teku") || strings.Contains(c, "server") || strings.Contains(c, "ca.") {
			t.Errorf("created again: %s", c)
		}
	}
	ca, err := loadIssued(filepath.Join(td, "ca.pem"), filepath.Join(td, "ca.key"))
	if err != nil {
		t.Fatal(err)
	}
	prysm, err := loadIssued(filepath.Join(td, "clients/prysm.pem"), filepath.Join(td, "clients/prysm.key"))
	if err != nil {
		t.Fatal(err)
	}
	if err := prysm.Cert.CheckSignatureFrom(ca.Cert); err != nil {
		t.Fatalf("new client not from the same CA: %v", err)
	}
	// A file in the way is never replaced.
	if err := writeNewMode(filepath.Join(td, "ca.pem"), []byte("x"), 0o644); err == nil {
		t.Fatal("writeNewMode overwrote a file")
	}
}
