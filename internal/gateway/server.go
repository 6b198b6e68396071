package gateway

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/keyward/keyward/internal/tezos"
	"github.com/keyward/keyward/internal/wire"
)

// Core is what the gateway needs of the core: the wire client satisfies it.
type Core interface {
	EthSign(ctx context.Context, r *wire.EthSignRequest) (*wire.SignResult, error)
	ListKeys(ctx context.Context) (*wire.KeyList, error)
	Status(ctx context.Context) (*wire.Status, error)

	TezosSign(ctx context.Context, r *wire.TezosSignRequest) (*wire.TezosSignResult, error)
	TezosPublicKey(ctx context.Context, pkh tezos.PublicKeyHash) (*wire.TezosPublicKeyResult, error)
	TezosKnownKeys(ctx context.Context) (*wire.TezosKeyList, error)
	TezosAuthorizedKeys(ctx context.Context) (*wire.TezosAuthorizedKeys, error)
	TezosProvePossession(ctx context.Context, r *wire.TezosProvePossession) (*wire.TezosSignResult, error)
}

var _ Core = (*wire.Client)(nil)

// Options configure a Server.
type Options struct {
	Core         Core
	Log          *slog.Logger
	MaxBodyBytes int64         // per request body; required
	MaxInFlight  int           // signing requests in progress; required
	Timeout      time.Duration // one signing request end to end; required
	// ApprovalTimeout is how long the core holds a request for an operator
	// (core.approval_timeout, from its status); requests of a kind a policy may hold get
	// it on top of Timeout (approval.go). 0: none.
	ApprovalTimeout time.Duration
	Version         string
	// CorePID is the core's process id, reported by the health endpoint (0 if unknown).
	CorePID int
	// KeymanagerToken is the bearer token of the Keymanager API. Empty: the Keymanager
	// routes are not served (there is no unauthenticated mode).
	KeymanagerToken string
	// Clients says who may call the signing APIs and for what (LoadClients); required:
	// authentication has no "off" value.
	Clients *Clients
	// TLS, when set, makes both listeners serve TLS 1.3 only (LoadTLS); SetTLS replaces it.
	TLS *TLSMaterial
}

// Server serves the Web3Signer eth2 API, health and metrics, and on a listener of its
// own the Octez remote-signer API (tezos.go).
type Server struct {
	opts     Options
	inFlight chan struct{}                 // semaphore of MaxInFlight slots, shared by both APIs
	auth     atomic.Pointer[authenticator] // swapped whole by SetClients
	tlsm     atomic.Pointer[TLSMaterial]   // nil: plain HTTP; swapped whole by SetTLS
	metrics  *metrics
	refusals refusalSender // reports 401/403 decided here to the core's audit trail
	handler  http.Handler
	tezos    http.Handler
	// readTimeout is the HTTP server's ReadTimeout, writeSlack what its WriteTimeout adds
	// to Options.Timeout (the defaults below; tests lower them).
	readTimeout, writeSlack time.Duration
}

// Defaults of the HTTP server's timeouts.
const (
	defaultReadTimeout = 15 * time.Second // reading one request, headers and body
	defaultWriteSlack  = 5 * time.Second  // writing the answer, beyond Options.Timeout
)

// New builds a Server, refusing missing dependencies.
func New(opts Options) (*Server, error) {
	switch {
	case opts.Core == nil:
		return nil, errors.New("gateway: no core")
	case opts.Log == nil:
		return nil, errors.New("gateway: no logger")
	case opts.MaxBodyBytes <= 0 || opts.MaxInFlight <= 0 || opts.Timeout <= 0:
		return nil, errors.New("gateway: limits must be positive")
	}
	auth, err := newAuthenticator(opts.Clients)
	if err != nil {
		return nil, err
	}
	s := &Server{opts: opts, inFlight: make(chan struct{}, opts.MaxInFlight), metrics: newMetrics(),
		readTimeout: defaultReadTimeout, writeSlack: defaultWriteSlack}
	s.auth.Store(auth)
	s.tlsm.Store(opts.TLS)
	mux := http.NewServeMux()
	mux.Handle("POST /api/v1/eth2/sign/{identifier}", s.handle(s.authed(s.ethSign)))
	mux.Handle("GET /api/v1/eth2/publicKeys", s.handle(s.authed(s.ethPublicKeys)))
	mux.Handle("GET /upcheck", s.handle(s.upcheck))
	mux.Handle("GET /healthcheck", s.handle(s.healthcheck))
	mux.Handle("GET /metrics", s.handle(s.serveMetrics))
	if opts.KeymanagerToken != "" {
		mux.Handle("GET /eth/v1/keystores", s.kmHandle(s.kmList))
		mux.Handle("POST /eth/v1/keystores", s.kmHandle(s.kmImport))
		mux.Handle("DELETE /eth/v1/keystores", s.kmHandle(s.kmDelete))
	}
	mux.Handle("GET /api/v1/eth2/highWatermark", s.handle(s.highWatermark)) // public, as in Web3Signer
	mux.Handle("/", s.handle(func(w http.ResponseWriter, r *http.Request) error {
		return &httpError{Code: http.StatusNotFound, Msg: "no such endpoint: " + r.Method + " " + r.URL.Path}
	}))
	s.handler = mux
	s.tezos = s.tezosRoutes()
	return s, nil
}

// SetClients replaces the clients for the requests that start after it (a reload of
// clients.toml). An invalid configuration is refused and the clients in force stay.
func (s *Server) SetClients(c *Clients) error {
	auth, err := newAuthenticator(c)
	if err != nil {
		return err
	}
	s.auth.Store(auth)
	return nil
}

// Handler returns the HTTP handler of all routes.
func (s *Server) Handler() http.Handler { return s.handler }

// TezosHandler returns the HTTP handler of the Octez remote-signer API.
func (s *Server) TezosHandler() http.Handler { return s.tezos }

// Serve serves HTTP on ln until ctx ends, then shuts down gracefully.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	return s.serve(ctx, ln, s.handler)
}

// ServeTezos serves the Octez remote-signer API on ln until ctx ends.
func (s *Server) ServeTezos(ctx context.Context, ln net.Listener) error {
	return s.serve(ctx, ln, s.tezos)
}

func (s *Server) serve(ctx context.Context, ln net.Listener, h http.Handler) error {
	if s.tlsm.Load() != nil {
		ln = tls.NewListener(ln, s.tlsConfig())
	}
	srv := &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       s.readTimeout,
		WriteTimeout:      s.opts.Timeout + s.writeSlack,
		IdleTimeout:       90 * time.Second,
		MaxHeaderBytes:    16 << 10,
		ErrorLog:          slog.NewLogLogger(s.opts.Log.Handler(), slog.LevelWarn),
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return fmt.Errorf("serve http: %w", err)
	case <-ctx.Done():
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		err := srv.Shutdown(sctx)
		if errors.Is(err, context.DeadlineExceeded) {
			// A request the core holds for an operator may wait minutes: cut what is left.
			s.opts.Log.Warn("shutdown: requests still open after 5 s were cut (awaiting approval?)")
			return srv.Close()
		}
		return err
	}
}

// httpError is an error with the status code and the message the client sees; Err, if
// set, is logged but never sent.
type httpError struct {
	Code int
	Msg  string
	Err  error
	// refused marks a refusal the gateway decided (401, 403 out of scope): it is
	// reported to the core's audit trail (refusals.go).
	refused *refusal
}

func (e *httpError) Error() string {
	if e.Err != nil {
		return fmt.Sprintf("%d %s: %v", e.Code, e.Msg, e.Err)
	}
	return fmt.Sprintf("%d %s", e.Code, e.Msg)
}

// levelOf is the log level of a failed request. Refusals are expected traffic and counted
// by metrics; only faults are warnings. Overload (503 without a cause) stays at debug: a
// log line per shed request would add load exactly when the signer has none to spare.
func levelOf(he *httpError) slog.Level {
	if he.Code >= 500 && he.Err != nil {
		return slog.LevelWarn
	}
	return slog.LevelDebug
}

// handle adapts a handler that returns an error: errors become the API's error shape.
func (s *Server) handle(h func(http.ResponseWriter, *http.Request) error) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		err := h(w, r)
		if err == nil {
			return
		}
		var he *httpError
		if !errors.As(err, &he) {
			he = &httpError{Code: http.StatusInternalServerError, Msg: "internal error", Err: err}
		}
		s.reportRefusal(r, "eth2", he)
		s.opts.Log.Log(r.Context(), levelOf(he), "request failed", "method", r.Method, "path", r.URL.Path, "status", he.Code, "error", he.Error())
		writeJSON(w, he.Code, map[string]string{"error": he.Msg})
	})
}
