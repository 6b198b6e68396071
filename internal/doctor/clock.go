package doctor

import (
	"fmt"
	"time"
)

// clockState is what the kernel says about the system clock's synchronization
// (adjtimex(2) with no modes: a read).
type clockState struct {
	// Available is false when the kernel could not be asked (other systems, a seccomp
	// filter): the check is skipped.
	Available bool
	// Unsynchronized is set when the kernel's time state is TIME_ERROR or STA_UNSYNC is set:
	// no NTP (or PTP) daemon disciplines the clock.
	Unsynchronized bool
	// MaxError is the kernel's maximum error estimate.
	MaxError time.Duration
}

// maxClockError is the estimated error beyond which the clock warns: Ethereum slots are
// 12 s and attestations are due 4 s in; a clock seconds off signs late or is refused by
// peers, and Tezos rounds are a few seconds.
const maxClockError = 500 * time.Millisecond

// judgeClock turns a clock state into a finding. An unsynchronized clock warns rather than
// fails: protection does not depend on the clock, but duties are missed.
func judgeClock(s clockState) Finding {
	const name = "clock"
	switch {
	case !s.Available:
		return Finding{name, Pass, "clock synchronization not detectable here; skipped", ""}
	case s.Unsynchronized:
		return Finding{name, Warn, "the kernel reports the system clock as unsynchronized (no NTP or PTP discipline)",
			"run a time daemon (systemd-timesyncd, chrony) so duties are signed on time"}
	case s.MaxError > maxClockError:
		return Finding{name, Warn, fmt.Sprintf("the kernel estimates the clock error at up to %v", s.MaxError),
			"check the time daemon's sources (chronyc sources, timedatectl timesync-status)"}
	default:
		return Finding{name, Pass, fmt.Sprintf("synchronized, estimated error at most %v", s.MaxError), ""}
	}
}
