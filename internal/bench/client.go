package bench

import (
	"bufio"
	"bytes"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"
)

// poster sends one POST with a JSON body and returns the status code and at most
// maxAnswer bytes of the answer.
type poster interface {
	post(path string, body []byte) (status int, answer []byte, err error)
}

const (
	maxAnswer      = 4096
	requestTimeout = 30 * time.Second
)

// stdPoster sends through a net/http client (Options.Client).
type stdPoster struct {
	c    *http.Client
	base string
}

func (p stdPoster) post(path string, body []byte) (int, []byte, error) {
	req, err := http.NewRequest(http.MethodPost, p.base+path, bytes.NewReader(body))
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	resp, err := p.c.Do(req)
	if err != nil {
		return 0, nil, err
	}
	b, _ := io.ReadAll(io.LimitReader(resp.Body, maxAnswer))
	resp.Body.Close()
	return resp.StatusCode, b, nil
}

// connPool is the load generator's own HTTP/1.1 client: keep-alive connections, one
// request at a time on each, written with one write and read on the calling goroutine.
// net/http's client runs two goroutines per connection and hands every request and
// answer between them; on the 2-core machine that cost the generator about 150 µs of
// CPU per request, taken from the signer it measures on the same cores. This one costs a
// write, a read and a wake-up. It speaks only what the benchmark needs: POST, answers
// framed by Content-Length or chunked, or ended by the connection's close.
type connPool struct {
	addr, host string
	tls        *tls.Config // https: the system roots, as net/http's default

	mu   sync.Mutex // guards idle
	idle []*poolConn
}

type poolConn struct {
	c   net.Conn
	r   *bufio.Reader
	buf []byte // the request being written
}

func newConnPool(base string) (*connPool, error) {
	u, err := url.Parse(base)
	if err != nil {
		return nil, fmt.Errorf("bench: URL %q: %w", base, err)
	}
	p := &connPool{addr: u.Host, host: u.Host}
	switch u.Scheme {
	case "http":
		if u.Port() == "" {
			p.addr = net.JoinHostPort(u.Hostname(), "80")
		}
	case "https":
		if u.Port() == "" {
			p.addr = net.JoinHostPort(u.Hostname(), "443")
		}
		p.tls = &tls.Config{ServerName: u.Hostname(), MinVersion: tls.VersionTLS12}
	default:
		return nil, fmt.Errorf("bench: URL %q: scheme %q, want http or https", base, u.Scheme)
	}
	if u.Path != "" && u.Path != "/" {
		return nil, fmt.Errorf("bench: URL %q: a path is not supported", base)
	}
	return p, nil
}

func (p *connPool) get() (*poolConn, error) {
	p.mu.Lock()
	if n := len(p.idle); n > 0 {
		c := p.idle[n-1]
		p.idle = p.idle[:n-1]
		p.mu.Unlock()
		return c, nil
	}
	p.mu.Unlock()
	c, err := net.DialTimeout("tcp", p.addr, requestTimeout)
	if err != nil {
		return nil, err
	}
	if p.tls != nil {
		tc := tls.Client(c, p.tls)
		if err := tc.Handshake(); err != nil {
			c.Close()
			return nil, err
		}
		c = tc
	}
	return &poolConn{c: c, r: bufio.NewReaderSize(c, 4096)}, nil
}

func (p *connPool) post(path string, body []byte) (int, []byte, error) {
	c, err := p.get()
	if err != nil {
		return 0, nil, err
	}
	status, answer, reuse, err := c.roundTrip(p.host, path, body)
	if err != nil || !reuse {
		c.c.Close()
		return status, answer, err
	}
	p.mu.Lock()
	p.idle = append(p.idle, c)
	p.mu.Unlock()
	return status, answer, nil
}

// close closes the idle connections.
func (p *connPool) close() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, c := range p.idle {
		c.c.Close()
	}
	p.idle = nil
}

// roundTrip writes the request and reads the whole answer; reuse is false when the
// connection cannot carry another request.
func (c *poolConn) roundTrip(host, path string, body []byte) (status int, answer []byte, reuse bool, err error) {
	if err := c.c.SetDeadline(time.Now().Add(requestTimeout)); err != nil {
		return 0, nil, false, err
	}
	b := append(c.buf[:0], "POST "...)
	b = append(b, path...)
	b = append(b, " HTTP/1.1\r\nHost: "...)
	b = append(b, host...)
	b = append(b, "\r\nContent-Type: application/json\r\nAccept: application/json\r\nContent-Length: "...)
	b = strconv.AppendInt(b, int64(len(body)), 10)
	b = append(b, "\r\n\r\n"...)
	b = append(b, body...)
	c.buf = b
	if _, err := c.c.Write(b); err != nil {
		return 0, nil, false, err
	}
	for { // 1xx answers precede the final one
		status, length, chunked, closing, err := readHead(c.r)
		if err != nil {
			return 0, nil, false, err
		}
		if status >= 200 {
			answer, err := readBody(c.r, length, chunked)
			return status, answer, err == nil && !closing && (length >= 0 || chunked), err
		}
	}
}

var errAnswer = errors.New("bench: malformed HTTP answer")

// readHead reads a status line and the headers. length is -1 without Content-Length.
func readHead(r *bufio.Reader) (status int, length int64, chunked, closing bool, err error) {
	line, err := readLine(r)
	if err != nil {
		return 0, 0, false, false, err
	}
	proto, rest, _ := strings.Cut(line, " ")
	code, _, _ := strings.Cut(rest, " ")
	if !strings.HasPrefix(proto, "HTTP/1.") || len(code) != 3 {
		return 0, 0, false, false, fmt.Errorf("%w: status line %q", errAnswer, line)
	}
	if status, err = strconv.Atoi(code); err != nil {
		return 0, 0, false, false, fmt.Errorf("%w: status line %q", errAnswer, line)
	}
	length, closing = -1, proto == "HTTP/1.0"
	for {
		line, err := readLine(r)
		if err != nil {
			return 0, 0, false, false, err
		}
		if line == "" {
			return status, length, chunked, closing, nil
		}
		k, v, ok := strings.Cut(line, ":")
		if !ok {
			return 0, 0, false, false, fmt.Errorf("%w: header %q", errAnswer, line)
		}
		v = strings.TrimSpace(v)
		switch {
		case strings.EqualFold(k, "Content-Length"):
			if length, err = strconv.ParseInt(v, 10, 64); err != nil || length < 0 {
				return 0, 0, false, false, fmt.Errorf("%w: Content-Length %q", errAnswer, v)
			}
		case strings.EqualFold(k, "Transfer-Encoding"):
			chunked = strings.EqualFold(v, "chunked")
		case strings.EqualFold(k, "Connection"):
			closing = strings.EqualFold(v, "close")
		}
	}
}

func readLine(r *bufio.Reader) (string, error) {
	line, err := r.ReadSlice('\n')
	if err != nil {
		return "", err
	}
	return string(bytes.TrimRight(line, "\r\n")), nil
}

// readBody reads the whole body and returns its first maxAnswer bytes.
func readBody(r *bufio.Reader, length int64, chunked bool) ([]byte, error) {
	var body io.Reader = r
	switch {
	case chunked:
		body = httputil.NewChunkedReader(r)
	case length >= 0:
		body = io.LimitReader(r, length)
	}
	answer, err := io.ReadAll(io.LimitReader(body, maxAnswer))
	if err != nil {
		return nil, err
	}
	rest, err := io.Copy(io.Discard, body)
	if err != nil {
		return nil, err
	}
	if length >= 0 && !chunked && int64(len(answer))+rest != length {
		return nil, io.ErrUnexpectedEOF
	}
	if chunked { // the trailer, if any, up to the blank line
		for {
			line, err := readLine(r)
			if err != nil {
				return nil, err
			}
			if line == "" {
				break
			}
		}
	}
	return answer, nil
}
