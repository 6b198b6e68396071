package bench

import (
	"fmt"
	"os"
	"strconv"
	"strings"
)

// PeakRSSMB returns the peak resident memory (VmHWM) of a running process in MB, 0 if
// it cannot be read. Unlike the ru_maxrss of a child, it counts only what the process
// touched since its exec: Go starts children with vfork, so a child's ru_maxrss starts
// from its parent's peak.
func PeakRSSMB(pid int) float64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	for l := range strings.Lines(string(b)) {
		if rest, ok := strings.CutPrefix(l, "VmHWM:"); ok {
			f := strings.Fields(rest)
			if len(f) >= 1 {
				kb, _ := strconv.ParseFloat(f[0], 64)
				return kb / 1024
			}
		}
	}
	return 0
}
