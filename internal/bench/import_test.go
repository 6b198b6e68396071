package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	keystorev4 "github.com/wealdtech/go-eth2-wallet-encryptor-keystorev4"
)

// TestEncryptKeystore: what the bench generates is a keystore another implementation
// (keystorev4) opens with KeystorePassword.
func TestEncryptKeystore(t *testing.T) {
	secret := bytes.Repeat([]byte{0}, 32)
	secret[31] = 42
	data, err := EncryptKeystore(secret, KeystorePassword, 16)
	if err != nil {
		t.Fatal(err)
	}
	var ks struct {
		Crypto  map[string]any `json:"crypto"`
		Pubkey  string         `json:"pubkey"`
		UUID    string         `json:"uuid"`
		Version int            `json:"version"`
	}
	if err := json.Unmarshal(data, &ks); err != nil {
		t.Fatal(err)
	}
	got, err := keystorev4.New().Decrypt(ks.Crypto, KeystorePassword)
	if err != nil || !bytes.Equal(got, secret) {
		t.Fatalf("keystorev4 decrypts to %x, %v", got, err)
	}
	if len(ks.Pubkey) != 96 || len(ks.UUID) != 36 || ks.UUID[14] != '4' || ks.Version != 4 {
		t.Fatalf("keystore %s", data)
	}
	if _, err := EncryptKeystore(make([]byte, 32), KeystorePassword, 16); err == nil {
		t.Fatal("zero secret accepted")
	}
}

// TestPrepareKeystoresReuses: a second call generates only what is missing, and a cache
// directory others can enter is refused.
func TestPrepareKeystoresReuses(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "cache")
	if g, r, err := PrepareKeystores(context.Background(), dir, 3, 16); err != nil || g != 3 || r != 0 {
		t.Fatalf("first: %d generated, %d reused, %v", g, r, err)
	}
	if g, r, err := PrepareKeystores(context.Background(), dir, 5, 16); err != nil || g != 2 || r != 3 {
		t.Fatalf("second: %d generated, %d reused, %v", g, r, err)
	}
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if _, _, err := PrepareKeystores(context.Background(), dir, 1, 16); err == nil {
		t.Fatal("a cache directory with mode 0755 accepted")
	}
}

// TestMeasureImport runs the measurement around a stand-in command that checks it was
// given the password file; the rounds together get every keystore, and every figure is
// filled in.
func TestMeasureImport(t *testing.T) {
	var seen int
	res, err := MeasureImport(context.Background(), ImportOptions{
		Keys: 4, ScryptN: 16, CacheDir: t.TempDir(), Workers: 2,
		Command: func(ksDir, pwFile string) (*exec.Cmd, error) {
			entries, err := os.ReadDir(ksDir)
			if err != nil {
				return nil, err
			}
			seen += len(entries)
			return exec.Command("sh", "-c", `test "$(cat "$1")" = "$2"`, "sh", pwFile, KeystorePassword), nil
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	if seen != 4 || res.Keys != 4 || res.Generated != 4 || res.ScryptSingle <= 0 || res.ScryptParallel <= 0 ||
		res.ImportRate <= 0 || res.RatioParallel <= 0 || res.RatioCores <= 0 || res.Cores < 1 || len(res.Rounds) != 4 {
		t.Fatalf("%d keystores given; %+v", seen, res)
	}
	_, err = MeasureImport(context.Background(), ImportOptions{Keys: 1, ScryptN: 16, CacheDir: t.TempDir(),
		Command: func(string, string) (*exec.Cmd, error) { return exec.Command("false"), nil }})
	if err == nil {
		t.Fatal("a failing import was not reported")
	}
}
