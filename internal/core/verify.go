package core

import (
	"sync"
	"sync/atomic"
	"time"

	"github.com/keyward/keyward/internal/keys"
)

// batchVerifier verifies the signatures of concurrent requests together (Inv 6 for each
// of them) with keys.VerifyBLSBatch: one random linear combination per batch, with one
// hash to G2 and one Miller loop per distinct message and one final exponentiation per
// batch. A batch's cost is mostly fixed: for signatures of one message (the attestations
// of a slot) about 2–3 ms of CPU for any batch of 4 to 31 and 4–5 ms for 64, against
// 1.5–1.8 ms to verify one signature alone (BenchmarkBLSBatchVerify). So batches form
// as commits do in group commit: at most maxLeaders batches are collected or verified at
// once. A request that has signed joins the queue; when fewer than maxLeaders batches
// are under way and none is collecting, it becomes a leader: it waits until no other
// request is still signing (those would join), the queue holds maxVerifyBatch, or
// maxVerifyWait passed, then takes up to maxVerifyBatch requests, verifies them and hands
// each its result. Requests that join while every leader is busy wait for the next batch,
// which grows meanwhile; a leader that finishes hands the lead to the first of them, which
// takes the queue at once. A request alone with nothing under way is verified at once,
// without waiting. When a batch fails, each of its signatures is verified alone, so only
// a bad one is refused.
//
// Measured with keyward bench at concurrency 64 (docs/benchmarks.md): one batch at a time
// gave batches of 11–16 signatures on average, two at a time 8; waiting longer (2 or 4 ms,
// or until 32 had joined) did not make them larger: a batch is bounded by the requests
// inside the core at that moment, and holding it holds its clients. The batch itself uses
// every core (blst's multi-scalar multiplications and Miller loops; the hashes of
// distinct messages in parallel).
//
// Every wait is bounded: the collecting wait by maxVerifyWait, the queue by the requests
// the core works on at once (Limits.MaxConcurrent), each of which is in at most one batch.
type batchVerifier struct {
	signing atomic.Int64 // requests between signing and joining the queue

	mu         sync.Mutex
	queue      []*verifyReq  // signed, waiting for a batch; the first is the next leader
	leaders    int           // batches being collected or verified, ≤ maxLeaders
	collecting bool          // a leader is waiting for companions
	ready      chan struct{} // wakes the collecting leader early; buffered 1
	once       sync.Once
}

// verifyReq is one signature waiting for verification.
type verifyReq struct {
	key  BLSKey
	msg  []byte
	sig  keys.BLSSignature
	out  [96]byte
	ok   bool
	lead bool // set before done is closed: this request leads the next batch
	done chan struct{}
}

// hashCacheSize bounds the Service's cache of hashed signing roots. A signer's keys sign
// a few distinct roots per slot (the slot's attestation data, selection proofs,
// sync-committee messages, blocks); 256 covers several slots' worth at about 300 bytes
// each, and a burst of many keys on one root needs only one entry.
const hashCacheSize = 256

const (
	maxVerifyBatch = 64
	maxVerifyWait  = time.Millisecond // the longest a leader waits for companions
	maxLeaders     = 1                // batches under way at once
)

// verify returns the compression of sig when it is key's signature of msg. The caller
// has added itself to b.signing before signing.
func (b *batchVerifier) verify(key BLSKey, msg []byte, sig keys.BLSSignature) ([96]byte, bool) {
	b.once.Do(func() { b.ready = make(chan struct{}, 1) })
	r := &verifyReq{key: key, msg: msg, sig: sig, done: make(chan struct{})}
	b.mu.Lock()
	b.queue = append(b.queue, r)
	b.signing.Add(-1)
	lead := false
	if !b.collecting && b.leaders < maxLeaders { // then the queue was empty: r is first
		b.leaders++
		b.startCollecting()
		lead = true
	} else if b.collecting && (b.signing.Load() == 0 || len(b.queue) >= maxVerifyBatch) {
		select {
		case b.ready <- struct{}{}:
		default:
		}
	}
	b.mu.Unlock()
	if !lead {
		<-r.done
		if !r.lead {
			return r.out, r.ok
		}
	}
	// A leader handed the lead has waited for a whole batch's verification already: its
	// companions are in the queue. One that leads at once may wait for those still signing.
	b.collectAndVerify(lead)
	return r.out, r.ok
}

// startCollecting marks that a leader collects; b.mu is held.
func (b *batchVerifier) startCollecting() {
	b.collecting = true
	select { // a stale wake-up from an earlier batch
	case <-b.ready:
	default:
	}
}

// collectAndVerify is the leader's part: wait for companions, take a batch (the leader
// is its first request), verify it, then hand the lead on or give it up.
func (b *batchVerifier) collectAndVerify(mayWait bool) {
	b.mu.Lock()
	wait := mayWait && b.signing.Load() > 0 && len(b.queue) < maxVerifyBatch
	b.mu.Unlock()
	if wait {
		t := time.NewTimer(maxVerifyWait)
		select {
		case <-b.ready:
		case <-t.C:
		}
		t.Stop()
	}
	b.mu.Lock()
	n := min(len(b.queue), maxVerifyBatch)
	batch := b.queue[:n:n]
	b.queue = append([]*verifyReq(nil), b.queue[n:]...)
	b.collecting = false
	if len(b.queue) > 0 && b.leaders < maxLeaders { // more than a batch was waiting
		b.leaders++
		b.handLead()
	}
	b.mu.Unlock()
	defer b.finish() // even if verification panics: the queue must not stall
	verifyBatch(batch)
}

// finish ends a leader's batch: its place passes to the first waiting request, or is
// given up.
func (b *batchVerifier) finish() {
	b.mu.Lock()
	defer b.mu.Unlock()
	if len(b.queue) > 0 && !b.collecting {
		b.handLead()
	} else {
		b.leaders--
	}
}

// handLead makes the first request of the queue a collecting leader; b.mu is held and
// the leader count already includes it.
func (b *batchVerifier) handLead() {
	b.startCollecting()
	next := b.queue[0]
	next.lead = true
	close(next.done)
}

// verifyBatch verifies the batch, falling back to one by one when it fails, and releases
// every request but the first (the leader's own), even if verification panics (then a
// request not verified yet keeps ok false: signEth signs it again and verifies it alone).
func verifyBatch(batch []*verifyReq) {
	defer func() {
		for _, q := range batch[1:] {
			close(q.done)
		}
	}()
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
}
