package wire

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"sync"
)

// ErrClosed is returned for calls on a client whose connection to the core has ended.
var ErrClosed = errors.New("wire: connection to core closed")

// Client is the gateway's side of the connection: many concurrent calls multiplexed over
// one stream, matched to answers by request id. It is safe for concurrent use.
type Client struct {
	conn net.Conn

	wmu sync.Mutex // serializes frame writes on conn
	buf []byte     // write buffer, guarded by wmu

	mu      sync.Mutex // guards pending, nextID and err
	pending map[uint64]chan Frame
	nextID  uint64
	err     error

	done chan struct{}
}

// NewClient starts reading answers from conn. Close ends the connection.
func NewClient(conn net.Conn) *Client {
	c := &Client{conn: conn, pending: make(map[uint64]chan Frame), done: make(chan struct{})}
	go c.readLoop()
	return c
}

// Done is closed when the connection to the core has ended.
func (c *Client) Done() <-chan struct{} { return c.done }

// Err returns why the connection ended, or nil while it is up.
func (c *Client) Err() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.err
}

// Close ends the connection; pending calls fail with ErrClosed.
func (c *Client) Close() error { return c.conn.Close() }

func (c *Client) readLoop() {
	r := bufio.NewReaderSize(c.conn, 64<<10)
	var err error
	for {
		var f Frame
		f, err = ReadFrame(r)
		if err != nil {
			break
		}
		c.mu.Lock()
		ch, ok := c.pending[f.ID]
		delete(c.pending, f.ID)
		c.mu.Unlock()
		if ok {
			ch <- f // buffered: never blocks
		}
		// An answer to an unknown id (a call that timed out) is dropped.
	}
	c.mu.Lock()
	c.err = fmt.Errorf("%w: %v", ErrClosed, err)
	for id, ch := range c.pending {
		close(ch)
		delete(c.pending, id)
	}
	c.mu.Unlock()
	_ = c.conn.Close()
	close(c.done)
}

// call sends one request and waits for its answer or ctx.
func (c *Client) call(ctx context.Context, t MsgType, body []byte) (Frame, error) {
	ch := make(chan Frame, 1)
	c.mu.Lock()
	if c.err != nil {
		err := c.err
		c.mu.Unlock()
		return Frame{}, err
	}
	c.nextID++
	id := c.nextID
	c.pending[id] = ch
	c.mu.Unlock()

	c.wmu.Lock()
	c.buf = AppendFrame(c.buf[:0], t, id, body)
	_, err := c.conn.Write(c.buf)
	if cap(c.buf) > 64<<10 {
		c.buf = nil // do not keep a large block's buffer forever
	}
	c.wmu.Unlock()
	if err != nil {
		c.forget(id)
		return Frame{}, fmt.Errorf("%w: write: %v", ErrClosed, err)
	}
	select {
	case f, ok := <-ch:
		if !ok {
			return Frame{}, ErrClosed
		}
		return f, nil
	case <-ctx.Done():
		c.forget(id)
		return Frame{}, ctx.Err()
	}
}

func (c *Client) forget(id uint64) {
	c.mu.Lock()
	delete(c.pending, id)
	c.mu.Unlock()
}

// expect checks the answer's type; a MsgError answer becomes an *Error.
func expect(f Frame, want MsgType) error {
	switch f.Type {
	case want:
		return nil
	case MsgError:
		e, err := DecodeError(f.Body)
		if err != nil {
			return err
		}
		return e
	default:
		return fmt.Errorf("%w: answer of type %d, want %d", ErrMalformed, f.Type, want)
	}
}

// EthSign asks the core to sign. A refusal is returned as *SignResult with Err set; a
// transport failure as a Go error.
func (c *Client) EthSign(ctx context.Context, r *EthSignRequest) (*SignResult, error) {
	body, err := AppendEthSign(nil, r)
	if err != nil {
		return nil, err
	}
	f, err := c.call(ctx, MsgEthSign, body)
	if err != nil {
		return nil, err
	}
	if err := expect(f, MsgEthSignResult); err != nil {
		var we *Error
		if errors.As(err, &we) {
			return &SignResult{Err: we}, nil
		}
		return nil, err
	}
	return DecodeSignResult(f.Body)
}

// ListKeys asks the core for its public keys.
func (c *Client) ListKeys(ctx context.Context) (*KeyList, error) {
	f, err := c.call(ctx, MsgListKeys, nil)
	if err != nil {
		return nil, err
	}
	if err := expect(f, MsgKeyList); err != nil {
		return nil, err
	}
	return DecodeKeyList(f.Body)
}

// Status asks the core for its status.
func (c *Client) Status(ctx context.Context) (*Status, error) {
	f, err := c.call(ctx, MsgStatus, nil)
	if err != nil {
		return nil, err
	}
	if err := expect(f, MsgStatusResult); err != nil {
		return nil, err
	}
	return DecodeStatus(f.Body)
}
