package sandbox

// Apply is irreversible, so every test that confines runs it in a re-executed copy of the test
// binary. TestMain dispatches on envHelper; the parent tests read the child's JSON from stdout.

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
	"unsafe"

	blst "github.com/supranational/blst/bindings/go"
	bolt "go.etcd.io/bbolt"
	"golang.org/x/sys/unix"
)

const (
	envHelper = "KEYWARD_SANDBOX_TEST_HELPER" // "confined", "target" or "reader"
	envState  = "KEYWARD_SANDBOX_TEST_STATE"  // StateDir for Apply
	envApply  = "KEYWARD_SANDBOX_TEST_APPLY"  // target: "1" to confine, "0" for the control
	envPID    = "KEYWARD_SANDBOX_TEST_PID"    // reader: target pid
	envAddr   = "KEYWARD_SANDBOX_TEST_ADDR"   // reader: address of the marker in the target
	envLen    = "KEYWARD_SANDBOX_TEST_LEN"    // reader: marker length

	// inheritedFD is where ExtraFiles[0] lands in the child.
	inheritedFD = 3
)

// memMarker stands in for key material in the memory-read test.
const memMarker = "keyward-sandbox-secret-marker-0123456789"

// helperMain runs a helper mode and returns the exit code, or -1 when not a helper.
func helperMain() int {
	switch os.Getenv(envHelper) {
	case "":
		return -1
	case "confined":
		return helperConfined()
	case "target":
		return helperTarget()
	case "reader":
		return helperReader()
	case "acceptor":
		return helperAcceptor()
	default:
		fmt.Fprintln(os.Stderr, "unknown helper mode")
		return 2
	}
}

type checkResult struct {
	Name   string `json:"name"`
	OK     bool   `json:"ok"`
	Detail string `json:"detail,omitempty"`
}

type confinedOutput struct {
	Report Report        `json:"report"`
	Err    string        `json:"err,omitempty"`
	Checks []checkResult `json:"checks"`
}

func helperConfined() int {
	before := threadIDs()
	rep, err := Apply(Config{StateDir: os.Getenv(envState)})
	out := confinedOutput{Report: rep}
	if err != nil {
		out.Err = err.Error()
	} else {
		dir := os.Getenv(envState)
		for _, c := range []struct {
			name string
			fn   func() error
		}{
			{"socket_inet_refused", func() error { return wantErrno(socketErr(unix.AF_INET), unix.EPERM) }},
			{"socket_inet6_refused", func() error { return wantErrno(socketErr(unix.AF_INET6), unix.EPERM) }},
			{"socket_unix_refused", func() error { return wantErrno(socketErr(unix.AF_UNIX), unix.EPERM) }},
			{"dial_tcp_refused", checkDial},
			{"open_etc_passwd_refused", func() error { return wantErrno(openErr("/etc/passwd"), unix.EACCES) }},
			{"exec_bin_true_refused", checkExecCommand},
			{"execve_refused", func() error {
				return wantErrno(syscall.Exec("/nonexistent-keyward-probe", []string{"x"}, nil), unix.EPERM)
			}},
			{"ptrace_refused", func() error {
				_, _, e := unix.RawSyscall(unix.SYS_PTRACE, unix.PTRACE_TRACEME, 0, 0)
				return wantErrno(errnoErr(e), unix.EPERM)
			}},
			{"process_vm_readv_refused", checkVMReadv},
			{"exec_memory_refused", func() error {
				m, err := unix.Mmap(-1, 0, 4096, unix.PROT_READ|unix.PROT_EXEC, unix.MAP_PRIVATE|unix.MAP_ANONYMOUS)
				if err == nil {
					_ = unix.Munmap(m)
				}
				return wantErrno(err, unix.EPERM)
			}},
			{"dumpable_cannot_be_restored", checkDumpableStays},
			{"core_limit_cannot_be_raised", func() error {
				return wantErrno(unix.Setrlimit(unix.RLIMIT_CORE, &unix.Rlimit{Cur: 1 << 20, Max: 1 << 20}), unix.EPERM)
			}},
			{"signal_parent_refused", func() error { return wantErrno(syscall.Kill(os.Getppid(), 0), unix.EPERM) }},
			{"signal_self_delivered", checkSignalSelf},
			{"state_dir_file_write_fsync_rename_read", func() error { return checkStateFile(dir) }},
			{"state_dir_mkdir_remove", func() error { return checkStateSubdir(dir) }},
			{"bbolt_open_commit_reopen", func() error { return checkBolt(dir) }},
			{"blst_sign_verify", checkBLST},
			{"goroutines_gc_sleep", checkGoroutines},
			{"threads_after_apply_confined", func() error { return checkNewThreads(before) }},
			{"inherited_socketpair_works", checkSocketpair},
			{"current_state", checkCurrentState},
		} {
			r := checkResult{Name: c.name, OK: true}
			if err := c.fn(); err != nil {
				r.OK, r.Detail = false, err.Error()
			}
			out.Checks = append(out.Checks, r)
		}
	}
	if err := json.NewEncoder(os.Stdout).Encode(out); err != nil {
		return 3
	}
	if out.Err != "" {
		return 1
	}
	return 0
}

func errnoErr(e unix.Errno) error {
	if e == 0 {
		return nil
	}
	return e
}

func wantErrno(err error, want unix.Errno) error {
	if err == nil {
		return errors.New("succeeded, want refusal")
	}
	if !errors.Is(err, want) {
		return fmt.Errorf("got %v, want %s", err, unix.ErrnoName(want))
	}
	return nil
}

func socketErr(family int) error {
	fd, err := unix.Socket(family, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err == nil {
		_ = unix.Close(fd)
	}
	return err
}

func openErr(path string) error {
	f, err := os.Open(path)
	if err == nil {
		_ = f.Close()
	}
	return err
}

func checkDial() error {
	c, err := net.DialTimeout("tcp", "127.0.0.1:1", time.Second)
	if err == nil {
		_ = c.Close()
	}
	return wantErrno(err, unix.EPERM)
}

func checkExecCommand() error {
	// Files, not nil: a nil Stdin makes os/exec open /dev/null, which Landlock would refuse
	// before the fork is even tried.
	cmd := exec.Command("/bin/true")
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stderr, os.Stderr
	return wantErrno(cmd.Run(), unix.EPERM)
}

func checkVMReadv() error {
	buf := make([]byte, 8)
	src := []byte("12345678")
	local := []unix.Iovec{{Base: &buf[0], Len: uint64(len(buf))}}
	remote := []unix.RemoteIovec{{Base: uintptrOf(src), Len: len(src)}}
	_, err := unix.ProcessVMReadv(os.Getpid(), local, remote, 0)
	runtime.KeepAlive(src)
	return wantErrno(err, unix.EPERM)
}

func checkDumpableStays() error {
	if err := wantErrno(unix.Prctl(unix.PR_SET_DUMPABLE, 1, 0, 0, 0), unix.EPERM); err != nil {
		return fmt.Errorf("prctl(PR_SET_DUMPABLE, 1): %w", err)
	}
	d, err := unix.PrctlRetInt(unix.PR_GET_DUMPABLE, 0, 0, 0, 0)
	if err != nil || d != 0 {
		return fmt.Errorf("PR_GET_DUMPABLE = %d, %v; want 0", d, err)
	}
	return nil
}

func checkSignalSelf() error {
	ch := make(chan os.Signal, 1)
	signal.Notify(ch, syscall.SIGUSR1)
	defer signal.Stop(ch)
	if err := syscall.Kill(os.Getpid(), syscall.SIGUSR1); err != nil {
		return fmt.Errorf("kill self: %w", err)
	}
	select {
	case <-ch:
		return nil
	case <-time.After(5 * time.Second):
		return errors.New("SIGUSR1 not delivered")
	}
}

func checkStateFile(dir string) error {
	tmp, final := filepath.Join(dir, "audit.tmp"), filepath.Join(dir, "audit.log")
	f, err := os.OpenFile(tmp, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
	if err != nil {
		return err
	}
	if _, err := f.Write([]byte("record 1\n")); err != nil {
		return err
	}
	if err := f.Sync(); err != nil {
		return err
	}
	if err := f.Truncate(7); err != nil {
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp, final); err != nil {
		return err
	}
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	if err := d.Sync(); err != nil {
		return err
	}
	if _, err := d.ReadDir(-1); err != nil {
		return err
	}
	_ = d.Close()
	got, err := os.ReadFile(final)
	if err != nil {
		return err
	}
	if string(got) != "record " {
		return fmt.Errorf("read %q", got)
	}
	return os.Remove(final)
}

func checkStateSubdir(dir string) error {
	sub := filepath.Join(dir, "sub")
	if err := os.Mkdir(sub, 0o700); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(sub, "f"), []byte("x"), 0o600); err != nil {
		return err
	}
	if err := os.Symlink("f", filepath.Join(sub, "link")); err == nil {
		return errors.New("symlink in state dir succeeded, want refusal")
	}
	return os.RemoveAll(sub)
}

func checkBolt(dir string) error {
	path := filepath.Join(dir, "protection.db")
	for round := 0; round < 2; round++ {
		db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: time.Second})
		if err != nil {
			return fmt.Errorf("open: %w", err)
		}
		err = db.Update(func(tx *bolt.Tx) error {
			b, err := tx.CreateBucketIfNotExists([]byte("watermarks"))
			if err != nil {
				return err
			}
			if round == 1 && string(b.Get([]byte("k"))) != "v0" {
				return errors.New("value from first round missing")
			}
			return b.Put([]byte("k"), []byte("v"+strconv.Itoa(round)))
		})
		if err != nil {
			_ = db.Close()
			return fmt.Errorf("update: %w", err)
		}
		if err := db.Close(); err != nil {
			return fmt.Errorf("close: %w", err)
		}
	}
	return nil
}

func checkBLST() error {
	dst := []byte("BLS_SIG_BLS12381G2_XMD:SHA-256_SSWU_RO_POP_")
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			ikm := make([]byte, 32)
			ikm[0] = byte(i + 1)
			sk := blst.KeyGen(ikm)
			pk := new(blst.P1Affine).From(sk)
			msg := []byte("signing root " + strconv.Itoa(i))
			sig := new(blst.P2Affine).Sign(sk, msg, dst)
			if !sig.Verify(true, pk, true, msg, dst) {
				errs <- fmt.Errorf("signature %d does not verify", i)
			}
			if sig.Verify(true, pk, true, []byte("other"), dst) {
				errs <- fmt.Errorf("signature %d verifies a different message", i)
			}
		}(i)
	}
	wg.Wait()
	close(errs)
	return <-errs
}

func checkGoroutines() error {
	var wg sync.WaitGroup
	sink := make([][]byte, 256)
	for i := range sink {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			sink[i] = make([]byte, 64<<10)
			time.Sleep(time.Millisecond)
		}(i)
	}
	wg.Wait()
	runtime.GC()
	start := time.Now()
	time.Sleep(20 * time.Millisecond)
	if time.Since(start) < 20*time.Millisecond {
		return errors.New("sleep returned early")
	}
	return nil
}

// checkNewThreads pins goroutines to OS threads all at once, so the runtime must create
// threads after Apply, and checks that each thread, old or new, is confined.
func checkNewThreads(before map[int]bool) error {
	const n = 12
	var ready, done sync.WaitGroup
	release := make(chan struct{})
	type res struct {
		tid int
		err error
	}
	results := make(chan res, n)
	for i := 0; i < n; i++ {
		ready.Add(1)
		done.Add(1)
		go func() {
			defer done.Done()
			runtime.LockOSThread() // never unlocked: the thread exits with the goroutine
			tid := unix.Gettid()
			ready.Done()
			<-release
			err := wantErrno(socketErr(unix.AF_INET), unix.EPERM)
			if err == nil {
				err = wantErrno(openErr("/etc/passwd"), unix.EACCES)
			}
			results <- res{tid, err}
		}()
	}
	ready.Wait()
	close(release)
	done.Wait()
	close(results)
	created := 0
	seen := map[int]bool{}
	for r := range results {
		if r.err != nil {
			return fmt.Errorf("thread %d (new: %v): %w", r.tid, !before[r.tid], r.err)
		}
		seen[r.tid] = true
		if !before[r.tid] {
			created++
		}
	}
	if len(seen) != n {
		return fmt.Errorf("%d distinct threads, want %d", len(seen), n)
	}
	if created == 0 {
		return errors.New("no thread was created after Apply")
	}
	return nil
}

func checkSocketpair() error {
	c, err := net.FileConn(os.NewFile(inheritedFD, "gateway"))
	if err != nil {
		return fmt.Errorf("file conn: %w", err)
	}
	return pingPong(c)
}

// pingPong sends "ping" on c and wants "pong" back within 5 s; it closes c.
func pingPong(c net.Conn) error {
	defer c.Close()
	if err := c.SetDeadline(time.Now().Add(5 * time.Second)); err != nil {
		return err
	}
	if _, err := c.Write([]byte("ping\n")); err != nil {
		return fmt.Errorf("write: %w", err)
	}
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		return fmt.Errorf("read: %w", err)
	}
	if line != "pong\n" {
		return fmt.Errorf("read %q", line)
	}
	return nil
}

func checkCurrentState() error {
	s := CurrentState()
	if s.Dumpable || !s.NoNewPrivs || !s.Seccomp || !s.CoreLimitZero {
		return fmt.Errorf("CurrentState = %+v", s)
	}
	return nil
}

func threadIDs() map[int]bool {
	ids := map[int]bool{}
	entries, _ := os.ReadDir("/proc/self/task")
	for _, e := range entries {
		if id, err := strconv.Atoi(e.Name()); err == nil {
			ids[id] = true
		}
	}
	return ids
}

// helperTarget holds a marker in memory, optionally confines itself, prints
// "pid addr len" and waits for stdin to close.
func helperTarget() int {
	mem, err := unix.Mmap(-1, 0, 4096, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_PRIVATE|unix.MAP_ANONYMOUS)
	if err != nil {
		fmt.Fprintln(os.Stderr, "mmap:", err)
		return 1
	}
	copy(mem, memMarker)
	// Where Yama restricts ptrace to ancestors, let any process try, so that only
	// dumpability decides the outcome (the control must be readable). No-op without Yama.
	_ = unix.Prctl(unix.PR_SET_PTRACER, unix.PR_SET_PTRACER_ANY, 0, 0, 0)
	if os.Getenv(envApply) == "1" {
		if _, err := Apply(Config{StateDir: os.Getenv(envState)}); err != nil {
			fmt.Fprintln(os.Stderr, "apply:", err)
			return 1
		}
	}
	fmt.Printf("%d %d %d\n", os.Getpid(), uintptrOf(mem), len(memMarker))
	_, _ = io.Copy(io.Discard, os.Stdin)
	runtime.KeepAlive(mem)
	return 0
}

type readerOutput struct {
	OpenErr   string `json:"open_err,omitempty"`
	PreadErr  string `json:"pread_err,omitempty"`
	PreadData string `json:"pread_data,omitempty"`
	VMErr     string `json:"vm_err,omitempty"`
	VMData    string `json:"vm_data,omitempty"`
}

func errName(err error) string {
	var e unix.Errno
	if errors.As(err, &e) {
		return unix.ErrnoName(e)
	}
	return err.Error()
}

// helperReader tries to read the target's marker through /proc/<pid>/mem and
// process_vm_readv.
func helperReader() int {
	pid, _ := strconv.Atoi(os.Getenv(envPID))
	addr, _ := strconv.ParseUint(os.Getenv(envAddr), 10, 64)
	n, _ := strconv.Atoi(os.Getenv(envLen))
	var out readerOutput
	if f, err := os.Open("/proc/" + strconv.Itoa(pid) + "/mem"); err != nil {
		out.OpenErr = errName(err)
	} else {
		buf := make([]byte, n)
		if _, err := f.ReadAt(buf, int64(addr)); err != nil {
			out.PreadErr = errName(err)
		} else {
			out.PreadData = string(buf)
		}
		_ = f.Close()
	}
	buf := make([]byte, n)
	local := []unix.Iovec{{Base: &buf[0], Len: uint64(n)}}
	remote := []unix.RemoteIovec{{Base: uintptr(addr), Len: n}}
	if _, err := unix.ProcessVMReadv(pid, local, remote, 0); err != nil {
		out.VMErr = errName(err)
	} else {
		out.VMData = string(buf)
	}
	if err := json.NewEncoder(os.Stdout).Encode(out); err != nil {
		return 3
	}
	return 0
}

func uintptrOf(b []byte) uintptr {
	return uintptr(unsafe.Pointer(&b[0]))
}

// trimOutput shortens child output for failure messages.
func trimOutput(b []byte) string {
	s := strings.TrimSpace(string(b))
	if len(s) > 4000 {
		s = s[:4000] + "…"
	}
	return s
}

// helperAcceptor confines itself with Config.AcceptFDs = {3, 4} (listening unix sockets at
// fds 3 and 4, another one at fd 5) and reports: accept4 on fds 3 and 4 works and
// SO_PEERCRED names the peer; accept4 on fd 5 is refused with EPERM; new sockets stay
// refused.
func helperAcceptor() int {
	rep, err := Apply(Config{StateDir: os.Getenv(envState), AcceptFDs: []int{inheritedFD, inheritedFD + 1}})
	out := confinedOutput{Report: rep}
	if err != nil {
		out.Err = err.Error()
	} else {
		for _, c := range []struct {
			name string
			fn   func() error
		}{
			{"accept4_on_accept_fd_works", func() error { return acceptPingPong(inheritedFD) }},
			{"accept4_on_second_accept_fd_works", func() error { return acceptPingPong(inheritedFD + 1) }},
			{"accept4_on_other_fd_refused", func() error {
				nfd, _, err := unix.Accept4(inheritedFD+2, unix.SOCK_CLOEXEC|unix.SOCK_NONBLOCK)
				if err == nil {
					unix.Close(nfd)
				}
				return wantErrno(err, unix.EPERM)
			}},
			{"accept_on_accept_fd_refused", func() error {
				_, _, e := unix.Syscall(unix.SYS_ACCEPT, inheritedFD, 0, 0)
				return wantErrno(errnoErr(e), unix.EPERM)
			}},
			{"socket_unix_refused", func() error { return wantErrno(socketErr(unix.AF_UNIX), unix.EPERM) }},
			{"listen_refused", func() error { return wantErrno(unix.Listen(inheritedFD, 8), unix.EPERM) }},
		} {
			r := checkResult{Name: c.name, OK: true}
			if err := c.fn(); err != nil {
				r.OK, r.Detail = false, err.Error()
			}
			out.Checks = append(out.Checks, r)
		}
	}
	if err := json.NewEncoder(os.Stdout).Encode(out); err != nil {
		return 3
	}
	if out.Err != "" {
		return 1
	}
	return 0
}

// acceptPingPong accepts one connection on fd, checks that SO_PEERCRED names the parent,
// and exchanges a ping over it as a net.Conn, as the core uses it under the filter.
func acceptPingPong(fd int) error {
	nfd, _, err := unix.Accept4(fd, unix.SOCK_CLOEXEC)
	if err != nil {
		return fmt.Errorf("accept4(%d): %w", fd, err)
	}
	cred, err := unix.GetsockoptUcred(nfd, unix.SOL_SOCKET, unix.SO_PEERCRED)
	if err != nil {
		unix.Close(nfd)
		return fmt.Errorf("SO_PEERCRED: %w", err)
	}
	if int(cred.Pid) != os.Getppid() {
		unix.Close(nfd)
		return fmt.Errorf("peer pid %d, want the parent %d", cred.Pid, os.Getppid())
	}
	f := os.NewFile(uintptr(nfd), "peer")
	c, err := net.FileConn(f)
	f.Close()
	if err != nil {
		return fmt.Errorf("file conn: %w", err)
	}
	return pingPong(c)
}
