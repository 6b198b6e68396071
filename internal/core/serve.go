package core

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"runtime/debug"
	"sync"

	"github.com/keyward/keyward/internal/wire"
)

// Limits bound the work the core accepts from the gateway.
type Limits struct {
	// MaxConcurrent is the number of signing requests worked on at once.
	MaxConcurrent int
	// QueueDepth is the number of signing requests that may wait; beyond it a request is
	// refused at once as unavailable, never piled up.
	QueueDepth int
}

// StatusFunc returns the core's current status for the gateway.
type StatusFunc func() *wire.Status

// Serve answers the gateway on conn until the connection ends or the gateway breaks the
// protocol (then the connection is closed: a gateway that sends malformed frames is not
// trusted further). It returns nil when the peer closed the connection cleanly.
func (s *Service) Serve(conn net.Conn, lim Limits, status StatusFunc, log *slog.Logger) error {
	if lim.MaxConcurrent < 1 {
		return errors.New("core: MaxConcurrent < 1")
	}
	out := make(chan []byte, lim.QueueDepth+lim.MaxConcurrent+16)
	jobs := make(chan wire.Frame, lim.QueueDepth)

	var writerErr error
	writerDone := make(chan struct{})
	go func() { // one writer: answers are framed whole and flushed when none are waiting
		defer close(writerDone)
		w := bufio.NewWriterSize(conn, 64<<10)
		for b := range out {
			if _, err := w.Write(b); err != nil && writerErr == nil {
				writerErr = err
			}
			if len(out) == 0 {
				if err := w.Flush(); err != nil && writerErr == nil {
					writerErr = err
				}
			}
		}
	}()

	// Requests waiting for an operator answer from goroutines of their own, never from a
	// worker (approval.go); they end, refused, when the connection does.
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	waiting := &waiters{ctx: ctx, out: out, log: log}
	var workers sync.WaitGroup
	for i := 0; i < lim.MaxConcurrent; i++ {
		workers.Add(1)
		go func() {
			defer workers.Done()
			for f := range jobs {
				if answer := s.handleSign(f, waiting, log); answer != nil {
					out <- answer
				}
			}
		}()
	}

	var admins sync.WaitGroup // key-management operations running aside
	err := s.readLoop(conn, jobs, out, status, &admins, log)
	cancel() // nobody is left to answer: the waiting requests are refused
	close(jobs)
	workers.Wait()
	waiting.wg.Wait() // after the workers, the only ones that add to it
	admins.Wait()
	close(out)
	<-writerDone
	_ = conn.Close()
	if errors.Is(err, io.EOF) {
		err = nil
	}
	if err == nil && writerErr != nil {
		err = fmt.Errorf("write to gateway: %w", writerErr)
	}
	return err
}

func (s *Service) readLoop(conn net.Conn, jobs chan<- wire.Frame, out chan<- []byte, status StatusFunc, admins *sync.WaitGroup, log *slog.Logger) error {
	r := bufio.NewReaderSize(conn, 64<<10)
	for {
		f, err := wire.ReadFrame(r)
		if err != nil {
			return err
		}
		switch f.Type {
		case wire.MsgEthSign, wire.MsgTezosSign, wire.MsgTezosProvePossession:
			select {
			case jobs <- f:
			default: // bounded queue: refuse now rather than pile up
				out <- errorFrame(resultType(f.Type), f.ID, wire.Errorf(wire.KindUnavailable, "core overloaded: %d requests waiting", cap(jobs)))
			}
		case wire.MsgGatewayRefusal: // for the audit trail; no answer
			if err := s.noteRefusal(f, log); err != nil {
				return err
			}
		case wire.MsgKeystoreImport, wire.MsgKeystoreDelete:
			// Minutes of scrypt must not stall signing: run aside. At most one runs
			// (admin.busy); the others are answered unavailable at once.
			admins.Go(func() { out <- s.handleAdmin(f) })
		default:
			answer, err := s.handleInline(f, status, log)
			if err != nil {
				return err
			}
			out <- answer
		}
	}
}

// handleInline answers the cheap requests on the reader goroutine. A request that breaks
// the protocol returns an error (the gateway is then disconnected); no panic escapes
// (Inv 8): it becomes an "unavailable" answer and the core keeps serving.
func (s *Service) handleInline(f wire.Frame, status StatusFunc, log *slog.Logger) (answer []byte, err error) {
	defer func() {
		if p := recover(); p != nil {
			log.Error("panic in a core request", "type", f.Type, "panic", fmt.Sprint(p), "stack", string(debug.Stack()))
			answer, err = errorFrame(wire.MsgError, f.ID, wire.Errorf(wire.KindUnavailable, "internal error")), nil
		}
	}()
	noBody := func(what string) error {
		if len(f.Body) != 0 {
			return fmt.Errorf("%w: %s with a body", wire.ErrMalformed, what)
		}
		return nil
	}
	switch f.Type {
	case wire.MsgTezosPublicKey:
		pkh, err := wire.DecodePKH(f.Body)
		if err != nil {
			return nil, err
		}
		r, werr := s.TezosPublicKey(pkh)
		if werr != nil {
			return errorFrame(wire.MsgError, f.ID, werr), nil
		}
		return wire.FinishFrame(wire.AppendTezosPublicKeyResult(wire.StartFrame(wire.MsgTezosPublicKeyResult, f.ID), r)), nil
	case wire.MsgTezosKnownKeys:
		if err := noBody("known keys"); err != nil {
			return nil, err
		}
		l, werr := s.TezosKnownKeys()
		if werr != nil {
			return errorFrame(wire.MsgError, f.ID, werr), nil
		}
		return wire.FinishFrame(wire.AppendTezosKeyList(wire.StartFrame(wire.MsgTezosKnownKeysResult, f.ID), l)), nil
	case wire.MsgTezosAuthorizedKeys:
		if err := noBody("authorized keys"); err != nil {
			return nil, err
		}
		return wire.FinishFrame(wire.AppendTezosAuthorizedKeys(wire.StartFrame(wire.MsgTezosAuthorizedKeysResult, f.ID), s.TezosAuthorizedKeys())), nil
	case wire.MsgListKeys:
		if err := noBody("list keys"); err != nil {
			return nil, err
		}
		return wire.FinishFrame(wire.AppendKeyList(wire.StartFrame(wire.MsgKeyList, f.ID), &wire.KeyList{BLS: s.PublicKeys()})), nil
	case wire.MsgStatus:
		if err := noBody("status"); err != nil {
			return nil, err
		}
		body, err := wire.EncodeStatus(status())
		if err != nil {
			return errorFrame(wire.MsgError, f.ID, wire.Errorf(wire.KindUnavailable, "status unavailable")), nil
		}
		return wire.AppendFrame(nil, wire.MsgStatusResult, f.ID, body), nil
	case wire.MsgKeystoreList:
		if err := noBody("keystore list"); err != nil {
			return nil, err
		}
		l, werr := s.ListKeystores()
		return jsonFrame(wire.MsgKeystoreListResult, f.ID, l, werr), nil
	case wire.MsgHighWatermark:
		if err := noBody("high watermark"); err != nil {
			return nil, err
		}
		h, werr := s.HighWatermark()
		return jsonFrame(wire.MsgHighWatermarkResult, f.ID, h, werr), nil
	default: // unknown types, and the admin channel's (wire.IsAdmin): never from a gateway
		return nil, fmt.Errorf("%w: message type %d from gateway", wire.ErrMalformed, f.Type)
	}
}

// resultType is the answer type of a signing request type.
func resultType(t wire.MsgType) wire.MsgType {
	switch t {
	case wire.MsgTezosSign:
		return wire.MsgTezosSignResult
	case wire.MsgTezosProvePossession:
		return wire.MsgTezosProvePossessionResult
	}
	return wire.MsgEthSignResult
}

// waiters are the requests of one gateway connection that wait for an operator, each on a
// goroutine of its own that answers on out when it is decided.
type waiters struct {
	ctx context.Context // ends with the connection
	out chan<- []byte
	log *slog.Logger
	wg  sync.WaitGroup
}

// answerLater runs answer on a goroutine of its own and sends what it returns. No panic
// escapes (Inv 8): it becomes an "unavailable" answer.
func (w *waiters) answerLater(f wire.Frame, answer func(ctx context.Context) []byte) {
	w.wg.Go(func() {
		defer func() {
			if p := recover(); p != nil {
				w.log.Error("panic while a request awaited approval", "panic", fmt.Sprint(p), "stack", string(debug.Stack()))
				w.out <- errorFrame(resultType(f.Type), f.ID, wire.Errorf(wire.KindUnavailable, "internal error"))
			}
		}()
		b := answer(w.ctx)
		if w.ctx.Err() == nil { // else the connection has ended: nobody to answer
			w.out <- b
		}
	})
}

// handleSign decodes and serves one signing request. A request that needs an operator's
// approval is handed to wait (it answers later) and handleSign returns nil. No panic
// escapes (Inv 8).
func (s *Service) handleSign(f wire.Frame, wait *waiters, log *slog.Logger) (answer []byte) {
	defer func() {
		if p := recover(); p != nil {
			log.Error("panic while signing", "panic", fmt.Sprint(p), "stack", string(debug.Stack()))
			answer = errorFrame(resultType(f.Type), f.ID, wire.Errorf(wire.KindUnavailable, "internal error"))
		}
	}()
	switch f.Type {
	case wire.MsgTezosSign:
		req, err := wire.DecodeTezosSign(f.Body)
		if err != nil {
			return errorFrame(wire.MsgTezosSignResult, f.ID, wire.Errorf(wire.KindBadRequest, "%v", err))
		}
		return serveSigning(s, f, wait, s.tezosSigning(req), func(res *wire.TezosSignResult) []byte {
			return wire.FinishFrame(wire.AppendTezosSignResult(wire.StartFrame(wire.MsgTezosSignResult, f.ID), res))
		})
	case wire.MsgTezosProvePossession:
		req, err := wire.DecodeTezosProvePossession(f.Body)
		if err != nil {
			return errorFrame(wire.MsgTezosProvePossessionResult, f.ID, wire.Errorf(wire.KindBadRequest, "%v", err))
		}
		res := s.TezosProvePossession(req)
		return wire.FinishFrame(wire.AppendTezosSignResult(wire.StartFrame(wire.MsgTezosProvePossessionResult, f.ID), res))
	}
	req, err := wire.DecodeEthSign(f.Body)
	if err != nil {
		return errorFrame(wire.MsgEthSignResult, f.ID, wire.Errorf(wire.KindBadRequest, "%v", err))
	}
	return serveSigning(s, f, wait, s.ethSigning(req), func(res *wire.SignResult) []byte {
		return wire.FinishFrame(wire.AppendSignResult(wire.StartFrame(wire.MsgEthSignResult, f.ID), res))
	})
}

// handleAdmin decodes and serves one key-management request. No panic escapes (Inv 8).
func (s *Service) handleAdmin(f wire.Frame) (answer []byte) {
	defer func() {
		if p := recover(); p != nil {
			answer = errorFrame(wire.MsgError, f.ID, wire.Errorf(wire.KindUnavailable, "internal error"))
		}
	}()
	switch f.Type {
	case wire.MsgKeystoreImport:
		r, err := wire.DecodeKeystoreImport(f.Body)
		if err != nil {
			return errorFrame(wire.MsgError, f.ID, wire.Errorf(wire.KindBadRequest, "%v", err))
		}
		st, werr := s.ImportKeystores(r)
		return jsonFrame(wire.MsgKeystoreImportResult, f.ID, st, werr)
	default:
		r, err := wire.DecodeKeystoreDelete(f.Body)
		if err != nil {
			return errorFrame(wire.MsgError, f.ID, wire.Errorf(wire.KindBadRequest, "%v", err))
		}
		res, werr := s.DeleteKeystores(r)
		return jsonFrame(wire.MsgKeystoreDeleteResult, f.ID, res, werr)
	}
}

// jsonFrame encodes v as the JSON answer of type t, or werr as a MsgError answer.
func jsonFrame(t wire.MsgType, id uint64, v any, werr *wire.Error) []byte {
	if werr != nil {
		return errorFrame(wire.MsgError, id, werr)
	}
	b, err := json.Marshal(v)
	if err != nil {
		return errorFrame(wire.MsgError, id, wire.Errorf(wire.KindUnavailable, "encode answer: %v", err))
	}
	return wire.AppendFrame(nil, t, id, b)
}

// errorFrame encodes a failure as the answer of type t to request id.
func errorFrame(t wire.MsgType, id uint64, e *wire.Error) []byte {
	switch t {
	case wire.MsgEthSignResult:
		return wire.FinishFrame(wire.AppendSignResult(wire.StartFrame(t, id), &wire.SignResult{Err: e}))
	case wire.MsgTezosSignResult, wire.MsgTezosProvePossessionResult:
		return wire.FinishFrame(wire.AppendTezosSignResult(wire.StartFrame(t, id), &wire.TezosSignResult{Err: e}))
	}
	return wire.FinishFrame(wire.AppendError(wire.StartFrame(t, id), e))
}
