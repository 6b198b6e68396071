package gateway

import (
	"context"
	"net/http"
)

// clientKey is the context key of the authenticated client (an unexported, non-pointer
// type: no other package can collide with it).
type clientKey struct{}

// authed authenticates the request before h runs: 401 (with WWW-Authenticate) for a
// request without valid credentials; h finds the client with clientOf.
func (s *Server) authed(h func(http.ResponseWriter, *http.Request) error) func(http.ResponseWriter, *http.Request) error {
	return func(w http.ResponseWriter, r *http.Request) error {
		c, err := s.auth.Load().authenticate(r, s.tlsm.Load())
		if err != nil {
			w.Header().Set("WWW-Authenticate", `Bearer realm="keyward"`)
			return err
		}
		return h(w, r.WithContext(context.WithValue(r.Context(), clientKey{}, c)))
	}
}

// tezosAuthed is authed for the Octez API's handlers.
func (s *Server) tezosAuthed(h func(http.ResponseWriter, *http.Request) (string, error)) func(http.ResponseWriter, *http.Request) (string, error) {
	return func(w http.ResponseWriter, r *http.Request) (string, error) {
		c, err := s.auth.Load().authenticate(r, s.tlsm.Load())
		if err != nil {
			w.Header().Set("WWW-Authenticate", `Bearer realm="keyward"`)
			return "unauthenticated", err
		}
		return h(w, r.WithContext(context.WithValue(r.Context(), clientKey{}, c)))
	}
}

// clientOf returns the authenticated client of r, or nil.
func clientOf(r *http.Request) *client {
	c, _ := r.Context().Value(clientKey{}).(*client)
	return c
}

// clientName is the authenticated client's name, sent to the core for the audit trail.
func clientName(r *http.Request) string {
	if c := clientOf(r); c != nil {
		return c.name
	}
	return ""
}

// scope returns nil when the request's client may ask op for key, else 403 (401 when the
// request was not authenticated: a route without authed fails closed).
func scope(r *http.Request, key, op string) error {
	c := clientOf(r)
	if c == nil {
		return errUnauthenticated
	}
	return c.allows(key, op)
}

// scopeKey is scope for requests that name a key but no operation.
func scopeKey(r *http.Request, key string) error {
	c := clientOf(r)
	if c == nil {
		return errUnauthenticated
	}
	return c.allowsKey(key)
}
