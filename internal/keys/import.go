package keys

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strings"
	"sync"
	"time"
	"unsafe"

	keystorev4 "github.com/wealdtech/go-eth2-wallet-encryptor-keystorev4"
)

// ImportOptions says what Import reads.
type ImportOptions struct {
	// Paths are keystore files, or directories in the staking-deposit-cli layout: every
	// regular file named keystore*.json directly inside is imported (deposit_data*.json
	// and anything else is skipped; subdirectories are not entered). A file named
	// explicitly is imported whatever its name.
	Paths []string
	// PasswordFile holds the one password of every keystore. Exactly one of PasswordFile
	// and PasswordDir is set.
	PasswordFile string
	// PasswordDir holds one password file per keystore. For keystore <dir>/<name>.json the
	// first of these that exists is used: <name>.txt, <name>, 0x<pubkey>.txt,
	// <pubkey>.txt (pubkey: the keystore's pubkey field, lower-case hex).
	PasswordDir string
	// Parallelism bounds concurrent decryptions; 0 means min(GOMAXPROCS,
	// MemAvailable / 300 MiB), at least 1 (one scrypt with n=2^18, r=8 needs 256 MiB).
	Parallelism int
	// Progress, if set, is called after each file with the number done and the total. It
	// is never called concurrently.
	Progress func(done, total int)
	// Now stamps the imported keys' creation time; nil means time.Now.
	Now func() time.Time
}

// ImportStatus is the outcome for one file. The zero value means not attempted.
type ImportStatus uint8

// Import outcomes.
const (
	ImportNotAttempted ImportStatus = iota // the import stopped (cancelled) before this file
	ImportImported                         // sealed and stored
	ImportExists                           // the key was already in the store; nothing written
	ImportFailed                           // refused; Err says why
)

// String returns a short lower-case name.
func (s ImportStatus) String() string {
	switch s {
	case ImportImported:
		return "imported"
	case ImportExists:
		return "already present"
	case ImportFailed:
		return "failed"
	default:
		return "not attempted"
	}
}

// ImportResult is the outcome of one keystore file.
type ImportResult struct {
	Path      string
	PublicKey [BLSPublicKeySize]byte // the keystore's pubkey field; zero if it was unreadable
	Status    ImportStatus
	Err       error // for ImportFailed and ImportNotAttempted
}

// ImportReport lists one result per keystore file, in the order the files were found.
type ImportReport struct {
	Results []ImportResult
}

// Count returns how many files ended with status st.
func (r ImportReport) Count(st ImportStatus) int {
	n := 0
	for _, res := range r.Results {
		if res.Status == st {
			n++
		}
	}
	return n
}

// Limits of password files.
const maxPasswordSize = 4 << 10

// Import imports EIP-2335 keystores into s (keyward keys import). Each keystore is parsed
// strictly, decrypted with its password (keystorev4, bounded parallelism), checked to hold
// the secret of its pubkey field (ErrPublicKeyMismatch otherwise), re-sealed under the
// master key and stored (Inv 9); the decrypted secret is zeroed once sealed. Passwords
// are never written anywhere. A key already in the store is reported and skipped before
// any decryption.
//
// Password files must pass the same checks as the master key (0600, owned by the
// effective user); one trailing "\n" (or "\r\n") is stripped, nothing else.
//
// Per-file failures are in the report, not the error. The error is non-nil when the
// options are wrong, no keystore is found, the password file cannot be read, or ctx is
// cancelled; in that last case running decryptions finish, the rest are not attempted,
// and the report is still returned.
func Import(ctx context.Context, s *Store, opts ImportOptions) (ImportReport, error) {
	var rep ImportReport
	if s == nil {
		return rep, fmt.Errorf("import keystores: no store")
	}
	if (opts.PasswordFile == "") == (opts.PasswordDir == "") {
		return rep, fmt.Errorf("import keystores: set exactly one of password file and password directory")
	}
	files, err := keystoreFiles(opts.Paths)
	if err != nil {
		return rep, fmt.Errorf("import keystores: %w", err)
	}
	var password []byte
	if opts.PasswordFile != "" {
		if password, err = readPassword(opts.PasswordFile); err != nil {
			return rep, fmt.Errorf("import keystores: %w", err)
		}
		defer clear(password)
	}
	now := opts.Now
	if now == nil {
		now = time.Now
	}
	workers := opts.Parallelism
	if workers <= 0 {
		workers = autoParallelism()
	}
	workers = min(workers, len(files))

	rep.Results = make([]ImportResult, len(files))
	jobs := make(chan int)
	var wg sync.WaitGroup
	var mu sync.Mutex // guards done and serialises Progress
	done := 0
	for range workers {
		wg.Go(func() {
			for i := range jobs {
				rep.Results[i] = importOne(ctx, s, files[i], password, opts.PasswordDir, now)
				// The decryption's scrypt buffer (256 MiB at EIP-2335's parameters) is garbage
				// now: collect it and give it back before this worker allocates the next, or
				// the collector lets the heap reach about twice the live buffers (measured:
				// 522 MB of peak RSS per worker instead of ~270). One collection per key is
				// nothing beside a second of scrypt.
				debug.FreeOSMemory()
				mu.Lock()
				done++
				if opts.Progress != nil {
					opts.Progress(done, len(files))
				}
				mu.Unlock()
			}
		})
	}
feed:
	for i := range files {
		select {
		case jobs <- i:
		case <-ctx.Done():
			break feed
		}
	}
	close(jobs)
	wg.Wait()
	for i := range rep.Results {
		if r := &rep.Results[i]; r.Status == ImportNotAttempted {
			r.Path, r.Err = files[i], ctx.Err()
		}
	}
	if err := ctx.Err(); err != nil {
		return rep, fmt.Errorf("import keystores: %w", err)
	}
	return rep, nil
}

// importOne imports one keystore file; password is nil when passwordDir is used.
func importOne(ctx context.Context, s *Store, path string, password []byte, passwordDir string, now func() time.Time) ImportResult {
	res := ImportResult{Path: path}
	fail := func(err error) ImportResult {
		res.Status, res.Err = ImportFailed, err
		return res
	}
	if err := ctx.Err(); err != nil {
		res.Err = err
		return res
	}
	f, err := os.Open(path)
	if err != nil {
		return fail(fmt.Errorf("open keystore: %w", err))
	}
	ks, err := readKeystore(f)
	f.Close()
	if err != nil {
		return fail(fmt.Errorf("read keystore %s: %w", path, err))
	}
	res.PublicKey = ks.pub
	if has, err := s.HasBLS(ks.pub); err != nil {
		return fail(err)
	} else if has {
		res.Status = ImportExists
		return res
	}
	if password == nil {
		pw, err := findPassword(passwordDir, path, ks.pub)
		if err != nil {
			return fail(err)
		}
		defer clear(pw)
		password = pw
	}
	return s.sealKeystore(ks, path, password, now)
}

// ImportKeystore imports one EIP-2335 keystore given as bytes (the Keymanager API), with
// the same checks as Import: strict parsing, the decrypted key must match the keystore's
// pubkey, re-sealed under the master key, the password never stored. name labels errors.
func (s *Store) ImportKeystore(data, password []byte, name string, now time.Time) ImportResult {
	res := ImportResult{Path: name}
	if len(data) > maxKeystoreSize {
		res.Status, res.Err = ImportFailed, fmt.Errorf("keystore %s: %w: larger than %d bytes", name, ErrInvalidKeystore, maxKeystoreSize)
		return res
	}
	ks, err := parseKeystore(data)
	if err != nil {
		res.Status, res.Err = ImportFailed, fmt.Errorf("read keystore %s: %w", name, err)
		return res
	}
	res.PublicKey = ks.pub
	if has, err := s.HasBLS(ks.pub); err != nil {
		res.Status, res.Err = ImportFailed, err
		return res
	} else if has {
		res.Status = ImportExists
		return res
	}
	return s.sealKeystore(ks, name, password, func() time.Time { return now })
}

// sealKeystore decrypts ks with password and seals the key into s.
func (s *Store) sealKeystore(ks *keystore, path string, password []byte, now func() time.Time) ImportResult {
	res := ImportResult{Path: path, PublicKey: ks.pub}
	fail := func(err error) ImportResult {
		res.Status, res.Err = ImportFailed, err
		return res
	}
	secret, err := keystorev4.New().Decrypt(ks.crypto, borrowString(password))
	if err != nil {
		// validateCrypto has accepted every field keystorev4 reads, so the one failure
		// left is the checksum comparison: a wrong password.
		return fail(fmt.Errorf("decrypt keystore %s: %w (%v)", path, ErrWrongPassword, err))
	}
	defer clear(secret)
	ks.meta.Created = now()
	if _, err := s.putBLS(secret, ks.meta, &ks.pub); err != nil {
		if errors.Is(err, ErrExists) {
			res.Status = ImportExists
			return res
		}
		return fail(fmt.Errorf("import keystore %s: %w", path, err))
	}
	res.Status = ImportImported
	return res
}

// borrowString views b as a string without copying, so the password exists once and is
// zeroed by its owner. keystorev4 does not retain the string past Decrypt, and b is not
// changed while Decrypt runs. (The library's normalised copies and derived key cannot be
// zeroed; they stay on the heap until collected.)
func borrowString(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	return unsafe.String(unsafe.SliceData(b), len(b))
}

// keystoreFiles expands Paths: files as given, directories to their keystore*.json.
func keystoreFiles(paths []string) ([]string, error) {
	if len(paths) == 0 {
		return nil, errors.New("no keystore paths")
	}
	var out []string
	seen := make(map[string]bool)
	add := func(p string) {
		if c := filepath.Clean(p); !seen[c] {
			seen[c] = true
			out = append(out, c)
		}
	}
	for _, p := range paths {
		fi, err := os.Stat(p)
		if err != nil {
			return nil, fmt.Errorf("find keystores: %w", err)
		}
		if !fi.IsDir() {
			add(p)
			continue
		}
		entries, err := os.ReadDir(p)
		if err != nil {
			return nil, fmt.Errorf("find keystores: %w", err)
		}
		n := 0
		for _, e := range entries {
			name := e.Name()
			if !e.Type().IsRegular() || !strings.HasPrefix(name, "keystore") || !strings.HasSuffix(name, ".json") {
				continue
			}
			add(filepath.Join(p, name))
			n++
		}
		if n == 0 {
			return nil, fmt.Errorf("find keystores: no keystore*.json in %s", p)
		}
	}
	return out, nil
}

// findPassword reads the password file of keystore path from dir (see PasswordDir).
// A candidate that exists but is unreadable or insecure is an error, not skipped.
func findPassword(dir, path string, pub [BLSPublicKeySize]byte) ([]byte, error) {
	stem := strings.TrimSuffix(filepath.Base(path), ".json")
	h := fmt.Sprintf("%x", pub[:])
	for _, name := range []string{stem + ".txt", stem, "0x" + h + ".txt", h + ".txt"} {
		pw, err := readPassword(filepath.Join(dir, name))
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		return pw, err
	}
	return nil, fmt.Errorf("%s: looked for %s.txt, %s, 0x%s.txt, %s.txt in %s: %w", path, stem, stem, h, h, dir, ErrNoPassword)
}

// readPassword reads a password file (Inv 9 checks, size limit) and strips one trailing
// newline.
func readPassword(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("read password: %w", err)
	}
	defer f.Close()
	if err := checkSecretFile(f, path); err != nil {
		return nil, fmt.Errorf("read password: %w", err)
	}
	buf := make([]byte, maxPasswordSize+1)
	n, err := io.ReadFull(f, buf)
	if err != nil && err != io.ErrUnexpectedEOF && err != io.EOF {
		clear(buf)
		return nil, fmt.Errorf("read password %s: %w", path, err)
	}
	if n > maxPasswordSize {
		clear(buf)
		return nil, fmt.Errorf("read password %s: longer than %d bytes", path, maxPasswordSize)
	}
	pw := buf[:n]
	if l := len(pw); l > 0 && pw[l-1] == '\n' {
		pw = pw[:l-1]
		if l := len(pw); l > 0 && pw[l-1] == '\r' {
			pw = pw[:l-1]
		}
	}
	clear(buf[len(pw):]) // the stripped newline
	return pw, nil
}

// Memory budget per concurrent decryption: scrypt n=2^18, r=8 needs 256 MiB.
const importMemPerWorker = 300 << 20

// DefaultImportParallelism is how many decryptions Import runs at once when
// ImportOptions.Parallelism is 0: min(GOMAXPROCS, MemAvailable / 300 MiB), at least 1.
func DefaultImportParallelism() int { return autoParallelism() }

// autoParallelism is min(GOMAXPROCS, MemAvailable / 300 MiB), at least 1; 1 if
// /proc/meminfo cannot be read.
func autoParallelism() int {
	avail, ok := memAvailable()
	if !ok {
		return 1
	}
	return parallelismFor(runtime.GOMAXPROCS(0), avail)
}

func parallelismFor(procs int, availBytes uint64) int {
	return max(1, min(procs, int(min(availBytes/importMemPerWorker, 1<<20))))
}

func memAvailable() (uint64, bool) {
	f, err := os.Open("/proc/meminfo")
	if err != nil {
		return 0, false
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, 64<<10))
	if err != nil {
		return 0, false
	}
	return parseMemAvailable(string(data))
}

// parseMemAvailable returns the MemAvailable line of /proc/meminfo in bytes.
func parseMemAvailable(meminfo string) (uint64, bool) {
	for line := range strings.Lines(meminfo) {
		rest, ok := strings.CutPrefix(line, "MemAvailable:")
		if !ok {
			continue
		}
		var kb uint64
		var unit string
		if n, _ := fmt.Sscan(rest, &kb, &unit); n != 2 || unit != "kB" || kb > 1<<50 {
			return 0, false
		}
		return kb << 10, true
	}
	return 0, false
}
