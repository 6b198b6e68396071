package keys

import (
	"bytes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"sync"
	"time"

	"go.etcd.io/bbolt"
	"golang.org/x/crypto/chacha20poly1305"
)

// DefaultLockTimeout is how long OpenStore waits for the store's file lock when
// StoreOptions.Timeout is zero. Another process holding the lock (a second signer on the
// same state directory) makes OpenStore fail after this time instead of waiting forever.
const DefaultLockTimeout = 5 * time.Second

// StoreOptions configures OpenStore.
type StoreOptions struct {
	// ReadOnly opens the store with a shared lock; it must exist and be initialised.
	ReadOnly bool
	// Timeout bounds the wait for the file lock; 0 means DefaultLockTimeout.
	Timeout time.Duration
}

// Store is the sealed key store: one bbolt file, every secret sealed with
// XChaCha20-Poly1305 under a data key derived from the master key. It is safe for
// concurrent use.
type Store struct {
	path string
	mu   sync.RWMutex // guards db and dataKey against Close
	db   *bbolt.DB
	// dataKey is HKDF-SHA256(master key, salt, dataKeyInfo); zeroed by Close.
	dataKey [chacha20poly1305.KeySize]byte
}

const (
	storeFormat  = 1
	saltSize     = 32
	dataKeyInfo  = "keyward/keys/data-key/v1"
	metaBucket   = "meta"
	metaFormat   = "format"
	metaSalt     = "salt"
	metaCheck    = "check"
	blsBucketKey = "bls"
)

// bucketOf names the bucket of a key type.
func bucketOf(t KeyType) []byte {
	switch t {
	case KeyTypeBLS:
		return []byte(blsBucketKey)
	case KeyTypeEd25519, KeyTypeSecp256k1, KeyTypeP256, KeyTypeTezosBLS:
		return []byte(t.String()) // "tz1" … "tz4"
	default:
		panic("keys: internal error: no bucket for " + t.String())
	}
}

// OpenStore opens (creating and initialising if needed, unless ReadOnly) the store at
// path and derives its data key from mk. It refuses a store file that group or others can
// access (Inv 9) and a store sealed under another master key (ErrWrongMasterKey). mk is
// not retained: the caller may Zero it once OpenStore returns.
func OpenStore(path string, mk *MasterKey, opts StoreOptions) (*Store, error) {
	if mk == nil {
		return nil, fmt.Errorf("open key store %s: no master key", path)
	}
	if err := checkSecretPath(path); err != nil {
		return nil, fmt.Errorf("open key store: %w", err)
	}
	timeout := opts.Timeout
	if timeout <= 0 {
		timeout = DefaultLockTimeout
	}
	// Never NoSync: a key is stored only once the commit is durable.
	db, err := bbolt.Open(path, 0o600, &bbolt.Options{Timeout: timeout, ReadOnly: opts.ReadOnly})
	if err != nil {
		if errors.Is(err, bbolt.ErrTimeout) {
			return nil, fmt.Errorf("open key store %s: locked by another process: a running keyward holds it (stop it, or use the Keymanager API /eth/v1/keystores)", path)
		}
		return nil, fmt.Errorf("open key store %s: %w", path, err)
	}
	s := &Store{path: path, db: db}
	if err := s.init(mk, opts.ReadOnly); err != nil {
		clear(s.dataKey[:])
		_ = db.Close()
		return nil, fmt.Errorf("open key store %s: %w", path, err)
	}
	return s, nil
}

// init creates the meta bucket on first use, derives the data key and checks it.
func (s *Store) init(mk *MasterKey, readOnly bool) error {
	if !readOnly {
		err := s.db.Update(func(tx *bbolt.Tx) error {
			if tx.Bucket([]byte(metaBucket)) != nil {
				return nil
			}
			return s.initMeta(tx, mk)
		})
		if err != nil {
			return err
		}
	}
	return s.db.View(func(tx *bbolt.Tx) error {
		m := tx.Bucket([]byte(metaBucket))
		if m == nil {
			return fmt.Errorf("store not initialised: %w", ErrCorrupt)
		}
		if f := m.Get([]byte(metaFormat)); !bytes.Equal(f, []byte{storeFormat}) {
			if len(f) == 1 {
				return fmt.Errorf("store format %d: %w", f[0], ErrUnsupportedFormat)
			}
			return fmt.Errorf("store format: %w", ErrCorrupt)
		}
		salt, check := m.Get([]byte(metaSalt)), m.Get([]byte(metaCheck))
		if len(salt) != saltSize || len(check) != nonceSize+tagSize {
			return fmt.Errorf("store metadata: %w", ErrCorrupt)
		}
		if err := s.deriveDataKey(mk, salt); err != nil {
			return err
		}
		aead, err := s.aead()
		if err != nil {
			return err
		}
		ad := append([]byte(storeCheckInfo), salt...)
		if _, err := aead.Open(nil, check[:nonceSize], check[nonceSize:], ad); err != nil {
			return ErrWrongMasterKey
		}
		return nil
	})
}

func (s *Store) initMeta(tx *bbolt.Tx, mk *MasterKey) error {
	m, err := tx.CreateBucket([]byte(metaBucket))
	if err != nil {
		return err
	}
	salt := make([]byte, saltSize)
	_, _ = rand.Read(salt)
	if err := s.deriveDataKey(mk, salt); err != nil {
		return err
	}
	aead, err := s.aead()
	if err != nil {
		return err
	}
	check := make([]byte, nonceSize, nonceSize+tagSize)
	_, _ = rand.Read(check)
	check = aead.Seal(check, check, nil, append([]byte(storeCheckInfo), salt...))
	for k, v := range map[string][]byte{metaFormat: {storeFormat}, metaSalt: salt, metaCheck: check} {
		if err := m.Put([]byte(k), v); err != nil {
			return err
		}
	}
	return nil
}

func (s *Store) deriveDataKey(mk *MasterKey, salt []byte) error {
	k, err := hkdf.Key(sha256.New, mk.k[:], salt, dataKeyInfo, len(s.dataKey))
	if err != nil {
		return fmt.Errorf("derive data key: %w", err)
	}
	copy(s.dataKey[:], k)
	clear(k)
	return nil
}

// aead returns a cipher under the data key. Its internal key copy lives on the Go heap
// until collected; the data key itself is zeroed by Close.
func (s *Store) aead() (cipher.AEAD, error) {
	a, err := chacha20poly1305.NewX(s.dataKey[:])
	if err != nil {
		return nil, fmt.Errorf("create cipher: %w", err)
	}
	return a, nil
}

// Close zeroes the data key and closes the file. It must not race with other methods'
// callers that have not returned; later calls return ErrClosed.
func (s *Store) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.db == nil {
		return nil
	}
	clear(s.dataKey[:])
	err := s.db.Close()
	s.db = nil
	if err != nil {
		return fmt.Errorf("close key store %s: %w", s.path, err)
	}
	return nil
}

// seal builds a record for secret under the data key (see the package doc for layout).
func seal(aead cipher.AEAD, t KeyType, pub, secret []byte, m *Meta) []byte {
	header := encodeHeader(t, pub, m)
	out := make([]byte, len(header), len(header)+nonceSize+len(secret)+tagSize)
	copy(out, header)
	nonce := out[len(header) : len(header)+nonceSize]
	out = out[:len(header)+nonceSize]
	_, _ = rand.Read(nonce) // random 192-bit nonces never repeat in practice
	return aead.Seal(out, nonce, secret, recordAD(header))
}

// recordAD is the associated data of a record: a label and the whole header, so the
// ciphertext is bound to the version, key type, public key and metadata.
func recordAD(header []byte) []byte {
	ad := make([]byte, 0, len(recordADLabel)+len(header))
	return append(append(ad, recordADLabel...), header...)
}

// PutBLS seals a BLS secret (32-byte big-endian scalar, as in EIP-2335) under the data key
// and stores it with meta. It returns the public key, or ErrExists if that key is already
// stored. The caller keeps ownership of secret and zeroes it.
func (s *Store) PutBLS(secret []byte, meta Meta) ([48]byte, error) {
	return s.putBLS(secret, meta, nil)
}

// putBLS is PutBLS that, when want is not nil, refuses a secret whose public key differs.
func (s *Store) putBLS(secret []byte, meta Meta, want *[48]byte) ([48]byte, error) {
	pub, err := blsPublicFromSecret(secret)
	if err != nil {
		return pub, fmt.Errorf("store key: %w", err)
	}
	if want != nil && pub != *want {
		return pub, fmt.Errorf("store key: derived %#x: %w", pub[:], ErrPublicKeyMismatch)
	}
	if err := meta.validate(); err != nil {
		return pub, fmt.Errorf("store key %#x: %w", pub[:], err)
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.db == nil {
		return pub, fmt.Errorf("store key: %w", ErrClosed)
	}
	aead, err := s.aead()
	if err != nil {
		return pub, fmt.Errorf("store key: %w", err)
	}
	rec := seal(aead, KeyTypeBLS, pub[:], secret, &meta)
	if err := s.putRecords(KeyTypeBLS, [][]byte{pub[:]}, [][]byte{rec}); err != nil {
		return pub, fmt.Errorf("store key %#x: %w", pub[:], err)
	}
	return pub, nil
}

// putRecords stores records in one durable transaction; it refuses any public key already
// present (ErrExists) and then stores none. The caller holds s.mu.
func (s *Store) putRecords(t KeyType, pubs, recs [][]byte) error {
	return s.db.Update(func(tx *bbolt.Tx) error {
		b, err := tx.CreateBucketIfNotExists(bucketOf(t))
		if err != nil {
			return err
		}
		for i, pub := range pubs {
			if b.Get(pub) != nil {
				return fmt.Errorf("%#x: %w", pub, ErrExists)
			}
			if err := b.Put(pub, recs[i]); err != nil {
				return err
			}
		}
		return nil
	})
}

// Delete removes the BLS key pub, or returns ErrNotFound.
func (s *Store) Delete(pub [48]byte) error {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.db == nil {
		return fmt.Errorf("delete key: %w", ErrClosed)
	}
	err := s.db.Update(func(tx *bbolt.Tx) error {
		b := tx.Bucket(bucketOf(KeyTypeBLS))
		if b == nil || b.Get(pub[:]) == nil {
			return ErrNotFound
		}
		return b.Delete(pub[:])
	})
	if err != nil {
		return fmt.Errorf("delete key %#x: %w", pub[:], err)
	}
	return nil
}

// HasBLS reports whether the BLS key pub is stored.
func (s *Store) HasBLS(pub [48]byte) (bool, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.db == nil {
		return false, fmt.Errorf("look up key: %w", ErrClosed)
	}
	var found bool
	err := s.db.View(func(tx *bbolt.Tx) error {
		b := tx.Bucket(bucketOf(KeyTypeBLS))
		found = b != nil && b.Get(pub[:]) != nil
		return nil
	})
	return found, err
}

// List returns every stored key's type, public key and metadata, ordered by type then
// public key. It decrypts nothing; a record that does not decode is an error naming it.
func (s *Store) List() ([]Entry, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.db == nil {
		return nil, fmt.Errorf("list keys: %w", ErrClosed)
	}
	var out []Entry
	err := s.db.View(func(tx *bbolt.Tx) error {
		b := tx.Bucket(bucketOf(KeyTypeBLS))
		if b == nil {
			return nil
		}
		return b.ForEach(func(k, v []byte) error {
			r, err := decodeStored(KeyTypeBLS, k, v)
			if err != nil {
				return err
			}
			out = append(out, Entry{Type: r.typ, PublicKey: bytes.Clone(r.pub), Meta: r.meta})
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("list keys: %w", err)
	}
	return out, nil
}

// decodeStored decodes the record stored under key k of type t's bucket and checks that
// it belongs there. Errors name the key.
func decodeStored(t KeyType, k, v []byte) (*record, error) {
	r, err := decodeRecord(v)
	if err != nil {
		return nil, fmt.Errorf("key %s: %w", hexKey(k), err)
	}
	if r.typ != t || !bytes.Equal(r.pub, k) {
		return nil, fmt.Errorf("key %s: record filed under another key: %w", hexKey(k), ErrCorrupt)
	}
	return r, nil
}

func hexKey(k []byte) string { return "0x" + hex.EncodeToString(k) }
