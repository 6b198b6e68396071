package doctor

import (
	"time"

	"golang.org/x/sys/unix"
)

// readClock asks the kernel for its clock state with a read-only adjtimex.
func readClock() clockState {
	var tx unix.Timex // Modes 0: read only
	state, err := unix.Adjtimex(&tx)
	if err != nil {
		return clockState{}
	}
	return clockState{
		Available:      true,
		Unsynchronized: state == unix.TIME_ERROR || tx.Status&unix.STA_UNSYNC != 0,
		MaxError:       time.Duration(tx.Maxerror) * time.Microsecond,
	}
}
