package wire

import (
	"encoding/binary"
	"fmt"
	"strings"
	"unicode/utf8"
)

// MsgGatewayRefusal carries a refusal the gateway decided by itself (401: no valid
// credentials; 403: a client out of its scope) to the core, which records it in the
// audit trail. It is the one message without an answer: the gateway does not wait for
// it, and the core sends nothing back.
const MsgGatewayRefusal MsgType = 40 // gateway → core: GatewayRefusal; no answer

// Limits of a GatewayRefusal's text fields (bytes of UTF-8).
const (
	maxRefusalField  = 128 // key, operation, remote address, API
	maxRefusalReason = 256
)

// GatewayRefusal is one request the gateway refused before it reached the core.
//
// Everything in it is the gateway's assertion: a compromised gateway can invent such
// events or leave them out. The core records them so that the trail an operator reads
// holds every refusal of a sound gateway, marked as the gateway's (audit origin
// "gateway"), and bounds how many it takes per second (a flood of unauthenticated
// requests must not fill the disk).
//
// Layout: status (2) | suppressed (4) | client, key, op, remote, api (each 1-byte length +
// UTF-8) | reason (2-byte length + UTF-8).
type GatewayRefusal struct {
	Status uint16 // the HTTP status the client got: 401 or 403
	// Suppressed counts the refusals the gateway dropped (not reported) since the last
	// one it sent, because it reports at a bounded rate.
	Suppressed uint32
	Client     string // the authenticated client, "" for a 401
	Key        string // the key asked for, when the request named one
	Op         string // the operation asked for, when known
	Remote     string // the connection's source address
	API        string // "eth2", "tezos" or "keymanager"
	Reason     string // the message the client got
}

// AppendGatewayRefusal appends the encoding of r to dst. Fields longer than their limit
// are cut (at a UTF-8 boundary): a refusal is reported even when its request was absurd.
func AppendGatewayRefusal(dst []byte, r *GatewayRefusal) []byte {
	dst = binary.BigEndian.AppendUint16(dst, r.Status)
	dst = binary.BigEndian.AppendUint32(dst, r.Suppressed)
	for _, s := range [...]string{r.Client, r.Key, r.Op, r.Remote, r.API} {
		s = cutUTF8(s, maxRefusalField)
		dst = append(dst, byte(len(s)))
		dst = append(dst, s...)
	}
	s := cutUTF8(r.Reason, maxRefusalReason)
	dst = binary.BigEndian.AppendUint16(dst, uint16(len(s)))
	return append(dst, s...)
}

// DecodeGatewayRefusal decodes a GatewayRefusal strictly (Inv 7): a 4xx status, fields
// within their limits, valid UTF-8, no trailing bytes.
func DecodeGatewayRefusal(b []byte) (*GatewayRefusal, error) {
	d := decoder{b: b}
	r := &GatewayRefusal{Status: d.uint16(), Suppressed: d.uint32()}
	var fields [5]string
	for i := range fields {
		n := int(d.byte())
		v := d.bytes(n)
		if n > maxRefusalField || !utf8.Valid(v) {
			return nil, fmt.Errorf("%w: gateway refusal field %d", ErrMalformed, i)
		}
		fields[i] = string(v)
	}
	n := int(d.uint16())
	reason := d.bytes(n)
	if err := d.finish(); err != nil {
		return nil, err
	}
	if n > maxRefusalReason || !utf8.Valid(reason) {
		return nil, fmt.Errorf("%w: gateway refusal reason", ErrMalformed)
	}
	if r.Status < 400 || r.Status > 499 {
		return nil, fmt.Errorf("%w: gateway refusal status %d", ErrMalformed, r.Status)
	}
	r.Client, r.Key, r.Op, r.Remote, r.API = fields[0], fields[1], fields[2], fields[3], fields[4]
	r.Reason = string(reason)
	return r, nil
}

// cutUTF8 returns s cut to at most n bytes, at a rune boundary, invalid UTF-8 replaced.
func cutUTF8(s string, n int) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	if len(s) <= n {
		return s
	}
	s = s[:n]
	for !utf8.ValidString(s) {
		s = s[:len(s)-1]
	}
	return s
}

// ReportRefusal sends r to the core without waiting for an answer (there is none). It
// fails only when the connection is down.
func (c *Client) ReportRefusal(r *GatewayRefusal) error {
	c.mu.Lock()
	err := c.err
	c.mu.Unlock()
	if err != nil {
		return err
	}
	c.wmu.Lock()
	defer c.wmu.Unlock()
	c.buf = AppendFrame(c.buf[:0], MsgGatewayRefusal, 0, AppendGatewayRefusal(nil, r))
	if _, err := c.conn.Write(c.buf); err != nil {
		return fmt.Errorf("%w: write: %v", ErrClosed, err)
	}
	return nil
}
