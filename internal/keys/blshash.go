package keys

import (
	"container/list"
	"sync"

	blst "github.com/supranational/blst/bindings/go"
)

// BLSMessageHash is a message hashed to G2 with the POP ciphersuite (BLSDST), H(msg), for
// SignHashed: keys that sign the same message share one hash (hash_to_curve is about half
// the cost of a signature). It is immutable once made.
type BLSMessageHash struct {
	p blst.P2
}

// HashBLSMessage hashes msg to G2 with BLSDST (hash_to_curve, which clears the cofactor:
// the point is in G2).
func HashBLSMessage(msg []byte) *BLSMessageHash {
	return &BLSMessageHash{p: *blst.HashToG2(msg, []byte(BLSDST))}
}

// SignHashed signs the message whose hash is h, sk·h, and keeps the result as a point, as
// SignPoint does; SignHashed(HashBLSMessage(m)) is SignPoint(m). After Destroy, or
// without a hash, it returns a signature that never verifies.
//
// Inv 6 does not rest on h: verification (VerifySignature, VerifyBLSBatch) hashes the
// message again itself, so a signature made from a wrong or corrupted h is refused.
//
// Inv 1: P2.Mult with a *blst.Scalar hands blst_p2_mult a pointer to the scalar in the
// key's arena slot; blst copies it to a local on the C stack (zeroed after use) and
// multiplies with the same constant-time GLS ladder that Sign uses (POINTonE2_mult_gls; a
// valid secret is below r, so it always takes that branch). The Go wrapper copies only
// the point (ret := *p2). So the secret reaches the Go heap neither here nor in Sign, and
// the ladder's C stack temporaries are the same in both. Sign converts the projective
// result to affine before it leaves C, because its Z coordinate can carry information
// about the scalar; here that result is a Go value, converted in constant time
// (ct_inverse_mod_384) and then cleared, so that only the affine point remains.
func (k *BLSKey) SignHashed(h *BLSMessageHash) BLSSignature {
	if k.sk == nil || h == nil {
		return BLSSignature{}
	}
	p := h.p.Mult(k.sk)
	sig := p.ToAffine()
	*p = blst.P2{}
	return BLSSignature{sig}
}

// BLSHashCache holds the hashes of the most recently signed 32-byte messages (Ethereum
// signing roots), so that the keys signing one message hash it once: since Electra
// (EIP-7549) every attestation of a slot signs the same data, and selection proofs and
// sync-committee messages share messages across keys too. It holds at most its capacity
// and evicts the least recently used entry; concurrent requests for a root that is not
// there yet share one computation. It is safe for concurrent use.
//
// It serves signing only. Verification never reads it (Inv 6; see VerifyBLSBatch), so a
// corrupted entry yields signatures that fail verification; the caller then evicts it.
type BLSHashCache struct {
	capacity int

	mu  sync.Mutex // guards m and lru
	m   map[[32]byte]*list.Element
	lru list.List // of *hashEntry, most recently used first
}

// hashEntry is one root and its hash, computed once by the first request that needs it.
type hashEntry struct {
	root [32]byte
	once sync.Once
	h    BLSMessageHash // set by once
}

// NewBLSHashCache makes a cache of at most capacity hashes (at least 1).
func NewBLSHashCache(capacity int) *BLSHashCache {
	capacity = max(capacity, 1)
	return &BLSHashCache{capacity: capacity, m: make(map[[32]byte]*list.Element, capacity)}
}

// Hash returns H(root), hashing it on a miss. A caller that finds another computing the
// same root waits for it rather than hashing again.
func (c *BLSHashCache) Hash(root [32]byte) *BLSMessageHash {
	c.mu.Lock()
	el := c.m[root]
	if el != nil {
		c.lru.MoveToFront(el)
	} else {
		el = c.lru.PushFront(&hashEntry{root: root})
		c.m[root] = el
		if c.lru.Len() > c.capacity {
			old := c.lru.Back()
			c.lru.Remove(old)
			delete(c.m, old.Value.(*hashEntry).root)
		}
	}
	e := el.Value.(*hashEntry)
	c.mu.Unlock()
	e.once.Do(func() { e.h.p = *blst.HashToG2(root[:], []byte(BLSDST)) })
	return &e.h
}

// Evict forgets root's hash if it is still h (a signature made with h failed
// verification); a newer entry for root is kept.
func (c *BLSHashCache) Evict(root [32]byte, h *BLSMessageHash) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if el := c.m[root]; el != nil && &el.Value.(*hashEntry).h == h {
		c.lru.Remove(el)
		delete(c.m, root)
	}
}

// Len returns the number of hashes held.
func (c *BLSHashCache) Len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.lru.Len()
}
