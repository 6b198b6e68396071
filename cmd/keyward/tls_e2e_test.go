package main

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/keyward/keyward/internal/tlsgen"
)

// TestTLSEndToEnd drives a real keyward run set up with `keyward tls init`: a client
// certificate from init signs (and the signature verifies); no certificate, a certificate
// from another CA and TLS 1.2 get no answer; a client scoped by init to another
// operation gets 403.
func TestTLSEndToEnd(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "state")
	run(t, "init", "--dir", dir, "--network", "mainnet", "--confinement", "full")
	run(t, "keys", "generate", "--dir", dir, "--count", "1")
	out := run(t, "tls", "init", "--dir", dir, "--client", "vc")
	if strings.Contains(out, mustRead(t, filepath.Join(dir, "tls/clients/vc.p12.password"))) {
		t.Fatal("tls init printed a password")
	}
	run(t, "tls", "init", "--dir", dir, "--client", "blocks-only", "--operations", "BLOCK_V2")

	addr := freeAddr(t)
	cmd := exec.Command(binary, "run", "--dir", dir, "--eth-listen", addr)
	var logs lockedBuffer
	cmd.Stdout, cmd.Stderr = &logs, &logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			_ = cmd.Process.Kill()
		}
		if t.Failed() {
			t.Logf("keyward output:\n%s", logs.String())
		}
	})

	ca, err := loadIssued(filepath.Join(dir, "tls/ca.pem"), filepath.Join(dir, "tls/ca.key"))
	if err != nil {
		t.Fatal(err)
	}
	client := func(name string, maxVersion uint16) *http.Client {
		roots := x509.NewCertPool()
		roots.AddCert(ca.Cert)
		cfg := &tls.Config{RootCAs: roots, MaxVersion: maxVersion}
		if name != "" {
			c, err := tls.LoadX509KeyPair(filepath.Join(dir, "tls/clients", name+".pem"), filepath.Join(dir, "tls/clients", name+".key"))
			if err != nil {
				t.Fatal(err)
			}
			cfg.Certificates = []tls.Certificate{c}
		}
		return &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: cfg, DisableKeepAlives: true}}
	}
	vc := client("vc", 0)
	base := "https://" + addr
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := vc.Get(base + "/upcheck")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				break
			}
		}
		select {
		case err := <-done:
			t.Fatalf("keyward exited during start-up: %v", err)
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatal("keyward did not come up over TLS in 30 s")
		}
	}

	var ks []string
	resp, err := vc.Get(base + "/api/v1/eth2/publicKeys")
	if err != nil {
		t.Fatal(err)
	}
	json.NewDecoder(resp.Body).Decode(&ks)
	resp.Body.Close()
	if len(ks) != 1 {
		t.Fatalf("publicKeys: %v", ks)
	}
	body := attestation(100, 101, 1, "")
	post := func(c *http.Client) (int, map[string]string, error) {
		req, _ := http.NewRequest(http.MethodPost, base+"/api/v1/eth2/sign/"+ks[0], strings.NewReader(body))
		req.Header.Set("Accept", "application/json")
		req.Header.Set("Content-Type", "application/json")
		resp, err := c.Do(req)
		if err != nil {
			return 0, nil, err
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		var m map[string]string
		_ = json.Unmarshal(b, &m)
		return resp.StatusCode, m, nil
	}
	code, m, err := post(vc)
	if err != nil || code != 200 {
		t.Fatalf("sign with vc's certificate: %d %v %v", code, m, err)
	}
	verify(t, ks[0], m["signature"], expectedRoot(t, body))
	if code, m, err := post(client("blocks-only", 0)); err != nil || code != 403 {
		t.Fatalf("out-of-scope client: %d %v %v", code, m, err)
	}

	// clients.toml reloaded on SIGHUP over TLS: blocks-only removed, its CA-issued
	// certificate then names no client (401).
	run(t, "clients", "remove", "--dir", dir, "--name", "blocks-only")
	if err := cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(10 * time.Second); ; {
		code, _, err := post(client("blocks-only", 0))
		if err == nil && code == 401 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("removed client after SIGHUP: %d %v", code, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if code, _, err := post(vc); err != nil || code != 200 {
		t.Fatalf("vc after reload: %d %v", code, err)
	}

	// Another CA's certificate claiming to be vc.
	other, _ := tlsgen.NewCA("other", time.Now())
	fake, _ := tlsgen.NewClient(other, "vc", time.Now())
	fd := filepath.Join(dir, "tls/clients")
	k, _ := fake.KeyPEM()
	os.WriteFile(filepath.Join(fd, "fake.pem"), fake.CertPEM(), 0o600)
	os.WriteFile(filepath.Join(fd, "fake.key"), k, 0o600)
	for name, c := range map[string]*http.Client{"no certificate": client("", 0), "other CA": client("fake", 0), "TLS 1.2": client("vc", tls.VersionTLS12)} {
		if code, _, err := post(c); err == nil {
			t.Errorf("%s: answered %d", name, code)
		}
	}
}

func mustRead(t *testing.T, p string) string {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return string(bytes.TrimSpace(b))
}
