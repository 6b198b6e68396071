package sandbox

import (
	"os"
	"strings"

	"golang.org/x/sys/unix"
)

// MinLandlockABI is the Landlock ABI full confinement needs: network rules (4) and scopes (6).
const MinLandlockABI = 6

// Kernel is what the running kernel offers for confinement, without applying anything.
type Kernel struct {
	LandlockABI int  `json:"landlock_abi"`
	Seccomp     bool `json:"seccomp"`
}

// KernelSupport asks the kernel what it offers. It changes nothing.
func KernelSupport() Kernel {
	var k Kernel
	abi, _, errno := unix.Syscall(unix.SYS_LANDLOCK_CREATE_RULESET, 0, 0, unix.LANDLOCK_CREATE_RULESET_VERSION)
	if errno == 0 {
		k.LandlockABI = int(abi)
	}
	if b, err := os.ReadFile("/proc/self/status"); err == nil {
		k.Seccomp = strings.Contains(string(b), "\nSeccomp:")
	}
	return k
}
