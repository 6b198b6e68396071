package bench

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

// countingWorkload records the order of sequence numbers each key was sent.
type countingWorkload struct {
	mu   sync.Mutex
	seen map[int][]uint64
	keys int
}

func (w *countingWorkload) Name() string { return "counting" }
func (w *countingWorkload) Keys() int    { return w.keys }
func (w *countingWorkload) Request(k int, seq uint64) (string, []byte) {
	w.mu.Lock()
	w.seen[k] = append(w.seen[k], seq)
	w.mu.Unlock()
	return "/x", []byte("{}")
}

// TestRunKeysInOrder: whatever the mode, each key's requests are numbered 0,1,2,… in the
// order they are sent, which is what keeps workloads clear of protection refusals.
func TestRunKeysInOrder(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		time.Sleep(time.Millisecond)
	}))
	defer srv.Close()
	wl := &countingWorkload{seen: map[int][]uint64{}, keys: 128}
	seq := make([]uint64, wl.keys) // shared: the second run continues the first's numbering
	for _, o := range []Options{{Concurrency: 4, Seq: seq}, {Rate: 500, Seq: seq}} {
		o.URL, o.Workload, o.Duration = srv.URL, wl, 300*time.Millisecond
		res, err := Run(context.Background(), o)
		if err != nil {
			t.Fatal(err)
		}
		// Under the race detector the server can be slow enough to keep every key busy;
		// the runner counts that as a generator error by design, which is not a failure here.
		if res.OK == 0 || (res.Errors != 0 && !strings.Contains(res.FirstError, "every key busy")) {
			t.Fatalf("%+v: %+v", o, res)
		}
		for k, seqs := range wl.seen {
			for i, s := range seqs {
				if s != uint64(i) {
					t.Fatalf("key %d: sequence %v not 0,1,2,…", k, seqs)
				}
			}
		}
		if !(res.P50Ms <= res.P90Ms && res.P90Ms <= res.P99Ms && res.P99Ms <= res.MaxMs) {
			t.Fatalf("percentiles out of order: %+v", res)
		}
		// The generator's own lateness is part of an open-loop latency, never more.
		if o.Rate > 0 && (res.GeneratorLagP99Ms < 0 || res.GeneratorLagP99Ms > res.MaxMs) || o.Rate == 0 && res.GeneratorLagP99Ms != 0 {
			t.Fatalf("generator lag %v ms with max latency %v ms", res.GeneratorLagP99Ms, res.MaxMs)
		}
	}
}

// TestRunCountsFailures: 503 is counted as shed, other statuses as errors with the first
// message kept.
func TestRunCountsFailures(t *testing.T) {
	n := 0
	var mu sync.Mutex
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		n++
		i := n
		mu.Unlock()
		switch i % 3 {
		case 1:
			w.WriteHeader(http.StatusServiceUnavailable)
		case 2:
			w.WriteHeader(http.StatusPreconditionFailed)
			w.Write([]byte("refused"))
		}
	}))
	defer srv.Close()
	res, err := Run(context.Background(), Options{URL: srv.URL, Workload: &countingWorkload{seen: map[int][]uint64{}, keys: 2}, Concurrency: 1, Duration: 200 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	if res.Shed == 0 || res.Errors == 0 || res.OK == 0 || !strings.Contains(res.FirstError, "412") {
		t.Fatalf("%+v", res)
	}
	if _, err := Run(context.Background(), Options{URL: srv.URL, Workload: &countingWorkload{keys: 1}, Concurrency: 2, Duration: time.Millisecond}); err == nil {
		t.Fatal("concurrency above the number of keys accepted")
	}
}
