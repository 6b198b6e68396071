// Package bench is the load generator and the baselines behind `keyward bench`: it drives
// a running keyward over HTTP at a fixed concurrency or an open-loop rate, records the
// latency of every request, and measures, in the same run on the same cores, the raw
// signing rate of the same curve, so that results are ratios rather than machine-specific
// numbers. It is a client: it holds only keys it generated for measuring.
package bench

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"sync"
	"time"
)

// Workload builds request number seq for key k: the URL path and the JSON body. The
// runner gives each key one owner at a time and numbers its requests 0, 1, 2, … in the
// order they are sent, so a workload that moves slots and epochs forward with seq is
// never refused by protection: a refusal counts as an error. Keys are taken in turn, the
// next free one first (in both loops), so they sign in rounds: the requests in flight
// at any moment have nearly the same seq, as the validators attesting in one slot do.
type Workload interface {
	Name() string
	Keys() int
	Request(k int, seq uint64) (path string, body []byte)
}

// Options of one run.
type Options struct {
	URL         string        // e.g. http://127.0.0.1:9000
	Workload    Workload      // what to send
	Concurrency int           // closed loop: requests in flight (used when Rate is 0)
	Rate        float64       // open loop: requests per second (0: closed loop)
	Duration    time.Duration // how long to send
	Client      *http.Client  // nil: the generator's own HTTP/1.1 client (client.go)
	// Seq holds, per key, the next sequence number. Pass the same slice to every run
	// against one signer (a sweep), so no run repeats a request an earlier one sent: a
	// repeated request is signed again without a new protection record, and would flatter
	// the figures. Nil: start from 0.
	Seq []uint64
	// SignerPIDs are the signer's processes on this machine (gateway and core), whose CPU
	// time per signature the result reports. Nil: only the load generator's is reported.
	SignerPIDs []int
}

// Result of one run. Latencies are measured from the moment a request was due (open
// loop) or sent (closed loop), so a stalled signer shows as latency, not as a lower rate.
type Result struct {
	Workload    string  `json:"workload"`
	Concurrency int     `json:"concurrency,omitempty"`
	OfferedRate float64 `json:"offered_rate,omitempty"`
	Seconds     float64 `json:"seconds"`
	OK          int     `json:"ok"`
	Errors      int     `json:"errors"`
	Shed        int     `json:"shed_503"`
	Throughput  float64 `json:"throughput"`
	P50Ms       float64 `json:"p50_ms"`
	P90Ms       float64 `json:"p90_ms"`
	P99Ms       float64 `json:"p99_ms"`
	MaxMs       float64 `json:"max_ms"`
	FirstError  string  `json:"first_error,omitempty"`
	// CPU time per successful signature (µs): the signer's processes (when known) and
	// this load generator, over the run.
	SignerCPUUs float64 `json:"signer_cpu_us_per_signature,omitempty"`
	ClientCPUUs float64 `json:"client_cpu_us_per_signature,omitempty"`
	// GeneratorLagP99Ms (open loop) is how late this load generator itself started its
	// requests, 99th percentile: the part of the latency percentiles that is the generator
	// waiting for a core on a shared machine, not the signer.
	GeneratorLagP99Ms float64 `json:"generator_lag_p99_ms,omitempty"`
}

// Run drives the signer as o says.
func Run(ctx context.Context, o Options) (*Result, error) {
	if o.Workload == nil || o.URL == "" || o.Duration <= 0 {
		return nil, errors.New("bench: workload, URL and duration are required")
	}
	if o.Rate <= 0 && o.Concurrency <= 0 {
		return nil, errors.New("bench: need a concurrency or a rate")
	}
	var client poster = stdPoster{c: o.Client, base: o.URL}
	if o.Client == nil {
		pool, err := newConnPool(o.URL)
		if err != nil {
			return nil, err
		}
		defer pool.close()
		client = pool
	}
	rec := &recorder{}
	ctx, cancel := context.WithTimeout(ctx, o.Duration)
	defer cancel()
	cpu0 := sampleCPU(o.SignerPIDs)
	start := time.Now()
	var wg sync.WaitGroup
	nkeys := o.Workload.Keys()
	if nkeys == 0 {
		return nil, errors.New("bench: the workload has no keys")
	}
	seq := o.Seq // per key; each key has one owner at a time
	if seq == nil {
		seq = make([]uint64, nkeys)
	}
	if len(seq) != nkeys {
		return nil, fmt.Errorf("bench: %d sequence counters for %d keys", len(seq), nkeys)
	}
	free := make(chan int, nkeys) // keys not in flight, the longest free first
	for k := range nkeys {
		free <- k
	}
	if o.Rate > 0 {
		runOpen(ctx, client, o, rec, &wg, seq, free)
	} else {
		if o.Concurrency > nkeys {
			return nil, fmt.Errorf("bench: concurrency %d above the %d keys (each key signs in order)", o.Concurrency, nkeys)
		}
		for range o.Concurrency {
			wg.Go(func() {
				for ctx.Err() == nil {
					k := <-free // never empty: at most Concurrency keys are out
					t0 := time.Now()
					rec.add(send(client, o.Workload, k, seq[k]), time.Since(t0))
					seq[k]++
					free <- k
				}
			})
		}
	}
	wg.Wait()
	res := rec.result(o, time.Since(start))
	cpu1 := sampleCPU(o.SignerPIDs)
	res.ClientCPUUs = perSignature(cpu1.self-cpu0.self, res.OK)
	if cpu0.ok && cpu1.ok {
		res.SignerCPUUs = perSignature(cpu1.signer-cpu0.signer, res.OK)
	}
	return res, nil
}

// runOpen sends at a fixed rate whatever the answers; each request takes a free key,
// runs in its own goroutine and gives the key back. With no key free the generator itself
// is saturated: that is counted as an error, never hidden.
func runOpen(ctx context.Context, client poster, o Options, rec *recorder, wg *sync.WaitGroup, seq []uint64, free chan int) {
	interval := time.Duration(float64(time.Second) / o.Rate)
	next := time.Now()
	for ctx.Err() == nil {
		due := next
		next = next.Add(interval)
		if d := time.Until(due); d > 0 {
			select {
			case <-ctx.Done():
				return
			case <-time.After(d):
			}
		}
		var k int
		select {
		case k = <-free:
		default:
			rec.add(errNoKey, 0)
			continue
		}
		wg.Go(func() {
			rec.addLag(time.Since(due))
			rec.add(send(client, o.Workload, k, seq[k]), time.Since(due))
			seq[k]++
			free <- k
		})
	}
}

var errNoKey = errors.New("load generator: every key busy (use more keys)")

// errShed marks a 503 answer: the signer shed load as designed.
var errShed = errors.New("503")

func send(client poster, w Workload, k int, seq uint64) error {
	path, body := w.Request(k, seq)
	status, answer, err := client.post(path, body)
	switch {
	case err != nil:
		return err
	case status == http.StatusOK:
		return nil
	case status == http.StatusServiceUnavailable:
		return errShed
	default:
		return fmt.Errorf("HTTP %d: %s", status, bytes.TrimSpace(answer))
	}
}

// recorder collects latencies of successful requests and counts failures.
type recorder struct {
	mu       sync.Mutex // guards all fields
	lat      []time.Duration
	lag      []time.Duration // open loop: request started − request due
	errors   int
	shed     int
	firstErr string
}

func (r *recorder) add(err error, d time.Duration) {
	r.mu.Lock()
	defer r.mu.Unlock()
	switch {
	case err == nil:
		r.lat = append(r.lat, d)
	case errors.Is(err, errShed):
		r.shed++
	default:
		r.errors++
		if r.firstErr == "" {
			r.firstErr = err.Error()
		}
	}
}

func (r *recorder) addLag(d time.Duration) {
	r.mu.Lock()
	r.lag = append(r.lag, d)
	r.mu.Unlock()
}

// percentile returns the p-th percentile of sorted in milliseconds (0 if empty).
func percentile(sorted []time.Duration, p float64) float64 {
	if len(sorted) == 0 {
		return 0
	}
	return float64(sorted[int(p*float64(len(sorted)-1))].Microseconds()) / 1000
}

func (r *recorder) result(o Options, elapsed time.Duration) *Result {
	r.mu.Lock()
	defer r.mu.Unlock()
	slices.Sort(r.lat)
	slices.Sort(r.lag)
	pct := func(p float64) float64 { return percentile(r.lat, p) }
	res := &Result{
		Workload: o.Workload.Name(), Concurrency: o.Concurrency, OfferedRate: o.Rate,
		Seconds: elapsed.Seconds(), OK: len(r.lat), Errors: r.errors, Shed: r.shed,
		Throughput: float64(len(r.lat)) / elapsed.Seconds(),
		P50Ms:      pct(0.50), P90Ms: pct(0.90), P99Ms: pct(0.99), MaxMs: pct(1), FirstError: r.firstErr,
		GeneratorLagP99Ms: percentile(r.lag, 0.99),
	}
	if o.Rate > 0 {
		res.Concurrency = 0
	}
	return res
}
