// Package sandbox confines the keyward core process on Linux before it reads any key.
//
// The core calls [Apply] once, early, after it has opened what it needs (the socketpair to the
// gateway, inherited as a descriptor) and before it unseals a key. Apply is irreversible. It
// upholds the "Confinement of the core" section of DESIGN.md and invariant 1 (plaintext keys
// only in the core's memory, excluded from core dumps, process not dumpable). In this order it:
//
//  1. sets RLIMIT_CORE to 0 (soft and hard): no core file can ever hold a key (Inv 1);
//  2. clears PR_SET_DUMPABLE: other processes of the same user can neither ptrace the core nor
//     open /proc/<pid>/mem nor use process_vm_readv on it, and no core dump is written (Inv 1);
//  3. sets no_new_privs on every thread: no exec can gain privileges, and it is the kernel's
//     precondition for Landlock and seccomp without CAP_SYS_ADMIN;
//  4. enforces Landlock on every thread: file system access is limited to the state directory
//     (read-write, but no execute, no device, socket, fifo or symlink creation, no cross-directory
//     rename) and the configured read-only paths (read only); TCP bind and connect are denied
//     (ABI ≥ 4); abstract unix sockets and signals are scoped to the core's own domain (ABI ≥ 6);
//  5. loads a seccomp allow-list on every thread (TSYNC): anything not listed fails with EPERM.
//     The list has no socket, connect, bind, listen, accept (accept4 only on the descriptors of
//     Config.AcceptFDs: the socket-activated gateway socket, the admin socket), execve, ptrace,
//     process_vm_*,
//     mount, bpf, io_uring, namespaces or setuid family; clone only creates threads (clone3
//     answers ENOSYS so glibc falls back to clone, whose flags a filter can see); no new
//     executable memory; prctl only reads, so PR_SET_DUMPABLE cannot undo step 2 (Inv 1).
//     See seccomp_linux.go for each group.
//
// Then Apply runs [Probe] from inside: it tries a TCP socket, an open outside the allowed paths
// and an execve, and records that each was refused, so `keyward doctor`, the health endpoint and
// the metric show confinement that is proven, not only configured.
//
// # Requirement
//
// The zero [Requirement] is [RequireFull]: Apply fails, naming what the kernel lacks, unless
// every step above is achieved (fail closed). It checks what the kernel offers before it changes
// anything, so a refused start leaves the process as it was. [RequireNone] is the explicit,
// documented downgrade (`--confinement=best-effort`): Apply does what the kernel allows and the
// [Report] says what was achieved.
//
// # What is not confined
//
//   - Descriptors that were open before Apply keep their rights: Landlock checks paths at open
//     time only. This is how the core keeps its socketpair to the gateway; it also means a
//     caller must not leave other descriptors open across Apply.
//   - Landlock network rules cover TCP bind and connect only, not UDP, raw or other families;
//     those are closed by seccomp, which refuses socket(2) and socketpair(2) for every family.
//     The core gets its only socket as an inherited descriptor.
//   - On kernels before Landlock ABI 8, go-landlock reaches every thread through libpsx, which
//     needs to list /proc/<pid>/task afterwards; that one directory stays listable.
//   - Reads and writes inside the state directory and the read-only paths stay possible, as do
//     stat-like metadata lookups on any path (Landlock does not restrict path walks).
//   - Root on the host (out of scope in DESIGN.md): CAP_SYS_PTRACE still reads a non-dumpable
//     process. Running the core under its own unix user is the deployment's part.
//   - An operation the kernel refuses later (e.g. a syscall a future Go runtime needs) returns
//     EPERM instead of killing the process; tests run the filter under the pinned toolchain.
//
// Apply is called once: it refuses itself afterwards (seccomp(2) is not on the list).
//
// On other systems Apply confines nothing: it reports level "none" and fails unless the
// requirement is [RequireNone].
package sandbox

// Config says what the core may still do after [Apply].
type Config struct {
	// StateDir is the only read-write hierarchy: bbolt files, the sealed key store, the audit
	// log. It must be an absolute path to an existing directory other than "/".
	StateDir string
	// ReadOnlyPaths are files or directories that stay readable, e.g. a systemd credentials
	// directory holding the master key. Each must be absolute and exist. May be empty.
	ReadOnlyPaths []string
	// Require says what must be achieved or Apply fails. The zero value is RequireFull.
	Require Requirement
	// AcceptFDs are listening AF_UNIX sockets the process holds before Apply: the gateway
	// socket inherited from the service manager (systemd socket activation, `keyward core
	// --listen-fd`) and the core's local admin socket (operator approvals), which the core
	// creates itself before it confines itself. The seccomp filter allows accept4 on these
	// descriptors and on no other: the core can take a connection on them but cannot open,
	// bind or listen on anything. Each must be 3 or more (0, 1 and 2 are the standard
	// streams), appear once, and be a listening unix socket; TCP and other families are
	// refused. May be empty.
	AcceptFDs []int
}

// Requirement says how much confinement [Apply] must achieve.
type Requirement int

const (
	// RequireFull (the zero value) makes Apply fail unless every step is achieved and every
	// probe is refused. Any value other than RequireNone is treated as RequireFull.
	RequireFull Requirement = iota
	// RequireNone is the explicit, documented downgrade: Apply achieves what the kernel
	// offers, reports it, and fails only on configuration errors.
	RequireNone
)

// Levels returned by [Report.Level].
const (
	// LevelFull means every step was achieved and every probe that ran was refused.
	LevelFull = "full"
	// LevelPartial means some, but not all, of the confinement is in place.
	LevelPartial = "partial"
	// LevelNone means nothing beyond the process defaults is in place.
	LevelNone = "none"
)

// Report says what confinement the process has. Field names in JSON are stable: doctor, the
// health endpoint and the metric read them.
type Report struct {
	// Dumpable is the PR_GET_DUMPABLE state; confined means false (Inv 1).
	Dumpable bool `json:"dumpable"`
	// NoNewPrivs is set when no_new_privs is in force.
	NoNewPrivs bool `json:"no_new_privs"`
	// CoreLimitZero is set when the soft and hard RLIMIT_CORE are both 0 (Inv 1).
	CoreLimitZero bool `json:"core_limit_zero"`
	// LandlockABI is the kernel's Landlock ABI version (0: none), after known-errata downgrades.
	LandlockABI int `json:"landlock_abi"`
	// LandlockFS is set when file system rules are enforced.
	LandlockFS bool `json:"landlock_fs"`
	// LandlockNet is set when TCP bind and connect are denied by Landlock (ABI ≥ 4).
	LandlockNet bool `json:"landlock_net"`
	// LandlockScoped is set when abstract unix sockets and signals are scoped (ABI ≥ 6).
	LandlockScoped bool `json:"landlock_scoped"`
	// Seccomp is set when the seccomp filter is in force on the calling thread.
	Seccomp bool `json:"seccomp"`
	// SeccompTSync is set when the filter is known to be in force on every thread.
	SeccompTSync bool `json:"seccomp_tsync"`
	// Probes holds the results of [Probe], when it ran.
	Probes *Probes `json:"probes,omitempty"`
	// Missing lists, in words, what could not be achieved.
	Missing []string `json:"missing,omitempty"`
}

// Level summarizes the report: LevelFull, LevelPartial or LevelNone. A zero Report is
// LevelNone: not being dumpable alone does not count as confinement.
func (r Report) Level() string {
	steps := []bool{r.NoNewPrivs, r.CoreLimitZero, r.LandlockFS, r.LandlockNet, r.LandlockScoped,
		r.Seccomp, r.SeccompTSync}
	if r.Probes != nil {
		steps = append(steps, r.Probes.Socket.Blocked, r.Probes.OpenOutside.Blocked, r.Probes.Exec.Blocked)
	}
	some, all := false, !r.Dumpable
	for _, ok := range steps {
		some = some || ok
		all = all && ok
	}
	switch {
	case all:
		return LevelFull
	case some:
		return LevelPartial
	default:
		return LevelNone
	}
}

// Probes are attempts, made from inside the process, at what the confinement must refuse.
type Probes struct {
	// Socket tries socket(AF_INET, SOCK_STREAM); seccomp must refuse it with EPERM.
	Socket ProbeResult `json:"socket"`
	// OpenOutside tries to open "/" for reading; Landlock must refuse it with EACCES.
	OpenOutside ProbeResult `json:"open_outside"`
	// Exec tries execve; seccomp must refuse it with EPERM.
	Exec ProbeResult `json:"exec"`
}

// ProbeResult is the outcome of one probe.
type ProbeResult struct {
	// Blocked is set when the attempt failed with the errno of the mechanism meant to refuse
	// it (EPERM for seccomp, EACCES for Landlock). Any other outcome is not proof.
	Blocked bool `json:"blocked"`
	// Errno names the error the attempt got ("EPERM"), or is empty if it succeeded.
	Errno string `json:"errno,omitempty"`
}
