package main

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/keyward/keyward/internal/policy"
)

// keyward runs the binary and returns stdout, stderr and the exit status.
func keyward(t *testing.T, args ...string) (string, string, int) {
	t.Helper()
	cmd := exec.Command(binary, args...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return out.String(), errb.String(), code
}

func TestHelpHasExamples(t *testing.T) {
	for _, c := range []string{"init", "run", "keys", "demo", "doctor", "version", "core", "migrate", "gateway", "audit", "clients", "approvals", "approve", "deny"} {
		out, errOut, code := keyward(t, "help", c)
		text := out + errOut
		if code != 0 {
			t.Errorf("help %s: exit %d", c, code)
		}
		if c != "version" && c != "core" && !strings.Contains(text, "Example") {
			t.Errorf("help %s has no example:\n%s", c, text)
		}
	}
	if _, _, code := keyward(t, "nonsense"); code != 2 {
		t.Errorf("unknown command: exit %d, want 2", code)
	}
}

// TestInitNeverOverwrites_Inv9: a second init keeps the master key and an edited
// policy.toml, refuses another network, and the files have private modes.
func TestInitNeverOverwrites_Inv9(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "state")
	run(t, "init", "--dir", dir, "--network", "hoodi")
	mk, err := os.ReadFile(filepath.Join(dir, "master.key"))
	if err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string]os.FileMode{".": 0o700, "master.key": 0o600, "keyward.toml": 0o600, "network.yaml": 0o600, "keys.db": 0o600, "policy.toml": 0o600} {
		fi, err := os.Stat(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm() != want {
			t.Errorf("%s: mode %#o, want %#o", name, fi.Mode().Perm(), want)
		}
	}
	pol := filepath.Join(dir, "policy.toml")
	if b, _ := os.ReadFile(pol); string(b) != policy.Template {
		t.Fatalf("init wrote policy.toml:\n%s", b)
	}
	os.WriteFile(pol, []byte("[eth.default]\nexit = \"approve\"\n"), 0o600)
	run(t, "init", "--dir", dir, "--network", "hoodi")
	if b, _ := os.ReadFile(pol); !strings.Contains(string(b), "approve") {
		t.Fatal("second init replaced an edited policy.toml")
	}
	mk2, _ := os.ReadFile(filepath.Join(dir, "master.key"))
	if !bytes.Equal(mk, mk2) {
		t.Fatal("second init replaced the master key")
	}
	_, errOut, code := keyward(t, "init", "--dir", dir, "--network", "mainnet")
	if code == 0 || !strings.Contains(errOut, "already pinned") {
		t.Fatalf("re-pinning to another network: exit %d, %q", code, errOut)
	}
	os.Chmod(filepath.Join(dir, "master.key"), 0o644)
	_, errOut, code = keyward(t, "keys", "list", "--dir", dir)
	if code == 0 || !strings.Contains(errOut, "chmod 600") {
		t.Fatalf("world-readable master key accepted: exit %d, %q", code, errOut)
	}
}

// TestKeysImportListDelete imports the EIP-2335 vectors through the CLI.
func TestKeysImportListDelete(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "state")
	run(t, "init", "--dir", dir)
	pw := filepath.Join(t.TempDir(), "password.txt")
	if err := os.WriteFile(pw, []byte("𝔱𝔢𝔰𝔱𝔭𝔞𝔰𝔰𝔴𝔬𝔯𝔡🔑\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	const pub = "0x9612d7a727c9d0a22e185a1c768478dfe919cada9266988cb32359c11f2b7b27f4ae4040902382ae2910c15e2b420d07"
	out, errOut, code := keyward(t, "keys", "import", "--dir", dir, "--keystores", "../../internal/keys/testdata/eip2335/pbkdf2.json", "--password-file", pw)
	if code != 0 || !strings.Contains(out, "imported") || !strings.Contains(out, pub) {
		t.Fatalf("import: exit %d\n%s\n%s", code, out, errOut)
	}
	out, _, code = keyward(t, "keys", "import", "--dir", dir, "--keystores", "../../internal/keys/testdata/eip2335/pbkdf2.json", "--password-file", pw)
	if code != 0 || !strings.Contains(out, "already present") {
		t.Fatalf("second import: exit %d\n%s", code, out)
	}
	bad := filepath.Join(t.TempDir(), "bad.txt")
	os.WriteFile(bad, []byte("wrong"), 0o600)
	out, _, code = keyward(t, "keys", "import", "--dir", t.TempDir(), "--keystores", "x", "--password-file", bad)
	if code == 0 {
		t.Fatalf("import into a directory without init succeeded:\n%s", out)
	}
	if out := run(t, "keys", "list", "--dir", dir); !strings.Contains(out, pub) || !strings.Contains(out, "imported") {
		t.Fatalf("list:\n%s", out)
	}
	// Inv 1: the secret (from the vector) never appears in any output.
	if strings.Contains(run(t, "keys", "list", "--dir", dir, "--json"), "19d6689c085ae165831e934ff763ae46a2a6c172b3f1b60a8ce26f") {
		t.Fatal("list prints the secret key")
	}
	run(t, "keys", "delete", "--dir", dir, pub)
	if out := run(t, "keys", "list", "--dir", dir); strings.Contains(out, pub) {
		t.Fatalf("deleted key still listed:\n%s", out)
	}
	if _, _, code := keyward(t, "keys", "delete", "--dir", dir, pub); code == 0 {
		t.Fatal("deleting a missing key succeeded")
	}
}

func TestDoctorCleanInit(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "state")
	run(t, "init", "--dir", dir)
	out, _, code := keyward(t, "doctor", "--dir", dir, "--offline")
	if code != 0 {
		t.Fatalf("doctor on a fresh init: exit %d\n%s", code, out)
	}
	os.Chmod(filepath.Join(dir, "master.key"), 0o640)
	out, _, code = keyward(t, "doctor", "--dir", dir, "--offline")
	if code != 1 || !strings.Contains(out, "chmod 600") {
		t.Fatalf("doctor with a readable master key: exit %d\n%s", code, out)
	}
}
