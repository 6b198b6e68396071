package sandbox

import (
	"bufio"
	"bytes"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/sys/unix"
)

// seccompModeFilter is the Seccomp value of /proc/<pid>/status and PR_GET_SECCOMP in filter
// mode.
const seccompModeFilter = 2

// CurrentState reports what the running process has, read from the kernel: PR_GET_DUMPABLE,
// RLIMIT_CORE, and NoNewPrivs and Seccomp from /proc/self/status (falling back to prctl for the
// calling thread when Landlock hides /proc). SeccompTSync is set only when every thread listed
// in /proc/self/task shows the filter, which is unreadable inside Landlock. The Landlock fields
// stay zero: the kernel has no call to read a domain back, so doctor shows the Report of Apply
// and its Probes for those.
func CurrentState() Report {
	rep := readBack()
	rep.SeccompTSync = allThreadsFiltered()
	return rep
}

// readBack reads the state Apply reports, without listing threads.
func readBack() Report {
	var rep Report
	d, err := unix.PrctlRetInt(unix.PR_GET_DUMPABLE, 0, 0, 0, 0)
	rep.Dumpable = err != nil || d != 0 // unknown counts as dumpable
	var rl unix.Rlimit
	rep.CoreLimitZero = unix.Getrlimit(unix.RLIMIT_CORE, &rl) == nil && rl.Cur == 0 && rl.Max == 0
	if nnp, mode, ok := readStatus("/proc/self/status"); ok {
		rep.NoNewPrivs, rep.Seccomp = nnp, mode == seccompModeFilter
		return rep
	}
	n, err := unix.PrctlRetInt(unix.PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0)
	rep.NoNewPrivs = err == nil && n == 1
	m, err := unix.PrctlRetInt(unix.PR_GET_SECCOMP, 0, 0, 0, 0)
	rep.Seccomp = err == nil && m == seccompModeFilter
	return rep
}

// allThreadsFiltered reports whether every thread of the process is in seccomp filter mode.
func allThreadsFiltered() bool {
	tasks, err := os.ReadDir("/proc/self/task")
	if err != nil || len(tasks) == 0 {
		return false
	}
	for _, t := range tasks {
		_, mode, ok := readStatus(filepath.Join("/proc/self/task", t.Name(), "status"))
		if !ok {
			return false
		}
		if mode != seccompModeFilter {
			return false
		}
	}
	return true
}

// statusLimit bounds what is read of a /proc status file.
const statusLimit = 16 << 10

// readStatus returns the NoNewPrivs and Seccomp fields of a /proc status file.
func readStatus(path string) (nnp bool, seccompMode int, ok bool) {
	f, err := os.Open(path)
	if err != nil {
		return false, 0, false
	}
	defer f.Close()
	buf := make([]byte, statusLimit)
	n, _ := f.Read(buf)
	seenNNP, seenSeccomp := false, false
	sc := bufio.NewScanner(bytes.NewReader(buf[:n]))
	for sc.Scan() {
		key, val, found := strings.Cut(sc.Text(), ":")
		if !found {
			continue
		}
		val = strings.TrimSpace(val)
		switch key {
		case "NoNewPrivs":
			nnp, seenNNP = val == "1", true
		case "Seccomp":
			seenSeccomp = true
			switch val {
			case "0":
				seccompMode = 0
			case "1":
				seccompMode = 1
			case "2":
				seccompMode = seccompModeFilter
			default:
				seenSeccomp = false
			}
		}
	}
	return nnp, seccompMode, seenNNP && seenSeccomp
}
