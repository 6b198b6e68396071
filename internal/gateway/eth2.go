package gateway

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/keyward/keyward/internal/gateway/eth2json"
	"github.com/keyward/keyward/internal/wire"
)

// ethStatus maps the core's failure kinds to the Web3Signer API's status codes (Inv 8).
// This table is the only place where a kind becomes an HTTP code for this API.
var ethStatus = [...]int{
	wire.KindOK:          http.StatusOK,
	wire.KindBadRequest:  http.StatusBadRequest,
	wire.KindUnknownKey:  http.StatusNotFound,
	wire.KindProtection:  http.StatusPreconditionFailed, // 412, as Web3Signer
	wire.KindPolicy:      http.StatusForbidden,
	wire.KindApproval:    http.StatusAccepted,
	wire.KindUnavailable: http.StatusServiceUnavailable,
}

func statusOf(k wire.Kind) int {
	if int(k) < len(ethStatus) && ethStatus[k] != 0 {
		return ethStatus[k]
	}
	return http.StatusInternalServerError
}

// parsePubkey accepts a BLS public key as hex with or without 0x, any case.
func parsePubkey(s string) ([48]byte, bool) {
	var pub [48]byte
	s = strings.TrimPrefix(strings.TrimPrefix(s, "0x"), "0X")
	if len(s) != 96 {
		return pub, false
	}
	if _, err := hex.Decode(pub[:], []byte(s)); err != nil {
		return pub, false
	}
	return pub, true
}

func (s *Server) ethSign(w http.ResponseWriter, r *http.Request) (err error) {
	start := time.Now()
	typ := "unknown"
	defer func() { s.metrics.observeSign(typ, err, time.Since(start)) }()

	pub, ok := parsePubkey(r.PathValue("identifier"))
	if !ok {
		return &httpError{Code: http.StatusBadRequest, Msg: "identifier: not a 48-byte hex BLS public key"}
	}
	key := "0x" + hex.EncodeToString(pub[:])
	if err := scopeKey(r, key); err != nil { // before the body is read
		return err
	}
	select { // bounded: beyond MaxInFlight answer 503 at once
	case s.inFlight <- struct{}{}:
		defer func() { <-s.inFlight }()
	default:
		return &httpError{Code: http.StatusServiceUnavailable, Msg: "overloaded: too many signing requests in flight"}
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, s.opts.MaxBodyBytes))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return &httpError{Code: http.StatusRequestEntityTooLarge, Msg: "request body larger than the limit"}
		}
		return &httpError{Code: http.StatusBadRequest, Msg: "read request body", Err: err}
	}
	req, err := eth2json.ParseSignRequest(body)
	if err != nil {
		return &httpError{Code: http.StatusBadRequest, Msg: err.Error()}
	}
	typ = req.Type.String()
	if err := scope(r, key, typ); err != nil {
		return err
	}
	ctx, cancel := s.signContext(w, r, ethMayWait(req.Type))
	defer cancel()
	res, err := s.opts.Core.EthSign(ctx, &wire.EthSignRequest{Client: clientName(r), Pubkey: pub, Req: *req})
	if err != nil {
		return &httpError{Code: http.StatusServiceUnavailable, Msg: "signer core unavailable", Err: err}
	}
	if res.Err != nil {
		return &httpError{Code: statusOf(res.Err.Kind), Msg: res.Err.Msg}
	}
	sig := "0x" + hex.EncodeToString(res.Signature[:])
	if wantsJSON(r.Header.Get("Accept")) {
		writeJSON(w, http.StatusOK, map[string]string{"signature": sig})
		return nil
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	_, _ = io.WriteString(w, sig)
	return nil
}

// wantsJSON follows Web3Signer: JSON when Accept names application/json or */*, plain
// text otherwise.
func wantsJSON(accept string) bool {
	return strings.Contains(accept, "application/json") || strings.Contains(accept, "*/*")
}

func (s *Server) ethPublicKeys(w http.ResponseWriter, r *http.Request) error {
	ctx, cancel := context.WithTimeout(r.Context(), s.opts.Timeout)
	defer cancel()
	l, err := s.opts.Core.ListKeys(ctx)
	if err != nil {
		return &httpError{Code: http.StatusServiceUnavailable, Msg: "signer core unavailable", Err: err}
	}
	out := make([]string, 0, len(l.BLS))
	for i := range l.BLS {
		k := "0x" + hex.EncodeToString(l.BLS[i][:])
		if scopeKey(r, k) == nil { // a client sees only the keys it may use
			out = append(out, k)
		}
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

// upcheck answers as Web3Signer does: 200 text/plain "OK". A client that asks for JSON
// only (Lodestar's externalSignerUpCheck parses the body as JSON) gets {"status":"OK"}.
func (s *Server) upcheck(w http.ResponseWriter, r *http.Request) error {
	if accept := r.Header.Get("Accept"); strings.Contains(accept, "application/json") && !strings.Contains(accept, "text/plain") {
		writeJSON(w, http.StatusOK, map[string]string{"status": "OK"})
		return nil
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	_, _ = io.WriteString(w, "OK")
	return nil
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}
