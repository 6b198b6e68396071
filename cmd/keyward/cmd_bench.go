package main

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/keyward/keyward/internal/bench"
	"github.com/keyward/keyward/internal/config"
	"github.com/keyward/keyward/internal/eth"
	"github.com/keyward/keyward/internal/keys"
	"github.com/keyward/keyward/internal/tezos"
)

const benchHelp = `Measure keyward: throughput and latency (p50/p90/p99/max) of signing through HTTP,
gateway, core and durable protection, beside the raw signing rate of the same curve
measured in the same run on the same cores. The headline is the ratio end-to-end / raw.
Ethereum runs report it against raw blst signing (hash and multiply per signature), raw
signing plus verification, and raw signing that hashes each message once for all keys.
With a self-started signer, CPU time per signature of the signer and of the load
generator is reported too: on a shared machine it is steadier than throughput.

Without --url, bench starts its own keyward on a temporary state directory with --keys
generated keys (at least the concurrency and 256; plus up to 256 tz1 keys), and also
reports start-up time (until /healthcheck is healthy) and peak memory (VmHWM) of the
gateway and the core. --sweep finds the maximum rate, then offers 10%…200% of it in open
loop and draws latency against offered load (--svg).

Workloads: eth-attestation (keys signing in one round sign identical data, as in a slot
since Electra), eth-attestation-distinct (each key its own data: the worst case),
eth-block, eth-aggregate, tezos-attestation.

With --import N, bench measures "keyward keys import" of N generated EIP-2335 scrypt
keystores instead (n from --scrypt-n, r=8, p=1; kept in $TMPDIR between runs), against
scrypt on one goroutine and on every core measured in the same run (each for
--duration), and reports the import's rate, both ratios and its peak RSS.

Examples:
  keyward bench --workload eth-attestation --concurrency 64 --duration 10s
  keyward bench --sweep --svg latency.svg --json bench.json
  keyward bench --keys 10000 --startup-only
  keyward bench --import 64 --duration 5s
  keyward bench --url http://127.0.0.1:9000 --keys-from-server --rate 500`

// benchReport is what --json writes.
type benchReport struct {
	Machine   string            `json:"machine"`
	Workload  string            `json:"workload"`
	Keys      int               `json:"keys"`
	Baselines []bench.Baseline  `json:"baselines"`
	Runs      []*bench.Result   `json:"runs"`
	Ratio     float64           `json:"ratio_to_raw_sign,omitempty"`
	RatioSV   float64           `json:"ratio_to_raw_sign_verify,omitempty"`
	RatioSH   float64           `json:"ratio_to_raw_sign_shared_hash,omitempty"`
	CPURatio  float64           `json:"cpu_ratio_to_raw_sign,omitempty"` // raw sign's CPU per signature / signer's + load generator's
	Startup   *startupReport    `json:"startup,omitempty"`
	Notes     map[string]string `json:"notes,omitempty"`
}

type startupReport struct {
	Keys         int     `json:"keys"`
	HealthySec   float64 `json:"seconds_until_healthy"`
	GatewayRSSMB float64 `json:"gateway_peak_rss_mb"`
	CoreRSSMB    float64 `json:"core_peak_rss_mb"`
}

func cmdBench(args []string) int {
	fs := newFlags("bench", "bench [flags]", benchHelp)
	url := fs.String("url", "", "bench a running keyward at this URL instead of starting one")
	tezURL := fs.String("tezos-url", "", "with --url: the Octez API URL of the running keyward")
	nkeys := fs.Int("keys", 64, "keys to generate (self-started signer)")
	workload := fs.String("workload", "eth-attestation", "eth-attestation, eth-attestation-distinct, eth-block, eth-aggregate or tezos-attestation")
	conc := fs.Int("concurrency", 64, "requests in flight (closed loop)")
	rate := fs.Float64("rate", 0, "requests per second (open loop); 0: closed loop")
	dur := fs.Duration("duration", 10*time.Second, "duration of each run")
	sweep := fs.Bool("sweep", false, "find the maximum, then offer 10%…200% of it in open loop")
	svg := fs.String("svg", "", "with --sweep: write latency against offered load to this SVG file")
	jsonOut := fs.String("json", "", "write the report as JSON to this file")
	startupOnly := fs.Bool("startup-only", false, "only measure start-up time and memory with --keys keys")
	confinement := fs.String("confinement", config.ConfinementBestEffort, "self-started signer's confinement")
	importN := fs.Int("import", 0, "measure the import of this many generated scrypt keystores instead")
	scryptN := fs.Int("scrypt-n", bench.ScryptNMainnet, "with --import: scrypt n of the keystores (a power of 2)")
	if st := parse(fs, args); st >= 0 {
		return st
	}
	if *importN > 0 {
		return benchImport(*importN, *scryptN, *dur, *jsonOut)
	}
	rep := &benchReport{Machine: machine(), Workload: *workload, Notes: map[string]string{}}
	ctx := context.Background()

	var ethKeys, tezKeys []string
	var signerPIDs []int // gateway and core of a self-started signer, for CPU time
	var net *eth.Network
	ethURL, tzURL := *url, *tezURL
	if ethURL == "" {
		n := *nkeys
		if !*startupOnly {
			n = max(n, *conc, 256) // each key signs in order: enough keys for every worker and a sweep
		}
		s, err := startBenchSigner(n, *confinement)
		if err != nil {
			return fail("bench: %v", err)
		}
		defer s.stop()
		rep.Startup = s.startup
		ethURL, tzURL, ethKeys, tezKeys, net = s.ethURL, s.tezURL, s.ethKeys, s.tezKeys, s.network
		signerPIDs = []int{s.cmd.Process.Pid, s.corePID}
		fmt.Printf("start-up with %d keys: healthy in %.2f s; peak RSS gateway %.1f MB, core %.1f MB\n",
			s.startup.Keys, s.startup.HealthySec, s.startup.GatewayRSSMB, s.startup.CoreRSSMB)
		if *startupOnly {
			return writeBenchReport(rep, *jsonOut)
		}
	} else {
		var err error
		if ethKeys, err = fetchKeys(ethURL); err != nil {
			return fail("bench: %v", err)
		}
		if net, err = eth.BuiltinNetwork("mainnet"); err != nil {
			return fail("bench: %v", err)
		}
		rep.Notes["network"] = "requests built for mainnet; --url signers must pin mainnet"
	}
	rep.Keys = len(ethKeys)

	var wl bench.Workload
	base := uint64(time.Now().Unix() % 100000 * 1000)
	switch *workload {
	case "eth-attestation", "eth-attestation-distinct", "eth-block", "eth-aggregate":
		wl = bench.NewEthWorkload(*workload, net, ethKeys, base)
		fmt.Println("measuring raw blst signing on all cores …")
		rep.Baselines = append(rep.Baselines, bench.EthBaselines(3*time.Second, len(ethKeys))...)
	case "tezos-attestation":
		if len(tezKeys) == 0 || tzURL == "" {
			return fail("bench: tezos-attestation needs a self-started signer (or --tezos-url with tz1 keys)")
		}
		chain, _ := tezos.ParseChainID("NetXdQprcVkpaWU")
		wl = &bench.TezosWorkload{ChainID: chain, PKHs: tezKeys, Base: uint32(base)}
		ethURL = tzURL
		fmt.Println("measuring raw ed25519 signing on all cores …")
		rep.Baselines = append(rep.Baselines, bench.RawEd25519(3*time.Second))
	default:
		return fail("bench: unknown workload %q", *workload)
	}

	seq := make([]uint64, wl.Keys()) // shared by every run: no request is ever repeated
	runOnce := func(c int, r float64) (*bench.Result, error) {
		return bench.Run(ctx, bench.Options{URL: ethURL, Workload: wl, Concurrency: c, Rate: r, Duration: *dur, Seq: seq, SignerPIDs: signerPIDs})
	}
	first, err := runOnce(*conc, *rate)
	if err != nil {
		return fail("bench: %v", err)
	}
	rep.Runs = append(rep.Runs, first)
	if *sweep {
		maxRate := first.Throughput
		for _, f := range []float64{0.1, 0.25, 0.5, 0.75, 0.9, 1.0, 1.5, 2.0} {
			r, err := runOnce(0, maxRate*f)
			if err != nil {
				return fail("bench: %v", err)
			}
			rep.Runs = append(rep.Runs, r)
		}
	}
	if len(rep.Baselines) > 0 && rep.Baselines[0].Throughput > 0 {
		rep.Ratio = first.Throughput / rep.Baselines[0].Throughput
		if len(rep.Baselines) > 2 {
			rep.RatioSV = first.Throughput / rep.Baselines[1].Throughput
			rep.RatioSH = first.Throughput / rep.Baselines[2].Throughput
		}
		if first.SignerCPUUs > 0 {
			rep.CPURatio = rep.Baselines[0].CPUUs / (first.SignerCPUUs + first.ClientCPUUs)
		}
	}
	printBenchTable(rep)
	if *svg != "" && *sweep {
		f, err := os.Create(*svg)
		if err != nil {
			return fail("bench: %v", err)
		}
		err = bench.WriteSVG(f, fmt.Sprintf("keyward %s: latency against offered load (%s)", wl.Name(), rep.Machine), rep.Runs[1:])
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return fail("bench: %v", err)
		}
	}
	return writeBenchReport(rep, *jsonOut)
}

func printBenchTable(rep *benchReport) {
	fmt.Printf("\n%s on %s, %d keys\n", rep.Workload, rep.Machine, rep.Keys)
	for _, b := range rep.Baselines {
		fmt.Printf("  raw %-30s %10.0f signatures/s on %d cores\n", b.Curve, b.Throughput, b.Cores)
	}
	fmt.Printf("\n  %-10s %-10s %10s %8s %8s %8s %8s %8s %6s %6s\n", "conc", "offered/s", "ok/s", "p50 ms", "p90 ms", "p99 ms", "max ms", "ok", "503", "errors")
	for _, r := range rep.Runs {
		conc, off := "-", "-"
		if r.Concurrency > 0 {
			conc = strconv.Itoa(r.Concurrency)
		}
		if r.OfferedRate > 0 {
			off = fmt.Sprintf("%.0f", r.OfferedRate)
		}
		fmt.Printf("  %-10s %-10s %10.0f %8.2f %8.2f %8.2f %8.2f %8d %6d %6d\n", conc, off, r.Throughput, r.P50Ms, r.P90Ms, r.P99Ms, r.MaxMs, r.OK, r.Shed, r.Errors)
		if r.FirstError != "" {
			fmt.Printf("    first error: %s\n", r.FirstError)
		}
	}
	if rep.Ratio > 0 {
		fmt.Printf("\n  end-to-end / raw sign: %.2f", rep.Ratio)
		if rep.RatioSV > 0 {
			fmt.Printf("   end-to-end / raw sign+verify: %.2f", rep.RatioSV)
		}
		if rep.RatioSH > 0 {
			fmt.Printf("   end-to-end / raw sign, one hash per message: %.2f", rep.RatioSH)
		}
		fmt.Println()
	}
	if r := rep.Runs; len(r) > 0 && rep.CPURatio > 0 {
		fmt.Printf("  CPU per signature: signer %.0f µs, load generator %.0f µs; raw sign %.0f µs: CPU ratio %.2f\n",
			r[0].SignerCPUUs, r[0].ClientCPUUs, rep.Baselines[0].CPUUs, rep.CPURatio)
	}
}

func writeBenchReport(rep any, path string) int {
	if path == "" {
		return 0
	}
	b, err := json.MarshalIndent(rep, "", "  ")
	if err != nil {
		return fail("bench: %v", err)
	}
	if err := os.WriteFile(path, append(b, '\n'), 0o644); err != nil {
		return fail("bench: %v", err)
	}
	return 0
}

func machine() string {
	b, _ := os.ReadFile("/proc/cpuinfo")
	model := "unknown CPU"
	for _, l := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(l, "model name") {
			model = strings.TrimSpace(strings.SplitN(l, ":", 2)[1])
			break
		}
	}
	return fmt.Sprintf("%s, %d cores", model, numCPU())
}

func numCPU() int {
	b, _ := os.ReadFile("/proc/cpuinfo")
	return max(1, strings.Count(string(b), "\nprocessor")+boolInt(strings.HasPrefix(string(b), "processor")))
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// benchSigner is a keyward started by bench.
type benchSigner struct {
	cmd              *exec.Cmd
	dir              string
	ethURL, tezURL   string
	ethKeys, tezKeys []string
	corePID          int
	network          *eth.Network
	startup          *startupReport
}

func (s *benchSigner) stop() {
	_ = s.cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan struct{})
	go func() { _ = s.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		_ = s.cmd.Process.Kill()
	}
	_ = os.RemoveAll(filepath.Dir(s.dir))
}

func freeLoopback() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}

// startBenchSigner initializes a temporary state directory with n BLS keys and n/8+1
// tz1 keys, starts `keyward run` and measures start-up and memory.
func startBenchSigner(n int, confinement string) (*benchSigner, error) {
	tmp, err := os.MkdirTemp("", "keyward-bench-")
	if err != nil {
		return nil, err
	}
	dir := filepath.Join(tmp, "state")
	ethAddr, err := freeLoopback()
	if err != nil {
		return nil, err
	}
	tezAddr, err := freeLoopback()
	if err != nil {
		return nil, err
	}
	network, err := initDir(initOptions{dir: dir, network: "mainnet", listen: ethAddr, confinement: confinement, tezosListen: tezAddr})
	if err != nil {
		return nil, err
	}
	store, _, err := openKeyStore(dir)
	if err != nil {
		return nil, err
	}
	meta := keys.Meta{Source: keys.SourceGenerated, Created: time.Now()}
	pubs, err := keys.GenerateBLS(store, n, meta)
	if err != nil {
		store.Close()
		return nil, err
	}
	s := &benchSigner{dir: dir, ethURL: "http://" + ethAddr, tezURL: "http://" + tezAddr, network: network}
	for _, p := range pubs {
		s.ethKeys = append(s.ethKeys, "0x"+hex.EncodeToString(p[:]))
	}
	for i := 0; i < min(n, 256); i++ {
		pk, err := keys.GenerateTezos(store, tezos.KeyKindEd25519, meta)
		if err != nil {
			store.Close()
			return nil, err
		}
		s.tezKeys = append(s.tezKeys, pk.Hash().String())
	}
	store.Close()
	exe, err := os.Executable()
	if err != nil {
		return nil, err
	}
	s.cmd = exec.Command(exe, "run", "--dir", dir)
	s.cmd.Stderr = nil
	start := time.Now()
	if err := s.cmd.Start(); err != nil {
		return nil, err
	}
	var h struct {
		Status  string `json:"status"`
		CorePID int    `json:"core_pid"`
	}
	client := &http.Client{Timeout: 2 * time.Second}
	for {
		if resp, err := client.Get(s.ethURL + "/healthcheck"); err == nil {
			_ = json.NewDecoder(resp.Body).Decode(&h)
			resp.Body.Close()
			if resp.StatusCode == 200 && h.Status == "UP" {
				break
			}
		}
		if time.Since(start) > 5*time.Minute {
			s.stop()
			return nil, fmt.Errorf("signer not healthy after 5 minutes")
		}
		time.Sleep(5 * time.Millisecond)
	}
	s.corePID = h.CorePID
	s.startup = &startupReport{Keys: n, HealthySec: time.Since(start).Seconds(),
		GatewayRSSMB: bench.PeakRSSMB(s.cmd.Process.Pid), CoreRSSMB: bench.PeakRSSMB(h.CorePID)}
	return s, nil
}

func fetchKeys(url string) ([]string, error) {
	resp, err := http.Get(url + "/api/v1/eth2/publicKeys")
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	var ks []string
	if err := json.NewDecoder(resp.Body).Decode(&ks); err != nil {
		return nil, fmt.Errorf("read public keys: %w", err)
	}
	if len(ks) == 0 {
		return nil, fmt.Errorf("the signer at %s has no keys", url)
	}
	return ks, nil
}
