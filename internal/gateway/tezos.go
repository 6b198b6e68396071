package gateway

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strconv"
	"time"

	"github.com/keyward/keyward/internal/tezos"
	"github.com/keyward/keyward/internal/wire"
)

// The Octez remote-signer API (octez-signer's HTTP protocol), on its own listener. The
// gateway parses the pkh, the hex body and the query; the core decides everything else
// (policy, authentication, watermarks: Inv 2–6).

// tezosStatus maps the core's failure kinds to the Octez API's status codes (Inv 8). It is
// the only place where a kind becomes an HTTP code for this API. octez-client decodes the
// body of 401/403/404/409/500 answers as Tezos errors.
var tezosStatus = [...]int{
	wire.KindOK:          http.StatusOK,
	wire.KindBadRequest:  http.StatusBadRequest,
	wire.KindUnknownKey:  http.StatusNotFound,
	wire.KindProtection:  http.StatusConflict, // 409: below the high watermark, as Signatory
	wire.KindPolicy:      http.StatusForbidden,
	wire.KindApproval:    http.StatusAccepted,
	wire.KindUnavailable: http.StatusServiceUnavailable,
}

func tezosStatusOf(k wire.Kind) int {
	if int(k) < len(tezosStatus) && tezosStatus[k] != 0 {
		return tezosStatus[k]
	}
	return http.StatusInternalServerError
}

// maxTezosBody bounds a sign request body: a JSON string of the hex of the largest
// payload the core accepts, with room for quotes and white space.
const maxTezosBody = 2*tezos.MaxPayloadSize + 64

// tezosRoutes builds the Octez API's handler.
func (s *Server) tezosRoutes() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /keys/{pkh}", s.tezosHandle("public_key", s.tezosAuthed(s.tezosPublicKey)))
	mux.Handle("POST /keys/{pkh}", s.tezosHandle("sign", s.tezosAuthed(s.tezosSign)))
	mux.Handle("GET /authorized_keys", s.tezosHandle("authorized_keys", s.tezosAuthed(s.tezosAuthorizedKeys)))
	mux.Handle("GET /known_keys", s.tezosHandle("known_keys", s.tezosAuthed(s.tezosKnownKeys)))
	mux.Handle("GET /bls_prove_possession/{pkh}", s.tezosHandle("prove_possession", s.tezosAuthed(s.tezosProvePossession)))
	mux.Handle("/", s.tezosHandle("other", func(w http.ResponseWriter, r *http.Request) (string, error) {
		return "", &httpError{Code: http.StatusNotFound, Msg: "no such endpoint: " + r.Method + " " + r.URL.Path}
	}))
	return mux
}

// tezosError is one element of the Tezos error JSON that octez-client decodes.
type tezosError struct {
	Kind string `json:"kind"`
	ID   string `json:"id"`
	Msg  string `json:"msg"`
}

// tezosHandle adapts a handler that returns (payload kind, error): errors become the Tezos
// error shape, and every request is counted by endpoint, payload kind and outcome.
func (s *Server) tezosHandle(endpoint string, h func(http.ResponseWriter, *http.Request) (string, error)) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		kind, err := h(w, r)
		s.metrics.observeTezos(endpoint, kind, err, time.Since(start))
		if err == nil {
			return
		}
		var he *httpError
		if !errors.As(err, &he) {
			he = &httpError{Code: http.StatusInternalServerError, Msg: "internal error", Err: err}
		}
		s.reportRefusal(r, "tezos", he)
		s.opts.Log.Log(r.Context(), levelOf(he), "tezos request failed", "method", r.Method, "path", r.URL.Path, "status", he.Code, "error", he.Error())
		writeJSON(w, he.Code, []tezosError{{Kind: "temporary", ID: "failure", Msg: he.Msg}})
	})
}

func parsePKH(s string) (tezos.PublicKeyHash, error) {
	h, err := tezos.ParsePublicKeyHash(s)
	if err != nil {
		return h, &httpError{Code: http.StatusBadRequest, Msg: "not a tz1, tz2, tz3 or tz4 public key hash: " + strconv.Quote(truncate(s, 64))}
	}
	return h, nil
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n] + "…"
	}
	return s
}

func coreDown(err error) error {
	return &httpError{Code: http.StatusServiceUnavailable, Msg: "signer core unavailable", Err: err}
}

// asWireError turns a core refusal (*wire.Error) into the API's error, or a transport
// failure into 503.
func asWireError(err error) error {
	var we *wire.Error
	if errors.As(err, &we) {
		return &httpError{Code: tezosStatusOf(we.Kind), Msg: we.Msg}
	}
	return coreDown(err)
}

func (s *Server) tezosPublicKey(w http.ResponseWriter, r *http.Request) (string, error) {
	pkh, err := parsePKH(r.PathValue("pkh"))
	if err != nil {
		return "", err
	}
	if err := scopeKey(r, pkh.String()); err != nil {
		return "", err
	}
	ctx, cancel := context.WithTimeout(r.Context(), s.opts.Timeout)
	defer cancel()
	res, err := s.opts.Core.TezosPublicKey(ctx, pkh)
	if err != nil {
		return "", asWireError(err)
	}
	writeJSON(w, http.StatusOK, map[string]string{"public_key": res.PublicKey.String()})
	return "", nil
}

// tezosSign serves POST /keys/<pkh>: body a JSON string of hex, ?authentication= (a b58
// signature) and ?version= (0..3).
func (s *Server) tezosSign(w http.ResponseWriter, r *http.Request) (kind string, err error) {
	kind = "unknown"
	pkh, err := parsePKH(r.PathValue("pkh"))
	if err != nil {
		return kind, err
	}
	if err := scopeKey(r, pkh.String()); err != nil { // before the body is read
		return kind, err
	}
	q := r.URL.Query()
	req := &wire.TezosSignRequest{Client: clientName(r), PKH: pkh, Version: wire.TezosVersionUnset}
	if v, ok := q["version"]; ok {
		n, err := strconv.ParseUint(v[0], 10, 8)
		if len(v) != 1 || err != nil || n > uint64(wire.MaxTezosVersion) {
			return kind, &httpError{Code: http.StatusBadRequest, Msg: "version: not 0, 1, 2 or 3"}
		}
		req.Version = byte(n)
	}
	if a, ok := q["authentication"]; ok {
		if len(a) != 1 {
			return kind, &httpError{Code: http.StatusBadRequest, Msg: "authentication: given more than once"}
		}
		sig, err := tezos.ParseSignature(a[0])
		if err != nil {
			return kind, &httpError{Code: http.StatusBadRequest, Msg: "authentication: " + err.Error()}
		}
		req.Auth = &sig
	}
	select { // bounded: beyond MaxInFlight answer 503 at once
	case s.inFlight <- struct{}{}:
		defer func() { <-s.inFlight }()
	default:
		return kind, &httpError{Code: http.StatusServiceUnavailable, Msg: "overloaded: too many signing requests in flight"}
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxTezosBody))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return kind, &httpError{Code: http.StatusRequestEntityTooLarge, Msg: "request body larger than the limit"}
		}
		return kind, &httpError{Code: http.StatusBadRequest, Msg: "read request body", Err: err}
	}
	var hexStr string
	if err := json.Unmarshal(body, &hexStr); err != nil {
		return kind, &httpError{Code: http.StatusBadRequest, Msg: "body: not a JSON string of hex bytes"}
	}
	if req.Payload, err = hex.DecodeString(hexStr); err != nil || len(req.Payload) == 0 {
		return kind, &httpError{Code: http.StatusBadRequest, Msg: "body: not an even-length, non-empty hex string"}
	}
	if len(req.Payload) > tezos.MaxPayloadSize {
		return kind, &httpError{Code: http.StatusRequestEntityTooLarge, Msg: "payload larger than the limit"}
	}
	kind = magicName(req.Payload[0])
	if err := scope(r, pkh.String(), "tezos:"+kind); err != nil {
		return kind, err
	}
	ctx, cancel := s.signContext(w, r, tezosMayWait(req.Payload))
	defer cancel()
	res, err := s.opts.Core.TezosSign(ctx, req)
	if err != nil {
		return kind, coreDown(err)
	}
	if res.Err != nil {
		return kind, &httpError{Code: tezosStatusOf(res.Err.Kind), Msg: res.Err.Msg}
	}
	sig, err := tezos.EncodeSignature(res.Kind, res.Signature)
	if err != nil {
		return kind, coreDown(err)
	}
	writeJSON(w, http.StatusOK, map[string]string{"signature": sig})
	return kind, nil
}

// magicName labels a payload for metrics by its magic byte only (the core decides what
// it really is).
func magicName(b byte) string {
	switch b {
	case tezos.MagicBlock:
		return "block"
	case tezos.MagicPreattestation:
		return "preattestation"
	case tezos.MagicAttestation:
		return "attestation"
	case tezos.MagicGeneric:
		return "generic"
	}
	return "other"
}

func (s *Server) tezosAuthorizedKeys(w http.ResponseWriter, r *http.Request) (string, error) {
	ctx, cancel := context.WithTimeout(r.Context(), s.opts.Timeout)
	defer cancel()
	a, err := s.opts.Core.TezosAuthorizedKeys(ctx)
	if err != nil {
		return "", asWireError(err)
	}
	if !a.Required {
		writeJSON(w, http.StatusOK, struct{}{})
		return "", nil
	}
	writeJSON(w, http.StatusOK, map[string][]string{"authorized_keys": pkhStrings(a.Keys)})
	return "", nil
}

func (s *Server) tezosKnownKeys(w http.ResponseWriter, r *http.Request) (string, error) {
	ctx, cancel := context.WithTimeout(r.Context(), s.opts.Timeout)
	defer cancel()
	l, err := s.opts.Core.TezosKnownKeys(ctx)
	if err != nil {
		return "", asWireError(err)
	}
	var mine []tezos.PublicKeyHash
	for _, k := range l.Keys {
		if scopeKey(r, k.String()) == nil { // a client sees only the keys it may use
			mine = append(mine, k)
		}
	}
	writeJSON(w, http.StatusOK, map[string][]string{"known_keys": pkhStrings(mine)})
	return "", nil
}

func (s *Server) tezosProvePossession(w http.ResponseWriter, r *http.Request) (string, error) {
	pkh, err := parsePKH(r.PathValue("pkh"))
	if err != nil {
		return "", err
	}
	if err := scopeKey(r, pkh.String()); err != nil {
		return "", err
	}
	req := &wire.TezosProvePossession{PKH: pkh}
	if v := r.URL.Query()["bls_pk"]; len(v) > 0 {
		pk, err := tezos.ParsePublicKey(v[0])
		if len(v) != 1 || err != nil || pk.Kind() != tezos.KeyKindBLS {
			return "", &httpError{Code: http.StatusBadRequest, Msg: "bls_pk: not a single BLpk public key"}
		}
		req.Override = &pk
	}
	ctx, cancel := context.WithTimeout(r.Context(), s.opts.Timeout)
	defer cancel()
	res, err := s.opts.Core.TezosProvePossession(ctx, req)
	if err != nil {
		return "", coreDown(err)
	}
	if res.Err != nil {
		return "", &httpError{Code: tezosStatusOf(res.Err.Kind), Msg: res.Err.Msg}
	}
	sig, err := tezos.EncodeSignature(res.Kind, res.Signature)
	if err != nil {
		return "", coreDown(err)
	}
	writeJSON(w, http.StatusOK, map[string]string{"bls_prove_possession": sig})
	return "", nil
}

func pkhStrings(ks []tezos.PublicKeyHash) []string {
	out := make([]string, len(ks))
	for i, k := range ks {
		out[i] = k.String()
	}
	return out
}
