package sandbox

import (
	"fmt"
	"os"
	"runtime"
	"unsafe"

	seccomp "github.com/elastic/go-seccomp-bpf"
	"github.com/elastic/go-seccomp-bpf/arch"
	"golang.org/x/net/bpf"
	"golang.org/x/sys/unix"
)

// This file holds the core's seccomp allow-list, all of it. Anything not listed fails with
// EPERM (not a kill: a probe or an unexpected call gets an error, never a crash). A call from
// another architecture's ABI (x32, int 0x80) gets the default action too.
//
// Deliberately absent, so refused (DESIGN.md, Confinement of the core):
//   - socket, socketpair, connect, bind, listen, accept, accept4: the core's only socket is the
//     inherited socketpair to the gateway; no new socket of any family (this also closes UDP
//     and raw sockets, which Landlock's TCP rules do not cover). The one exception is
//     Config.AcceptFDs: accept4 on those listening unix sockets, opened before Apply, and on
//     no other descriptor (the systemd-activated gateway socket, where the gateway is another
//     service; the core's admin socket for operator approvals);
//   - execve, execveat, fork, vfork (and clone without CLONE_THREAD, see below): no new program
//     and no child process;
//   - ptrace, process_vm_readv, process_vm_writev, pidfd_getfd: no reading or writing another
//     process, and no way back into this one's memory from a helper (Inv 1);
//   - kexec_load, kexec_file_load, bpf, perf_event_open, init_module, finit_module, mount,
//     umount2, pivot_root, chroot, fsopen and the new mount API, keyctl, add_key, request_key,
//     userfaultfd, io_uring_setup/enter/register, personality, unshare, setns, and the
//     setuid/setgid/setgroups/setres*/capset family;
//   - prctl other than the read-only queries below: PR_SET_DUMPABLE in particular could make
//     the process readable again (Inv 1);
//   - prlimit64 with a new limit and setrlimit: RLIMIT_CORE stays 0 (Inv 1);
//   - mmap and mprotect with PROT_EXEC: no new executable memory (the Go runtime, glibc and
//     blst never need it after start);
//   - munlockall: key pages stay locked.

// ioctl requests from asm-generic/ioctls.h (the values for amd64 and arm64); x/sys does not
// export them.
const (
	ioctlFIONBIO  = 0x5421
	ioctlFIONCLEX = 0x5450
	ioctlFIOCLEX  = 0x5451
)

// seccompPolicy returns the allow-list for the running architecture. pid is the process id:
// signals may only be sent inside the process. acceptFDs are the only descriptors accept4
// may be called on (Config.AcceptFDs).
func seccompPolicy(goarch string, pid int, acceptFDs []int) (seccomp.Policy, error) {
	allow := []string{
		// Go runtime: memory. mmap/mprotect are conditioned below (no PROT_EXEC).
		"munmap", "mremap", "madvise", "brk",
		// Locked key memory (internal/secmem): mlock, never munlockall.
		"mlock", "mlock2", "munlock", "mlockall",
		// Go runtime and glibc (cgo, blst): threads, scheduling, synchronization. clone is
		// conditioned below; clone3 gets ENOSYS, see there.
		"futex", "set_robust_list", "rseq", "set_tid_address", "gettid",
		"sched_yield", "sched_getaffinity", "nanosleep", "clock_nanosleep", "restart_syscall",
		"exit", "exit_group",
		// Go runtime: signals (preemption via SIGURG, os/signal, crash handling). Sending is
		// limited to this process below.
		"rt_sigaction", "rt_sigprocmask", "rt_sigreturn", "sigaltstack", "getpid", "getppid",
		// Time (usually the vDSO; the syscalls are the fallback).
		"clock_gettime", "clock_getres", "gettimeofday",
		// Go netpoller: the inherited socketpair and files are registered with epoll; eventfd
		// and pipe2 wake it.
		"epoll_create1", "epoll_ctl", "epoll_pwait", "epoll_pwait2", "eventfd2", "pipe2",
		// I/O on descriptors the core already has or opens under Landlock: the socketpair
		// (recvmsg/sendmsg and friends, shutdown, socket option and names used by
		// net.FileConn), bbolt and the audit log (pread/pwrite, fsync/fdatasync, flock,
		// ftruncate, fallocate), and Go's copy fast paths (sendfile, splice, copy_file_range).
		"read", "write", "readv", "writev", "pread64", "pwrite64", "preadv", "pwritev",
		"close", "dup", "dup3", "fcntl", "lseek", "flock", "fsync", "fdatasync", "ftruncate",
		"fallocate", "fadvise64", "sendfile", "splice", "copy_file_range", "fstatfs",
		"recvfrom", "sendto", "recvmsg", "sendmsg", "shutdown", "getsockname", "getpeername",
		"getsockopt",
		// Paths: Landlock decides which paths these may touch (the state directory read-write,
		// the read-only paths read-only); seccomp only admits the calls. Renames stay inside one
		// directory (no Landlock refer right).
		"openat", "fstat", "statx", "getdents64", "readlinkat", "faccessat", "faccessat2",
		"mkdirat", "unlinkat", "renameat", "renameat2", "getcwd", "fchmod",
		// Identity and system facts read by the runtime and the standard library.
		"getuid", "geteuid", "getgid", "getegid", "getrlimit", "uname", "getrandom",
	}
	switch goarch {
	case "amd64":
		allow = append(allow, "newfstatat", "epoll_wait", "arch_prctl")
	case "arm64":
		allow = append(allow, "fstatat")
	default:
		return seccomp.Policy{}, fmt.Errorf("build seccomp policy: architecture %s has no syscall table here", goarch)
	}

	eq := func(arg uint32, v uint64) seccomp.Condition {
		return seccomp.Condition{Argument: arg, Operation: seccomp.Equal, Value: v}
	}
	noBits := func(arg uint32, v uint64) seccomp.Condition {
		return seccomp.Condition{Argument: arg, Operation: seccomp.BitsNotSet, Value: v}
	}
	const namespaces = unix.CLONE_NEWNS | unix.CLONE_NEWCGROUP | unix.CLONE_NEWUTS |
		unix.CLONE_NEWIPC | unix.CLONE_NEWUSER | unix.CLONE_NEWPID | unix.CLONE_NEWNET
	conditional := []seccomp.NameWithConditions{
		// New threads only: CLONE_THREAD set, no namespace flags. A fork (no CLONE_THREAD)
		// is refused, so os/exec fails before it reaches execve.
		{Name: "clone", Conditions: []seccomp.Condition{
			{Argument: 0, Operation: seccomp.BitsSet, Value: unix.CLONE_THREAD},
			noBits(0, namespaces),
		}},
		// Memory without PROT_EXEC.
		{Name: "mmap", Conditions: []seccomp.Condition{noBits(2, unix.PROT_EXEC)}},
		{Name: "mprotect", Conditions: []seccomp.Condition{noBits(2, unix.PROT_EXEC)}},
		// Signals only to this process (tgkill's tgid, kill's pid). Landlock's signal scope
		// says the same from ABI 6.
		{Name: "tgkill", Conditions: []seccomp.Condition{eq(0, uint64(pid))}},
		{Name: "kill", Conditions: []seccomp.Condition{eq(0, uint64(pid))}},
		// getrlimit through prlimit64 on this process with no new limit (x/sys, glibc).
		{Name: "prlimit64", Conditions: []seccomp.Condition{eq(0, 0), eq(2, 0)}},
		// ioctl: only non-blocking and close-on-exec toggles and the isatty probe.
		{Name: "ioctl", Conditions: []seccomp.Condition{eq(1, ioctlFIONBIO)}},
		{Name: "ioctl", Conditions: []seccomp.Condition{eq(1, ioctlFIOCLEX)}},
		{Name: "ioctl", Conditions: []seccomp.Condition{eq(1, ioctlFIONCLEX)}},
		{Name: "ioctl", Conditions: []seccomp.Condition{eq(1, unix.TCGETS)}},
	}
	for _, fd := range acceptFDs {
		// Config.AcceptFDs: accept4 on those listening sockets only, one rule each. validate
		// checked that each is a listening AF_UNIX socket. dup3 could put another descriptor
		// at such a number, but only one the core already holds, and no other of those
		// listens: the filter refuses socket, bind and listen.
		conditional = append(conditional, seccomp.NameWithConditions{Name: "accept4", Conditions: []seccomp.Condition{eq(0, uint64(fd))}})
	}
	// prctl: read-only queries used by CurrentState, plus thread naming.
	for _, op := range []uint64{unix.PR_GET_DUMPABLE, unix.PR_GET_NO_NEW_PRIVS, unix.PR_GET_SECCOMP,
		unix.PR_SET_NAME, unix.PR_GET_NAME} {
		conditional = append(conditional, seccomp.NameWithConditions{Name: "prctl", Conditions: []seccomp.Condition{eq(0, op)}})
	}

	return seccomp.Policy{
		DefaultAction: seccomp.ActionErrno, // EPERM
		Syscalls: []seccomp.SyscallGroup{
			{Action: seccomp.ActionAllow, Names: allow, NamesWithCondtions: conditional},
			// clone3 takes its flags in memory, where a filter cannot look. ENOSYS makes glibc
			// (pthread_create for cgo and blst) fall back to clone, whose flags are checked above.
			{Action: seccomp.ActionErrno | seccomp.Action(unix.ENOSYS), Names: []string{"clone3"}},
		},
	}, nil
}

// seccompSupported reports whether seccomp filters exist and this architecture has a policy.
func seccompSupported() bool {
	if _, err := arch.GetInfo(""); err != nil {
		return false
	}
	if _, err := seccompPolicy(runtime.GOARCH, os.Getpid(), nil); err != nil {
		return false
	}
	return seccomp.Supported()
}

// loadSeccomp installs the filter on every thread. It calls seccomp(2) itself rather than
// seccomp.LoadFilter: with TSYNC the kernel reports a thread it could not synchronize as a
// positive return value, which LoadFilter would take for success. TSYNC_ESRCH turns that case
// into an error on kernels that know it; the positive return is checked for the others.
func loadSeccomp(cfg Config) error {
	policy, err := seccompPolicy(runtime.GOARCH, os.Getpid(), cfg.AcceptFDs)
	if err != nil {
		return err
	}
	insts, err := policy.Assemble()
	if err != nil {
		return fmt.Errorf("assemble seccomp policy: %w", err)
	}
	raw, err := bpf.Assemble(insts)
	if err != nil {
		return fmt.Errorf("assemble seccomp bpf: %w", err)
	}
	filter := make([]unix.SockFilter, len(raw))
	for i, in := range raw {
		filter[i] = unix.SockFilter{Code: in.Op, Jt: in.Jt, Jf: in.Jf, K: in.K}
	}
	prog := unix.SockFprog{Len: uint16(len(filter)), Filter: &filter[0]}
	if len(filter) > 0xffff {
		return fmt.Errorf("assemble seccomp bpf: %d instructions", len(filter))
	}

	// The calling thread needs no_new_privs (set on all threads before); set it again here in
	// case this goroutine moved to a thread created since. TSYNC copies it to the others.
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	if err := unix.Prctl(unix.PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0); err != nil {
		return fmt.Errorf("set no_new_privs: %w", err)
	}
	flags := uintptr(unix.SECCOMP_FILTER_FLAG_TSYNC | unix.SECCOMP_FILTER_FLAG_TSYNC_ESRCH)
	r, _, e := unix.Syscall(unix.SYS_SECCOMP, unix.SECCOMP_SET_MODE_FILTER, flags, uintptr(unsafe.Pointer(&prog)))
	if e == unix.EINVAL {
		// Kernel older than 5.7: no TSYNC_ESRCH; a failed sync returns the thread id.
		flags = unix.SECCOMP_FILTER_FLAG_TSYNC
		r, _, e = unix.Syscall(unix.SYS_SECCOMP, unix.SECCOMP_SET_MODE_FILTER, flags, uintptr(unsafe.Pointer(&prog)))
	}
	runtime.KeepAlive(filter)
	if e != 0 {
		return fmt.Errorf("load seccomp filter with tsync: %w", e)
	}
	if r != 0 {
		return fmt.Errorf("load seccomp filter with tsync: thread %d could not be synchronized", r)
	}
	return nil
}
