package bench

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"
)

// CPU time is what a signer pays per signature whatever else runs on the machine; wall
// throughput on a shared machine also measures the neighbours. Both are reported: the
// ratio of CPU per signature (raw signing over signer plus load generator) is what the
// throughput ratio would be if the cores were the signer's alone and CPU the only limit.

// userHZ is the unit of utime and stime in /proc/<pid>/stat (USER_HZ, 100 on Linux).
const userHZ = 100

// procCPU returns the CPU time (user and system, all threads) process pid has used, from
// /proc/<pid>/stat.
func procCPU(pid int) (time.Duration, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	return parseStatCPU(string(b))
}

// parseStatCPU reads utime and stime from the text of /proc/<pid>/stat.
func parseStatCPU(stat string) (time.Duration, error) {
	// pid (comm) state ppid …: comm may hold spaces and parentheses, so split after the last ')'.
	i := strings.LastIndexByte(stat, ')')
	if i < 0 {
		return 0, fmt.Errorf("stat: no command")
	}
	f := strings.Fields(stat[i+1:])
	if len(f) < 13 {
		return 0, fmt.Errorf("stat: %d fields", len(f))
	}
	utime, err1 := strconv.ParseUint(f[11], 10, 64) // field 14
	stime, err2 := strconv.ParseUint(f[12], 10, 64) // field 15
	if err1 != nil || err2 != nil {
		return 0, fmt.Errorf("stat: bad times")
	}
	return time.Duration(utime+stime) * time.Second / userHZ, nil
}

// cpuSample is the CPU time used so far by the signer's processes and by this one.
type cpuSample struct {
	signer time.Duration
	self   time.Duration
	ok     bool // every signer process could be read
}

func sampleCPU(pids []int) cpuSample {
	s := cpuSample{self: processCPU(), ok: len(pids) > 0}
	for _, pid := range pids {
		d, err := procCPU(pid)
		if err != nil {
			s.ok = false
		}
		s.signer += d
	}
	return s
}

// perSignature returns microseconds per signature, or 0 when n is 0.
func perSignature(d time.Duration, n int) float64 {
	if n <= 0 {
		return 0
	}
	return float64(d.Microseconds()) / float64(n)
}
