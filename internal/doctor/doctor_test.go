package doctor

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/keyward/keyward/internal/config"
	"github.com/keyward/keyward/internal/eth"
	"github.com/keyward/keyward/internal/keys"
)

// goodDir makes a state directory as init does.
func goodDir(t *testing.T) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "state")
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	b, err := config.Marshal(config.Default())
	if err != nil {
		t.Fatal(err)
	}
	n, err := eth.BuiltinNetwork("mainnet")
	if err != nil {
		t.Fatal(err)
	}
	for name, content := range map[string][]byte{config.FileName: b, config.NetworkFile: n.MarshalConfig()} {
		if err := os.WriteFile(filepath.Join(dir, name), content, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	mkPath := filepath.Join(dir, config.MasterKeyFile)
	if err := keys.CreateMasterKey(mkPath); err != nil {
		t.Fatal(err)
	}
	mk, err := keys.LoadMasterKey(mkPath)
	if err != nil {
		t.Fatal(err)
	}
	st, err := keys.OpenStore(filepath.Join(dir, config.KeysFile), mk, keys.StoreOptions{})
	if err != nil {
		t.Fatal(err)
	}
	st.Close()
	return dir
}

func find(fs []Finding, check string) *Finding {
	for i := range fs {
		if strings.HasPrefix(fs[i].Check, check) {
			return &fs[i]
		}
	}
	return nil
}

func TestCleanDirHasNoFailure(t *testing.T) {
	fs := Run(context.Background(), Options{Dir: goodDir(t), Euid: os.Geteuid()})
	for _, f := range fs {
		// The kernel check depends on the machine; everything else must pass or warn.
		if f.Status == Fail && f.Check != "kernel" {
			t.Errorf("clean state directory: %+v", f)
		}
	}
}

// TestFindings creates each bad condition and asserts the finding.
func TestFindings(t *testing.T) {
	cases := []struct {
		name  string
		spoil func(t *testing.T, dir string)
		check string
	}{
		{"world-readable master key", func(t *testing.T, dir string) {
			os.Chmod(filepath.Join(dir, config.MasterKeyFile), 0o644)
		}, "permissions: master key"},
		{"group-readable state directory", func(t *testing.T, dir string) {
			os.Chmod(dir, 0o750)
		}, "permissions: state directory"},
		{"state directory in a git work tree", func(t *testing.T, dir string) {
			os.Mkdir(filepath.Join(filepath.Dir(dir), ".git"), 0o700)
		}, "version control"},
		{"public listener without TLS", func(t *testing.T, dir string) {
			c := config.Default()
			c.Eth.Listen = "0.0.0.0:9000"
			b, _ := config.Marshal(c)
			os.WriteFile(filepath.Join(dir, config.FileName), b, 0o600)
		}, "listen address"},
		{"broken network file", func(t *testing.T, dir string) {
			os.WriteFile(filepath.Join(dir, config.NetworkFile), []byte("CONFIG_NAME: x\n"), 0o600)
		}, "network"},
		{"unknown configuration key", func(t *testing.T, dir string) {
			os.WriteFile(filepath.Join(dir, config.FileName), []byte("[core]\nsecret = 1\n"), 0o600)
		}, "configuration"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := goodDir(t)
			tc.spoil(t, dir)
			fs := Run(context.Background(), Options{Dir: dir, Euid: os.Geteuid()})
			f := find(fs, tc.check)
			if f == nil || f.Status != Fail {
				t.Fatalf("want %q to fail, got %+v", tc.check, f)
			}
			if !Failed(fs) {
				t.Fatal("Failed() is false")
			}
		})
	}
}

func TestRootWarns(t *testing.T) {
	fs := Run(context.Background(), Options{Dir: goodDir(t), Euid: 0})
	if f := find(fs, "user"); f == nil || f.Status != Warn {
		t.Fatalf("running as root: %+v", f)
	}
}

func TestZeroStatusFails(t *testing.T) {
	if !Failed([]Finding{{Check: "x"}}) {
		t.Fatal("a finding without a status must count as failed")
	}
}
