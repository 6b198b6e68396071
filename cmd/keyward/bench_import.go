package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"time"

	"github.com/keyward/keyward/internal/bench"
	"github.com/keyward/keyward/internal/config"
	"github.com/keyward/keyward/internal/keys"
)

// benchImport measures `keyward keys import` of n generated scrypt keystores against the
// scrypt rate of the same cores (keyward bench --import N) and writes the report.
func benchImport(n, scryptN int, baseline time.Duration, jsonOut string) int {
	tmp, err := os.MkdirTemp("", "keyward-bench-")
	if err != nil {
		return fail("bench: %v", err)
	}
	defer os.RemoveAll(tmp)
	dir := filepath.Join(tmp, "state")
	if _, err := initDir(initOptions{dir: dir, network: "mainnet", confinement: config.ConfinementBestEffort}); err != nil {
		return fail("bench: %v", err)
	}
	exe, err := os.Executable()
	if err != nil {
		return fail("bench: %v", err)
	}
	res, err := bench.MeasureImport(context.Background(), bench.ImportOptions{
		Keys: n, ScryptN: scryptN, Baseline: baseline, Log: os.Stdout,
		CacheDir: filepath.Join(os.TempDir(), fmt.Sprintf("keyward-bench-keystores-%d", os.Getuid())),
		Workers:  keys.DefaultImportParallelism(),
		Command: func(ksDir, pwFile string) (*exec.Cmd, error) {
			return exec.Command(exe, "keys", "import", "--dir", dir, "--keystores", ksDir, "--password-file", pwFile), nil
		},
	})
	if err != nil {
		return fail("bench: %v", err)
	}
	if err := checkImported(dir, n); err != nil {
		return fail("bench: %v", err)
	}
	rep := &importReport{Machine: machine(), Workload: "import", Import: res}
	printImportTable(rep)
	return writeBenchReport(rep, jsonOut)
}

// importReport is what --json writes with --import.
type importReport struct {
	Machine  string              `json:"machine"`
	Workload string              `json:"workload"`
	Import   *bench.ImportResult `json:"import"`
}

// checkImported verifies that the store of dir holds exactly n keys.
func checkImported(dir string, n int) error {
	st, _, err := openKeyStore(dir)
	if err != nil {
		return fmt.Errorf("check import: %w", err)
	}
	defer st.Close()
	list, err := st.List()
	if err != nil {
		return fmt.Errorf("check import: %w", err)
	}
	if len(list) != n {
		return fmt.Errorf("check import: %d keys stored, want %d", len(list), n)
	}
	return nil
}

func printImportTable(rep *importReport) {
	r := rep.Import
	fmt.Printf("\nimport of %d EIP-2335 keystores (scrypt n=%d r=%d p=%d) on %s\n", r.Keys, r.ScryptN, r.ScryptR, r.ScryptP, rep.Machine)
	fmt.Printf("  scrypt on 1 goroutine: %.3f/s (before and after the rounds)\n\n", r.ScryptSingle)
	fmt.Printf("  %-6s %26s %6s %16s %10s\n", "round", fmt.Sprintf("scrypt on %d goroutines/s", r.Cores), "keys", "import keys/s", "ratio")
	for i, x := range r.Rounds {
		fmt.Printf("  %-6d %26.3f %6d %16.3f %10.3f\n", i+1, x.ScryptParallel, x.Keys, x.ImportRate, x.RatioParallel)
	}
	fmt.Printf("  %-6s %26.3f %6d %16.3f %10.3f\n", "all", r.ScryptParallel, r.Keys, r.ImportRate, r.RatioParallel)
	fmt.Printf("\n  import (%d decryptions at once) / parallel scrypt: %.3f   / (%d × single scrypt): %.3f\n", r.Workers, r.RatioParallel, r.Cores, r.RatioCores)
	fmt.Printf("  CPU per key: scrypt %.1f ms, import %.1f ms (scrypt / import %.3f)\n", 1000*r.ScryptCPUSec, 1000*r.ImportCPUSec, r.RatioCPU)
	fmt.Printf("  peak RSS of the import: %.0f MB (%.0f MB per worker)\n", r.PeakRSSMB, r.RSSPerWorkerMB)
}
