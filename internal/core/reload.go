package core

import (
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/keyward/keyward/internal/policy"
)

// reloadPolicyOnHangup reloads dir/policy.toml on every SIGHUP to the core process: the
// new file is decoded and validated whole first (policy.Load); a bad file keeps the policy
// in force and logs why. It returns a function that stops listening.
func reloadPolicyOnHangup(svc *Service, dir string, log *slog.Logger) (stop func()) {
	ch := make(chan os.Signal, 1)
	signal.Notify(ch, syscall.SIGHUP)
	done := make(chan struct{})
	go func() {
		for {
			select {
			case <-done:
				return
			case <-ch:
				reloadPolicy(svc, dir, log)
			}
		}
	}()
	return func() {
		signal.Stop(ch)
		close(done)
	}
}

// reloadPolicy loads and installs dir/policy.toml, or keeps the policy in force.
func reloadPolicy(svc *Service, dir string, log *slog.Logger) {
	p, err := policy.Load(dir)
	if err != nil {
		log.Error("policy reload failed: keeping the policy in force", "err", err)
		return
	}
	if err := svc.SetPolicy(p); err != nil {
		log.Error("policy reload failed: keeping the policy in force", "err", err)
		return
	}
	log.Info("policy reloaded", "file", policy.FileName)
}
