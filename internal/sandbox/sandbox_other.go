//go:build !linux

package sandbox

import "fmt"

// Apply confines nothing on this platform. It fails unless cfg.Require is RequireNone, and
// then reports level "none".
func Apply(cfg Config) (Report, error) {
	rep := Report{Dumpable: true, Missing: []string{"confinement is implemented on linux only"}}
	if cfg.Require != RequireNone {
		return rep, fmt.Errorf("apply confinement: %w: confinement is implemented on linux only; %s",
			ErrRequired, bestEffortHint)
	}
	return rep, nil
}

// Probe reports nothing as blocked on this platform.
func Probe() Probes { return Probes{} }

// CurrentState reports level "none" on this platform.
func CurrentState() Report { return Report{Dumpable: true} }
