package core

import (
	"fmt"
	"log/slog"
	"runtime/debug"
	"strconv"
	"sync"
	"time"

	"github.com/keyward/keyward/internal/audit"
	"github.com/keyward/keyward/internal/wire"
)

// Bounds of the gateway refusals the core records one by one: a burst of refusalBurst,
// then refusalRate per second. The rest are counted and the count goes into the next
// event recorded (audit.Event.Suppressed), so the trail says how many there were without
// a line each. A flood of unauthenticated requests from the network, or a compromised
// gateway inventing refusals, cannot fill the state directory through the trail.
const (
	refusalRate  = 50
	refusalBurst = 200
)

// refusalLimiter is a token bucket over the gateway's refusal reports.
type refusalLimiter struct {
	mu      sync.Mutex
	tokens  float64
	last    time.Time
	dropped uint64 // counted since the last recorded event, the gateway's own count included
}

// take reports whether an event may be recorded at now, and if so how many were
// suppressed before it (then reset). gatewayDropped is what the gateway itself dropped.
func (l *refusalLimiter) take(now time.Time, gatewayDropped uint32) (bool, uint64) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.last.IsZero() {
		l.tokens = refusalBurst
	} else if d := now.Sub(l.last); d > 0 {
		l.tokens = min(refusalBurst, l.tokens+d.Seconds()*refusalRate)
	}
	l.last = now
	l.dropped += uint64(gatewayDropped)
	if l.tokens < 1 {
		l.dropped++
		return false, 0
	}
	l.tokens--
	n := l.dropped
	l.dropped = 0
	return true, n
}

// noteRefusal records a refusal the gateway reports (wire.MsgGatewayRefusal) in the
// audit trail, marked origin "gateway". There is no answer. A body that does not decode
// breaks the protocol (the gateway is disconnected, Inv 7); no panic escapes (Inv 8).
func (s *Service) noteRefusal(f wire.Frame, log *slog.Logger) (err error) {
	defer func() {
		if p := recover(); p != nil {
			log.Error("panic while recording a gateway refusal", "panic", fmt.Sprint(p), "stack", string(debug.Stack()))
			err = nil
		}
	}()
	r, err := wire.DecodeGatewayRefusal(f.Body)
	if err != nil {
		return err
	}
	if s.rec.audit == nil {
		return nil
	}
	ok, suppressed := s.rec.refusals.take(s.rec.now(), r.Suppressed)
	if !ok {
		return nil
	}
	ev := audit.Event{
		Decision: audit.Refused,
		Reason:   strconv.Itoa(int(r.Status)) + ": " + r.Reason,
		Client:   r.Client,
		Chain:    chainOfAPI(r.API),
		Key:      r.Key,
		Kind:     r.Op,
		Origin:   "gateway",
		Remote:   r.Remote,
	}
	if suppressed > 0 {
		ev.Suppressed = &suppressed
	}
	s.appendEvent(ev)
	return nil
}

// chainOfAPI names the chain of a gateway API for the audit event.
func chainOfAPI(api string) string {
	switch api {
	case "tezos":
		return "tezos"
	case "eth2", "keymanager":
		return "eth"
	}
	return api
}
