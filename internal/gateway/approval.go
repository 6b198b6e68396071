package gateway

import (
	"context"
	"net/http"
	"time"

	"github.com/keyward/keyward/internal/eth"
	"github.com/keyward/keyward/internal/tezos"
)

// Requests under an "approve" rule wait in the core for an operator (keyward approve, on
// the core's own admin socket: there is no HTTP route for it, and the gateway cannot
// approve anything). The gateway only keeps such a request open long enough: it does not
// know the policy, so it gives the approval timeout to every request of a kind a policy
// may hold (Ethereum exits and deposits, Tezos generic operations) and keeps the usual
// limit for the others (attestations, blocks: a stuck core must not hold them for minutes).

// signContext bounds one signing request to the core: Options.Timeout, plus
// Options.ApprovalTimeout when mayWait, in which case this response's write deadline moves
// with it (the server's WriteTimeout, Timeout + 5 s, would cut the answer of an approved
// request; the read timeout covers reading the request only).
func (s *Server) signContext(w http.ResponseWriter, r *http.Request, mayWait bool) (context.Context, context.CancelFunc) {
	d := s.opts.Timeout
	if mayWait && s.opts.ApprovalTimeout > 0 {
		d += s.opts.ApprovalTimeout
		_ = http.NewResponseController(w).SetWriteDeadline(time.Now().Add(d + s.writeSlack))
	}
	return context.WithTimeout(r.Context(), d)
}

// ethMayWait reports whether a policy may hold a request of type t for an operator.
func ethMayWait(t eth.SignType) bool {
	return t == eth.TypeVoluntaryExit || t == eth.TypeDeposit
}

// tezosMayWait reports whether a policy may hold a payload for an operator: generic
// operations (transactions under an approve rule).
func tezosMayWait(payload []byte) bool {
	return len(payload) > 0 && payload[0] == tezos.MagicGeneric
}
