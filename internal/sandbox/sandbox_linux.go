package sandbox

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/landlock-lsm/go-landlock/landlock"
	ll "github.com/landlock-lsm/go-landlock/landlock/syscall"
	"golang.org/x/sys/unix"
)

// Landlock ABI versions that bring what the core needs.
const (
	landlockABINet    = 4 // TCP bind/connect rules
	landlockABIScoped = 6 // abstract unix socket and signal scopes
)

// ops is what Apply needs from the kernel. linuxOps is the real one; unit tests pass fakes to
// simulate a kernel that lacks something without changing the test process.
type ops struct {
	landlockABI      func() int  // ABI version, 0 when Landlock is unavailable
	seccompSupported func() bool // seccomp filter mode exists and this arch has a syscall table

	setCoreLimitZero func() error
	setNotDumpable   func() error
	setNoNewPrivs    func() error           // on every thread
	restrictLandlock func(cfg Config) error // on every thread
	loadSeccomp      func(cfg Config) error // with TSYNC: on every thread, or an error

	readBack func() Report // dumpable, no_new_privs, core limit, seccomp of the calling thread
	probe    func() Probes
}

func linuxOps() ops {
	return ops{
		landlockABI:      landlockABI,
		seccompSupported: seccompSupported,
		setCoreLimitZero: setCoreLimitZero,
		setNotDumpable:   func() error { return unix.Prctl(unix.PR_SET_DUMPABLE, 0, 0, 0, 0) },
		setNoNewPrivs:    func() error { return ll.AllThreadsPrctl(unix.PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) },
		restrictLandlock: restrictLandlock,
		loadSeccomp:      loadSeccomp,
		readBack:         readBack,
		probe:            Probe,
	}
}

// Apply confines the calling process, irreversibly, as the package doc describes, then probes
// the result. With RequireFull it fails before changing anything if the kernel lacks a step,
// and fails if a step or a probe does not succeed; the caller must then exit. With RequireNone
// it fails only on configuration errors. The Report says what was achieved in either case.
func Apply(cfg Config) (Report, error) {
	return apply(cfg, linuxOps())
}

func apply(cfg Config, o ops) (Report, error) {
	rep := Report{Dumpable: true}
	if err := validate(cfg); err != nil {
		return rep, err
	}
	full := cfg.Require != RequireNone // fail closed on unknown values

	abi := o.landlockABI()
	seccompOK := o.seccompSupported()
	rep.LandlockABI = abi
	// Check what the kernel offers before the first irreversible step, so a refused start
	// leaves the process as it was.
	var missing []string
	switch {
	case abi <= 0:
		missing = append(missing, "landlock is not supported by this kernel or not enabled at boot")
	case abi < landlockABINet:
		missing = append(missing, fmt.Sprintf("landlock ABI %d < %d needed for network rules", abi, landlockABINet))
	case abi < landlockABIScoped:
		missing = append(missing, fmt.Sprintf("landlock ABI %d < %d needed for scoping of signals and abstract unix sockets", abi, landlockABIScoped))
	}
	if !seccompOK {
		missing = append(missing, "seccomp filters are not supported by this kernel or architecture")
	}
	if full && len(missing) > 0 {
		rep.Missing = missing
		return rep, requiredError(missing)
	}

	// The time zone is loaded lazily from /etc/localtime, which Landlock is about to hide;
	// load it now so timestamps after Apply keep the local zone.
	_, _ = time.Now().Zone()

	landlockDone, seccompDone := false, false
	steps := []struct {
		name string
		run  func() error
		done *bool
	}{
		// Inv 1: no core file can hold a key.
		{"set RLIMIT_CORE to 0", o.setCoreLimitZero, nil},
		// Inv 1: no ptrace, /proc/<pid>/mem or process_vm_readv by the same user.
		{"clear dumpable", o.setNotDumpable, nil},
		{"set no_new_privs", o.setNoNewPrivs, nil},
		// Confinement: file system = state directory; no TCP; scoped IPC.
		{"enforce landlock", func() error {
			if abi <= 0 {
				return fmt.Errorf("landlock ABI %d: not available", abi)
			}
			return o.restrictLandlock(cfg)
		}, &landlockDone},
		// Confinement: no execve, ptrace, process_vm_*, sockets; all threads.
		{"load seccomp filter", func() error {
			if !seccompOK {
				return fmt.Errorf("seccomp: not available")
			}
			return o.loadSeccomp(cfg)
		}, &seccompDone},
	}
	for _, s := range steps {
		if err := s.run(); err != nil {
			if full {
				return rep, fmt.Errorf("apply confinement: %s: %w", s.name, err)
			}
			missing = appendOnce(missing, fmt.Sprintf("%s: %v", s.name, err))
			continue
		}
		if s.done != nil {
			*s.done = true
		}
	}

	// Report what the kernel says, not what was asked.
	rb := o.readBack()
	rep.Dumpable, rep.NoNewPrivs, rep.CoreLimitZero, rep.Seccomp = rb.Dumpable, rb.NoNewPrivs, rb.CoreLimitZero, rb.Seccomp
	rep.LandlockFS = landlockDone
	rep.LandlockNet = landlockDone && abi >= landlockABINet
	rep.LandlockScoped = landlockDone && abi >= landlockABIScoped
	// loadSeccomp fails unless the kernel synchronized every thread (TSYNC).
	rep.SeccompTSync = seccompDone && rb.Seccomp
	probes := o.probe()
	rep.Probes = &probes
	for _, m := range shortfalls(rep) {
		missing = appendOnce(missing, m)
	}
	rep.Missing = missing
	if full && rep.Level() != LevelFull {
		return rep, requiredError(missing)
	}
	return rep, nil
}

// shortfalls names, in words, what a report lacks for LevelFull.
func shortfalls(r Report) []string {
	var out []string
	for _, c := range []struct {
		ok   bool
		what string
	}{
		{!r.Dumpable, "process is still dumpable"},
		{r.NoNewPrivs, "no_new_privs is not set"},
		{r.CoreLimitZero, "RLIMIT_CORE is not 0"},
		{r.LandlockFS, "landlock file system rules are not enforced"},
		{r.LandlockNet, "landlock network rules are not enforced"},
		{r.LandlockScoped, "landlock scopes are not enforced"},
		{r.Seccomp, "seccomp filter is not in force"},
		{r.SeccompTSync, "seccomp filter is not synchronized to all threads"},
	} {
		if !c.ok {
			out = append(out, c.what)
		}
	}
	if p := r.Probes; p != nil {
		for _, x := range []struct {
			name string
			r    ProbeResult
		}{{"socket(AF_INET)", p.Socket}, {"open outside the allowed paths", p.OpenOutside}, {"execve", p.Exec}} {
			if !x.r.Blocked {
				out = append(out, fmt.Sprintf("probe %s not refused (errno %q)", x.name, x.r.Errno))
			}
		}
	}
	return out
}

func requiredError(missing []string) error {
	return fmt.Errorf("apply confinement: %w: %s; %s", ErrRequired, strings.Join(missing, "; "), bestEffortHint)
}

func appendOnce(list []string, s string) []string {
	for _, x := range list {
		if x == s {
			return list
		}
	}
	return append(list, s)
}

// validate refuses configurations that would void or break the confinement.
func validate(cfg Config) error {
	check := func(what, p string, wantDir bool) error {
		if !filepath.IsAbs(p) {
			return fmt.Errorf("check %s %q: %w: not an absolute path", what, p, ErrConfig)
		}
		if filepath.Clean(p) == "/" {
			return fmt.Errorf("check %s %q: %w: the root would allow everything", what, p, ErrConfig)
		}
		fi, err := os.Stat(p)
		if err != nil {
			return fmt.Errorf("check %s: %w: %w", what, ErrConfig, err)
		}
		if wantDir && !fi.IsDir() {
			return fmt.Errorf("check %s %q: %w: not a directory", what, p, ErrConfig)
		}
		return nil
	}
	if err := check("state directory", cfg.StateDir, true); err != nil {
		return err
	}
	for _, p := range cfg.ReadOnlyPaths {
		if err := check("read-only path", p, false); err != nil {
			return err
		}
	}
	for i, fd := range cfg.AcceptFDs {
		if slices.Contains(cfg.AcceptFDs[:i], fd) {
			return fmt.Errorf("check accept descriptor %d: %w: listed twice", fd, ErrConfig)
		}
		if err := checkListener(fd); err != nil {
			return err
		}
	}
	return nil
}

// checkListener refuses an accept descriptor that is not a listening AF_UNIX socket: the
// exception in the seccomp filter must not open a way to accept TCP connections.
func checkListener(fd int) error {
	if fd < 3 {
		return fmt.Errorf("check accept descriptor %d: %w: must be 3 or more", fd, ErrConfig)
	}
	domain, err := unix.GetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_DOMAIN)
	if err != nil {
		return fmt.Errorf("check accept descriptor %d: %w: not a socket: %w", fd, ErrConfig, err)
	}
	if domain != unix.AF_UNIX {
		return fmt.Errorf("check accept descriptor %d: %w: socket family %d, want AF_UNIX", fd, ErrConfig, domain)
	}
	if on, err := unix.GetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_ACCEPTCONN); err != nil || on != 1 {
		return fmt.Errorf("check accept descriptor %d: %w: not listening", fd, ErrConfig)
	}
	return nil
}

func setCoreLimitZero() error {
	// Soft and hard: an unprivileged process cannot raise the hard limit again.
	if err := unix.Setrlimit(unix.RLIMIT_CORE, &unix.Rlimit{Cur: 0, Max: 0}); err != nil {
		return fmt.Errorf("setrlimit RLIMIT_CORE: %w", err)
	}
	return nil
}

// landlockABI mirrors go-landlock's detection, including its errata downgrade: ABI 6+ without
// the fix for the signal-scoping bug counts as 5.
func landlockABI() int {
	v, err := ll.LandlockGetABIVersion()
	if err != nil || v < 0 {
		return 0
	}
	if v >= landlockABIScoped {
		errata, err := ll.LandlockGetErrata()
		if err != nil || errata&0x2 == 0 {
			v = landlockABIScoped - 1
		}
	}
	return v
}

// Landlock access rights granted per path. Everything else the kernel can restrict is handled
// (denied): execute, device/socket/fifo/symlink creation, ioctl on devices, cross-directory
// rename and link (refer), pathname unix socket connect.
const (
	stateDirAccess = ll.AccessFSReadFile | ll.AccessFSWriteFile | ll.AccessFSReadDir |
		ll.AccessFSRemoveDir | ll.AccessFSRemoveFile | ll.AccessFSMakeDir | ll.AccessFSMakeReg |
		ll.AccessFSTruncate
	readOnlyDirAccess  = ll.AccessFSReadFile | ll.AccessFSReadDir
	readOnlyFileAccess = ll.AccessFSReadFile
)

// restrictLandlock enforces the file system, network and scope rules on every thread (TSYNC
// from ABI 8, psx signals before). The kernel's ABI was checked by the caller; BestEffort only
// drops what this ABI does not know (e.g. truncate on ABI < 3 under RequireNone).
func restrictLandlock(cfg Config) error {
	rules := []landlock.Rule{landlock.PathAccess(stateDirAccess, cfg.StateDir)}
	for _, p := range cfg.ReadOnlyPaths {
		fi, err := os.Stat(p)
		if err != nil {
			return fmt.Errorf("stat read-only path: %w", err)
		}
		access := landlock.AccessFSSet(readOnlyFileAccess)
		if fi.IsDir() {
			access = readOnlyDirAccess
		}
		rules = append(rules, landlock.PathAccess(access, p))
	}
	// No NetRule: with network rights handled, every TCP bind and connect is denied.
	if err := landlock.V9.BestEffort().Restrict(rules...); err != nil {
		return fmt.Errorf("restrict landlock: %w", err)
	}
	return nil
}
