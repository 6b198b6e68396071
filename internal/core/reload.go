package core

import (
	"fmt"
	"log/slog"

	"github.com/keyward/keyward/internal/audit"
	"github.com/keyward/keyward/internal/hangup"
	"github.com/keyward/keyward/internal/policy"
)

// reloadPolicyOnHangup reloads dir/policy.toml on every SIGHUP to the core process (see
// ReloadPolicy). It returns a function that stops listening.
func reloadPolicyOnHangup(svc *Service, dir string, log *slog.Logger) (stop func()) {
	return hangup.OnHangup(func() {
		if summary, err := svc.ReloadPolicy(dir, "SIGHUP"); err != nil {
			log.Error("policy reload failed: keeping the policy in force", "err", err)
		} else {
			log.Info("policy reloaded", "policy", summary)
		}
	})
}

// ReloadPolicy reads dir/policy.toml, validates it whole (policy.Load) and puts it in
// force for the requests that start after it; a file that does not validate keeps the
// policy in force and the error says why. Either way the reload is an audit event (Inv
// 4: what the core enforces changed, or was asked to), with by naming who asked: the
// admin channel's peer ("uid 0 (root)") or "SIGHUP". It returns the new policy's summary
// (policy.Policy.Summary).
func (s *Service) ReloadPolicy(dir, by string) (string, error) {
	p, err := policy.Load(dir)
	if err == nil {
		err = s.SetPolicy(p)
	}
	if err != nil {
		s.appendEvent(audit.Event{Decision: audit.PolicyReloadFailed, Reason: err.Error(), Operator: by})
		return "", fmt.Errorf("policy reload: %w (the policy in force stays)", err)
	}
	summary := p.Summary()
	s.appendEvent(audit.Event{Decision: audit.PolicyReloaded, Reason: summary, Operator: by})
	return summary, nil
}
