package deploy

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// buildKeyward builds the keyward binary once for the install tests.
func buildKeyward(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "keyward")
	cmd := exec.Command("go", "build", "-o", bin, "../cmd/keyward")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

func runScript(t *testing.T, script string, args ...string) string {
	t.Helper()
	out, err := exec.Command("sh", append([]string{script}, args...)...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s %q: %v\n%s", script, args, err, out)
	}
	return string(out)
}

func wantMode(t *testing.T, path string, want os.FileMode) {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Errorf("%v", err)
		return
	}
	if got := fi.Mode().Perm(); got != want {
		t.Errorf("%s: mode %#o, want %#o", path, got, want)
	}
}

// TestInstall_DestDir installs both layouts into a temporary root and checks the modes, that
// a second run overwrites no secret, and that uninstall keeps state and secrets.
func TestInstall_DestDir(t *testing.T) {
	bin := buildKeyward(t)
	t.Run("two-user", func(t *testing.T) {
		root := t.TempDir()
		out := runScript(t, "install.sh", "--binary", bin, "--destdir", root, "--network", "mainnet")
		if !strings.Contains(out, "not creating user keyward-core") {
			t.Errorf("staged install created users? %s", out)
		}
		wantMode(t, filepath.Join(root, "usr/local/bin/keyward"), 0o755)
		for _, u := range []string{"keyward-core.socket", "keyward-core.service", "keyward-gateway.service"} {
			wantMode(t, filepath.Join(root, "etc/systemd/system", u), 0o644)
		}
		if _, err := os.Stat(filepath.Join(root, "etc/systemd/system/keyward.service")); err == nil {
			t.Error("two-user layout installed keyward.service")
		}
		for _, d := range []string{"etc/keyward", "etc/keyward/core", "var/lib/keyward-core", "var/lib/keyward-gateway"} {
			wantMode(t, filepath.Join(root, d), 0o700)
		}
		for _, f := range []string{"keyward.toml", "keymanager.token"} {
			wantMode(t, filepath.Join(root, "var/lib/keyward-gateway", f), 0o600)
		}
		if _, err := os.Stat(filepath.Join(root, "var/lib/keyward-core/keymanager.token")); err == nil {
			t.Error("the Keymanager token stayed in the core's directory")
		}
		token, _ := os.ReadFile(filepath.Join(root, "var/lib/keyward-gateway/keymanager.token"))
		// The master key stays in the state directory until --move-master-key.
		stateKey := filepath.Join(root, "var/lib/keyward-core/master.key")
		wantMode(t, stateKey, 0o600)
		key, err := os.ReadFile(stateKey)
		if err != nil || len(key) != 32 {
			t.Fatalf("master key: %d bytes, %v", len(key), err)
		}
		runScript(t, "install.sh", "--binary", bin, "--destdir", root, "--move-master-key")
		cred := filepath.Join(root, "etc/keyward/core/master.key")
		wantMode(t, cred, 0o600)
		if before, _ := os.ReadFile(cred); !bytes.Equal(before, key) {
			t.Error("the credential is not the master key")
		}
		if _, err := os.Stat(stateKey); err == nil {
			t.Error("the master key stayed in the state directory")
		}
		toml, _ := os.ReadFile(filepath.Join(root, "var/lib/keyward-core/keyward.toml"))
		if !bytes.Contains(toml, []byte("master_key = '/run/credentials/keyward-core.service/master.key'")) {
			t.Errorf("keyward.toml does not name the credential:\n%s", toml)
		}
		before := key
		os.Chmod(filepath.Join(root, "var/lib/keyward-core"), 0o755) // tightened again

		runScript(t, "install.sh", "--binary", bin, "--destdir", root, "--network", "mainnet", "--move-master-key")
		wantMode(t, filepath.Join(root, "var/lib/keyward-core"), 0o700)
		if after, _ := os.ReadFile(cred); !bytes.Equal(before, after) {
			t.Error("second install changed the master key")
		}
		if after, _ := os.ReadFile(filepath.Join(root, "var/lib/keyward-gateway/keymanager.token")); !bytes.Equal(token, after) {
			t.Error("second install changed the Keymanager token")
		}
		if _, err := os.Stat(filepath.Join(root, "var/lib/keyward-core/keymanager.token")); err == nil {
			t.Error("second install re-created a Keymanager token in the core's directory")
		}

		out = runScript(t, "uninstall.sh", "--destdir", root)
		if _, err := os.Stat(filepath.Join(root, "usr/local/bin/keyward")); err == nil {
			t.Error("uninstall kept the binary")
		}
		if _, err := os.Stat(filepath.Join(root, "etc/systemd/system/keyward-core.service")); err == nil {
			t.Error("uninstall kept a unit")
		}
		for _, p := range []string{cred, filepath.Join(root, "var/lib/keyward-core/keys.db")} {
			if _, err := os.Stat(p); err != nil {
				t.Errorf("uninstall removed a secret: %v", err)
			}
		}
		if !strings.Contains(out, "var/lib/keyward-core") {
			t.Errorf("uninstall does not name the kept state: %s", out)
		}
	})
	t.Run("single", func(t *testing.T) {
		root := t.TempDir()
		runScript(t, "install.sh", "--binary", bin, "--destdir", root, "--layout", "single", "--prefix", "/opt/keyward")
		wantMode(t, filepath.Join(root, "opt/keyward/bin/keyward"), 0o755)
		u, err := os.ReadFile(filepath.Join(root, "etc/systemd/system/keyward.service"))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Contains(u, []byte("ExecStart=/opt/keyward/bin/keyward run")) {
			t.Error("prefix not written into ExecStart")
		}
		wantMode(t, filepath.Join(root, "var/lib/keyward"), 0o700)
	})
}

// TestInstall_Shellcheck: the scripts are shellcheck-clean.
func TestInstall_Shellcheck(t *testing.T) {
	sc, err := exec.LookPath("shellcheck")
	if err != nil {
		t.Skip("SKIPPED: shellcheck is not installed (apt-get install shellcheck); the scripts were not linted")
	}
	if out, err := exec.Command(sc, "install.sh", "uninstall.sh").CombinedOutput(); err != nil {
		t.Fatalf("shellcheck: %v\n%s", err, out)
	}
}
