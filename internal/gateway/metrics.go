package gateway

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/keyward/keyward/internal/wire"
)

// metrics are the gateway's Prometheus series, on a registry of its own (no global state).
type metrics struct {
	reg         *prometheus.Registry
	requests    *prometheus.CounterVec
	latency     *prometheus.HistogramVec
	keys        prometheus.Gauge
	tezos       *prometheus.CounterVec
	tezLatency  *prometheus.HistogramVec
	tezKeys     prometheus.Gauge
	coreUp      prometheus.Gauge
	confinement *prometheus.GaugeVec
	refusals    *prometheus.CounterVec
	pending     prometheus.Gauge
}

func newMetrics() *metrics {
	m := &metrics{
		reg: prometheus.NewRegistry(),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "keyward_sign_requests_total",
			Help: "Ethereum signing requests by type and outcome (signed, bad_request, unknown_key, slashing_protection, policy, unavailable, overloaded, …).",
		}, []string{"type", "outcome"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "keyward_sign_duration_seconds",
			Help:    "Time to answer an Ethereum signing request, gateway in to gateway out.",
			Buckets: []float64{.0005, .001, .002, .003, .005, .0075, .01, .02, .05, .1, .25, .5, 1, 5},
		}, []string{"type"}),
		keys: prometheus.NewGauge(prometheus.GaugeOpts{Name: "keyward_keys_loaded", Help: "Ethereum keys the core can sign with."}),
		tezos: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "keyward_tezos_requests_total",
			Help: "Octez remote-signer API requests by endpoint, payload kind (sign: block, preattestation, attestation, generic) and outcome (signed/ok, bad_request, unknown_key, watermark, policy, unavailable, …).",
		}, []string{"endpoint", "kind", "outcome"}),
		tezLatency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "keyward_tezos_sign_duration_seconds",
			Help:    "Time to answer a Tezos signing request, gateway in to gateway out.",
			Buckets: []float64{.0005, .001, .002, .003, .005, .0075, .01, .02, .05, .1, .25, .5, 1, 5},
		}, []string{"kind"}),
		tezKeys: prometheus.NewGauge(prometheus.GaugeOpts{Name: "keyward_tezos_keys_loaded", Help: "Tezos keys the core can sign with."}),
		coreUp:  prometheus.NewGauge(prometheus.GaugeOpts{Name: "keyward_core_up", Help: "1 when the core answered its last status request."}),
		confinement: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "keyward_confinement_level",
			Help: "Confinement achieved by the core: 1 for the current level (full, partial or none), 0 for the others.",
		}, []string{"level"}),
	}
	m.refusals = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "keyward_gateway_refusals_total",
		Help: "Requests the gateway refused itself, by API and status (401 without valid credentials, 403 out of the client's scope); each is reported to the core's audit trail at a bounded rate.",
	}, []string{"api", "status"})
	m.pending = prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "keyward_pending_approvals",
		Help: "Signing requests waiting in the core for an operator's approval (keyward approvals list).",
	})
	m.reg.MustRegister(m.requests, m.latency, m.keys, m.tezos, m.tezLatency, m.tezKeys, m.coreUp, m.confinement, m.refusals, m.pending,
		prometheus.NewGoCollector(), prometheus.NewProcessCollector(prometheus.ProcessCollectorOpts{}))
	return m
}

func (m *metrics) observeSign(typ string, err error, d time.Duration) {
	outcome := "signed"
	var he *httpError
	switch {
	case err == nil:
	case errors.As(err, &he):
		outcome = outcomeOf(he.Code)
	default:
		outcome = "error"
	}
	m.requests.WithLabelValues(typ, outcome).Inc()
	m.latency.WithLabelValues(typ).Observe(d.Seconds())
}

// observeTezos counts one Octez API request.
func (m *metrics) observeTezos(endpoint, kind string, err error, d time.Duration) {
	outcome := "ok"
	if endpoint == "sign" {
		outcome = "signed"
	}
	var he *httpError
	switch {
	case err == nil:
	case errors.As(err, &he) && he.Code == http.StatusConflict:
		outcome = "watermark"
	case errors.As(err, &he):
		outcome = outcomeOf(he.Code)
	default:
		outcome = "error"
	}
	m.tezos.WithLabelValues(endpoint, kind, outcome).Inc()
	if endpoint == "sign" {
		m.tezLatency.WithLabelValues(kind).Observe(d.Seconds())
	}
}

func outcomeOf(code int) string {
	switch code {
	case http.StatusBadRequest:
		return "bad_request"
	case http.StatusNotFound:
		return "unknown_key"
	case http.StatusPreconditionFailed:
		return "slashing_protection"
	case http.StatusForbidden:
		return "policy"
	case http.StatusRequestEntityTooLarge:
		return "too_large"
	case http.StatusServiceUnavailable:
		return "unavailable"
	default:
		return "status_" + strconv.Itoa(code)
	}
}

func (m *metrics) setStatus(st *wire.Status) {
	if st == nil {
		m.coreUp.Set(0)
		return
	}
	m.coreUp.Set(1)
	m.keys.Set(float64(st.BLSKeys))
	m.tezKeys.Set(float64(st.TezosKeys))
	m.pending.Set(float64(st.PendingApprovals))
	for _, l := range []string{"full", "partial", "none"} {
		v := 0.0
		if l == st.ConfinementLevel {
			v = 1
		}
		m.confinement.WithLabelValues(l).Set(v)
	}
}

// serveMetrics refreshes the core gauges, then serves the registry.
func (s *Server) serveMetrics(w http.ResponseWriter, r *http.Request) error {
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	st, err := s.opts.Core.Status(ctx)
	if err != nil {
		st = nil
	}
	s.metrics.setStatus(st)
	promhttp.HandlerFor(s.metrics.reg, promhttp.HandlerOpts{}).ServeHTTP(w, r)
	return nil
}
