package keys

import (
	"bytes"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.etcd.io/bbolt"

	"github.com/keyward/keyward/internal/secmem"
)

// A fixed valid secret (the EIP-2335 vector) and one ≥ r.
var (
	testSecret, _ = hex.DecodeString("000000000019d6689c085ae165831e934ff763ae46a2a6c172b3f1b60a8ce26f")
	testPub, _    = hex.DecodeString("9612d7a727c9d0a22e185a1c768478dfe919cada9266988cb32359c11f2b7b27f4ae4040902382ae2910c15e2b420d07")
)

// rawUpdate closes s and edits its bbolt file directly, for tampering tests.
func rawUpdate(t *testing.T, s *Store, path string, fn func(tx *bbolt.Tx) error) {
	t.Helper()
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	db, err := bbolt.Open(path, 0o600, &bbolt.Options{Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Update(fn); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
}

func reopen(t *testing.T, path string, mk *MasterKey) *Store {
	t.Helper()
	s, err := OpenStore(path, mk, StoreOptions{Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func TestPutListDelete(t *testing.T) {
	s, _, _ := testStore(t)
	meta := Meta{Source: SourceImported, Created: time.Unix(1_700_000_123, 0), Path: "m/12381/3600/0/0/0",
		UUID: "1d85ae20-35c5-4611-98e8-aa14a633906f", Description: "test"}
	pub, err := s.PutBLS(testSecret, meta)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(pub[:], testPub) {
		t.Fatalf("pub %x", pub)
	}
	list, err := s.List()
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 1 || list[0].Type != KeyTypeBLS || !bytes.Equal(list[0].PublicKey, testPub) ||
		list[0].Meta.Path != meta.Path || list[0].Meta.UUID != meta.UUID || list[0].Meta.Description != "test" ||
		list[0].Meta.Source != SourceImported || !list[0].Meta.Created.Equal(meta.Created) {
		t.Fatalf("list = %+v", list)
	}
	if err := s.Delete(pub); err != nil {
		t.Fatal(err)
	}
	if list, _ := s.List(); len(list) != 0 {
		t.Fatalf("after delete: %+v", list)
	}
	keys, err := s.LoadBLS(testArena(t, 4))
	if err != nil || len(keys) != 0 {
		t.Fatalf("load after delete: %v %v", keys, err)
	}
}

func TestPutBLSErrExists(t *testing.T) {
	s, _, _ := testStore(t)
	if _, err := s.PutBLS(testSecret, genMeta()); err != nil {
		t.Fatal(err)
	}
	if _, err := s.PutBLS(testSecret, genMeta()); !errors.Is(err, ErrExists) {
		t.Fatalf("duplicate: %v, want ErrExists", err)
	}
}

func TestDeleteErrNotFound(t *testing.T) {
	s, _, _ := testStore(t)
	var pub [48]byte
	copy(pub[:], testPub)
	if err := s.Delete(pub); !errors.Is(err, ErrNotFound) {
		t.Fatalf("delete absent: %v, want ErrNotFound", err)
	}
}

func TestStoreErrClosed(t *testing.T) {
	s, _, _ := testStore(t)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if s.dataKey != ([32]byte{}) {
		t.Fatal("Close left the data key")
	}
	if _, err := s.PutBLS(testSecret, genMeta()); !errors.Is(err, ErrClosed) {
		t.Fatalf("put after close: %v", err)
	}
	if _, err := s.List(); !errors.Is(err, ErrClosed) {
		t.Fatalf("list after close: %v", err)
	}
	if _, err := s.LoadBLS(testArena(t, 1)); !errors.Is(err, ErrClosed) {
		t.Fatalf("load after close: %v", err)
	}
}

func TestPutBLSErrInvalidSecretKey(t *testing.T) {
	s, _, _ := testStore(t)
	r, _ := hex.DecodeString("73eda753299d7d483339d80809a1d80553bda402fffe5bfeffffffff00000001")
	for _, secret := range [][]byte{make([]byte, 32), r, testSecret[:31], append(bytes.Clone(testSecret), 0)} {
		if _, err := s.PutBLS(secret, genMeta()); !errors.Is(err, ErrInvalidSecretKey) {
			t.Fatalf("secret %x: %v, want ErrInvalidSecretKey", secret, err)
		}
	}
}

func TestPutBLSErrInvalidMeta(t *testing.T) {
	s, _, _ := testStore(t)
	for _, m := range []Meta{
		{},                                     // unknown source: fail closed
		{Source: Source(7)},                    // unknown source
		{Source: SourceImported, Path: "x/1"},  // not a path
		{Source: SourceImported, Path: "m/01"}, // leading zero
		{Source: SourceImported, Path: "m/4294967296"},
		{Source: SourceImported, Description: strings.Repeat("d", maxDescriptionLen+1)},
		{Source: SourceImported, UUID: "\xff"},
		{Source: SourceImported, Created: time.Unix(-1, 0)},
	} {
		if _, err := s.PutBLS(testSecret, m); !errors.Is(err, ErrInvalidMeta) {
			t.Fatalf("meta %+v: %v, want ErrInvalidMeta", m, err)
		}
	}
	if _, err := GenerateBLS(s, 1, Meta{Path: "m/1"}); !errors.Is(err, ErrInvalidMeta) {
		t.Fatalf("generate with path: %v", err)
	}
}

func TestOpenStoreErrWrongMasterKey(t *testing.T) {
	s, path, _ := testStore(t)
	if _, err := GenerateBLS(s, 2, genMeta()); err != nil {
		t.Fatal(err)
	}
	s.Close()
	other := filepath.Join(t.TempDir(), "other.key")
	if err := CreateMasterKey(other); err != nil {
		t.Fatal(err)
	}
	mk2, err := LoadMasterKey(other)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := OpenStore(path, mk2, StoreOptions{Timeout: time.Second}); !errors.Is(err, ErrWrongMasterKey) {
		t.Fatalf("wrong master key: %v, want ErrWrongMasterKey", err)
	}
}

// TestWrongMasterKeyRecordsDoNotOpen: even past the store check (a record copied from a
// store under another master key), the record fails to authenticate.
func TestWrongMasterKeyRecordsDoNotOpen(t *testing.T) {
	s1, path1, _ := testStore(t)
	pubs, err := GenerateBLS(s1, 1, genMeta())
	if err != nil {
		t.Fatal(err)
	}
	var rec []byte
	s1.db.View(func(tx *bbolt.Tx) error {
		rec = bytes.Clone(tx.Bucket(bucketOf(KeyTypeBLS)).Get(pubs[0][:]))
		return nil
	})
	_ = path1
	s2, path2, mk2 := testStore(t)
	rawUpdate(t, s2, path2, func(tx *bbolt.Tx) error {
		b, err := tx.CreateBucketIfNotExists(bucketOf(KeyTypeBLS))
		if err != nil {
			return err
		}
		return b.Put(pubs[0][:], rec)
	})
	s2 = reopen(t, path2, mk2)
	_, err = s2.LoadBLS(testArena(t, 2))
	if !errors.Is(err, ErrUnseal) || !strings.Contains(err.Error(), hex.EncodeToString(pubs[0][:])) {
		t.Fatalf("foreign record: %v, want ErrUnseal naming the key", err)
	}
}

// TestInv1TamperedRecordFails: flipping any byte of a record makes the load fail, naming
// the key, and no key is returned.
func TestInv1TamperedRecordFails(t *testing.T) {
	s, path, mk := testStore(t)
	pubs, err := GenerateBLS(s, 3, genMeta())
	if err != nil {
		t.Fatal(err)
	}
	victim := pubs[1]
	var recLen int
	s.db.View(func(tx *bbolt.Tx) error {
		recLen = len(tx.Bucket(bucketOf(KeyTypeBLS)).Get(victim[:]))
		return nil
	})
	s.Close()
	for i := 0; i < recLen; i++ {
		s := reopen(t, path, mk)
		rawUpdate(t, s, path, func(tx *bbolt.Tx) error {
			b := tx.Bucket(bucketOf(KeyTypeBLS))
			v := bytes.Clone(b.Get(victim[:]))
			v[i] ^= 0x01
			return b.Put(victim[:], v)
		})
		s = reopen(t, path, mk)
		keys, err := s.LoadBLS(testArena(t, 4))
		if err == nil || keys != nil {
			t.Fatalf("byte %d flipped: load succeeded", i)
		}
		if !strings.Contains(err.Error(), hex.EncodeToString(victim[:])) {
			t.Fatalf("byte %d: error does not name the key: %v", i, err)
		}
		if !errors.Is(err, ErrUnseal) && !errors.Is(err, ErrCorrupt) && !errors.Is(err, ErrUnsupportedFormat) {
			t.Fatalf("byte %d: %v", i, err)
		}
		// Undo for the next round.
		rawUpdate(t, s, path, func(tx *bbolt.Tx) error {
			b := tx.Bucket(bucketOf(KeyTypeBLS))
			v := bytes.Clone(b.Get(victim[:]))
			v[i] ^= 0x01
			return b.Put(victim[:], v)
		})
	}
	s = reopen(t, path, mk)
	if keys, err := s.LoadBLS(testArena(t, 4)); err != nil || len(keys) != 3 {
		t.Fatalf("after undo: %d keys, %v", len(keys), err)
	}
}

// TestLoadBLSErrUnsealSwappedRecords: exchanging two records' nonce+ciphertext (or whole values) fails.
func TestLoadBLSErrUnsealSwappedRecords(t *testing.T) {
	s, path, mk := testStore(t)
	pubs, err := GenerateBLS(s, 2, genMeta())
	if err != nil {
		t.Fatal(err)
	}
	a, b := pubs[0][:], pubs[1][:]
	rawUpdate(t, s, path, func(tx *bbolt.Tx) error {
		bk := tx.Bucket(bucketOf(KeyTypeBLS))
		va, vb := bytes.Clone(bk.Get(a)), bytes.Clone(bk.Get(b))
		tail := nonceSize + blsSecretSize + tagSize
		ta := bytes.Clone(va[len(va)-tail:])
		copy(va[len(va)-tail:], vb[len(vb)-tail:])
		copy(vb[len(vb)-tail:], ta)
		if err := bk.Put(a, va); err != nil {
			return err
		}
		return bk.Put(b, vb)
	})
	s = reopen(t, path, mk)
	if _, err := s.LoadBLS(testArena(t, 4)); !errors.Is(err, ErrUnseal) {
		t.Fatalf("swapped ciphertexts: %v, want ErrUnseal", err)
	}
	// Whole values swapped: each record is now filed under the other's key.
	rawUpdate(t, s, path, func(tx *bbolt.Tx) error {
		bk := tx.Bucket(bucketOf(KeyTypeBLS))
		va, vb := bytes.Clone(bk.Get(a)), bytes.Clone(bk.Get(b))
		if err := bk.Put(a, vb); err != nil {
			return err
		}
		return bk.Put(b, va)
	})
	s = reopen(t, path, mk)
	if _, err := s.LoadBLS(testArena(t, 4)); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("swapped records: %v, want ErrCorrupt", err)
	}
	if _, err := s.List(); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("list swapped records: %v, want ErrCorrupt", err)
	}
}

func TestLoadBLSErrCorrupt(t *testing.T) {
	s, path, mk := testStore(t)
	pubs, err := GenerateBLS(s, 1, genMeta())
	if err != nil {
		t.Fatal(err)
	}
	rawUpdate(t, s, path, func(tx *bbolt.Tx) error {
		b := tx.Bucket(bucketOf(KeyTypeBLS))
		v := b.Get(pubs[0][:])
		return b.Put(pubs[0][:], bytes.Clone(v[:len(v)-1]))
	})
	s = reopen(t, path, mk)
	if _, err := s.LoadBLS(testArena(t, 2)); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("truncated record: %v, want ErrCorrupt", err)
	}
}

func TestErrUnsupportedFormat(t *testing.T) {
	s, path, mk := testStore(t)
	pubs, err := GenerateBLS(s, 1, genMeta())
	if err != nil {
		t.Fatal(err)
	}
	rawUpdate(t, s, path, func(tx *bbolt.Tx) error {
		b := tx.Bucket(bucketOf(KeyTypeBLS))
		v := bytes.Clone(b.Get(pubs[0][:]))
		v[0] = 2 // record version
		return b.Put(pubs[0][:], v)
	})
	s = reopen(t, path, mk)
	if _, err := s.LoadBLS(testArena(t, 2)); !errors.Is(err, ErrUnsupportedFormat) {
		t.Fatalf("record version 2: %v, want ErrUnsupportedFormat", err)
	}
	rawUpdate(t, s, path, func(tx *bbolt.Tx) error {
		return tx.Bucket([]byte(metaBucket)).Put([]byte(metaFormat), []byte{2})
	})
	if _, err := OpenStore(path, mk, StoreOptions{Timeout: time.Second}); !errors.Is(err, ErrUnsupportedFormat) {
		t.Fatalf("store format 2: %v, want ErrUnsupportedFormat", err)
	}
}

func TestLoadBLSErrSlotSize(t *testing.T) {
	s, _, _ := testStore(t)
	if _, err := GenerateBLS(s, 1, genMeta()); err != nil {
		t.Fatal(err)
	}
	a, err := secmem.New(4, 32, false)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Destroy()
	if _, err := s.LoadBLS(a); !errors.Is(err, ErrSlotSize) {
		t.Fatalf("32-byte slots: %v, want ErrSlotSize", err)
	}
}

// TestLoadBLSArenaFull: on failure every key already loaded is destroyed and its slot freed.
func TestLoadBLSArenaFull(t *testing.T) {
	s, _, _ := testStore(t)
	if _, err := GenerateBLS(s, 100, genMeta()); err != nil {
		t.Fatal(err)
	}
	a, err := secmem.New(1, BLSSlotSize, false) // one page: 64 slots
	if err != nil {
		t.Fatal(err)
	}
	defer a.Destroy()
	if _, err := s.LoadBLS(a); !errors.Is(err, secmem.ErrFull) {
		t.Fatalf("arena too small: %v, want secmem.ErrFull", err)
	}
	// All slots must be free again.
	for i := 0; i < os.Getpagesize()/BLSSlotSize; i++ {
		slot, err := a.Alloc()
		if err != nil {
			t.Fatalf("slot %d not freed: %v", i, err)
		}
		if !bytes.Equal(slot, make([]byte, len(slot))) {
			t.Fatal("freed slot not zero")
		}
	}
}

func TestParseBLSPublicKeyErrInvalidPublicKey(t *testing.T) {
	for _, b := range [][]byte{nil, testPub[:47], append(bytes.Clone(testPub), 0), make([]byte, 48)} {
		if _, err := ParseBLSPublicKey(b); !errors.Is(err, ErrInvalidPublicKey) {
			t.Fatalf("%x: %v, want ErrInvalidPublicKey", b, err)
		}
	}
	if _, err := ParseBLSPublicKey(testPub); err != nil {
		t.Fatal(err)
	}
}

func TestOpenStoreErrInsecureFile(t *testing.T) {
	s, path, mk := testStore(t)
	s.Close()
	if err := os.Chmod(path, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := OpenStore(path, mk, StoreOptions{Timeout: time.Second}); !errors.Is(err, ErrInsecureFile) {
		t.Fatalf("store mode 0644: %v, want ErrInsecureFile", err)
	}
}

func TestOpenStoreReadOnlyAndLock(t *testing.T) {
	s, path, mk := testStore(t)
	pubs, err := GenerateBLS(s, 2, genMeta())
	if err != nil {
		t.Fatal(err)
	}
	// A second writer waits for the flock and gives up after the timeout.
	if _, err := OpenStore(path, mk, StoreOptions{Timeout: 50 * time.Millisecond}); err == nil {
		t.Fatal("second writer opened a locked store")
	}
	s.Close()
	ro, err := OpenStore(path, mk, StoreOptions{ReadOnly: true, Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer ro.Close()
	keys, err := ro.LoadBLS(testArena(t, 4))
	if err != nil || len(keys) != 2 {
		t.Fatalf("read-only load: %d %v", len(keys), err)
	}
	if _, err := ro.PutBLS(testSecret, genMeta()); err == nil {
		t.Fatal("put into a read-only store")
	}
	if err := ro.Delete(pubs[0]); err == nil {
		t.Fatal("delete from a read-only store")
	}
	if _, err := OpenStore(filepath.Join(t.TempDir(), "none.db"), mk, StoreOptions{ReadOnly: true, Timeout: time.Second}); err == nil {
		t.Fatal("read-only open of a missing store")
	}
}

// TestBLSKeyRedacted: printing a key shows its public key only (STYLE rule 13).
func TestBLSKeyRedacted(t *testing.T) {
	s, _, _ := testStore(t)
	if _, err := s.PutBLS(testSecret, genMeta()); err != nil {
		t.Fatal(err)
	}
	keys, err := s.LoadBLS(testArena(t, 1))
	if err != nil {
		t.Fatal(err)
	}
	k := keys[0]
	defer k.Destroy()
	secretHex := hex.EncodeToString(testSecret)
	for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%x", "%q"} {
		for _, arg := range []any{k, *k} {
			out := fmt.Sprintf(verb, arg)
			if strings.Contains(out, secretHex[10:]) || !strings.Contains(out, hex.EncodeToString(testPub)) || strings.Contains(out, "[") {
				t.Fatalf("%s: %s", verb, out)
			}
		}
	}
}

// putSealed writes a record sealed under s's data key directly, bypassing PutBLS checks.
func putSealed(t *testing.T, s *Store, pub, secret []byte) {
	t.Helper()
	aead, err := s.aead()
	if err != nil {
		t.Fatal(err)
	}
	m := genMeta()
	rec := seal(aead, KeyTypeBLS, pub, secret, &m)
	if err := s.putRecords(KeyTypeBLS, [][]byte{pub}, [][]byte{rec}); err != nil {
		t.Fatal(err)
	}
}

// TestLoadBLSChecksAuthenticatedContent: a record that authenticates but holds a zero
// scalar or a public key outside G1 is still refused at load.
func TestLoadBLSChecksAuthenticatedContent(t *testing.T) {
	t.Run("zero scalar", func(t *testing.T) {
		s, _, _ := testStore(t)
		putSealed(t, s, testPub, make([]byte, 32))
		if _, err := s.LoadBLS(testArena(t, 2)); !errors.Is(err, ErrInvalidSecretKey) {
			t.Fatalf("zero scalar: %v, want ErrInvalidSecretKey", err)
		}
	})
	t.Run("infinity public key", func(t *testing.T) {
		s, _, _ := testStore(t)
		inf := append([]byte{0xc0}, make([]byte, 47)...)
		putSealed(t, s, inf, testSecret)
		if _, err := s.LoadBLS(testArena(t, 2)); !errors.Is(err, ErrInvalidPublicKey) {
			t.Fatalf("infinity: %v, want ErrInvalidPublicKey", err)
		}
	})
}
