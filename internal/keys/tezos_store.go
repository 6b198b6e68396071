package keys

import (
	"bytes"
	"crypto/cipher"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"go.etcd.io/bbolt"

	"github.com/keyward/keyward/internal/secmem"
	"github.com/keyward/keyward/internal/tezos"
)

// TezosEntry is a stored Tezos key as ListTezos reports it: no secret.
type TezosEntry struct {
	Type      KeyType
	PublicKey tezos.PublicKey
	Hash      tezos.PublicKeyHash
	Meta      Meta
}

// PutTezos seals a Tezos secret (the form tezos.ParseSecretKey returns) under the master
// key. The public key is derived from the secret and returned.
func (s *Store) PutTezos(kind tezos.KeyKind, secret []byte, meta Meta) (tezos.PublicKey, error) {
	t, ok := TezosKeyType(kind)
	if !ok {
		return tezos.PublicKey{}, fmt.Errorf("store key: %w", tezos.ErrKeyKind)
	}
	pub, err := tezosPublicFromSecret(t, secret)
	if err != nil {
		return tezos.PublicKey{}, fmt.Errorf("store key: %w", err)
	}
	pk, err := tezos.NewPublicKey(kind, pub)
	if err != nil {
		return tezos.PublicKey{}, fmt.Errorf("store key: %w", err)
	}
	if err := meta.validate(); err != nil {
		return pk, fmt.Errorf("store key %s: %w", pk.Hash(), err)
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.db == nil {
		return pk, fmt.Errorf("store key: %w", ErrClosed)
	}
	aead, err := s.aead()
	if err != nil {
		return pk, fmt.Errorf("store key: %w", err)
	}
	rec := seal(aead, t, pub, secret, &meta)
	if err := s.putRecords(t, [][]byte{pub}, [][]byte{rec}); err != nil {
		return pk, fmt.Errorf("store key %s: %w", pk.Hash(), err)
	}
	return pk, nil
}

// GenerateTezos creates one Tezos key of the given kind from the system's random source,
// seals and stores it, and returns its public key. meta.Source is set to SourceGenerated.
func GenerateTezos(s *Store, kind tezos.KeyKind, meta Meta) (tezos.PublicKey, error) {
	t, ok := TezosKeyType(kind)
	if !ok {
		return tezos.PublicKey{}, fmt.Errorf("generate key: %w", tezos.ErrKeyKind)
	}
	secret, err := generateTezosSecret(t)
	if err != nil {
		return tezos.PublicKey{}, fmt.Errorf("generate key: %w", err)
	}
	defer clear(secret)
	meta.Source = SourceGenerated
	return s.PutTezos(kind, secret, meta)
}

// ListTezos lists the Tezos keys of the store (tz1, then tz2, tz3, tz4).
func (s *Store) ListTezos() ([]TezosEntry, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.db == nil {
		return nil, fmt.Errorf("list keys: %w", ErrClosed)
	}
	var out []TezosEntry
	err := s.db.View(func(tx *bbolt.Tx) error {
		for _, t := range tezosKeyTypes {
			b := tx.Bucket(bucketOf(t))
			if b == nil {
				continue
			}
			err := b.ForEach(func(k, v []byte) error {
				r, err := decodeStored(t, k, v)
				if err != nil {
					return err
				}
				pk, err := tezos.NewPublicKey(t.TezosKind(), r.pub)
				if err != nil {
					return fmt.Errorf("key %s: %w: %w", hexKey(k), ErrCorrupt, err)
				}
				out = append(out, TezosEntry{Type: t, PublicKey: pk, Hash: pk.Hash(), Meta: r.meta})
				return nil
			})
			if err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("list keys: %w", err)
	}
	return out, nil
}

// LoadTezos opens every Tezos record into a slot of arena (slots of at least
// BLSSlotSize bytes). Each key's public key is derived from its secret and compared with
// the stored one: a mismatch refuses the whole load.
func (s *Store) LoadTezos(arena *secmem.Arena) ([]*TezosKey, error) {
	if arena == nil {
		return nil, fmt.Errorf("load keys: no arena")
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.db == nil {
		return nil, fmt.Errorf("load keys: %w", ErrClosed)
	}
	aead, err := s.aead()
	if err != nil {
		return nil, fmt.Errorf("load keys: %w", err)
	}
	var out []*TezosKey
	err = s.db.View(func(tx *bbolt.Tx) error {
		for _, t := range tezosKeyTypes {
			b := tx.Bucket(bucketOf(t))
			if b == nil {
				continue
			}
			err := b.ForEach(func(k, v []byte) error {
				key, err := openTezos(aead, arena, t, k, v)
				if err != nil {
					return fmt.Errorf("%s key %s: %w", t, hexKey(k), err)
				}
				out = append(out, key)
				return nil
			})
			if err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		for _, k := range out {
			k.Destroy()
		}
		return nil, fmt.Errorf("load keys: %w", err)
	}
	return out, nil
}

// openTezos opens one record into a new arena slot: the plaintext is written into the
// slot's scratch, never to the Go heap (Inv 1).
func openTezos(aead cipher.AEAD, arena *secmem.Arena, t KeyType, k, v []byte) (*TezosKey, error) {
	r, err := decodeRecord(v)
	if err != nil {
		return nil, err
	}
	if r.typ != t || !bytes.Equal(r.pub, k) {
		return nil, fmt.Errorf("record filed under another key: %w", ErrCorrupt)
	}
	slot, err := unsealToSlot(aead, arena, r, tezosSecretSize)
	if err != nil {
		return nil, err
	}
	return bindTezosKey(arena, slot, t, r.pub)
}

// Limits of an octez-client secret_keys file.
const (
	maxOctezFileSize = 1 << 20
	maxOctezKeys     = 10_000
)

// OctezImportResult is the outcome of one entry of a secret_keys file.
type OctezImportResult struct {
	Name   string
	Hash   tezos.PublicKeyHash // zero when the entry failed before its key was known
	Status ImportStatus
	Err    error
}

// ImportOctezSecretKeys imports an octez-client secret_keys file: a JSON list of
// {"name", "value"} where value is "unencrypted:<edsk|spsk|p2sk|BLsk…>" or
// "encrypted:<edesk|spesk|p2esk|BLesk…>" (and the legacy "aggregate_" BLS schemes).
// password is called for each encrypted key. Each key is parsed by tezos.ParseSecretKey,
// its public key derived, and sealed under the master key; the name becomes the key's
// description. Keys of other schemes (remote:, ledger:) fail with a reason. A file that
// is not such a list fails as a whole.
func ImportOctezSecretKeys(s *Store, data []byte, password func() ([]byte, error), now time.Time) ([]OctezImportResult, error) {
	if len(data) > maxOctezFileSize {
		return nil, fmt.Errorf("import secret keys: file over %d bytes", maxOctezFileSize)
	}
	var entries []struct {
		Name  *string `json:"name"`
		Value *string `json:"value"`
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&entries); err != nil {
		return nil, fmt.Errorf("import secret keys: not an octez-client secret_keys file: %w", err)
	}
	if dec.More() {
		return nil, errors.New("import secret keys: trailing data after the list")
	}
	if len(entries) > maxOctezKeys {
		return nil, fmt.Errorf("import secret keys: more than %d keys", maxOctezKeys)
	}
	out := make([]OctezImportResult, len(entries))
	for i, e := range entries {
		r := &out[i]
		r.Status = ImportFailed
		if e.Name == nil || e.Value == nil {
			r.Err = errors.New("entry without name or value")
			continue
		}
		r.Name = *e.Name
		scheme, sk, ok := strings.Cut(*e.Value, ":")
		if !ok {
			r.Err = errors.New("value without a scheme")
			continue
		}
		switch scheme {
		case "unencrypted", "encrypted", "aggregate_unencrypted", "aggregate_encrypted":
		default:
			r.Err = fmt.Errorf("scheme %q holds no secret key here; only unencrypted: and encrypted: keys can be imported", scheme)
			continue
		}
		kind, secret, err := tezos.ParseSecretKey(sk, password)
		if err != nil {
			r.Err = err
			continue
		}
		desc := r.Name
		if len(desc) > maxDescriptionLen {
			desc = desc[:maxDescriptionLen]
		}
		pk, err := s.PutTezos(kind, secret, Meta{Source: SourceImported, Created: now, Description: desc})
		clear(secret)
		r.Hash = pk.Hash()
		switch {
		case errors.Is(err, ErrExists):
			r.Status, r.Err = ImportExists, nil
		case err != nil:
			r.Err = err
		default:
			r.Status = ImportImported
		}
	}
	return out, nil
}

// DeleteTezos deletes the Tezos key whose hash is pkh. ErrNotFound if there is none. Its
// high watermarks stay in the protection database.
func (s *Store) DeleteTezos(pkh tezos.PublicKeyHash) error {
	t, ok := TezosKeyType(pkh.Kind)
	if !ok {
		return fmt.Errorf("delete key: %w", tezos.ErrKeyKind)
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.db == nil {
		return fmt.Errorf("delete key: %w", ErrClosed)
	}
	err := s.db.Update(func(tx *bbolt.Tx) error {
		b := tx.Bucket(bucketOf(t))
		if b == nil {
			return ErrNotFound
		}
		var found []byte
		err := b.ForEach(func(k, _ []byte) error {
			if pk, err := tezos.NewPublicKey(pkh.Kind, k); err == nil && pk.Hash() == pkh {
				found = bytes.Clone(k)
			}
			return nil
		})
		if err != nil {
			return err
		}
		if found == nil {
			return ErrNotFound
		}
		return b.Delete(found)
	})
	if err != nil {
		return fmt.Errorf("delete key %s: %w", pkh, err)
	}
	return nil
}
