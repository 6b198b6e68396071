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
	"io"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// Workload builds the body of the i-th request for worker w: the URL path and the JSON
// body. Workloads must produce requests the signer accepts (distinct keys or increasing
// epochs), so that refusals count as errors.
type Workload interface {
	Name() string
	Request(worker int, i uint64) (path string, body []byte)
}

// Options of one run.
type Options struct {
	URL         string        // e.g. http://127.0.0.1:9000
	Workload    Workload      // what to send
	Concurrency int           // closed loop: requests in flight (used when Rate is 0)
	Rate        float64       // open loop: requests per second (0: closed loop)
	Duration    time.Duration // how long to send
	Client      *http.Client  // nil: a client with enough idle connections
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
}

// Run drives the signer as o says.
func Run(ctx context.Context, o Options) (*Result, error) {
	if o.Workload == nil || o.URL == "" || o.Duration <= 0 {
		return nil, errors.New("bench: workload, URL and duration are required")
	}
	if o.Rate <= 0 && o.Concurrency <= 0 {
		return nil, errors.New("bench: need a concurrency or a rate")
	}
	client := o.Client
	if client == nil {
		client = &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 4096, MaxConnsPerHost: 0}}
	}
	rec := &recorder{}
	ctx, cancel := context.WithTimeout(ctx, o.Duration)
	defer cancel()
	start := time.Now()
	var wg sync.WaitGroup
	if o.Rate > 0 {
		runOpen(ctx, client, o, rec, &wg)
	} else {
		for w := 0; w < o.Concurrency; w++ {
			wg.Go(func() {
				for i := uint64(0); ctx.Err() == nil; i++ {
					t0 := time.Now()
					rec.add(send(client, o.URL, o.Workload, w, i), time.Since(t0))
				}
			})
		}
	}
	wg.Wait()
	return rec.result(o, time.Since(start)), nil
}

// runOpen sends at a fixed rate whatever the answers; each request runs in its own
// goroutine, bounded by a generous cap so a dead signer cannot exhaust the machine.
func runOpen(ctx context.Context, client *http.Client, o Options, rec *recorder, wg *sync.WaitGroup) {
	interval := time.Duration(float64(time.Second) / o.Rate)
	sem := make(chan struct{}, 8192)
	next := time.Now()
	var n atomic.Uint64
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
		select {
		case sem <- struct{}{}:
		default:
			rec.add(errOverCap, 0) // the generator itself is saturated: count it, never hide it
			continue
		}
		i := n.Add(1)
		wg.Go(func() {
			defer func() { <-sem }()
			rec.add(send(client, o.URL, o.Workload, int(i%1024), i), time.Since(due))
		})
	}
}

var errOverCap = errors.New("load generator over its in-flight cap")

// errShed marks a 503 answer: the signer shed load as designed.
var errShed = errors.New("503")

func send(client *http.Client, url string, w Workload, worker int, i uint64) error {
	path, body := w.Request(worker, i)
	req, err := http.NewRequest(http.MethodPost, url+path, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	resp.Body.Close()
	switch {
	case resp.StatusCode == http.StatusOK:
		return nil
	case resp.StatusCode == http.StatusServiceUnavailable:
		return errShed
	default:
		return fmt.Errorf("HTTP %d: %s", resp.StatusCode, bytes.TrimSpace(b))
	}
}

// recorder collects latencies of successful requests and counts failures.
type recorder struct {
	mu       sync.Mutex // guards all fields
	lat      []time.Duration
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

func (r *recorder) result(o Options, elapsed time.Duration) *Result {
	r.mu.Lock()
	defer r.mu.Unlock()
	slices.Sort(r.lat)
	pct := func(p float64) float64 {
		if len(r.lat) == 0 {
			return 0
		}
		i := int(p * float64(len(r.lat)-1))
		return float64(r.lat[i].Microseconds()) / 1000
	}
	res := &Result{
		Workload: o.Workload.Name(), Concurrency: o.Concurrency, OfferedRate: o.Rate,
		Seconds: elapsed.Seconds(), OK: len(r.lat), Errors: r.errors, Shed: r.shed,
		Throughput: float64(len(r.lat)) / elapsed.Seconds(),
		P50Ms:      pct(0.50), P90Ms: pct(0.90), P99Ms: pct(0.99), MaxMs: pct(1), FirstError: r.firstErr,
	}
	if o.Rate > 0 {
		res.Concurrency = 0
	}
	return res
}
