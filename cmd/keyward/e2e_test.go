package main

import (
	"bufio"
	"bytes"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	blst "github.com/supranational/blst/bindings/go"

	"github.com/keyward/keyward/internal/eth"
	"github.com/keyward/keyward/internal/gateway/eth2json"
)

// binary is the keyward binary built once for the end-to-end tests.
var binary string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "keyward-e2e-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binary = filepath.Join(dir, "keyward")
	out, err := exec.Command("go", "build", "-o", binary, ".").CombinedOutput()
	if err != nil {
		fmt.Fprintf(os.Stderr, "build keyward: %v\n%s", err, out)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

func freeAddr(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// signer is a keyward process under test.
type signer struct {
	t    testing.TB
	cmd  *exec.Cmd
	url  string
	dir  string
	logs *bytes.Buffer
	done chan error
}

type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer // not embedded: exec copies with ReadFrom when the writer has one, past the lock
}

// startSigner runs `keyward run` on a fresh state directory with n generated keys.
// edit, if set, rewrites the configuration before start.
func startSigner(t testing.TB, n int, edit func(cfg string) string) *signer {
	t.Helper()
	return startSignerWith(t, n, nil, edit)
}

// startSignerWith is startSigner with setup run on the state directory before the edit
// (generating Tezos keys, say) and extra arguments for run.
func startSignerWith(t testing.TB, n int, setup func(dir string) []string, edit func(cfg string) string) *signer {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "state")
	run(t, "init", "--dir", dir, "--network", "mainnet", "--confinement", "full")
	if n > 0 {
		run(t, "keys", "generate", "--dir", dir, "--count", strconv.Itoa(n))
	}
	var extra []string
	if setup != nil {
		extra = setup(dir)
	}
	if edit != nil {
		p := filepath.Join(dir, "keyward.toml")
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(edit(string(b))), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	addr := freeAddr(t)
	s := &signer{t: t, url: "http://" + addr, dir: dir, logs: &bytes.Buffer{}, done: make(chan error, 1)}
	s.cmd = exec.Command(binary, append([]string{"run", "--dir", dir, "--eth-listen", addr}, extra...)...)
	pr, pw := io.Pipe()
	s.cmd.Stdout, s.cmd.Stderr = pw, pw
	var mu sync.Mutex
	go func() {
		sc := bufio.NewScanner(pr)
		for sc.Scan() {
			mu.Lock()
			s.logs.WriteString(sc.Text() + "\n")
			mu.Unlock()
		}
	}()
	if err := s.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { s.done <- s.cmd.Wait(); pw.Close() }()
	t.Cleanup(func() {
		_ = s.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-s.done:
		case <-time.After(10 * time.Second):
			_ = s.cmd.Process.Kill()
		}
		if t.Failed() {
			mu.Lock()
			t.Logf("keyward output:\n%s", s.logs.String())
			mu.Unlock()
		}
	})
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := http.Get(s.url + "/upcheck")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return s
			}
		}
		select {
		case err := <-s.done:
			mu.Lock()
			defer mu.Unlock()
			t.Fatalf("keyward exited during start-up: %v\n%s", err, s.logs.String())
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatal("keyward did not come up in 30 s")
		}
	}
}

// run runs a keyward subcommand that must succeed and returns its stdout.
func run(t testing.TB, args ...string) string {
	t.Helper()
	cmd := exec.Command(binary, args...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("keyward %s: %v\n%s", strings.Join(args, " "), err, stderr.String())
	}
	return string(out)
}

func (s *signer) keys() []string {
	var ks []string
	s.getJSON("/api/v1/eth2/publicKeys", &ks)
	return ks
}

func (s *signer) getJSON(path string, v any) int {
	resp, err := http.Get(s.url + path)
	if err != nil {
		s.t.Fatal(err)
	}
	defer resp.Body.Close()
	if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
		s.t.Fatalf("GET %s: %v", path, err)
	}
	return resp.StatusCode
}

// sign posts body for key and returns the status and the decoded JSON answer.
func (s *signer) sign(key, body string) (int, map[string]string) {
	req, _ := http.NewRequest(http.MethodPost, s.url+"/api/v1/eth2/sign/"+key, strings.NewReader(body))
	req.Header.Set("Accept", "application/json")
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		s.t.Fatal(err)
	}
	defer resp.Body.Close()
	var m map[string]string
	b, _ := io.ReadAll(resp.Body)
	if err := json.Unmarshal(b, &m); err != nil {
		s.t.Fatalf("answer %d is not JSON: %q", resp.StatusCode, b)
	}
	return resp.StatusCode, m
}

const mainnetGVR = "0x4b363db94e286120d76eb905340fdd4e54bfe9f06bf33ff6cf5ad27f511bfe95"

// fulu is mainnet's Fulu fork epoch: attestation epochs are offsets from it.
const fulu = 411392

// attestation builds a mainnet Fulu ATTESTATION request with epochs fulu+source, fulu+target.
func attestation(source, target uint64, blockRoot byte, signingRoot string) string {
	sr := ""
	if signingRoot != "" {
		sr = fmt.Sprintf(`"signingRoot":"%s",`, signingRoot)
	}
	return fmt.Sprintf(`{"type":"ATTESTATION",%s"fork_info":{"fork":{"previous_version":"0x05000000","current_version":"0x06000000","epoch":"411392"},"genesis_validators_root":"%s"},`+
		`"attestation":{"slot":"%d","index":"0","beacon_block_root":"0x%064x","source":{"epoch":"%d","root":"0x%064x"},"target":{"epoch":"%d","root":"0x%064x"}}}`,
		sr, mainnetGVR, (fulu+target)*32, blockRoot, fulu+source, 0, fulu+target, 0)
}

// expectedRoot computes the signing root with package eth (checked against independent
// implementations by the eth vectors and the Lodestar test).
func expectedRoot(t *testing.T, body string) [32]byte {
	t.Helper()
	n, err := eth.BuiltinNetwork("mainnet")
	if err != nil {
		t.Fatal(err)
	}
	req, err := parseForTest(body)
	if err != nil {
		t.Fatal(err)
	}
	sg, err := n.Signable(req)
	if err != nil {
		t.Fatal(err)
	}
	return sg.SigningRoot
}

func verify(t *testing.T, key, sig string, root [32]byte) {
	t.Helper()
	pkb, _ := hex.DecodeString(strings.TrimPrefix(key, "0x"))
	sgb, _ := hex.DecodeString(strings.TrimPrefix(sig, "0x"))
	pk := new(blst.P1Affine).Uncompress(pkb)
	sg := new(blst.P2Affine).Uncompress(sgb)
	if pk == nil || sg == nil || !sg.Verify(true, pk, true, root[:], []byte("BLS_SIG_BLS12381G2_XMD:SHA-256_SSWU_RO_POP_")) {
		t.Fatalf("signature %s does not verify for %s", sig, key)
	}
}

// TestEndToEnd drives a real keyward run: typed answers for every failure kind, and
// signatures that verify.
func TestEndToEnd(t *testing.T) {
	s := startSigner(t, 2, nil)
	ks := s.keys()
	if len(ks) != 2 {
		t.Fatalf("publicKeys: %v", ks)
	}
	a := attestation(100, 101, 1, "")
	code, m := s.sign(ks[0], a)
	if code != 200 {
		t.Fatalf("attestation: %d %v", code, m)
	}
	verify(t, ks[0], m["signature"], expectedRoot(t, a))

	root := expectedRoot(t, a)
	cases := []struct {
		name string
		key  string
		body string
		want int
		msg  string
	}{
		{"identical request signs again", ks[0], a, 200, ""},
		{"double vote (Inv 5)", ks[0], attestation(100, 101, 2, ""), 412, "double vote"},
		{"surround vote (Inv 5)", ks[0], attestation(99, 102, 1, ""), 412, ""},
		{"other key is independent", ks[1], attestation(100, 101, 2, ""), 200, ""},
		{"matching signingRoot", ks[1], attestation(101, 102, 1, fmt.Sprintf("0x%x", expectedRoot(t, attestation(101, 102, 1, "")))), 200, ""},
		{"signingRoot that does not match (Inv 2)", ks[1], attestation(102, 103, 1, fmt.Sprintf("0x%x", root)), 400, "signingRoot"},
		{"wrong genesis validators root (Inv 3)", ks[1], strings.Replace(attestation(103, 104, 1, ""), "4b363db9", "4b363db8", 1), 400, "genesis_validators_root"},
		{"unknown key", "0x" + strings.Repeat("a", 96), attestation(100, 101, 1, ""), 404, "no key"},
		{"malformed key", "0x1234", a, 400, "identifier"},
		{"malformed JSON", ks[0], `{"type":`, 400, ""},
		{"unknown type", ks[0], `{"type":"RAW"}`, 400, "type"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			code, m := s.sign(tc.key, tc.body)
			if code != tc.want {
				t.Fatalf("status %d, want %d: %v", code, tc.want, m)
			}
			if tc.msg != "" && !strings.Contains(m["error"], tc.msg) {
				t.Fatalf("error %q does not mention %q", m["error"], tc.msg)
			}
		})
	}

	t.Run("oversized body is refused", func(t *testing.T) {
		big := `{"type":"ATTESTATION","x":"` + strings.Repeat("a", 2<<20) + `"}`
		code, _ := s.sign(ks[0], big)
		if code != http.StatusRequestEntityTooLarge {
			t.Fatalf("status %d, want 413", code)
		}
	})
	t.Run("plain text answer", func(t *testing.T) {
		req, _ := http.NewRequest(http.MethodPost, s.url+"/api/v1/eth2/sign/"+ks[0], strings.NewReader(a))
		req.Header.Set("Accept", "text/plain")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/plain") || !regexp.MustCompile(`^0x[0-9a-f]{192}$`).Match(b) {
			t.Fatalf("%d %s %q", resp.StatusCode, resp.Header.Get("Content-Type"), b)
		}
	})
}

// TestConfinedCore_Inv1 checks, from outside, what the running core reports and what the
// kernel says about the core process.
func TestConfinedCore_Inv1(t *testing.T) {
	s := startSigner(t, 1, nil)
	var h struct {
		Status      string `json:"status"`
		CorePID     int    `json:"core_pid"`
		Confinement struct {
			Dumpable bool `json:"dumpable"`
			Probes   struct {
				Socket      struct{ Blocked bool } `json:"socket"`
				OpenOutside struct{ Blocked bool } `json:"open_outside"`
				Exec        struct{ Blocked bool } `json:"exec"`
			} `json:"probes"`
		} `json:"confinement"`
		Core struct {
			ConfinementLevel string `json:"confinement_level"`
			KeyMemoryLocked  bool   `json:"key_memory_locked"`
		} `json:"core"`
	}
	if code := s.getJSON("/healthcheck", &h); code != 200 || h.Status != "UP" {
		t.Fatalf("healthcheck %d %+v", code, h)
	}
	p := h.Confinement.Probes
	if h.Core.ConfinementLevel != "full" || h.Confinement.Dumpable || !p.Socket.Blocked || !p.OpenOutside.Blocked || !p.Exec.Blocked || !h.Core.KeyMemoryLocked {
		t.Fatalf("core not confined as reported: %+v", h)
	}
	st, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", h.CorePID))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"NoNewPrivs:\t1", "Seccomp:\t2"} {
		if !strings.Contains(string(st), want) {
			t.Errorf("core /proc status lacks %q", want)
		}
	}
	// The gateway (this test's child) must not be the one holding keys: its own status
	// shows no seccomp, and the key-holding process is a different pid.
	if h.CorePID == s.cmd.Process.Pid {
		t.Fatal("core and gateway are the same process")
	}
}

// TestCoreKilled: when the core dies, the gateway stops serving instead of answering
// without its core.
func TestCoreKilled(t *testing.T) {
	s := startSigner(t, 1, nil)
	var h struct {
		CorePID int `json:"core_pid"`
	}
	s.getJSON("/healthcheck", &h)
	if err := syscall.Kill(h.CorePID, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-s.done:
		if err == nil {
			t.Fatal("gateway exited 0 after its core was killed")
		}
		s.done <- err
	case <-time.After(10 * time.Second):
		t.Fatal("gateway still running 10 s after its core was killed")
	}
}

// TestOverloadSheds: beyond max_in_flight the gateway answers 503 at once.
func TestOverloadSheds(t *testing.T) {
	s := startSigner(t, 1, func(c string) string {
		return strings.Replace(c, "max_in_flight = 1024", "max_in_flight = 1", 1)
	})
	k := s.keys()[0]
	var wg sync.WaitGroup
	var mu sync.Mutex
	codes := map[int]int{}
	for i := 0; i < 64; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			code, _ := s.sign(k, attestation(uint64(1000+i), uint64(1000+i), 1, ""))
			mu.Lock()
			codes[code]++
			mu.Unlock()
		}(i)
	}
	wg.Wait()
	if codes[503] == 0 || codes[200] == 0 {
		t.Fatalf("want some 200 and some 503 with max_in_flight=1, got %v", codes)
	}
	for c := range codes {
		if c != 200 && c != 503 && c != 412 {
			t.Fatalf("unexpected status %d in %v", c, codes)
		}
	}
}

func parseForTest(body string) (*eth.Request, error) { return eth2json.ParseSignRequest([]byte(body)) }

// startSignerB starts a signer for a benchmark.
func startSignerB(b *testing.B, n int) *signer { return startSigner(b, n, nil) }
