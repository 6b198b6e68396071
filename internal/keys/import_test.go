package keys

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	blst "github.com/supranational/blst/bindings/go"
	keystorev4 "github.com/wealdtech/go-eth2-wallet-encryptor-keystorev4"
)

// eip2335Vectors is testdata/eip2335/vectors.json, parsed strictly.
type eip2335Vectors struct {
	Password        string   `json:"password"`
	EncodedPassword string   `json:"encoded_password"`
	Secret          string   `json:"secret"`
	Keystores       []string `json:"keystores"`
}

func loadEIP2335Vectors(t *testing.T) eip2335Vectors {
	t.Helper()
	var v eip2335Vectors
	readVector(t, filepath.Join("testdata", "eip2335", "vectors.json"), &v)
	return v
}

func writeSecret(t *testing.T, path string, data []byte) {
	t.Helper()
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
}

func copyVector(t *testing.T, dir, name string) string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", "eip2335", name))
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(dir, name)
	writeSecret(t, p, data)
	return p
}

func importOpts(paths []string, pwFile string) ImportOptions {
	return ImportOptions{Paths: paths, PasswordFile: pwFile, Now: func() time.Time { return time.Unix(1_800_000_000, 0) }}
}

// TestImportEIP2335Vectors imports each EIP-2335 vector end to end and loads it back.
func TestImportEIP2335Vectors(t *testing.T) {
	v := loadEIP2335Vectors(t)
	secret := vectorHex(t, v.Secret)
	var ref blst.SecretKey
	ref.Deserialize(secret)
	msg := []byte("eip-2335")
	wantSig := new(blst.P2Affine).Sign(&ref, msg, []byte(BLSDST)).Compress()
	for _, name := range v.Keystores {
		t.Run(strings.TrimSuffix(name, ".json"), func(t *testing.T) {
			t.Parallel()
			s, _, _ := testStore(t)
			dir := t.TempDir()
			ksPath := copyVector(t, dir, name)
			pw := filepath.Join(dir, "password.txt")
			writeSecret(t, pw, []byte(v.Password+"\n"))
			rep, err := Import(context.Background(), s, importOpts([]string{ksPath}, pw))
			if err != nil {
				t.Fatal(err)
			}
			if len(rep.Results) != 1 || rep.Results[0].Status != ImportImported {
				t.Fatalf("report %+v", rep)
			}
			if !bytes.Equal(rep.Results[0].PublicKey[:], testPub) {
				t.Fatalf("pubkey %x", rep.Results[0].PublicKey)
			}
			list, err := s.List()
			if err != nil || len(list) != 1 || list[0].Meta.Source != SourceImported || list[0].Meta.UUID == "" ||
				list[0].Meta.Path == "" || !list[0].Meta.Created.Equal(time.Unix(1_800_000_000, 0)) {
				t.Fatalf("list %+v %v", list, err)
			}
			keys, err := s.LoadBLS(testArena(t, 2))
			if err != nil || len(keys) != 1 {
				t.Fatalf("load: %v", err)
			}
			defer keys[0].Destroy()
			if sig := keys[0].Sign(msg); !bytes.Equal(sig[:], wantSig) {
				t.Fatalf("loaded key signs differently from the vector's secret")
			}
			if name == "pbkdf2.json" { // scrypt would cost two more seconds
				s2, _, _ := testStore(t)
				bad := filepath.Join(dir, "bad.txt")
				writeSecret(t, bad, []byte("testpassword"))
				rep, err := Import(context.Background(), s2, importOpts([]string{ksPath}, bad))
				if err != nil || rep.Results[0].Status != ImportFailed || !errors.Is(rep.Results[0].Err, ErrWrongPassword) {
					t.Fatalf("wrong password: %+v %v", rep, err)
				}
				t.Logf("wrong password reason: %v", rep.Results[0].Err)
			}
			// Importing again: already present, without decrypting.
			rep, err = Import(context.Background(), s, importOpts([]string{ksPath}, pw))
			if err != nil || rep.Results[0].Status != ImportExists {
				t.Fatalf("re-import: %+v %v", rep, err)
			}
		})
	}
}

// keystoreJSON builds a keystore for secret with a cheap KDF (tests only).
func keystoreJSON(t *testing.T, secret []byte, password string, mutate func(map[string]any)) []byte {
	t.Helper()
	crypto, err := keystorev4.New(keystorev4.WithCost(t, 4)).Encrypt(secret, password)
	if err != nil {
		t.Fatal(err)
	}
	pub, err := blsPublicFromSecret(secret)
	if err != nil {
		t.Fatal(err)
	}
	ks := map[string]any{
		"crypto":      crypto,
		"description": "",
		"pubkey":      hex.EncodeToString(pub[:]),
		"path":        "m/12381/3600/0/0/0",
		"uuid":        "64625def-3331-4eea-ab6f-782f3ed16a83",
		"version":     4,
	}
	if mutate != nil {
		mutate(ks)
	}
	data, err := json.Marshal(ks)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

func randomSecret(t *testing.T) []byte {
	t.Helper()
	ikm := make([]byte, 32)
	rand.Read(ikm)
	return blst.KeyGen(ikm).Serialize()
}

func TestImportErrPublicKeyMismatch(t *testing.T) {
	s, _, _ := testStore(t)
	dir := t.TempDir()
	otherPub, _ := blsPublicFromSecret(randomSecret(t))
	data := keystoreJSON(t, testSecret, "pw", func(m map[string]any) { m["pubkey"] = hex.EncodeToString(otherPub[:]) })
	p := filepath.Join(dir, "keystore-mismatch.json")
	writeSecret(t, p, data)
	pw := filepath.Join(dir, "pw")
	writeSecret(t, pw, []byte("pw"))
	rep, err := Import(context.Background(), s, importOpts([]string{p}, pw))
	if err != nil {
		t.Fatal(err)
	}
	if r := rep.Results[0]; r.Status != ImportFailed || !errors.Is(r.Err, ErrPublicKeyMismatch) {
		t.Fatalf("result %+v, want ErrPublicKeyMismatch", r)
	}
	if list, _ := s.List(); len(list) != 0 {
		t.Fatal("mismatching keystore stored")
	}
}

func TestImportErrWrongPassword(t *testing.T) {
	s, _, _ := testStore(t)
	dir := t.TempDir()
	p := filepath.Join(dir, "keystore-a.json")
	writeSecret(t, p, keystoreJSON(t, testSecret, "right", nil))
	for _, pw := range []string{"wrong", "right ", " right", "right\n\n\t "} {
		pwPath := filepath.Join(dir, "pw")
		writeSecret(t, pwPath, []byte(pw))
		rep, err := Import(context.Background(), s, importOpts([]string{p}, pwPath))
		if err != nil {
			t.Fatal(err)
		}
		r := rep.Results[0]
		if r.Status != ImportFailed || !errors.Is(r.Err, ErrWrongPassword) || !strings.Contains(r.Err.Error(), "wrong keystore password") {
			t.Fatalf("password %q: %+v, want ErrWrongPassword", pw, r)
		}
	}
	// One trailing newline (or CRLF) is stripped.
	for _, pw := range []string{"right\n", "right\r\n", "right"} {
		s, _, _ := testStore(t)
		pwPath := filepath.Join(dir, "pw")
		writeSecret(t, pwPath, []byte(pw))
		rep, err := Import(context.Background(), s, importOpts([]string{p}, pwPath))
		if err != nil || rep.Results[0].Status != ImportImported {
			t.Fatalf("password file %q: %+v %v", pw, rep, err)
		}
	}
}

// TestImportDirectoryLayout: a staking-deposit-cli directory with a password directory.
func TestImportDirectoryLayout(t *testing.T) {
	s, _, _ := testStore(t)
	ksDir, pwDir := t.TempDir(), t.TempDir()
	var pubs [][48]byte
	for i := range 4 {
		secret := randomSecret(t)
		pub, _ := blsPublicFromSecret(secret)
		pubs = append(pubs, pub)
		stem := fmt.Sprintf("keystore-m_12381_3600_%d_0_0-1700000000", i)
		password := fmt.Sprintf("password %d", i)
		writeSecret(t, filepath.Join(ksDir, stem+".json"), keystoreJSON(t, secret, password, func(m map[string]any) {
			m["path"] = fmt.Sprintf("m/12381/3600/%d/0/0", i)
		}))
		switch i { // each naming convention once; key 3 has no password file
		case 0:
			writeSecret(t, filepath.Join(pwDir, stem+".txt"), []byte(password+"\n"))
		case 1:
			writeSecret(t, filepath.Join(pwDir, stem), []byte(password))
		case 2:
			writeSecret(t, filepath.Join(pwDir, "0x"+hex.EncodeToString(pub[:])+".txt"), []byte(password))
		}
	}
	writeSecret(t, filepath.Join(ksDir, "deposit_data-1700000000.json"), []byte(`[{"not":"a keystore"}]`))
	writeSecret(t, filepath.Join(ksDir, "notes.txt"), []byte("ignored"))
	var calls atomic.Int32
	var last int
	rep, err := Import(context.Background(), s, ImportOptions{
		Paths: []string{ksDir}, PasswordDir: pwDir, Parallelism: 2,
		Progress: func(done, total int) { calls.Add(1); last = done; _ = total },
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Results) != 4 || rep.Count(ImportImported) != 3 || rep.Count(ImportFailed) != 1 {
		t.Fatalf("report %+v", rep)
	}
	if r := rep.Results[3]; !errors.Is(r.Err, ErrNoPassword) || r.PublicKey != pubs[3] {
		t.Fatalf("key 3: %+v, want ErrNoPassword", r)
	}
	if calls.Load() != 4 || last != 4 {
		t.Fatalf("progress called %d times, last %d", calls.Load(), last)
	}
	list, _ := s.List()
	if len(list) != 3 {
		t.Fatalf("stored %d keys", len(list))
	}
	for _, e := range list {
		if !strings.HasPrefix(e.Meta.Path, "m/12381/3600/") {
			t.Fatalf("path %q", e.Meta.Path)
		}
	}
}

func TestImportErrInvalidKeystore(t *testing.T) {
	good := keystoreJSON(t, testSecret, "pw", nil)
	var base map[string]any
	if err := json.Unmarshal(good, &base); err != nil {
		t.Fatal(err)
	}
	if _, err := parseKeystore(good); err != nil {
		t.Fatalf("good keystore refused: %v", err)
	}
	edit := func(f func(m map[string]any)) []byte {
		var m map[string]any
		json.Unmarshal(good, &m)
		f(m)
		b, _ := json.Marshal(m)
		return b
	}
	kdf := func(m map[string]any) map[string]any {
		return m["crypto"].(map[string]any)["kdf"].(map[string]any)
	}
	cases := map[string][]byte{
		"version 3":       edit(func(m map[string]any) { m["version"] = 3 }),
		"no version":      edit(func(m map[string]any) { delete(m, "version") }),
		"unknown field":   edit(func(m map[string]any) { m["extra"] = 1 }),
		"no crypto":       edit(func(m map[string]any) { delete(m, "crypto") }),
		"no pubkey":       edit(func(m map[string]any) { delete(m, "pubkey") }),
		"short pubkey":    edit(func(m map[string]any) { m["pubkey"] = hex.EncodeToString(testPub[:47]) }),
		"pubkey not hex":  edit(func(m map[string]any) { m["pubkey"] = strings.Repeat("zz", 48) }),
		"pubkey infinity": edit(func(m map[string]any) { m["pubkey"] = "c0" + strings.Repeat("00", 47) }),
		"bad uuid":        edit(func(m map[string]any) { m["uuid"] = "x" }),
		"no path":         edit(func(m map[string]any) { delete(m, "path") }),
		"bad path":        edit(func(m map[string]any) { m["path"] = "n/1" }),
		"unknown kdf":     edit(func(m map[string]any) { kdf(m)["function"] = "argon2" }),
		"kdf extra param": edit(func(m map[string]any) { kdf(m)["params"].(map[string]any)["x"] = 1 }),
		"pbkdf2 huge c":   edit(func(m map[string]any) { kdf(m)["params"].(map[string]any)["c"] = 1 << 30 }),
		"dklen 16":        edit(func(m map[string]any) { kdf(m)["params"].(map[string]any)["dklen"] = 16 }),
		"huge scrypt": edit(func(m map[string]any) {
			kdf(m)["function"] = "scrypt"
			kdf(m)["params"] = map[string]any{"dklen": 32, "n": 1 << 22, "r": 8, "p": 1, "salt": "00"}
		}),
		"scrypt n not power of 2": edit(func(m map[string]any) {
			kdf(m)["function"] = "scrypt"
			kdf(m)["params"] = map[string]any{"dklen": 32, "n": 1000, "r": 8, "p": 1, "salt": "00"}
		}),
		"cipher cbc": edit(func(m map[string]any) {
			m["crypto"].(map[string]any)["cipher"].(map[string]any)["function"] = "aes-128-cbc"
		}),
		"short cipher message": edit(func(m map[string]any) {
			m["crypto"].(map[string]any)["cipher"].(map[string]any)["message"] = "00"
		}),
		"checksum keccak": edit(func(m map[string]any) {
			m["crypto"].(map[string]any)["checksum"].(map[string]any)["function"] = "keccak256"
		}),
		"trailing data": append(bytes.Clone(good), []byte(" {}")...),
		"not json":      []byte("keystore"),
		"too large":     append(bytes.Clone(good), bytes.Repeat([]byte(" "), maxKeystoreSize)...),
	}
	s, _, _ := testStore(t)
	dir := t.TempDir()
	pw := filepath.Join(dir, "pw")
	writeSecret(t, pw, []byte("pw"))
	for name, data := range cases {
		p := filepath.Join(dir, "keystore-"+strings.ReplaceAll(name, " ", "_")+".json")
		writeSecret(t, p, data)
		rep, err := Import(context.Background(), s, importOpts([]string{p}, pw))
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if r := rep.Results[0]; r.Status != ImportFailed || !errors.Is(r.Err, ErrInvalidKeystore) {
			t.Fatalf("%s: %+v, want ErrInvalidKeystore", name, r)
		}
	}
}

func TestImportErrInsecurePasswordFile(t *testing.T) {
	s, _, _ := testStore(t)
	dir := t.TempDir()
	p := filepath.Join(dir, "keystore-a.json")
	writeSecret(t, p, keystoreJSON(t, testSecret, "pw", nil))
	pw := filepath.Join(dir, "pw")
	writeSecret(t, pw, []byte("pw"))
	os.Chmod(pw, 0o640)
	if _, err := Import(context.Background(), s, importOpts([]string{p}, pw)); !errors.Is(err, ErrInsecureFile) {
		t.Fatalf("password file 0640: %v, want ErrInsecureFile", err)
	}
	// In a password directory the insecure file fails that keystore, not the run.
	pwDir := t.TempDir()
	writeSecret(t, filepath.Join(pwDir, "keystore-a.txt"), []byte("pw"))
	os.Chmod(filepath.Join(pwDir, "keystore-a.txt"), 0o644)
	rep, err := Import(context.Background(), s, ImportOptions{Paths: []string{p}, PasswordDir: pwDir})
	if err != nil || !errors.Is(rep.Results[0].Err, ErrInsecureFile) {
		t.Fatalf("password dir file 0644: %+v %v", rep, err)
	}
}

func TestImportOptionsRefused(t *testing.T) {
	s, _, _ := testStore(t)
	dir := t.TempDir()
	for name, o := range map[string]ImportOptions{
		"no password":   {Paths: []string{dir}},
		"two passwords": {Paths: []string{dir}, PasswordFile: "a", PasswordDir: "b"},
		"no paths":      {PasswordFile: "a"},
		"empty dir":     {Paths: []string{dir}, PasswordDir: dir},
		"missing file":  {Paths: []string{filepath.Join(dir, "nope.json")}, PasswordDir: dir},
	} {
		if _, err := Import(context.Background(), s, o); err == nil {
			t.Fatalf("%s: accepted", name)
		}
	}
}

// TestImportCancel: cancelling stops before the next file; the report says which ran.
func TestImportCancel(t *testing.T) {
	s, _, _ := testStore(t)
	dir := t.TempDir()
	for i := range 5 {
		writeSecret(t, filepath.Join(dir, fmt.Sprintf("keystore-%d.json", i)), keystoreJSON(t, randomSecret(t), "pw", nil))
	}
	pw := filepath.Join(dir, "pw")
	writeSecret(t, pw, []byte("pw"))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	o := importOpts([]string{dir}, pw)
	o.Parallelism = 1
	o.Progress = func(done, _ int) {
		if done == 2 {
			cancel()
		}
	}
	rep, err := Import(ctx, s, o)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err %v, want context.Canceled", err)
	}
	if n := rep.Count(ImportImported); n < 2 || n > 3 || rep.Count(ImportNotAttempted) != 5-n {
		t.Fatalf("report %+v", rep)
	}
	for _, r := range rep.Results {
		if r.Status == ImportNotAttempted && !errors.Is(r.Err, context.Canceled) {
			t.Fatalf("not attempted without reason: %+v", r)
		}
	}
	if list, _ := s.List(); len(list) != rep.Count(ImportImported) {
		t.Fatalf("stored %d, report says %d", len(list), rep.Count(ImportImported))
	}
}

func TestImportParallelism(t *testing.T) {
	info := "MemTotal:       32000000 kB\nMemFree:         1000000 kB\nMemAvailable:    1024000 kB\n"
	avail, ok := parseMemAvailable(info)
	if !ok || avail != 1024000<<10 {
		t.Fatalf("MemAvailable = %d %v", avail, ok)
	}
	for _, bad := range []string{"", "MemAvailable: x kB\n", "MemAvailable: 10 MB\n"} {
		if _, ok := parseMemAvailable(bad); ok {
			t.Fatalf("parsed %q", bad)
		}
	}
	for _, c := range []struct {
		procs int
		avail uint64
		want  int
	}{
		{8, 1000 << 20, 3}, // memory bound: 1000 MiB / 300 MiB
		{2, 24 << 30, 2},   // CPU bound
		{8, 100 << 20, 1},  // at least one
		{1, 1 << 40, 1},    //
		{64, 1 << 62, 64},  // no overflow
	} {
		if got := parallelismFor(c.procs, c.avail); got != c.want {
			t.Fatalf("parallelismFor(%d, %d) = %d, want %d", c.procs, c.avail, got, c.want)
		}
	}
	if autoParallelism() < 1 {
		t.Fatal("auto parallelism < 1")
	}
}
