package gateway

import (
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/keyward/keyward/internal/wire"
)

// The Keymanager API (ethereum/keymanager-APIs: GET/POST/DELETE /eth/v1/keystores) and
// Web3Signer's highWatermark. Requests need `Authorization: Bearer <token>` with the
// token `keyward init` wrote to keymanager.token (0600). There is no way to turn the
// check off; without a token the routes are not served at all.

const (
	// keymanagerMaxBody bounds a Keymanager request: up to 512 keystores of ~1 KiB and
	// an interchange.
	keymanagerMaxBody = 4 << 20
	// keymanagerTimeout bounds one key-management call: importing keystores runs one
	// scrypt (~1 s) per keystore in the core.
	keymanagerTimeout = 15 * time.Minute
)

// KeymanagerCore is what the Keymanager routes need of the core (wire.Client has it).
type KeymanagerCore interface {
	ImportKeystores(ctx context.Context, r *wire.KeystoreImport) ([]wire.KeystoreStatus, error)
	DeleteKeystores(ctx context.Context, r *wire.KeystoreDelete) (*wire.KeystoreDeleteResult, error)
	ListKeystores(ctx context.Context) ([]wire.KeystoreInfo, error)
	HighWatermark(ctx context.Context) (*wire.HighWatermark, error)
}

var _ KeymanagerCore = (*wire.Client)(nil)

// kmHandle adapts a Keymanager handler: bearer authentication first, then errors in the
// Keymanager shape.
func (s *Server) kmHandle(h func(http.ResponseWriter, *http.Request) error) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		err := s.authorizeKeymanager(r)
		if err == nil {
			err = h(w, r)
		}
		if err == nil {
			return
		}
		var he *httpError
		if !errors.As(err, &he) {
			he = &httpError{Code: http.StatusInternalServerError, Msg: "internal error", Err: err}
		}
		s.reportRefusal(r, "keymanager", he)
		s.opts.Log.Log(r.Context(), levelOf(he), "keymanager request failed", "method", r.Method, "path", r.URL.Path, "status", he.Code, "error", he.Error())
		writeJSON(w, he.Code, map[string]string{"message": he.Msg})
	})
}

// authorizeKeymanager checks the bearer token in constant time.
func (s *Server) authorizeKeymanager(r *http.Request) error {
	auth := r.Header.Get("Authorization")
	tok, ok := strings.CutPrefix(auth, "Bearer ")
	if auth == "" || !ok {
		return &httpError{Code: http.StatusUnauthorized, Msg: "missing bearer token", refused: &refusal{op: "keymanager"}}
	}
	if subtle.ConstantTimeCompare([]byte(tok), []byte(s.opts.KeymanagerToken)) != 1 {
		return &httpError{Code: http.StatusForbidden, Msg: "invalid bearer token", refused: &refusal{op: "keymanager"}}
	}
	return nil
}

func (s *Server) keymanagerCore() (KeymanagerCore, error) {
	km, ok := s.opts.Core.(KeymanagerCore)
	if !ok {
		return nil, &httpError{Code: http.StatusNotImplemented, Msg: "key management not available"}
	}
	return km, nil
}

// coreError maps a failed core call: a typed refusal keeps its kind, a transport failure is 503.
func coreError(err error) error {
	if we, ok := wire.IsRefusal(err); ok {
		code := statusOf(we.Kind)
		if code == http.StatusOK {
			code = http.StatusInternalServerError
		}
		return &httpError{Code: code, Msg: we.Msg}
	}
	return &httpError{Code: http.StatusServiceUnavailable, Msg: "signer core unavailable", Err: err}
}

func (s *Server) kmList(w http.ResponseWriter, r *http.Request) error {
	km, err := s.keymanagerCore()
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(r.Context(), s.opts.Timeout)
	defer cancel()
	l, err := km.ListKeystores(ctx)
	if err != nil {
		return coreError(err)
	}
	if l == nil {
		l = []wire.KeystoreInfo{}
	}
	writeJSON(w, http.StatusOK, map[string]any{"data": l})
	return nil
}

// readKeymanagerBody reads a bounded JSON body into v, refusing unknown fields.
func readKeymanagerBody(w http.ResponseWriter, r *http.Request, v any) error {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, keymanagerMaxBody))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return &httpError{Code: http.StatusRequestEntityTooLarge, Msg: "request body larger than the limit"}
		}
		return &httpError{Code: http.StatusBadRequest, Msg: "read request body", Err: err}
	}
	dec := json.NewDecoder(strings.NewReader(string(body)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return &httpError{Code: http.StatusBadRequest, Msg: "invalid JSON: " + err.Error()}
	}
	if dec.More() {
		return &httpError{Code: http.StatusBadRequest, Msg: "invalid JSON: trailing data"}
	}
	return nil
}

func (s *Server) kmImport(w http.ResponseWriter, r *http.Request) error {
	km, err := s.keymanagerCore()
	if err != nil {
		return err
	}
	var req struct {
		Keystores          []string `json:"keystores"`
		Passwords          []string `json:"passwords"`
		SlashingProtection *string  `json:"slashing_protection"`
	}
	if err := readKeymanagerBody(w, r, &req); err != nil {
		return err
	}
	switch {
	case len(req.Keystores) != len(req.Passwords):
		return &httpError{Code: http.StatusBadRequest, Msg: "keystores and passwords differ in length"}
	case len(req.Keystores) > wire.MaxKeystoresPerRequest:
		return &httpError{Code: http.StatusBadRequest, Msg: "too many keystores in one request"}
	}
	imp := &wire.KeystoreImport{}
	for i := range req.Keystores {
		imp.Keystores = append(imp.Keystores, []byte(req.Keystores[i]))
		imp.Passwords = append(imp.Passwords, []byte(req.Passwords[i]))
	}
	if req.SlashingProtection != nil {
		imp.Interchange = []byte(*req.SlashingProtection)
	}
	_ = http.NewResponseController(w).SetWriteDeadline(time.Now().Add(keymanagerTimeout + 10*time.Second))
	ctx, cancel := context.WithTimeout(r.Context(), keymanagerTimeout)
	defer cancel()
	st, err := km.ImportKeystores(ctx, imp)
	if err != nil {
		return coreError(err)
	}
	writeJSON(w, http.StatusOK, map[string]any{"data": st})
	return nil
}

func (s *Server) kmDelete(w http.ResponseWriter, r *http.Request) error {
	km, err := s.keymanagerCore()
	if err != nil {
		return err
	}
	var req struct {
		Pubkeys []string `json:"pubkeys"`
	}
	if err := readKeymanagerBody(w, r, &req); err != nil {
		return err
	}
	if len(req.Pubkeys) > wire.MaxKeystoresPerRequest {
		return &httpError{Code: http.StatusBadRequest, Msg: "too many pubkeys in one request"}
	}
	del := &wire.KeystoreDelete{}
	for i, p := range req.Pubkeys {
		pub, ok := parsePubkey(p)
		if !ok {
			return &httpError{Code: http.StatusBadRequest, Msg: "pubkeys[" + strconv.Itoa(i) + "]: not a 48-byte hex BLS public key"}
		}
		del.Pubkeys = append(del.Pubkeys, pub)
	}
	_ = http.NewResponseController(w).SetWriteDeadline(time.Now().Add(keymanagerTimeout + 10*time.Second))
	ctx, cancel := context.WithTimeout(r.Context(), keymanagerTimeout)
	defer cancel()
	res, err := km.DeleteKeystores(ctx, del)
	if err != nil {
		return coreError(err)
	}
	writeJSON(w, http.StatusOK, res)
	return nil
}

// highWatermark answers Web3Signer's GET /api/v1/eth2/highWatermark: the emergency brake
// ({"epoch","slot"}), or {} when none is set.
func (s *Server) highWatermark(w http.ResponseWriter, r *http.Request) error {
	km, err := s.keymanagerCore()
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(r.Context(), s.opts.Timeout)
	defer cancel()
	h, err := km.HighWatermark(ctx)
	if err != nil {
		return coreError(err)
	}
	writeJSON(w, http.StatusOK, h)
	return nil
}
