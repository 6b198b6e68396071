package doctor

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/pem"
	"fmt"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/keyward/keyward/internal/config"
	"github.com/keyward/keyward/internal/keys"
)

func runDoctor(t *testing.T, o Options) []Finding {
	t.Helper()
	if o.Euid == 0 {
		o.Euid = os.Geteuid()
	}
	if o.ProcRoot == "" {
		o.ProcRoot = t.TempDir() // no process: the running-signer checks skip
	}
	return Run(context.Background(), o)
}

func wantStatus(t *testing.T, fs []Finding, check string, want Status) *Finding {
	t.Helper()
	f := find(fs, check)
	if f == nil {
		t.Fatalf("no finding %q in %+v", check, fs)
	}
	if f.Status != want {
		t.Fatalf("%q: %s (%s), want %s", check, f.Status, f.Detail, want)
	}
	return f
}

// writeFile writes content with mode, creating directories.
func writeFile(t *testing.T, path, content string, mode os.FileMode) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), mode); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, mode); err != nil {
		t.Fatal(err)
	}
}

// TestSecretPlaces: keystores, passwords and tokens given with --check-path fail when they
// are inside a work tree, accessible to others, or below a directory others can write.
func TestSecretPlaces(t *testing.T) {
	cases := []struct {
		name  string
		setup func(t *testing.T) string
		want  string
	}{
		{"world-readable keystore", func(t *testing.T) string {
			d := filepath.Join(t.TempDir(), "validator_keys")
			writeFile(t, filepath.Join(d, "keystore-m_12381_3600_0_0_0-1.json"), "{}", 0o644)
			return d
		}, "mode 0644"},
		{"password file in a git work tree", func(t *testing.T) string {
			repo := t.TempDir()
			os.Mkdir(filepath.Join(repo, ".git"), 0o700)
			d := filepath.Join(repo, "secrets")
			writeFile(t, filepath.Join(d, "password.txt"), "x", 0o600)
			return d
		}, "inside the work tree"},
		{"keystore in a mercurial work tree", func(t *testing.T) string {
			repo := t.TempDir()
			os.Mkdir(filepath.Join(repo, ".hg"), 0o700)
			p := filepath.Join(repo, "keystore-1.json")
			writeFile(t, p, "{}", 0o600)
			return p
		}, "(.hg)"},
		{"token below a world-writable directory", func(t *testing.T) string {
			shared := filepath.Join(t.TempDir(), "shared")
			os.Mkdir(shared, 0o777)
			os.Chmod(shared, 0o1777)
			p := filepath.Join(shared, "api-token.txt")
			writeFile(t, p, "x", 0o600)
			return p
		}, "which others can write"},
		{"keystores below a world-writable directory without sticky bit", func(t *testing.T) string {
			shared := filepath.Join(t.TempDir(), "shared")
			os.Mkdir(shared, 0o777)
			os.Chmod(shared, 0o777)
			d := filepath.Join(shared, "mine", "keys")
			writeFile(t, filepath.Join(d, "keystore-1.json"), "{}", 0o600)
			return d
		}, "which others can write"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p := tc.setup(t)
			fs := runDoctor(t, Options{Dir: goodDir(t), SecretPaths: []string{p}})
			f := wantStatus(t, fs, "secret files: "+p, Fail)
			if !strings.Contains(f.Detail, tc.want) {
				t.Errorf("detail %q does not say %q", f.Detail, tc.want)
			}
		})
	}
	t.Run("clean", func(t *testing.T) {
		d := filepath.Join(t.TempDir(), "keys")
		writeFile(t, filepath.Join(d, "keystore-1.json"), "{}", 0o600)
		writeFile(t, filepath.Join(d, "deposit_data.json"), "{}", 0o644) // not a secret
		wantStatus(t, runDoctor(t, Options{Dir: goodDir(t), SecretPaths: []string{d}}), "secret files: "+d, Pass)
	})
	t.Run("master key outside the state directory", func(t *testing.T) {
		dir := goodDir(t)
		outside := filepath.Join(t.TempDir(), "creds")
		os.Mkdir(outside, 0o700)
		os.Mkdir(filepath.Join(filepath.Dir(outside), ".git"), 0o700)
		mk := filepath.Join(outside, "master.key")
		os.Rename(filepath.Join(dir, config.MasterKeyFile), mk)
		c := config.Default()
		c.Core.MasterKey = mk
		b, _ := config.Marshal(c)
		writeFile(t, filepath.Join(dir, config.FileName), string(b), 0o600)
		wantStatus(t, runDoctor(t, Options{Dir: dir}), "secret files: "+mk, Fail)
	})
}

// TestStateFiles: a file put into the state directory by hand with a loose mode fails, and
// so does a loose keymanager.token.
func TestStateFiles(t *testing.T) {
	dir := goodDir(t)
	writeFile(t, filepath.Join(dir, "keystore-copy.json"), "{}", 0o644)
	wantStatus(t, runDoctor(t, Options{Dir: dir}), "permissions: state files", Fail)

	dir = goodDir(t)
	writeFile(t, filepath.Join(dir, config.KeymanagerTokenFile), "token", 0o640)
	wantStatus(t, runDoctor(t, Options{Dir: dir}), "permissions: "+config.KeymanagerTokenFile, Fail)
}

// TestListeners: the eth listener on all interfaces fails (anonymous signing); the tezos
// listener beyond loopback fails without authorized keys and warns with them.
func TestListeners(t *testing.T) {
	for _, addr := range []string{"0.0.0.0:9000", ":9000", "[::]:9000", "192.0.2.1:9000"} {
		if f := checkListen(addr); f.Status != Fail {
			t.Errorf("eth %s: %+v", addr, f)
		}
	}
	for _, addr := range []string{"127.0.0.1:9000", "[::1]:9000", "localhost:9000"} {
		if f := checkListen(addr); f.Status != Pass {
			t.Errorf("eth %s: %+v", addr, f)
		}
	}
	dir := goodDir(t)
	c := config.Default()
	c.Tezos.Listen = "0.0.0.0:6732"
	b, err := config.Marshal(c)
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(dir, config.FileName), string(b), 0o600)
	wantStatus(t, runDoctor(t, Options{Dir: dir}), "listen address: tezos", Fail)

	for _, tc := range []struct {
		addr         string
		auth         int
		known, prove bool
		want         Status
	}{
		{"", 0, false, false, Pass},
		{"127.0.0.1:6732", 0, true, true, Pass},
		{"0.0.0.0:6732", 0, false, false, Fail},
		{"0.0.0.0:6732", 1, true, false, Warn},
		{"10.0.0.5:6732", 2, false, false, Warn},
	} {
		if f := checkTezosListen(tc.addr, tc.auth, tc.known, tc.prove); f.Status != tc.want {
			t.Errorf("tezos %+v: %+v", tc, f)
		}
	}
}

func writeCert(t *testing.T, notBefore, notAfter time.Time) string {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "keyward"}, NotBefore: notBefore, NotAfter: notAfter}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &k.PublicKey, k)
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(t.TempDir(), "cert.pem")
	writeFile(t, p, string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})), 0o644)
	return p
}

// TestCertificates: expired and not-yet-valid certificates fail, one close to expiry warns;
// with no TLS configured the check says so and passes.
func TestCertificates(t *testing.T) {
	now := time.Date(2026, 11, 21, 12, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		name          string
		before, after time.Time
		want          Status
	}{
		{"expired", now.AddDate(-1, 0, 0), now.Add(-time.Hour), Fail},
		{"not yet valid", now.Add(time.Hour), now.AddDate(1, 0, 0), Fail},
		{"expires in a week", now.AddDate(-1, 0, 0), now.AddDate(0, 0, 7), Warn},
		{"valid a year", now.AddDate(-1, 0, 0), now.AddDate(1, 0, 0), Pass},
	} {
		if f := checkCertificate(writeCert(t, tc.before, tc.after), now); f.Status != tc.want {
			t.Errorf("%s: %+v", tc.name, f)
		}
	}
	garbage := filepath.Join(t.TempDir(), "cert.pem")
	writeFile(t, garbage, "not a certificate", 0o644)
	if f := checkCertificate(garbage, now); f.Status != Fail {
		t.Errorf("garbage: %+v", f)
	}
	f := wantStatus(t, runDoctor(t, Options{Dir: goodDir(t)}), "certificates", Pass)
	if !strings.Contains(f.Detail, "no TLS certificate configured") {
		t.Errorf("detail %q", f.Detail)
	}
}

// TestProtectionStore: a damaged store fails, a missing one warns, a bbolt file passes.
func TestProtectionStore(t *testing.T) {
	dir := goodDir(t)
	p := filepath.Join(dir, config.ProtectionFile)
	wantStatus(t, runDoctor(t, Options{Dir: dir}), "protection store", Warn)

	db, err := bolt.Open(p, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	db.Close()
	wantStatus(t, runDoctor(t, Options{Dir: dir}), "protection store", Pass)

	writeFile(t, p, strings.Repeat("x", 8192), 0o600)
	wantStatus(t, runDoctor(t, Options{Dir: dir}), "protection store", Fail)
	writeFile(t, p, "", 0o600)
	wantStatus(t, runDoctor(t, Options{Dir: dir}), "protection store", Fail)
	os.Remove(p)
	os.Symlink("/dev/null", p)
	wantStatus(t, runDoctor(t, Options{Dir: dir}), "protection store", Fail)
}

// TestClock: an unsynchronized clock or a large error estimate warns.
func TestClock(t *testing.T) {
	for _, tc := range []struct {
		s    clockState
		want Status
	}{
		{clockState{}, Pass},
		{clockState{Available: true, Unsynchronized: true}, Warn},
		{clockState{Available: true, MaxError: 2 * time.Second}, Warn},
		{clockState{Available: true, MaxError: 10 * time.Millisecond}, Pass},
	} {
		s := tc.s
		fs := runDoctor(t, Options{Dir: goodDir(t), testOnlyClock: func() clockState { return s }})
		wantStatus(t, fs, "clock", tc.want)
	}
	t.Logf("this host: %+v", judgeClock(readClock()))
}

// addKey generates one key in the state directory's store and returns its 0x-hex pubkey.
func addKey(t *testing.T, dir string) string {
	t.Helper()
	mk, err := keys.LoadMasterKey(filepath.Join(dir, config.MasterKeyFile))
	if err != nil {
		t.Fatal(err)
	}
	defer mk.Zero()
	st, err := keys.OpenStore(filepath.Join(dir, config.KeysFile), mk, keys.StoreOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	pubs, err := keys.GenerateBLS(st, 1, keys.Meta{})
	if err != nil {
		t.Fatal(err)
	}
	return "0x" + hex.EncodeToString(pubs[0][:])
}

// TestDuplicateKeys: a key of this signer that is also an enabled local keystore of a
// Lighthouse validator directory, or a keystore in another directory, fails; a Lighthouse
// definition of type web3signer (the client using a remote signer) does not count.
func TestDuplicateKeys(t *testing.T) {
	dir := goodDir(t)
	pub := addKey(t, dir)
	vc := t.TempDir()
	writeFile(t, filepath.Join(vc, "validators", "validator_definitions.yml"), fmt.Sprintf(`---
- enabled: true
  voting_public_key: "%s"
  description: ""
  type: web3signer
  url: "http://127.0.0.1:9000"
`, pub), 0o600)
	wantStatus(t, runDoctor(t, Options{Dir: dir, Also: []string{vc}}), "keys configured twice", Pass)

	writeFile(t, filepath.Join(vc, "validators", "validator_definitions.yml"), fmt.Sprintf(`---
- enabled: true
  voting_public_key: "%s"
  type: local_keystore
  voting_keystore_path: /var/lib/lighthouse/validators/%s/voting-keystore.json
  voting_keystore_password_path: /var/lib/lighthouse/secrets/%s
`, pub, pub, pub), 0o600)
	f := wantStatus(t, runDoctor(t, Options{Dir: dir, Also: []string{vc}}), "keys configured twice", Fail)
	if !strings.Contains(f.Detail, pub) {
		t.Errorf("detail %q does not name %s", f.Detail, pub)
	}

	ks := t.TempDir()
	writeFile(t, filepath.Join(ks, "keystore-m_12381_3600_0_0_0.json"),
		fmt.Sprintf(`{"crypto":{"kdf":{}},"pubkey":"%s","version":4}`, pub[2:]), 0o600)
	wantStatus(t, runDoctor(t, Options{Dir: dir, Also: []string{ks}}), "keys configured twice", Fail)

	other := goodDir(t)
	addKey(t, other)
	wantStatus(t, runDoctor(t, Options{Dir: dir, Also: []string{other}}), "keys configured twice", Pass)
}

// fakeProc writes /proc/<pid>/{cmdline,status} entries under a temporary root.
func fakeProc(t *testing.T, root string, pid, ppid, uid int, args ...string) {
	t.Helper()
	d := filepath.Join(root, fmt.Sprint(pid))
	writeFile(t, filepath.Join(d, "cmdline"), strings.Join(args, "\x00")+"\x00", 0o444)
	writeFile(t, filepath.Join(d, "status"), fmt.Sprintf("Name:\tkeyward\nPPid:\t%d\nUid:\t%d\t%d\t%d\t%d\n", ppid, uid, uid, uid, uid), 0o444)
}

// TestSeparateUsers: a core and its gateway under one uid warn; separate users pass; a
// core as root warns; no visible core skips.
func TestSeparateUsers(t *testing.T) {
	dir := goodDir(t)
	same := t.TempDir()
	fakeProc(t, same, 99, 1, 1000, "/usr/local/bin/keyward", "run", "--dir", dir)
	fakeProc(t, same, 100, 99, 1000, "/usr/local/bin/keyward", "core", "--dir", dir)
	wantStatus(t, runDoctor(t, Options{Dir: dir, ProcRoot: same}), "separate users", Warn)

	split := t.TempDir()
	fakeProc(t, split, 200, 1, 998, "/usr/local/bin/keyward", "core", "--dir="+dir, "--socket-activated")
	fakeProc(t, split, 300, 1, 997, "/usr/local/bin/keyward", "gateway", "--dir", "/var/lib/keyward-gateway")
	wantStatus(t, runDoctor(t, Options{Dir: dir, ProcRoot: split}), "separate users", Pass)

	root := t.TempDir()
	fakeProc(t, root, 400, 1, 0, "/usr/local/bin/keyward", "core", "--dir", dir)
	wantStatus(t, runDoctor(t, Options{Dir: dir, ProcRoot: root}), "separate users", Warn)

	f := wantStatus(t, runDoctor(t, Options{Dir: dir}), "separate users", Pass)
	if !strings.Contains(f.Detail, "skipped") {
		t.Errorf("detail %q", f.Detail)
	}
}

// TestTLSConfigured: with [tls] and client certificates required, doctor checks the
// configured certificate's expiry, the key file's mode, and passes a public listener.
func TestTLSConfigured(t *testing.T) {
	dir := goodDir(t)
	now := time.Now()
	cert := writeCert(t, now.Add(-time.Hour), now.Add(10*24*time.Hour)) // expires soon
	writeFile(t, filepath.Join(dir, "tls", "server.key"), "key", 0o640)
	writeFile(t, filepath.Join(dir, "tls", "known_clients"), "", 0o600)
	c := config.Default()
	c.Eth.Listen = "0.0.0.0:9000"
	c.TLS = config.TLS{CertFile: cert, KeyFile: "tls/server.key", KnownClientsFile: "tls/known_clients"}
	b, err := config.Marshal(c)
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(dir, config.FileName), string(b), 0o600)
	fs := runDoctor(t, Options{Dir: dir, Now: func() time.Time { return now }})
	wantStatus(t, fs, "certificate: "+cert, Warn)
	wantStatus(t, fs, "permissions: TLS key", Fail)
	wantStatus(t, fs, "listen address: eth", Pass)
}
