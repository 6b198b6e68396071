package core

import (
	"sync"
	"sync/atomic"
	"time"

	"github.com/keyward/keyward/internal/keys"
)

// batchVerifier verifies the signatures of concurrent requests together (Inv 6 for each
// of them): one random linear combination per batch (keys.VerifyBLSBatch) costs about
// half as much per signature as verifying each alone. A request that has signed joins
// the queue; the first one in becomes the batch's leader and waits until no other request
// is still signing (those would join), the batch is full, or maxVerifyWait passed, then
// verifies the batch and hands every request its result. Several batches can verify at
// once, one per leader. A request alone is verified at once, without waiting. When a
// batch fails, each of its signatures is verified alone, so only a bad one is refused.
type batchVerifier struct {
	signing atomic.Int64 // requests between SignPoint and joining the queue

	mu      sync.Mutex
	queue   []*verifyReq
	leading bool          // a leader is collecting queue
	ready   chan struct{} // wakes the leader early; buffered 1
	once    sync.Once
}

// verifyReq is one signature waiting for verification.
type verifyReq struct {
	key  BLSKey
	msg  []byte
	sig  keys.BLSSignature
	out  [96]byte
	ok   bool
	done chan struct{}
}

const (
	maxVerifyBatch = 64
	maxVerifyWait  = time.Millisecond // the longest a signature waits for companions
)

// verify returns the compression of sig when it is key's signature of msg. The caller
// has added itself to b.signing before signing.
func (b *batchVerifier) verify(key BLSKey, msg []byte, sig keys.BLSSignature) ([96]byte, bool) {
	b.once.Do(func() { b.ready = make(chan struct{}, 1) })
	r := &verifyReq{key: key, msg: msg, sig: sig, done: make(chan struct{})}
	b.mu.Lock()
	b.queue = append(b.queue, r)
	others := b.signing.Add(-1)
	lead := !b.leading
	if lead {
		b.leading = true
		select { // a stale wake-up from the previous batch
		case <-b.ready:
		default:
		}
	} else if others == 0 || len(b.queue) >= maxVerifyBatch {
		select {
		case b.ready <- struct{}{}:
		default:
		}
	}
	b.mu.Unlock()
	if !lead {
		<-r.done
		return r.out, r.ok
	}
	if others > 0 {
		t := time.NewTimer(maxVerifyWait)
		select {
		case <-b.ready:
		case <-t.C:
		}
		t.Stop()
	}
	b.mu.Lock()
	batch := b.queue
	b.queue, b.leading = nil, false
	b.mu.Unlock()
	verifyBatch(batch)
	return r.out, r.ok
}

// verifyBatch verifies the batch, falling back to one by one when it fails, and releases
// every request but the first (the leader's own).
func verifyBatch(batch []*verifyReq) {
	if len(batch) == 1 {
		batch[0].out, batch[0].ok = batch[0].key.VerifySignature(batch[0].msg, batch[0].sig)
		return
	}
	items := make([]keys.BLSBatchItem, len(batch))
	for i, q := range batch {
		items[i] = q.key.BatchItem(q.msg, q.sig)
	}
	if outs, ok := keys.VerifyBLSBatch(items); ok {
		for i, q := range batch {
			q.out, q.ok = outs[i], true
		}
	} else {
		for _, q := range batch { // find the bad ones; the others are still served
			q.out, q.ok = q.key.VerifySignature(q.msg, q.sig)
		}
	}
	for _, q := range batch[1:] {
		close(q.done)
	}
}
