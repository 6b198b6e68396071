package bench

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/keyward/keyward/internal/eth"
)

// The shared workload gives the keys of one round identical attestation data; the
// distinct one gives each key its own; every workload moves on with seq.
func TestEthWorkloadSharedAndDistinct(t *testing.T) {
	n, err := eth.BuiltinNetwork("mainnet")
	if err != nil {
		t.Fatal(err)
	}
	pubs := []string{"0xaa", "0xbb"}
	body := func(name string, k int, seq uint64) []byte {
		w := NewEthWorkload(name, n, pubs, 7)
		path, b := w.Request(k, seq)
		if !strings.HasSuffix(path, pubs[k]) || w.Name() != name {
			t.Fatalf("%s: path %s, name %s", name, path, w.Name())
		}
		return b
	}
	if !bytes.Equal(body("eth-attestation", 0, 3), body("eth-attestation", 1, 3)) {
		t.Fatal("eth-attestation: two keys of one round sign different data")
	}
	if bytes.Equal(body("eth-attestation-distinct", 0, 3), body("eth-attestation-distinct", 1, 3)) {
		t.Fatal("eth-attestation-distinct: two keys sign the same data")
	}
	for _, name := range []string{"eth-attestation", "eth-attestation-distinct", "eth-block", "eth-aggregate"} {
		if bytes.Equal(body(name, 0, 3), body(name, 0, 4)) {
			t.Fatalf("%s: a key signs the same data twice", name)
		}
	}
	if NewEthWorkload("eth-exit", n, pubs, 0) != nil {
		t.Fatal("unknown workload accepted")
	}
}

// orderWorkload records the keys in the order their requests are built.
type orderWorkload struct {
	mu    sync.Mutex
	order []int
	keys  int
}

func (w *orderWorkload) Name() string { return "order" }
func (w *orderWorkload) Keys() int    { return w.keys }
func (w *orderWorkload) Request(k int, seq uint64) (string, []byte) {
	w.mu.Lock()
	w.order = append(w.order, k)
	w.mu.Unlock()
	return "/x", []byte("{}")
}

// The closed loop takes the longest-free key first: one worker goes round the keys in
// turn, so that keys sign in rounds (the requests of a round share their data).
func TestRunTakesKeysInTurn(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	defer srv.Close()
	wl := &orderWorkload{keys: 5}
	if _, err := Run(context.Background(), Options{URL: srv.URL, Workload: wl, Concurrency: 1, Duration: 100 * time.Millisecond}); err != nil {
		t.Fatal(err)
	}
	if len(wl.order) < 2*wl.keys {
		t.Skipf("only %d requests were sent", len(wl.order))
	}
	for i, k := range wl.order {
		if k != i%wl.keys {
			t.Fatalf("request %d went to key %d, want %d (order %v)", i, k, i%wl.keys, wl.order)
		}
	}
}

// The baselines run and report a rate (their values are never checked: timing).
func TestEthBaselines(t *testing.T) {
	for _, b := range EthBaselines(20*time.Millisecond, 4) {
		if b.Throughput <= 0 || b.Cores < 1 || b.Curve == "" {
			t.Fatalf("%+v", b)
		}
	}
}

// CPU times are read from /proc/<pid>/stat, whose command field may hold anything.
func TestParseStatCPU(t *testing.T) {
	d, err := parseStatCPU("4242 (key) (ward)) S 1 4242 4242 0 -1 4194560 1 0 0 0 250 50 0 0 20 0 9 0")
	if err != nil || d != 3*time.Second {
		t.Fatalf("%v, %v; want 3s", d, err)
	}
	if _, err := parseStatCPU("4242 (keyward) S 1"); err == nil {
		t.Fatal("short stat accepted")
	}
	if _, err := procCPU(os.Getpid()); err != nil {
		t.Fatal(err)
	}
	if s := sampleCPU([]int{os.Getpid(), -1}); s.ok {
		t.Fatal("unreadable process counted")
	}
}
