package gateway

import (
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"

	"github.com/keyward/keyward/internal/wire"
)

// RefusalReporter is implemented by a core that records the refusals the gateway decides
// (the wire client): 401 without valid credentials, 403 out of a client's scope. Those
// requests never reach the core otherwise, and the audit trail is the core's (Inv 4:
// scoping is the gateway's job, recording every decision the core's).
type RefusalReporter interface {
	ReportRefusal(*wire.GatewayRefusal) error
}

var _ RefusalReporter = (*wire.Client)(nil)

// refusal marks an httpError as a refusal the gateway decided, with what it knew of the
// request; handle reports it to the core's audit trail.
type refusal struct {
	client, key, op string
}

// refusalQueue is how many reports may wait to be sent; beyond it reports are dropped
// and counted (wire.GatewayRefusal.Suppressed), so a flood of refused requests never
// blocks a handler or grows memory.
const refusalQueue = 256

// refusalSender sends refusal reports to the core from one goroutine, started with the
// first report and running for the life of the process.
type refusalSender struct {
	once    sync.Once
	queue   chan wire.GatewayRefusal
	dropped atomic.Uint32
}

// report queues the refusal of r (answered he) for the core, without waiting.
func (s *Server) reportRefusal(r *http.Request, api string, he *httpError) {
	if he.refused == nil {
		return
	}
	s.metrics.refusals.WithLabelValues(api, strconv.Itoa(he.Code)).Inc()
	rep, ok := s.opts.Core.(RefusalReporter)
	if !ok {
		return
	}
	key := he.refused.key
	if key == "" { // a 401 knows the key only from the path
		key = r.PathValue("identifier") + r.PathValue("pkh")
	}
	q := &s.refusals
	q.once.Do(func() {
		q.queue = make(chan wire.GatewayRefusal, refusalQueue)
		go func() {
			for g := range q.queue {
				g.Suppressed = q.dropped.Swap(0)
				if err := rep.ReportRefusal(&g); err != nil {
					q.dropped.Add(1) // the core is away; it restarts with the next gateway connection
				}
			}
		}()
	})
	select {
	case q.queue <- wire.GatewayRefusal{
		Status: uint16(he.Code),
		Client: he.refused.client,
		Key:    key,
		Op:     he.refused.op,
		Remote: r.RemoteAddr,
		API:    api,
		Reason: he.Msg,
	}:
	default:
		q.dropped.Add(1)
	}
}
