package keys

import (
	"bytes"
	"crypto/cipher"
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"

	"go.etcd.io/bbolt"

	"github.com/keyward/keyward/internal/secmem"
)

// LoadBLS opens every stored BLS key into arena, one slot of at least BLSSlotSize bytes per
// key, in public-key order. Records are opened in parallel across GOMAXPROCS. Each secret
// is decrypted straight into its slot and checked to be a scalar in [1, r-1]; each public
// key is decompressed and validated once. No KDF runs and no public key is recomputed:
// the AEAD's associated data binds secret and public key, and the core verifies every
// signature (Inv 6).
//
// If any record fails (ErrCorrupt, ErrUnseal, ErrInvalidPublicKey, ErrInvalidSecretKey,
// secmem.ErrFull, ErrSlotSize) the error names its key, every key loaded so far is
// destroyed, and no key is returned.
func (s *Store) LoadBLS(arena *secmem.Arena) ([]*BLSKey, error) {
	if arena == nil {
		return nil, fmt.Errorf("load keys: no arena")
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.db == nil {
		return nil, fmt.Errorf("load keys: %w", ErrClosed)
	}
	var keys []*BLSKey
	err := s.db.View(func(tx *bbolt.Tx) error {
		b := tx.Bucket(bucketOf(KeyTypeBLS))
		if b == nil {
			return nil
		}
		// The values alias the read transaction's mmap and stay valid until View returns,
		// which is after every worker has finished.
		var ks, vs [][]byte
		if err := b.ForEach(func(k, v []byte) error {
			ks, vs = append(ks, k), append(vs, v)
			return nil
		}); err != nil {
			return err
		}
		var err error
		keys, err = s.openAll(arena, ks, vs)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("load keys: %w", err)
	}
	return keys, nil
}

// openAll opens records in parallel; on any failure it destroys what it opened and
// returns the error of the first failing record in key order.
func (s *Store) openAll(arena *secmem.Arena, ks, vs [][]byte) ([]*BLSKey, error) {
	keys := make([]*BLSKey, len(ks))
	errs := make([]error, len(ks))
	workers := min(runtime.GOMAXPROCS(0), len(ks))
	var next atomic.Int64
	var failed atomic.Bool
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			aead, err := s.aead()
			for {
				i := int(next.Add(1) - 1)
				if i >= len(ks) {
					return
				}
				if failed.Load() {
					continue // stop early; the first error is already recorded
				}
				if err == nil {
					keys[i], err = openBLS(aead, arena, ks[i], vs[i])
				}
				if err != nil {
					errs[i] = err
					failed.Store(true)
				}
			}
		})
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			for _, k := range keys {
				if k != nil {
					k.Destroy()
				}
			}
			return nil, fmt.Errorf("%s: %w", hexKey(ks[i]), err)
		}
	}
	return keys, nil
}

// openBLS opens one record (stored under key k) into a new arena slot.
func openBLS(aead cipher.AEAD, arena *secmem.Arena, k, v []byte) (*BLSKey, error) {
	r, err := decodeRecord(v)
	if err != nil {
		return nil, err
	}
	if r.typ != KeyTypeBLS || !bytes.Equal(r.pub, k) {
		return nil, fmt.Errorf("record filed under another key: %w", ErrCorrupt)
	}
	pk, err := ParseBLSPublicKey(r.pub)
	if err != nil {
		return nil, err
	}
	slot, err := unsealToSlot(aead, arena, r, blsSecretSize)
	if err != nil {
		return nil, err
	}
	var pub [BLSPublicKeySize]byte
	copy(pub[:], r.pub)
	return bindBLSKey(arena, slot, pub, pk)
}

// unsealToSlot opens a record's ciphertext into a new arena slot. Inv 1: the plaintext is
// written into the slot's scratch, never to the Go heap. The ciphertext length is fixed by
// decodeRecord, so it fits the scratch's capacity; a plaintext of another size or place is
// a programming error. On error the slot is freed.
func unsealToSlot(aead cipher.AEAD, arena *secmem.Arena, r *record, secretSize int) ([]byte, error) {
	slot, err := arena.Alloc()
	if err != nil {
		return nil, fmt.Errorf("allocate key slot: %w", err)
	}
	if len(slot) < BLSSlotSize {
		arena.Free(slot)
		return nil, fmt.Errorf("slot of %d bytes, need %d: %w", len(slot), BLSSlotSize, ErrSlotSize)
	}
	pt, err := aead.Open(slot[blsScratch:blsScratch], r.nonce, r.ciphertext, recordAD(r.header))
	if err != nil {
		arena.Free(slot)
		return nil, ErrUnseal
	}
	if len(pt) != secretSize || &pt[0] != &slot[blsScratch] {
		clear(pt)
		arena.Free(slot)
		panic("keys: internal error: plaintext left the arena slot")
	}
	return slot, nil
}

// LoadOneBLS opens the sealed key pub into a slot of arena: how a key imported while the
// core runs (Keymanager API) starts signing. ErrNotFound if the store has no such key.
func (s *Store) LoadOneBLS(arena *secmem.Arena, pub [BLSPublicKeySize]byte) (*BLSKey, error) {
	if arena == nil {
		return nil, fmt.Errorf("load key: no arena")
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.db == nil {
		return nil, fmt.Errorf("load key: %w", ErrClosed)
	}
	aead, err := s.aead()
	if err != nil {
		return nil, fmt.Errorf("load key: %w", err)
	}
	var key *BLSKey
	err = s.db.View(func(tx *bbolt.Tx) error {
		b := tx.Bucket(bucketOf(KeyTypeBLS))
		var v []byte
		if b != nil {
			v = b.Get(pub[:])
		}
		if v == nil {
			return ErrNotFound
		}
		var err error
		key, err = openBLS(aead, arena, pub[:], v)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("load key %s: %w", hexKey(pub[:]), err)
	}
	return key, nil
}
