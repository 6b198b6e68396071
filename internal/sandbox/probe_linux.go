package sandbox

import (
	"errors"

	"golang.org/x/sys/unix"
)

// Probe tries, from inside the process, three things the confinement must refuse, and records
// for each whether it was refused by the mechanism meant to refuse it. It is safe to call in
// an unconfined process: nothing it tries can succeed in a harmful way.
func Probe() Probes {
	return Probes{
		Socket:      probeSocket(),
		OpenOutside: probeOpen(),
		Exec:        probeExec(),
	}
}

// probeSocket: seccomp refuses socket(2) for every family with EPERM.
func probeSocket() ProbeResult {
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err == nil {
		_ = unix.Close(fd)
	}
	return result(err, unix.EPERM)
}

// probeOpenPath always exists and is never allowed: validate refuses "/" as a rule path.
const probeOpenPath = "/"

// probeOpen: Landlock refuses reading a directory outside the rules with EACCES.
func probeOpen() ProbeResult {
	fd, err := unix.Open(probeOpenPath, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err == nil {
		_ = unix.Close(fd)
	}
	return result(err, unix.EACCES)
}

// probeExec calls execve with a NULL path. Seccomp refuses the call with EPERM before the
// kernel reads any argument; unconfined, the kernel answers EFAULT. No file is looked up, so
// the probe cannot run anything whatever exists on disk.
func probeExec() ProbeResult {
	_, _, e := unix.RawSyscall(unix.SYS_EXECVE, 0, 0, 0)
	var err error
	if e != 0 {
		err = e
	}
	return result(err, unix.EPERM)
}

func result(err error, want unix.Errno) ProbeResult {
	if err == nil {
		return ProbeResult{}
	}
	var errno unix.Errno
	if !errors.As(err, &errno) {
		return ProbeResult{Errno: err.Error()}
	}
	return ProbeResult{Blocked: errno == want, Errno: unix.ErrnoName(errno)}
}
