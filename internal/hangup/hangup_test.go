package hangup

import (
	"syscall"
	"testing"
	"time"
)

// TestOnHangup: each SIGHUP calls fn; after stop, none does (and the default action, which
// would end the test binary, stays off while stop runs).
func TestOnHangup(t *testing.T) {
	calls := make(chan struct{}, 4)
	stop := OnHangup(func() { calls <- struct{}{} })
	for range 2 {
		if err := syscall.Kill(syscall.Getpid(), syscall.SIGHUP); err != nil {
			t.Fatal(err)
		}
		select {
		case <-calls:
		case <-time.After(10 * time.Second):
			t.Fatal("SIGHUP did not call fn")
		}
	}
	stop()
	select {
	case <-calls:
		t.Fatal("a call after stop")
	default:
	}
}
