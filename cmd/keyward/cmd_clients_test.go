package main

import (
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/keyward/keyward/internal/audit"
	"github.com/keyward/keyward/internal/gateway"
)

// TestClientsEndToEnd: clients add prints a token whose hash only is stored (0600); with
// the loopback client off, a request without the token gets 401, with it 200; a token
// scoped to another key gets 403; a removed token stops working after SIGHUP.
func TestClientsEndToEnd(t *testing.T) {
	var token, other string
	s := startSignerWith(t, 2, func(dir string) []string {
		token = strings.TrimSpace(run(t, "clients", "add", "--dir", dir, "--name", "vc", "--operations", "ATTESTATION"))
		other = strings.TrimSpace(run(t, "clients", "add", "--dir", dir, "--name", "other", "--keys", "0x00*"))
		run(t, "clients", "loopback", "--dir", dir, "--off")
		return nil
	}, nil)
	p := filepath.Join(s.dir, gateway.ClientsFile)
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	if fi, _ := os.Stat(p); fi.Mode().Perm() != 0o600 || strings.Contains(string(b), token) || !strings.HasPrefix(token, "kw1_") {
		t.Fatalf("clients.toml %v:\n%s", fi.Mode(), b)
	}
	list := run(t, "clients", "list", "--dir", s.dir)
	if !strings.Contains(list, "loopback\toff") || !strings.Contains(list, "vc\tkeys=*\toperations=ATTESTATION") {
		t.Fatalf("list:\n%s", list)
	}
	post := func(tok string) int {
		req, _ := http.NewRequest(http.MethodPost, s.url+"/api/v1/eth2/sign/"+s.keysWith(token)[0], strings.NewReader(attestation(100, 101, 1, "")))
		req.Header.Set("Content-Type", "application/json")
		if tok != "" {
			req.Header.Set("Authorization", "Bearer "+tok)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if c := post(""); c != 401 {
		t.Fatalf("no token from loopback with loopback off: %d", c)
	}
	if c := post(token); c != 200 {
		t.Fatalf("with the token: %d", c)
	}
	if c := post(other); c != 403 {
		t.Fatalf("token scoped to other keys: %d", c)
	}
	run(t, "clients", "remove", "--dir", s.dir, "--name", "other")
	if list := run(t, "clients", "list", "--dir", s.dir); strings.Contains(list, "other") {
		t.Fatalf("removed client listed:\n%s", list)
	}
	// SIGHUP to keyward run reloads clients.toml: the removed token stops working.
	if err := s.cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for post(other) != 401 {
		if time.Now().After(deadline) {
			t.Fatal("removed token still accepted after SIGHUP")
		}
		time.Sleep(20 * time.Millisecond)
	}
	if c := post(token); c != 200 {
		t.Fatalf("the remaining token after the reload: %d", c)
	}
	// The gateway's refusals are in the core's audit trail, marked as the gateway's.
	var trail string
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		b, _ := os.ReadFile(filepath.Join(s.dir, audit.FileName))
		trail = string(b)
		if strings.Contains(trail, `"reason":"401: authentication required`) && strings.Contains(trail, `"reason":"403: client other may not use key`) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("gateway refusals not in the audit trail:\n%s", trail)
		}
	}
	if !strings.Contains(trail, `"origin":"gateway","remote":"127.0.0.1:`) {
		t.Fatalf("gateway refusal without its origin and source address:\n%s", trail)
	}
	if out := run(t, "audit", "verify", "--dir", s.dir); !strings.Contains(out, "ok: ") {
		t.Fatalf("audit verify: %s", out)
	}
}

// keysWith lists the public keys with a bearer token.
func (s *signer) keysWith(token string) []string {
	req, _ := http.NewRequest(http.MethodGet, s.url+"/api/v1/eth2/publicKeys", nil)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		s.t.Fatal(err)
	}
	defer resp.Body.Close()
	var ks []string
	if err := jsonDecode(resp, &ks); err != nil || len(ks) == 0 {
		s.t.Fatalf("publicKeys: %d %v", resp.StatusCode, err)
	}
	return ks
}

func jsonDecode(resp *http.Response, v any) error { return json.NewDecoder(resp.Body).Decode(v) }
