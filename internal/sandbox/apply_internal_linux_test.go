package sandbox

import (
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	seccomp "github.com/elastic/go-seccomp-bpf"
	"github.com/elastic/go-seccomp-bpf/arch"
	"golang.org/x/sys/unix"
)

// fakeKernel simulates what a kernel offers and records the steps Apply takes, so the
// RequireFull refusals can be tested in this process without confining it.
type fakeKernel struct {
	abi       int
	seccompOK bool
	calls     []string
}

func (k *fakeKernel) ops() ops {
	step := func(name string) func() error {
		return func() error { k.calls = append(k.calls, name); return nil }
	}
	return ops{
		landlockABI:      func() int { return k.abi },
		seccompSupported: func() bool { return k.seccompOK },
		setCoreLimitZero: step("core"),
		setNotDumpable:   step("dumpable"),
		setNoNewPrivs:    step("nnp"),
		restrictLandlock: func(Config) error { k.calls = append(k.calls, "landlock"); return nil },
		loadSeccomp:      func(Config) error { k.calls = append(k.calls, "seccomp"); return nil },
		readBack: func() Report {
			return Report{Dumpable: false, NoNewPrivs: true, CoreLimitZero: true, Seccomp: k.seccompOK}
		},
		probe: func() Probes {
			b := ProbeResult{Blocked: true, Errno: "EPERM"}
			return Probes{Socket: b, OpenOutside: ProbeResult{Blocked: k.abi > 0, Errno: "EACCES"}, Exec: b}
		},
	}
}

// TestApply_RequireFull_KernelLacks: with RequireFull, a kernel without a needed feature is
// refused before any irreversible step, and the error names what is missing and the downgrade.
func TestApply_RequireFull_KernelLacks(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		name      string
		abi       int
		seccompOK bool
		want      []string
	}{
		{"landlock ABI 3", 3, true, []string{"landlock ABI 3 < 4 needed for network rules"}},
		{"landlock ABI 5", 5, true, []string{"landlock ABI 5 < 6 needed for scoping of signals and abstract unix sockets"}},
		{"no landlock", 0, true, []string{"landlock is not supported"}},
		{"no seccomp", 7, false, []string{"seccomp filters are not supported"}},
		{"neither", 0, false, []string{"landlock is not supported", "seccomp filters are not supported"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			k := &fakeKernel{abi: tc.abi, seccompOK: tc.seccompOK}
			rep, err := apply(Config{StateDir: dir}, k.ops())
			if !errors.Is(err, ErrRequired) {
				t.Fatalf("apply = %v, want ErrRequired", err)
			}
			for _, w := range append(tc.want, "run with --confinement=best-effort to start anyway") {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
			if len(k.calls) != 0 {
				t.Errorf("steps taken before refusing: %q", k.calls)
			}
			if rep.Level() != LevelNone || rep.LandlockABI != tc.abi {
				t.Errorf("report = %+v (level %s), want level none with landlock_abi %d", rep, rep.Level(), tc.abi)
			}
		})
	}
}

// TestApply_RequireNone_Downgrade: best effort applies what exists, in order, and reports the
// rest as missing with level partial.
func TestApply_RequireNone_Downgrade(t *testing.T) {
	k := &fakeKernel{abi: 3, seccompOK: true}
	rep, err := apply(Config{StateDir: t.TempDir(), Require: RequireNone}, k.ops())
	if err != nil {
		t.Fatalf("apply: %v", err)
	}
	if got, want := strings.Join(k.calls, ","), "core,dumpable,nnp,landlock,seccomp"; got != want {
		t.Errorf("steps = %s, want %s", got, want)
	}
	if !rep.LandlockFS || rep.LandlockNet || rep.LandlockScoped || !rep.Seccomp || !rep.SeccompTSync {
		t.Errorf("report = %+v, want fs and seccomp but no net or scopes", rep)
	}
	if rep.Level() != LevelPartial || len(rep.Missing) == 0 {
		t.Errorf("level %s, missing %q; want partial with the missing network rules named", rep.Level(), rep.Missing)
	}

	k = &fakeKernel{abi: 0, seccompOK: false}
	rep, err = apply(Config{StateDir: t.TempDir(), Require: RequireNone}, k.ops())
	if err != nil {
		t.Fatalf("apply without landlock and seccomp: %v", err)
	}
	if got, want := strings.Join(k.calls, ","), "core,dumpable,nnp"; got != want {
		t.Errorf("steps = %s, want %s", got, want)
	}
	if rep.LandlockFS || rep.Seccomp || rep.Level() != LevelPartial {
		t.Errorf("report = %+v level %s", rep, rep.Level())
	}
}

// TestApply_RequireFull_StepFails: a step failing on a capable kernel is an error naming it.
func TestApply_RequireFull_StepFails(t *testing.T) {
	k := &fakeKernel{abi: 7, seccompOK: true}
	o := k.ops()
	o.loadSeccomp = func(Config) error { return unix.ESRCH }
	_, err := apply(Config{StateDir: t.TempDir()}, o)
	if err == nil || !errors.Is(err, unix.ESRCH) || !strings.Contains(err.Error(), "load seccomp filter") {
		t.Fatalf("apply = %v, want the seccomp step named with ESRCH", err)
	}
}

// TestApply_RequireFull_ProbeNotBlocked: configured is not enough; a probe that gets through
// fails RequireFull.
func TestApply_RequireFull_ProbeNotBlocked(t *testing.T) {
	k := &fakeKernel{abi: 7, seccompOK: true}
	o := k.ops()
	o.probe = func() Probes {
		b := ProbeResult{Blocked: true, Errno: "EPERM"}
		return Probes{Socket: ProbeResult{}, OpenOutside: b, Exec: b}
	}
	_, err := apply(Config{StateDir: t.TempDir()}, o)
	if !errors.Is(err, ErrRequired) || !strings.Contains(err.Error(), "probe socket(AF_INET) not refused") {
		t.Fatalf("apply = %v, want the socket probe named", err)
	}
}

// TestApply_ConfigRefused: unusable paths are refused in both modes, before any step.
func TestApply_ConfigRefused(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "f")
	if err := os.WriteFile(file, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	for _, cfg := range []Config{
		{StateDir: ""},
		{StateDir: "relative/dir"},
		{StateDir: "/"},
		{StateDir: file},
		{StateDir: filepath.Join(dir, "missing")},
		{StateDir: dir, ReadOnlyPaths: []string{"/"}},
		{StateDir: dir, ReadOnlyPaths: []string{filepath.Join(dir, "missing")}},
	} {
		for _, req := range []Requirement{RequireFull, RequireNone} {
			cfg.Require = req
			k := &fakeKernel{abi: 7, seccompOK: true}
			if _, err := apply(cfg, k.ops()); !errors.Is(err, ErrConfig) {
				t.Errorf("apply(%+v) = %v, want ErrConfig", cfg, err)
			}
			if len(k.calls) != 0 {
				t.Errorf("apply(%+v) took steps %q", cfg, k.calls)
			}
		}
	}
}

// TestSeccompPolicy_Names: the allow-list assembles here, every name exists in the amd64 and
// arm64 tables, and none of the calls the core must never make is allowed.
func TestSeccompPolicy_Names(t *testing.T) {
	denied := []string{"socket", "socketpair", "connect", "bind", "listen", "accept", "accept4",
		"execve", "execveat", "fork", "vfork", "clone3", "ptrace", "process_vm_readv",
		"process_vm_writev", "pidfd_getfd", "kexec_load", "kexec_file_load", "bpf",
		"perf_event_open", "mount", "umount2", "pivot_root", "chroot", "keyctl", "add_key",
		"request_key", "userfaultfd", "io_uring_setup", "io_uring_enter", "io_uring_register",
		"personality", "unshare", "setns", "setuid", "setgid", "setreuid", "setresuid",
		"setresgid", "setgroups", "capset", "setrlimit", "munlockall", "init_module",
		"finit_module", "memfd_create", "symlinkat", "linkat", "mknodat"}
	for goarch, info := range map[string]*arch.Info{"amd64": arch.X86_64, "arm64": arch.AARCH64} {
		p, err := seccompPolicy(goarch, 1234, nil)
		if err != nil {
			t.Fatalf("%s: %v", goarch, err)
		}
		allowed := map[string]bool{}
		for _, g := range p.Syscalls {
			names := append([]string{}, g.Names...)
			for _, c := range g.NamesWithCondtions {
				names = append(names, c.Name)
			}
			for _, n := range names {
				if _, ok := info.SyscallNames[n]; !ok {
					t.Errorf("%s: %q is not a syscall there", goarch, n)
				}
				if g.Action == seccomp.ActionAllow {
					allowed[n] = true
				}
			}
		}
		for _, n := range denied {
			if allowed[n] {
				t.Errorf("%s: %q is allowed", goarch, n)
			}
		}
	}
	p, err := seccompPolicy(runtime.GOARCH, os.Getpid(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.Assemble(); err != nil {
		t.Errorf("assemble for %s: %v", runtime.GOARCH, err)
	}
}

// TestApply_AcceptFDsRefused: an accept descriptor that is a standard stream, not a socket,
// a TCP listener, a unix socket that does not listen, or a good one listed twice is refused
// as ErrConfig before any step, also when another, good descriptor is listed with it.
func TestApply_AcceptFDsRefused(t *testing.T) {
	dir := t.TempDir()
	f, err := os.Create(filepath.Join(dir, "file"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	tcp, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(tcp)
	if err := unix.Bind(tcp, &unix.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}}); err != nil {
		t.Fatal(err)
	}
	if err := unix.Listen(tcp, 1); err != nil {
		t.Fatal(err)
	}
	pair, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(pair[0])
	defer unix.Close(pair[1])
	good := unixListenerFD(t, filepath.Join(t.TempDir(), "good.sock"))
	for name, fds := range map[string][]int{"stdin": {0}, "stderr": {2}, "negative": {-1},
		"regular file": {int(f.Fd())}, "tcp listener": {tcp}, "unix socket not listening": {pair[0]},
		"good then tcp": {good, tcp}, "good twice": {good, good}} {
		t.Run(name, func(t *testing.T) {
			k := &fakeKernel{abi: 7, seccompOK: true}
			_, err := apply(Config{StateDir: dir, AcceptFDs: fds}, k.ops())
			if !errors.Is(err, ErrConfig) {
				t.Fatalf("apply with AcceptFDs %v: %v, want ErrConfig", fds, err)
			}
			if len(k.calls) != 0 {
				t.Errorf("steps taken before refusal: %v", k.calls)
			}
		})
	}
	t.Run("good", func(t *testing.T) {
		k := &fakeKernel{abi: 7, seccompOK: true}
		if _, err := apply(Config{StateDir: dir, AcceptFDs: []int{good}}, k.ops()); errors.Is(err, ErrConfig) {
			t.Fatalf("apply with a listening unix socket: %v", err)
		}
	})
}

// unixListenerFD makes a listening unix socket at path; it is closed at the end of the test.
func unixListenerFD(t *testing.T, path string) int {
	t.Helper()
	fd, err := unix.Socket(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { unix.Close(fd) })
	if err := unix.Bind(fd, &unix.SockaddrUnix{Name: path}); err != nil {
		t.Fatal(err)
	}
	if err := unix.Listen(fd, 1); err != nil {
		t.Fatal(err)
	}
	return fd
}

// TestSeccompPolicy_AcceptFDs: accept4 is allowed only on the listed descriptors, one rule
// each with the descriptor as its first argument, and never unconditionally; accept never.
func TestSeccompPolicy_AcceptFDs(t *testing.T) {
	for _, fds := range [][]int{nil, {3}, {7}, {3, 9}} {
		p, err := seccompPolicy(runtime.GOARCH, 1234, fds)
		if err != nil {
			t.Fatal(err)
		}
		var got []uint64
		for _, g := range p.Syscalls {
			for _, n := range g.Names {
				if n == "accept4" || n == "accept" {
					t.Errorf("fds %v: %s allowed unconditionally", fds, n)
				}
			}
			for _, c := range g.NamesWithCondtions {
				if c.Name == "accept" {
					t.Errorf("fds %v: accept allowed", fds)
				}
				if c.Name != "accept4" || g.Action != seccomp.ActionAllow {
					continue
				}
				if len(c.Conditions) != 1 || c.Conditions[0].Argument != 0 || c.Conditions[0].Operation != seccomp.Equal {
					t.Errorf("fds %v: accept4 conditions %+v, want arg0 == fd", fds, c.Conditions)
					continue
				}
				got = append(got, c.Conditions[0].Value)
			}
		}
		if len(got) != len(fds) {
			t.Fatalf("fds %v: accept4 allowed on %v", fds, got)
		}
		for i, fd := range fds {
			if got[i] != uint64(fd) {
				t.Errorf("fds %v: accept4 allowed on %v", fds, got)
			}
		}
	}
}
