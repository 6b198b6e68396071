package bench

import (
	"bytes"
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	blst "github.com/supranational/blst/bindings/go"
	"golang.org/x/crypto/scrypt"
)

// EIP-2335 scrypt parameters. The bench varies only n (the work factor); r and p stay
// those of every deposit-cli keystore.
const (
	// ScryptNMainnet is the n of keystores made by staking-deposit-cli and the EIP-2335
	// default: with r=8, one decryption needs 128·r·n = 256 MiB.
	ScryptNMainnet = 1 << 18
	scryptR        = 8
	scryptP        = 1
	scryptDKLen    = 32
)

// KeystorePassword is the password of every keystore the bench generates. It is ASCII,
// so the NFKD normalisation of EIP-2335 leaves it as it is.
const KeystorePassword = "keyward-bench-password"

// EncryptKeystore returns an EIP-2335 (version 4) keystore of the BLS secret (32 bytes,
// big-endian) under password, with scrypt(n, r=8, p=1), AES-128-CTR and the SHA-256
// checksum, as staking-deposit-cli writes them.
func EncryptKeystore(secret []byte, password string, n int) ([]byte, error) {
	var sk blst.SecretKey
	if len(secret) != 32 || sk.Deserialize(secret) == nil {
		return nil, errors.New("encrypt keystore: not a BLS secret key")
	}
	defer sk.Zeroize()
	pub := new(blst.P1Affine).From(&sk).Compress()
	var salt, iv [32]byte
	var id [16]byte
	for _, b := range [][]byte{salt[:], iv[:16], id[:]} {
		if _, err := rand.Read(b); err != nil {
			return nil, fmt.Errorf("encrypt keystore: %w", err)
		}
	}
	dk, err := scrypt.Key([]byte(password), salt[:], n, scryptR, scryptP, scryptDKLen)
	if err != nil {
		return nil, fmt.Errorf("encrypt keystore: %w", err)
	}
	block, err := aes.NewCipher(dk[:16])
	if err != nil {
		return nil, fmt.Errorf("encrypt keystore: %w", err)
	}
	ct := make([]byte, len(secret))
	cipher.NewCTR(block, iv[:16]).XORKeyStream(ct, secret)
	sum := sha256.Sum256(append(dk[16:32:32], ct...))
	clear(dk)
	id[6] = id[6]&0x0f | 0x40 // UUID version 4, RFC 4122 variant
	id[8] = id[8]&0x3f | 0x80
	type module struct {
		Function string         `json:"function"`
		Params   map[string]any `json:"params"`
		Message  string         `json:"message"`
	}
	ks := map[string]any{
		"crypto": map[string]module{
			"kdf": {Function: "scrypt", Message: "", Params: map[string]any{
				"dklen": scryptDKLen, "n": n, "r": scryptR, "p": scryptP, "salt": hex.EncodeToString(salt[:])}},
			"checksum": {Function: "sha256", Params: map[string]any{}, Message: hex.EncodeToString(sum[:])},
			"cipher": {Function: "aes-128-ctr", Params: map[string]any{"iv": hex.EncodeToString(iv[:16])},
				Message: hex.EncodeToString(ct)},
		},
		"description": "keyward bench",
		"pubkey":      hex.EncodeToString(pub),
		"path":        "m/12381/3600/0/0/0",
		"uuid":        fmt.Sprintf("%x-%x-%x-%x-%x", id[0:4], id[4:6], id[6:8], id[8:10], id[10:16]),
		"version":     4,
	}
	out, err := json.Marshal(ks)
	if err != nil {
		return nil, fmt.Errorf("encrypt keystore: %w", err)
	}
	return out, nil
}

// newKeystore generates a BLS key and returns its keystore under KeystorePassword.
func newKeystore(n int) ([]byte, error) {
	var ikm [32]byte
	if _, err := rand.Read(ikm[:]); err != nil {
		return nil, fmt.Errorf("generate key: %w", err)
	}
	sk := blst.KeyGen(ikm[:])
	clear(ikm[:])
	secret := sk.Serialize()
	sk.Zeroize()
	defer clear(secret)
	return EncryptKeystore(secret, KeystorePassword, n)
}

// keystoreName is the file name of generated keystore i (staking-deposit-cli's prefix,
// so a directory of them imports as such).
func keystoreName(i int) string { return fmt.Sprintf("keystore-bench-%06d.json", i) }

// PrepareKeystores makes sure dir holds keystores 0 … n-1 with scrypt parameter scryptN,
// generating the missing ones on every core (each costs one scrypt). dir is created
// 0700 if needed and must be a directory of this user, not reachable by others, since
// it is reused between runs. Files are written whole or not at all. It returns how many
// were generated and how many found.
func PrepareKeystores(ctx context.Context, dir string, n, scryptN int) (generated, reused int, err error) {
	if err := privateDir(dir); err != nil {
		return 0, 0, fmt.Errorf("prepare keystores: %w", err)
	}
	var missing []int
	for i := range n {
		if _, err := os.Stat(filepath.Join(dir, keystoreName(i))); errors.Is(err, fs.ErrNotExist) {
			missing = append(missing, i)
		} else if err != nil {
			return 0, 0, fmt.Errorf("prepare keystores: %w", err)
		}
	}
	var next atomic.Int64
	errs := make([]error, runtime.GOMAXPROCS(0))
	var wg sync.WaitGroup
	for w := range errs {
		wg.Go(func() {
			for ctx.Err() == nil {
				k := int(next.Add(1)) - 1
				if k >= len(missing) {
					return
				}
				data, err := newKeystore(scryptN)
				if err == nil {
					err = writeFileAtomic(filepath.Join(dir, keystoreName(missing[k])), data)
				}
				if err != nil {
					errs[w] = err
					return
				}
			}
		})
	}
	wg.Wait()
	if err := errors.Join(append(errs, ctx.Err())...); err != nil {
		return 0, 0, fmt.Errorf("prepare keystores: %w", err)
	}
	return len(missing), n - len(missing), nil
}

// privateDir creates dir (0700) if it does not exist and checks that it is a directory
// owned by this user with no access for others.
func privateDir(dir string) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	fi, err := os.Lstat(dir)
	if err != nil {
		return err
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !fi.IsDir() || !ok || int(st.Uid) != os.Getuid() || fi.Mode().Perm()&0o077 != 0 {
		return fmt.Errorf("%s: not a directory of this user with mode 0700", dir)
	}
	return nil
}

// writeFileAtomic writes data to path (0600) through a temporary file and a rename.
func writeFileAtomic(path string, data []byte) error {
	f, err := os.CreateTemp(filepath.Dir(path), ".tmp-*")
	if err != nil {
		return err
	}
	_, err = f.Write(data)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(f.Name(), path)
	}
	if err != nil {
		_ = os.Remove(f.Name())
	}
	return err
}

// ScryptRate is the outcome of MeasureScrypt.
type ScryptRate struct {
	// PerSecond is the decryptions per second of all goroutines together: the sum of each
	// goroutine's own rate, so that one finishing early does not count as idle time.
	PerSecond float64
	// CPUSeconds is the process's CPU time (user and system, garbage collection
	// included) per decryption. Unlike PerSecond, it hardly moves when other processes
	// take the cores.
	CPUSeconds float64
}

// MeasureScrypt runs golang.org/x/crypto/scrypt.Key (n, r=8, p=1: what keystorev4 calls
// for one keystore) on goroutines goroutines, each for at least d and at least twice.
func MeasureScrypt(ctx context.Context, n, goroutines int, d time.Duration) (ScryptRate, error) {
	cpu0 := processCPU()
	counts := make([]int, goroutines)
	rates := make([]float64, goroutines)
	errs := make([]error, goroutines)
	var wg sync.WaitGroup
	for g := range goroutines {
		wg.Go(func() {
			password, salt := []byte(KeystorePassword), make([]byte, 32)
			start := time.Now()
			count := 0
			for count < 2 || time.Since(start) < d {
				if err := ctx.Err(); err != nil {
					errs[g] = err
					return
				}
				if _, err := scrypt.Key(password, salt, n, scryptR, scryptP, scryptDKLen); err != nil {
					errs[g] = err
					return
				}
				count++
			}
			counts[g], rates[g] = count, float64(count)/time.Since(start).Seconds()
		})
	}
	wg.Wait()
	cpu := processCPU() - cpu0
	if err := errors.Join(errs...); err != nil {
		return ScryptRate{}, fmt.Errorf("scrypt rate: %w", err)
	}
	var r ScryptRate
	total := 0
	for g := range rates {
		r.PerSecond += rates[g]
		total += counts[g]
	}
	r.CPUSeconds = cpu.Seconds() / float64(total)
	return r, nil
}

// processCPU returns the user and system time this process has used.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return rusageCPU(&ru)
}

func rusageCPU(ru *syscall.Rusage) time.Duration {
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// ImportOptions of MeasureImport.
type ImportOptions struct {
	Keys    int // keystores to import
	ScryptN int // scrypt n of the keystores (r=8, p=1); 0: ScryptNMainnet
	// Rounds splits the import into this many commands of about Keys/Rounds keystores
	// each, every one right after a measurement of scrypt on every core, so that the
	// two are compared over the same stretch of a shared machine's load. 0: min(4, Keys).
	Rounds int
	// CacheDir keeps generated keystores between runs (one subdirectory per n); see
	// PrepareKeystores.
	CacheDir string
	// Baseline is how long each scrypt rate is measured (at least two decryptions per
	// goroutine in any case).
	Baseline time.Duration
	// Workers is how many decryptions the import runs at once given enough files; it only
	// divides the peak RSS in the report.
	Workers int
	// Command returns an import to measure, reading keystoreDir with the password in
	// passwordFile (`keyward keys import`); every round's command imports into the same
	// store. Its standard output is discarded.
	Command func(keystoreDir, passwordFile string) (*exec.Cmd, error)
	// Log receives progress lines; nil: none.
	Log io.Writer
}

// ImportResult is the outcome of MeasureImport. Rates are per second. The ratios compare
// the import's rate with the parallel scrypt rate measured in the same rounds (the
// physical limit), with cores × the single-goroutine rate (the target of issue 7), and
// its CPU time per key with scrypt's CPU time per decryption (on a shared machine, the
// figure other processes disturb least).
type ImportResult struct {
	Keys           int           `json:"keys"`
	ScryptN        int           `json:"scrypt_n"`
	ScryptR        int           `json:"scrypt_r"`
	ScryptP        int           `json:"scrypt_p"`
	Cores          int           `json:"cores"`
	Workers        int           `json:"import_workers"`
	Generated      int           `json:"keystores_generated"`
	Reused         int           `json:"keystores_reused"`
	GenerateSec    float64       `json:"generate_seconds"`
	ScryptSingle   float64       `json:"scrypt_single_per_second"`
	ScryptParallel float64       `json:"scrypt_parallel_per_second"`
	ScryptCPUSec   float64       `json:"scrypt_cpu_seconds_per_decryption"`
	ImportSec      float64       `json:"import_seconds"`
	ImportRate     float64       `json:"import_keys_per_second"`
	ImportCPUSec   float64       `json:"import_cpu_seconds_per_key"`
	RatioParallel  float64       `json:"ratio_to_parallel_scrypt"`
	RatioCores     float64       `json:"ratio_to_cores_x_single_scrypt"`
	RatioCPU       float64       `json:"ratio_cpu_scrypt_to_import"`
	PeakRSSMB      float64       `json:"import_peak_rss_mb"`
	RSSPerWorkerMB float64       `json:"import_peak_rss_mb_per_worker"`
	Rounds         []ImportRound `json:"rounds"`
}

// ImportRound is one round: scrypt on every core, then an import of Keys keystores.
type ImportRound struct {
	ScryptParallel float64 `json:"scrypt_parallel_per_second"`
	Keys           int     `json:"keys"`
	ImportSec      float64 `json:"import_seconds"`
	ImportRate     float64 `json:"import_keys_per_second"`
	RatioParallel  float64 `json:"ratio_to_parallel_scrypt"`
}

// MeasureImport generates (or reuses) o.Keys keystores, then measures in one run on the
// same cores: scrypt on one goroutine; rounds of scrypt on every core followed by an
// import (wall time, CPU time and peak RSS of the command); scrypt on one goroutine
// again.
func MeasureImport(ctx context.Context, o ImportOptions) (*ImportResult, error) {
	if o.Keys < 1 || o.Command == nil || o.CacheDir == "" {
		return nil, errors.New("measure import: keys, command and cache directory are required")
	}
	if o.ScryptN == 0 {
		o.ScryptN = ScryptNMainnet
	}
	if o.Rounds <= 0 {
		o.Rounds = 4
	}
	o.Rounds = min(o.Rounds, o.Keys)
	o.Workers = min(o.Workers, o.Keys/o.Rounds) // an import runs at most one decryption per file
	if o.Log == nil {
		o.Log = io.Discard
	}
	res := &ImportResult{Keys: o.Keys, ScryptN: o.ScryptN, ScryptR: scryptR, ScryptP: scryptP,
		Cores: runtime.GOMAXPROCS(0), Workers: o.Workers}
	fmt.Fprintf(o.Log, "preparing %d keystores (scrypt n=%d) …\n", o.Keys, o.ScryptN)
	t0 := time.Now()
	cache := filepath.Join(o.CacheDir, fmt.Sprintf("scrypt-n%d", o.ScryptN))
	var err error
	if res.Generated, res.Reused, err = PrepareKeystores(ctx, cache, o.Keys, o.ScryptN); err != nil {
		return nil, fmt.Errorf("measure import: %w", err)
	}
	res.GenerateSec = time.Since(t0).Seconds()
	fmt.Fprintf(o.Log, "  %d generated in %.1f s, %d reused\n", res.Generated, res.GenerateSec, res.Reused)

	tmp, err := os.MkdirTemp("", "keyward-bench-import-")
	if err != nil {
		return nil, fmt.Errorf("measure import: %w", err)
	}
	defer os.RemoveAll(tmp)
	pwFile := filepath.Join(tmp, "password.txt")
	if err := os.WriteFile(pwFile, []byte(KeystorePassword+"\n"), 0o600); err != nil {
		return nil, fmt.Errorf("measure import: %w", err)
	}

	fmt.Fprintf(o.Log, "measuring scrypt on 1 goroutine …\n")
	single, err := MeasureScrypt(ctx, o.ScryptN, 1, o.Baseline)
	if err != nil {
		return nil, fmt.Errorf("measure import: %w", err)
	}
	var parallelOps, parallelSec, parallelCPU, importCPU float64
	for i := range o.Rounds {
		from, to := i*o.Keys/o.Rounds, (i+1)*o.Keys/o.Rounds
		ksDir := filepath.Join(tmp, fmt.Sprintf("keystores-%d", i))
		if err := copyKeystores(cache, ksDir, from, to); err != nil {
			return nil, fmt.Errorf("measure import: %w", err)
		}
		fmt.Fprintf(o.Log, "round %d/%d: scrypt on %d goroutines, then importing %d keystores …\n", i+1, o.Rounds, res.Cores, to-from)
		par, err := MeasureScrypt(ctx, o.ScryptN, res.Cores, o.Baseline)
		if err != nil {
			return nil, fmt.Errorf("measure import: %w", err)
		}
		run, err := runMeasured(ctx, o.Command, ksDir, pwFile)
		if err != nil {
			return nil, fmt.Errorf("measure import: %w", err)
		}
		r := ImportRound{ScryptParallel: par.PerSecond, Keys: to - from, ImportSec: run.wall.Seconds()}
		r.ImportRate = float64(r.Keys) / r.ImportSec
		r.RatioParallel = r.ImportRate / r.ScryptParallel
		res.Rounds = append(res.Rounds, r)
		parallelOps += par.PerSecond * r.ImportSec // the decryptions scrypt would have done meanwhile
		parallelSec += r.ImportSec
		parallelCPU += par.CPUSeconds
		importCPU += run.cpu.Seconds()
		res.ImportSec += r.ImportSec
		res.PeakRSSMB = max(res.PeakRSSMB, run.peakMB)
	}
	fmt.Fprintf(o.Log, "measuring scrypt on 1 goroutine again …\n")
	single2, err := MeasureScrypt(ctx, o.ScryptN, 1, o.Baseline)
	if err != nil {
		return nil, fmt.Errorf("measure import: %w", err)
	}
	res.ScryptSingle = (single.PerSecond + single2.PerSecond) / 2
	res.ScryptParallel = parallelOps / parallelSec
	res.ScryptCPUSec = parallelCPU / float64(o.Rounds)
	res.ImportRate = float64(o.Keys) / res.ImportSec
	res.ImportCPUSec = importCPU / float64(o.Keys)
	res.RatioParallel = res.ImportRate / res.ScryptParallel
	res.RatioCores = res.ImportRate / (float64(res.Cores) * res.ScryptSingle)
	if res.ImportCPUSec > 0 {
		res.RatioCPU = res.ScryptCPUSec / res.ImportCPUSec
	}
	if o.Workers > 0 {
		res.RSSPerWorkerMB = res.PeakRSSMB / float64(o.Workers)
	}
	return res, nil
}

// copyKeystores copies keystores from … to-1 from src into a new directory dst.
func copyKeystores(src, dst string, from, to int) error {
	if err := os.Mkdir(dst, 0o700); err != nil {
		return err
	}
	for i := from; i < to; i++ {
		data, err := os.ReadFile(filepath.Join(src, keystoreName(i)))
		if err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(dst, keystoreName(i)), data, 0o600); err != nil {
			return err
		}
	}
	return nil
}

// measuredRun is what runMeasured observed of a command.
type measuredRun struct {
	wall, cpu time.Duration
	peakMB    float64 // peak RSS
}

// runMeasured runs the command and returns its wall time, CPU time (from its rusage)
// and peak RSS (its VmHWM, read every 10 ms until it exits: the peak of an import comes
// when its workers take their scrypt buffers, at the start). A failure includes the end
// of its standard error.
func runMeasured(ctx context.Context, command func(string, string) (*exec.Cmd, error), ksDir, pwFile string) (measuredRun, error) {
	var m measuredRun
	cmd, err := command(ksDir, pwFile)
	if err != nil {
		return m, err
	}
	var stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = io.Discard, &stderr
	start := time.Now()
	if err := cmd.Start(); err != nil {
		return m, fmt.Errorf("start import: %w", err)
	}
	stop := context.AfterFunc(ctx, func() { _ = cmd.Process.Kill() })
	exited := make(chan struct{})
	polled := make(chan float64)
	go func() {
		peak := 0.0
		tick := time.NewTicker(10 * time.Millisecond)
		defer tick.Stop()
		for {
			peak = max(peak, PeakRSSMB(cmd.Process.Pid))
			select {
			case <-exited:
				polled <- peak
				return
			case <-tick.C:
			}
		}
	}()
	err = cmd.Wait()
	m.wall = time.Since(start)
	close(exited)
	m.peakMB = <-polled
	stop()
	if err != nil {
		tail := stderr.Bytes()
		tail = tail[max(0, len(tail)-2048):]
		return m, fmt.Errorf("import: %w: %s", err, bytes.TrimSpace(tail))
	}
	if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
		m.cpu = rusageCPU(ru)
	}
	return m, nil
}
