package migrate

import (
	"bytes"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/keyward/keyward/internal/eth"
	"github.com/keyward/keyward/internal/keys"
	"github.com/keyward/keyward/internal/protect"
)

const (
	pubKeystore = "0x9612d7a727c9d0a22e185a1c768478dfe919cada9266988cb32359c11f2b7b27f4ae4040902382ae2910c15e2b420d07"
	pubRaw      = "0xb301803f8b5ac4a1133581fc676dfedc60d891dd5fa99028805e5ea5b08d3491af75d0707adab3b70c6a6a580217bf81"
)

// fixture copies testdata/<name> to a temporary directory, replacing @DIR@ with it and
// making every file 0600 (as the source would have them).
func fixture(t *testing.T, name string) string {
	t.Helper()
	dst := filepath.Join(t.TempDir(), name)
	src := filepath.Join("testdata", name)
	err := filepath.WalkDir(src, func(p string, e fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		out := filepath.Join(dst, rel)
		if e.IsDir() {
			return os.MkdirAll(out, 0o700)
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		b = bytes.ReplaceAll(b, []byte("@DIR@"), []byte(dst))
		return os.WriteFile(out, b, 0o600)
	})
	if err != nil {
		t.Fatal(err)
	}
	return dst
}

type target struct {
	net  *eth.Network
	keys *keys.Store
	prot *protect.Store
	dir  string
}

// newTarget opens an empty key store and protection store pinned to mainnet.
func newTarget(t *testing.T) *target {
	t.Helper()
	n, err := eth.BuiltinNetwork("mainnet")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	mkPath := filepath.Join(dir, "master.key")
	if err := keys.CreateMasterKey(mkPath); err != nil {
		t.Fatal(err)
	}
	mk, err := keys.LoadMasterKey(mkPath)
	if err != nil {
		t.Fatal(err)
	}
	defer mk.Zero()
	ks, err := keys.OpenStore(filepath.Join(dir, "keys.db"), mk, keys.StoreOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ks.Close() })
	return &target{net: n, keys: ks, dir: dir}
}

func (tg *target) openProtection(t *testing.T) *protect.Store {
	t.Helper()
	p, err := protect.Open(filepath.Join(tg.dir, "protection.db"), protect.Options{GenesisValidatorsRoot: tg.net.GenesisValidatorsRoot, SlotsPerEpoch: tg.net.SlotsPerEpoch})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	return p
}

// migrate runs the dry run, checks that it changed nothing, then applies, and returns
// the result and the exported history.
func (tg *target) migrate(t *testing.T, o Options, wantKeys ...string) *Result {
	t.Helper()
	plan, err := Prepare(o, tg.net.GenesisValidatorsRoot)
	if err != nil {
		t.Fatalf("Prepare: %v", err)
	}
	if err := plan.Check(tg.net.GenesisValidatorsRoot, tg.net.SlotsPerEpoch); err != nil {
		t.Fatalf("Check: %v", err)
	}
	if _, err := os.Stat(filepath.Join(tg.dir, "protection.db")); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("the dry run touched the state: %v", err)
	}
	if len(plan.Keys) != len(wantKeys) {
		t.Fatalf("plan has %d keys, want %d", len(plan.Keys), len(wantKeys))
	}
	tg.prot = tg.openProtection(t)
	res, err := plan.Apply(tg.keys, tg.prot, time.Unix(1_700_000_000, 0))
	if err != nil {
		t.Fatalf("Apply: %v", err)
	}
	for _, r := range res.Keys {
		if r.Status != keys.ImportImported {
			t.Errorf("key %s: %v %v", r.Path, r.Status, r.Err)
		}
	}
	entries, err := tg.keys.List()
	if err != nil {
		t.Fatal(err)
	}
	have := map[string]bool{}
	for _, e := range entries {
		have["0x"+hexString(e.PublicKey)] = true
	}
	for _, k := range wantKeys {
		if !have[k] {
			t.Errorf("key %s not in the store after migration", k)
		}
	}
	if res.History == nil || len(res.History.Keys) != len(wantKeys) {
		t.Errorf("history report %+v, want %d keys", res.History, len(wantKeys))
	}
	export, err := tg.prot.ExportInterchange(nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range wantKeys {
		if !bytes.Contains(export, []byte(k)) {
			t.Errorf("history of %s not in the protection store", k)
		}
	}
	if !bytes.Contains(export, []byte(`"81952"`)) {
		t.Errorf("the imported block is not in the history: %s", export)
	}
	return res
}

func hexString(b []byte) string {
	const digits = "0123456789abcdef"
	out := make([]byte, 0, 2*len(b))
	for _, c := range b {
		out = append(out, digits[c>>4], digits[c&15])
	}
	return string(out)
}

// TestWeb3Signer migrates a file-keystore and a file-raw key with their history.
func TestWeb3Signer(t *testing.T) {
	src := fixture(t, "web3signer")
	newTarget(t).migrate(t, Options{Source: Web3Signer, From: filepath.Join(src, "keys"),
		Interchange: filepath.Join(src, "slashing-protection.json")}, pubKeystore, pubRaw)
}

// TestLighthouse migrates the enabled local keystore and skips the web3signer entry.
func TestLighthouse(t *testing.T) {
	src := fixture(t, "lighthouse")
	tg := newTarget(t)
	o := Options{Source: Lighthouse, From: filepath.Join(src, "validators"), Interchange: filepath.Join(src, "slashing_protection.json")}
	plan, err := Prepare(o, tg.net.GenesisValidatorsRoot)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(strings.Join(plan.Notes, "\n"), "already uses a remote signer") {
		t.Errorf("notes %q do not mention the skipped web3signer entry", plan.Notes)
	}
	tg.migrate(t, o, pubKeystore)
}

func TestNimbus(t *testing.T) {
	src := fixture(t, "nimbus")
	newTarget(t).migrate(t, Options{Source: Nimbus, From: src, Interchange: filepath.Join(src, "slashing_protection.json")}, pubKeystore)
}

func TestTeku(t *testing.T) {
	src := fixture(t, "teku")
	newTarget(t).migrate(t, Options{Source: Teku, From: filepath.Join(src, "keys"), Passwords: filepath.Join(src, "passwords"),
		Interchange: filepath.Join(src, "slashing_protection.json")}, pubKeystore)
}

func TestPrysm(t *testing.T) {
	src := fixture(t, "prysm")
	newTarget(t).migrate(t, Options{Source: Prysm, From: filepath.Join(src, "backup"), Passwords: filepath.Join(src, "backup-password.txt"),
		Interchange: filepath.Join(src, "slashing_protection.json")}, pubKeystore)
}

// TestRefusals: every way a migration could lose protection is refused before anything
// is written, and unsupported sources are named.
func TestRefusals(t *testing.T) {
	n, err := eth.BuiltinNetwork("mainnet")
	if err != nil {
		t.Fatal(err)
	}
	hoodi, err := eth.BuiltinNetwork("hoodi")
	if err != nil {
		t.Fatal(err)
	}
	w3s := fixture(t, "web3signer")
	lh := fixture(t, "lighthouse")
	cases := []struct {
		name string
		o    Options
		gvr  [32]byte
		want error
	}{
		{"no history", Options{Source: Nimbus, From: fixture(t, "nimbus")}, n.GenesisValidatorsRoot, ErrWouldLoseProtection},
		{"history of another network", Options{Source: Lighthouse, From: filepath.Join(lh, "validators"),
			Interchange: filepath.Join(lh, "slashing_protection.json")}, hoodi.GenesisValidatorsRoot, ErrWouldLoseProtection},
		{"a key without history", Options{Source: Web3Signer, From: filepath.Join(w3s, "keys"),
			Interchange: filepath.Join(lh, "slashing_protection.json")}, n.GenesisValidatorsRoot, ErrWouldLoseProtection},
		{"unknown source", Options{Source: "vouch", From: w3s}, n.GenesisValidatorsRoot, ErrUnsupported},
		{"prysm wallet", Options{Source: Prysm, From: func() string {
			d := t.TempDir()
			os.WriteFile(filepath.Join(d, "all-accounts.keystore.json"), []byte("{}"), 0o600)
			return d
		}(), Passwords: "x"}, n.GenesisValidatorsRoot, ErrUnsupported},
		{"web3signer vault key", Options{Source: Web3Signer, From: func() string {
			d := t.TempDir()
			os.WriteFile(filepath.Join(d, "k.yaml"), []byte("type: \"hashicorp\"\nkeyType: \"BLS\"\n"), 0o600)
			return d
		}()}, n.GenesisValidatorsRoot, ErrUnsupported},
		{"empty source", Options{Source: Teku, From: t.TempDir()}, n.GenesisValidatorsRoot, ErrNoKeys},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Prepare(tc.o, tc.gvr)
			if !errors.Is(err, tc.want) {
				t.Fatalf("Prepare: %v, want %v", err, tc.want)
			}
		})
	}

	// A key without history, accepted explicitly, migrates; the history of the other key
	// is still imported.
	o := Options{Source: Web3Signer, From: filepath.Join(w3s, "keys"), Interchange: filepath.Join(lh, "slashing_protection.json"), AcceptMissingHistory: true}
	plan, err := Prepare(o, n.GenesisValidatorsRoot)
	if err != nil {
		t.Fatal(err)
	}
	if plan.HistoryKeys != 1 || len(plan.Keys) != 2 {
		t.Fatalf("plan: %d history keys, %d keys", plan.HistoryKeys, len(plan.Keys))
	}
}

// TestApply_HistoryFirst: an interchange that the strict parser refuses stops the
// migration before any key is stored.
func TestApply_HistoryFirst(t *testing.T) {
	src := fixture(t, "nimbus")
	ich := filepath.Join(src, "slashing_protection.json")
	b, _ := os.ReadFile(ich)
	os.WriteFile(ich, bytes.Replace(b, []byte(`"81952"`), []byte(`"-1"`), 1), 0o600)
	tg := newTarget(t)
	plan, err := Prepare(Options{Source: Nimbus, From: src, Interchange: ich}, tg.net.GenesisValidatorsRoot)
	if err != nil {
		t.Fatal(err)
	}
	if err := plan.Check(tg.net.GenesisValidatorsRoot, tg.net.SlotsPerEpoch); err == nil {
		t.Fatal("Check accepted a negative slot")
	}
	if _, err := plan.Apply(tg.keys, tg.openProtection(t), time.Now()); err == nil {
		t.Fatal("Apply accepted a negative slot")
	}
	if entries, _ := tg.keys.List(); len(entries) != 0 {
		t.Fatalf("%d keys stored although the history failed", len(entries))
	}
}

// TestPasswordFileModes: a password file others can read is refused at import.
func TestPasswordFileModes(t *testing.T) {
	src := fixture(t, "nimbus")
	os.Chmod(filepath.Join(src, "secrets", pubKeystore), 0o644)
	tg := newTarget(t)
	plan, err := Prepare(Options{Source: Nimbus, From: src, Interchange: filepath.Join(src, "slashing_protection.json")}, tg.net.GenesisValidatorsRoot)
	if err != nil {
		t.Fatal(err)
	}
	res, err := plan.Apply(tg.keys, tg.openProtection(t), time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if res.Keys[0].Status != keys.ImportFailed || !errors.Is(res.Keys[0].Err, keys.ErrInsecureFile) {
		t.Fatalf("result %+v", res.Keys[0])
	}
}
