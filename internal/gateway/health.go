package gateway

import (
	"context"
	"encoding/json"
	"net/http"
	"time"

	"github.com/keyward/keyward/internal/wire"
)

// healthCheck is one entry of the Web3Signer HealthCheck shape.
type healthCheck struct {
	ID     string `json:"id"`
	Status string `json:"status"`
	Reason string `json:"reason,omitempty"`
}

type healthReport struct {
	Status      string          `json:"status"`
	Checks      []healthCheck   `json:"checks"`
	Outcome     string          `json:"outcome"`
	Confinement json.RawMessage `json:"confinement,omitempty"`
	Core        *wire.Status    `json:"core,omitempty"`
	CorePID     int             `json:"core_pid,omitempty"`
}

// Health evaluates the core's status: healthy only when the core answers, its keys are
// loaded and it achieved the confinement its configuration requires.
func Health(st *wire.Status, err error) (ok bool, checks []healthCheck) {
	up := func(id string, good bool, reason string) {
		c := healthCheck{ID: id, Status: "UP"}
		if !good {
			c.Status, c.Reason, ok = "DOWN", reason, false
		}
		checks = append(checks, c)
	}
	ok = true
	if err != nil {
		up("default-check", false, "signer core unavailable: "+err.Error())
		return ok, checks
	}
	up("default-check", true, "")
	up("keys-check", st.Ready, "keys not loaded")
	up("slashing-protection-db-health-check", st.Ready && st.Protection != "", "protection store not open")
	confined := st.ConfinementLevel == "full" || st.ConfinementRequired == "best-effort"
	up("confinement-check", confined, "core confinement "+st.ConfinementLevel+", configuration requires "+st.ConfinementRequired)
	return ok, checks
}

func (s *Server) healthcheck(w http.ResponseWriter, r *http.Request) error {
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	st, err := s.opts.Core.Status(ctx)
	ok, checks := Health(st, err)
	rep := healthReport{Status: "UP", Checks: checks, Outcome: "UP", Core: st, CorePID: s.opts.CorePID}
	code := http.StatusOK
	if !ok {
		rep.Status, rep.Outcome, code = "DOWN", "DOWN", http.StatusServiceUnavailable
	}
	if st != nil {
		rep.Confinement = st.Confinement
		s.metrics.setStatus(st)
	}
	writeJSON(w, code, rep)
	return nil
}
