package protect

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/keyward/keyward/internal/policy"
	"github.com/keyward/keyward/internal/tezos"
)

// Tezos spends (the daily transaction limit of package policy) live in the protection
// database so that the limit survives restarts.
//
// Bucket "tezos-spend-v1": key = pkh (21, Octez binary form) ‖ time (8, Unix nanoseconds,
// big-endian, as uint64); value = amount (8, mutez, big-endian). Two spends of a key at the
// same nanosecond share a key and their amounts are added (saturating). Spends older than
// policy.Window are deleted by the next charge of the key.
var bucketTezosSpend = []byte("tezos-spend-v1")

var _ policy.Ledger = (*Store)(nil)

// Charge implements policy.Ledger: in one bbolt transaction (bbolt serialises writers, so
// it is atomic per key and across keys) it reads the key's spends, deletes those out of
// the window, and records amount at now if policy.Fits; the transaction is durable
// (fdatasync) before Charge returns nil. It does not use the group committer: transfers
// are rare and their latency does not matter.
func (s *Store) Charge(pkh tezos.PublicKeyHash, now time.Time, amount, limit uint64) (uint64, error) {
	if !pkh.Valid() {
		return 0, fmt.Errorf("charge: invalid public key hash")
	}
	if err := s.enter(); err != nil {
		return 0, err
	}
	defer s.leave()
	prefix := pkh.Binary()
	from := now.Add(-policy.Window)
	var spent uint64
	var over bool
	err := s.db.Update(func(tx *bolt.Tx) error {
		b, err := tx.CreateBucketIfNotExists(bucketTezosSpend)
		if err != nil {
			return fmt.Errorf("create spend bucket: %w", err)
		}
		var spends []policy.Spend
		var stale [][]byte
		c := b.Cursor()
		for k, v := c.Seek(prefix[:]); k != nil && bytes.HasPrefix(k, prefix[:]); k, v = c.Next() {
			if len(k) != len(prefix)+8 || len(v) != 8 {
				return fmt.Errorf("%w: tezos spend %x", ErrCorrupt, k)
			}
			sp := policy.Spend{At: time.Unix(0, int64(binary.BigEndian.Uint64(k[len(prefix):]))), Amount: binary.BigEndian.Uint64(v)}
			if !sp.At.After(from) {
				stale = append(stale, bytes.Clone(k))
				continue
			}
			spends = append(spends, sp)
		}
		for _, k := range stale {
			if err := b.Delete(k); err != nil {
				return err
			}
		}
		spent = policy.WindowSum(spends, now)
		if !policy.Fits(spent, amount, limit) {
			over = true
			return nil // commit the pruning only
		}
		if amount == 0 {
			return nil
		}
		key := binary.BigEndian.AppendUint64(bytes.Clone(prefix[:]), uint64(now.UnixNano()))
		total := amount
		if old := b.Get(key); len(old) == 8 {
			if o := binary.BigEndian.Uint64(old); total > ^uint64(0)-o {
				total = ^uint64(0)
			} else {
				total += o
			}
		}
		return b.Put(key, binary.BigEndian.AppendUint64(nil, total))
	})
	if err != nil {
		return spent, fmt.Errorf("charge: %w", err)
	}
	if over {
		return spent, fmt.Errorf("%w: %d mutez spent in the last 24 h, %d more asked, limit %d", policy.ErrOverLimit, spent, amount, limit)
	}
	return spent, nil
}
