// Package hangup runs a function on every SIGHUP, the reload signal of keyward's
// processes (the gateway reloads clients and TLS, the core its policy).
package hangup

import (
	"os"
	"os/signal"
	"syscall"
)

// OnHangup calls fn on every SIGHUP to the process, one call at a time, until the
// returned function is called.
func OnHangup(fn func()) (stop func()) {
	ch := make(chan os.Signal, 1)
	signal.Notify(ch, syscall.SIGHUP)
	done := make(chan struct{})
	go func() {
		for {
			select {
			case <-done:
				return
			case <-ch:
				fn()
			}
		}
	}()
	return func() {
		signal.Stop(ch)
		close(done)
	}
}
