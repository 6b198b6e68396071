package core

import (
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/keyward/keyward/internal/keys"
	"github.com/keyward/keyward/internal/protect"
	"github.com/keyward/keyward/internal/secmem"
	"github.com/keyward/keyward/internal/wire"
)

// KeyStore is the sealed key store as the core uses it while running (package keys).
type KeyStore interface {
	ImportKeystore(data, password []byte, name string, now time.Time) keys.ImportResult
	LoadOneBLS(arena *secmem.Arena, pub [48]byte) (*keys.BLSKey, error)
	Delete(pub [48]byte) error
	List() ([]keys.Entry, error)
}

// Interchange is the part of the protection store behind key management (package protect).
type Interchange interface {
	ImportInterchange(data []byte) (*protect.ImportReport, error)
	ExportInterchange(pubkeys [][48]byte) ([]byte, error)
	Brake() (epoch uint64, ok bool)
}

// admin holds what key management needs. Operations are serialized by busy: one at a
// time, others refused as unavailable rather than queued (they can take minutes: one
// scrypt keystore costs about a second).
type admin struct {
	store       KeyStore
	inter       Interchange
	requireLock bool
	now         func() time.Time
	busy        chan struct{} // one slot: held for the duration of an operation

	arenas []*secmem.Arena // arenas of keys added while running; guarded by busy
}

// EnableKeyManagement lets the service import and delete keys while it runs. It must be
// called before Serve.
func (s *Service) EnableKeyManagement(store KeyStore, inter Interchange, requireLock bool) error {
	if store == nil || inter == nil {
		return errors.New("core: key management needs a key store and a protection store")
	}
	s.admin = &admin{store: store, inter: inter, requireLock: requireLock, now: time.Now, busy: make(chan struct{}, 1)}
	return nil
}

// errBusy is the answer while another key-management operation runs.
var errBusy = wire.Errorf(wire.KindUnavailable, "another key management operation is in progress")

func (s *Service) acquireAdmin() (*admin, *wire.Error) {
	if s.admin == nil {
		return nil, wire.Errorf(wire.KindUnavailable, "key management is not enabled in this core")
	}
	select {
	case s.admin.busy <- struct{}{}:
		return s.admin, nil
	default:
		return nil, errBusy
	}
}

// ImportKeystores imports the interchange first (all or nothing: protection before keys),
// then each keystore: sealed under the master key, loaded into locked memory, and only
// then made available for signing.
func (s *Service) ImportKeystores(r *wire.KeystoreImport) ([]wire.KeystoreStatus, *wire.Error) {
	a, werr := s.acquireAdmin()
	if werr != nil {
		return nil, werr
	}
	defer func() { <-a.busy }()
	defer func() {
		for _, pw := range r.Passwords {
			clear(pw)
		}
	}()
	out := make([]wire.KeystoreStatus, len(r.Keystores))
	if len(r.Interchange) > 0 {
		// Inv 5: history arrives before the key can sign, so nothing it protects is lost.
		if _, err := a.inter.ImportInterchange(r.Interchange); err != nil {
			for i := range out {
				out[i] = wire.KeystoreStatus{Status: "error", Message: "slashing protection not imported: " + err.Error()}
			}
			return out, nil
		}
	}
	if len(r.Keystores) == 0 {
		return out, nil
	}
	arena, err := secmem.New(len(r.Keystores), keys.BLSSlotSize, a.requireLock)
	if err != nil {
		return nil, wire.Errorf(wire.KindUnavailable, "allocate key memory: %v", err)
	}
	used := false
	for i := range r.Keystores {
		res := a.store.ImportKeystore(r.Keystores[i], r.Passwords[i], fmt.Sprintf("keystores[%d]", i), a.now())
		switch res.Status {
		case keys.ImportImported, keys.ImportExists:
			if e := s.lookup(res.PublicKey); e != nil {
				e.inUse.RUnlock()
				out[i] = wire.KeystoreStatus{Status: "duplicate"}
				continue
			}
			k, err := a.store.LoadOneBLS(arena, res.PublicKey)
			if err != nil {
				out[i] = wire.KeystoreStatus{Status: "error", Message: err.Error()}
				continue
			}
			used = true
			s.mu.Lock()
			s.keys[res.PublicKey] = &keyEntry{key: k}
			s.sortPubs()
			s.mu.Unlock()
			out[i] = wire.KeystoreStatus{Status: "imported"}
		default:
			msg := "not imported"
			if res.Err != nil {
				msg = res.Err.Error()
			}
			out[i] = wire.KeystoreStatus{Status: "error", Message: msg}
		}
	}
	if used {
		a.arenas = append(a.arenas, arena)
	} else {
		arena.Destroy()
	}
	return out, nil
}

// DeleteKeystores disables each key (waiting for its signing requests in flight), then
// exports the history of the deleted and inactive keys, then deletes them from the store.
func (s *Service) DeleteKeystores(r *wire.KeystoreDelete) (*wire.KeystoreDeleteResult, *wire.Error) {
	a, werr := s.acquireAdmin()
	if werr != nil {
		return nil, werr
	}
	defer func() { <-a.busy }()
	res := &wire.KeystoreDeleteResult{Statuses: make([]wire.KeystoreStatus, len(r.Pubkeys))}
	var removed []*keyEntry
	s.mu.Lock()
	for i, pub := range r.Pubkeys {
		if e, ok := s.keys[pub]; ok {
			delete(s.keys, pub)
			removed = append(removed, e)
			res.Statuses[i] = wire.KeystoreStatus{Status: "deleted"}
		}
	}
	s.sortPubs()
	s.mu.Unlock()
	for _, e := range removed {
		e.inUse.Lock() // waits until no request is signing with this key
		e.disabled = true
		e.inUse.Unlock()
	}
	// Only now, with every removed key unable to sign, is its history complete.
	inter, err := a.inter.ExportInterchange(r.Pubkeys)
	if err != nil {
		s.restore(removed)
		return nil, wire.Errorf(wire.KindUnavailable, "export slashing protection: %v", err)
	}
	known, err := interchangeKeys(inter)
	if err != nil {
		s.restore(removed)
		return nil, wire.Errorf(wire.KindUnavailable, "read exported slashing protection: %v", err)
	}
	res.SlashingProtection = string(inter)
	for i, pub := range r.Pubkeys {
		switch {
		case res.Statuses[i].Status == "deleted":
			if err := a.store.Delete(pub); err != nil && !errors.Is(err, keys.ErrNotFound) {
				res.Statuses[i] = wire.KeystoreStatus{Status: "error", Message: "disabled, but not deleted from the key store: " + err.Error()}
			}
		case known[pub]:
			res.Statuses[i] = wire.KeystoreStatus{Status: "not_active"}
		default:
			res.Statuses[i] = wire.KeystoreStatus{Status: "not_found"}
		}
	}
	for _, e := range removed {
		if d, ok := e.key.(interface{ Destroy() }); ok {
			d.Destroy()
		}
	}
	return res, nil
}

// restore re-enables keys whose deletion could not complete.
func (s *Service) restore(es []*keyEntry) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, e := range es {
		e.inUse.Lock()
		e.disabled = false
		e.inUse.Unlock()
		s.keys[e.key.PublicKey()] = e
	}
	s.sortPubs()
}

// interchangeKeys lists the public keys present in an EIP-3076 document.
func interchangeKeys(doc []byte) (map[[48]byte]bool, error) {
	var d struct {
		Data []struct {
			Pubkey string `json:"pubkey"`
		} `json:"data"`
	}
	if err := json.Unmarshal(doc, &d); err != nil {
		return nil, err
	}
	out := make(map[[48]byte]bool, len(d.Data))
	for _, e := range d.Data {
		var pub [48]byte
		h := e.Pubkey
		if len(h) == 98 && h[:2] == "0x" {
			if _, err := hex.Decode(pub[:], []byte(h[2:])); err == nil {
				out[pub] = true
			}
		}
	}
	return out, nil
}

// ListKeystores lists the active keys with their derivation paths.
func (s *Service) ListKeystores() ([]wire.KeystoreInfo, *wire.Error) {
	paths := map[string]string{}
	if s.admin != nil {
		entries, err := s.admin.store.List()
		if err != nil {
			return nil, wire.Errorf(wire.KindUnavailable, "list key store: %v", err)
		}
		for _, e := range entries {
			paths[string(e.PublicKey)] = e.Meta.Path
		}
	}
	pubs := s.PublicKeys()
	out := make([]wire.KeystoreInfo, len(pubs))
	for i, pub := range pubs {
		out[i] = wire.KeystoreInfo{Pubkey: "0x" + hex.EncodeToString(pub[:]), DerivationPath: paths[string(pub[:])]}
	}
	return out, nil
}

// HighWatermark reports the emergency brake.
func (s *Service) HighWatermark() (*wire.HighWatermark, *wire.Error) {
	if s.admin == nil {
		return &wire.HighWatermark{}, nil
	}
	epoch, ok := s.admin.inter.Brake()
	if !ok {
		return &wire.HighWatermark{}, nil
	}
	return &wire.HighWatermark{Epoch: fmt.Sprint(epoch), Slot: fmt.Sprint(epoch * s.network.SlotsPerEpoch)}, nil
}

// destroyAdmin zeroes the arenas of keys added while running.
func (s *Service) destroyAdmin() {
	if s.admin == nil {
		return
	}
	for _, a := range s.admin.arenas {
		a.Destroy()
	}
}
