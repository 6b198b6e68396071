package sandbox

// MinLandlockABI is the Landlock ABI full confinement needs: network rules (4) and scopes (6).
const MinLandlockABI = 6

// Kernel is what the running kernel offers for confinement, without applying anything.
type Kernel struct {
	LandlockABI int  `json:"landlock_abi"`
	Seccomp     bool `json:"seccomp"`
}

// KernelSupport asks the kernel what it offers, with the same detection (and errata
// downgrades) Apply uses, so doctor and the core never disagree. It changes nothing.
func KernelSupport() Kernel {
	return Kernel{LandlockABI: landlockABI(), Seccomp: seccompSupported()}
}
