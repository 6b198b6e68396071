package main

import (
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/keyward/keyward/internal/eth"
	"github.com/keyward/keyward/internal/protect"
)

// TestSlashingCommands walks import, status, export, brake and the refusals of the
// slashing subcommands against a fresh state directory.
func TestSlashingCommands(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "state")
	run(t, "init", "--dir", dir, "--network", "hoodi")
	n, err := eth.BuiltinNetwork("hoodi")
	if err != nil {
		t.Fatal(err)
	}
	gvr := "0x" + hex.EncodeToString(n.GenesisValidatorsRoot[:])
	pub := "0x" + strings.Repeat("ab", 48)
	ic := `{"metadata":{"interchange_format_version":"5","genesis_validators_root":"` + gvr + `"},
	  "data":[{"pubkey":"` + pub + `","signed_blocks":[{"slot":"100"}],"signed_attestations":[{"source_epoch":"2","target_epoch":"3"}]}]}`
	icFile := filepath.Join(t.TempDir(), "in.json")
	os.WriteFile(icFile, []byte(ic), 0o600)

	out, _, code := keyward(t, "slashing", "import", "--dir", dir, icFile)
	if code != 0 || !strings.Contains(out, pub[2:]) || !strings.Contains(out, "blocks: 1 added") || !strings.Contains(out, "watermarks: none -> (slot 100, source 2 target 3)") {
		t.Fatalf("import: exit %d\n%s", code, out)
	}
	// The file may also come first; importing again changes nothing.
	out, _, code = keyward(t, "slashing", "import", icFile, "--dir", dir)
	if code != 0 || !strings.Contains(out, "1 known") || strings.Contains(out, "watermarks:") {
		t.Fatalf("second import: exit %d\n%s", code, out)
	}
	if out, _, _ := keyward(t, "slashing", "status", "--dir", dir); !strings.Contains(out, "keys                     1") || !strings.Contains(out, "brake                    off") {
		t.Fatalf("status:\n%s", out)
	}

	// Another network: refused, nothing imported.
	bad := filepath.Join(t.TempDir(), "bad.json")
	os.WriteFile(bad, []byte(strings.Replace(ic, gvr, "0x"+strings.Repeat("00", 32), 1)), 0o600)
	if _, errOut, code := keyward(t, "slashing", "import", "--dir", dir, bad); code != 1 || !strings.Contains(errOut, "nothing imported") || !strings.Contains(errOut, "another network") {
		t.Fatalf("wrong network: exit %d\n%s", code, errOut)
	}

	exp := filepath.Join(t.TempDir(), "out.json")
	if _, errOut, code := keyward(t, "slashing", "export", "--dir", dir, "--out", exp); code != 0 {
		t.Fatalf("export: exit %d\n%s", code, errOut)
	}
	if b, _ := os.ReadFile(exp); !strings.Contains(string(b), pub) || !strings.Contains(string(b), `"slot": "100"`) {
		t.Fatalf("export:\n%s", b)
	}
	if _, _, code := keyward(t, "slashing", "export", "--dir", dir, "--out", exp); code != 1 {
		t.Fatalf("export over an existing file: exit %d", code)
	}
	if out, _, code := keyward(t, "slashing", "export", "--dir", dir, "--pubkeys", "0x"+strings.Repeat("cd", 48)); code != 0 || strings.Contains(out, "pubkey") {
		t.Fatalf("export of an unknown key: exit %d\n%s", code, out)
	}

	if out, _, code := keyward(t, "slashing", "brake", "--dir", dir, "--epoch", "10"); code != 0 || !strings.Contains(out, "slot 320") {
		t.Fatalf("brake: exit %d\n%s", code, out)
	}
	if out, _, _ := keyward(t, "slashing", "status", "--dir", dir); !strings.Contains(out, "epoch 10 (slot 320)") {
		t.Fatalf("status with brake:\n%s", out)
	}
	if _, _, code := keyward(t, "slashing", "brake", "--dir", dir); code != 1 {
		t.Fatalf("brake without --epoch or --lift: exit %d", code)
	}
	if out, _, code := keyward(t, "slashing", "brake", "--dir", dir, "--lift"); code != 0 || !strings.Contains(out, "lifted") {
		t.Fatalf("lift: exit %d\n%s", code, out)
	}

	// A running signer holds the lock: the command says to stop it.
	st, err := protect.Open(filepath.Join(dir, "protection.db"), protect.Options{GenesisValidatorsRoot: n.GenesisValidatorsRoot})
	if err != nil {
		t.Fatal(err)
	}
	_, errOut, code := keyward(t, "slashing", "status", "--dir", dir)
	st.Close()
	if code != 1 || !strings.Contains(errOut, "stop keyward first") {
		t.Fatalf("locked: exit %d\n%s", code, errOut)
	}
	if out, _, code := keyward(t, "help", "slashing"); code != 0 || !strings.Contains(out, "Examples") {
		t.Fatalf("help: exit %d\n%s", code, out)
	}
}
