package bench

import (
	"crypto/x509"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
)

// TestConnPool: the generator's client sends the request net/http's server expects,
// reads answers framed by Content-Length, chunked or by the close of the connection, and
// keeps a connection only when it can carry the next request.
func TestConnPool(t *testing.T) {
	var mu sync.Mutex
	conns := 0
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		if r.Method != http.MethodPost || r.Header.Get("Content-Type") != "application/json" || r.Header.Get("Accept") != "application/json" || string(b) != `{"x":1}` {
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		switch r.URL.Path {
		case "/chunked":
			w.Write([]byte("part one, "))
			w.(http.Flusher).Flush() // makes the answer chunked
			w.Write([]byte("part two"))
		case "/close":
			w.Header().Set("Connection", "close")
			w.Write([]byte("bye"))
		case "/big":
			w.WriteHeader(http.StatusPreconditionFailed)
			w.Write([]byte(strings.Repeat("z", 3*maxAnswer)))
		default:
			w.Write([]byte("ok"))
		}
	}))
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			mu.Lock()
			conns++
			mu.Unlock()
		}
	}
	srv.Start()
	defer srv.Close()
	p, err := newConnPool(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer p.close()
	for _, c := range []struct {
		path   string
		status int
		answer string
		conns  int // connections opened so far
	}{
		{"/a", 200, "ok", 1},
		{"/chunked", 200, "part one, part two", 1},
		{"/b", 200, "ok", 1},
		{"/big", 412, strings.Repeat("z", maxAnswer), 1}, // cut, the rest read: still reusable
		{"/close", 200, "bye", 1},
		{"/c", 200, "ok", 2}, // the closed one was not reused
	} {
		status, answer, err := p.post(c.path, []byte(`{"x":1}`))
		if err != nil || status != c.status || string(answer) != c.answer {
			t.Fatalf("%s: %d %q %v, want %d %q", c.path, status, answer, err, c.status, c.answer)
		}
		mu.Lock()
		n := conns
		mu.Unlock()
		if n != c.conns {
			t.Fatalf("%s: %d connections opened, want %d", c.path, n, c.conns)
		}
	}
}

// TestConnPoolTLS: https URLs are served over TLS, verified against the roots given.
func TestConnPoolTLS(t *testing.T) {
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("ok")) }))
	defer srv.Close()
	p, err := newConnPool(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := p.post("/", nil); err == nil {
		t.Fatal("an unknown certificate was accepted")
	}
	p.tls.RootCAs = x509.NewCertPool()
	p.tls.RootCAs.AddCert(srv.Certificate())
	p.tls.ServerName = "example.com" // httptest's certificate names it
	if status, answer, err := p.post("/", nil); err != nil || status != 200 || string(answer) != "ok" {
		t.Fatalf("%d %q %v", status, answer, err)
	}
	p.close()
	if _, err := newConnPool("ftp://x"); err == nil {
		t.Fatal("ftp accepted")
	}
}
