package core

import (
	"bytes"
	"errors"
	"slices"
	"sync"
	"sync/atomic"

	"github.com/keyward/keyward/internal/eth"
	"github.com/keyward/keyward/internal/keys"
	"github.com/keyward/keyward/internal/policy"
	"github.com/keyward/keyward/internal/protect"
	"github.com/keyward/keyward/internal/wire"
)

// BLSKey is what the core needs of an Ethereum key. Implementations keep the secret in
// locked memory (package keys).
type BLSKey interface {
	PublicKey() [48]byte
	// SignPoint signs; the signature stays a point until VerifySignature.
	SignPoint(msg []byte) keys.BLSSignature
	// SignHashed signs the message whose hash to G2 is h (from the Service's
	// keys.BLSHashCache); verification hashes the message again itself (Inv 6).
	SignHashed(h *keys.BLSMessageHash) keys.BLSSignature
	// VerifySignature checks the point with a pairing check and returns its compression
	// only when it holds (Inv 6: the bytes returned encode the point verified).
	VerifySignature(msg []byte, sig keys.BLSSignature) ([96]byte, bool)
	// BatchItem prepares the point for keys.VerifyBLSBatch (verification across requests).
	BatchItem(msg []byte, sig keys.BLSSignature) keys.BLSBatchItem
}

// Protection is the slashing-protection store: each method returns nil only once the
// record is durable, a *protect.Refusal for a slashable request, any other error when the
// record could not be written.
type Protection interface {
	CheckBlock(pub [48]byte, slot uint64, signingRoot [32]byte) error
	CheckAttestation(pub [48]byte, source, target uint64, signingRoot [32]byte) error
}

// Service decides and signs. It is safe for concurrent use.
type Service struct {
	network *eth.Network
	prot    Protection
	admin   *admin                        // key management; nil when the service was built without a key store
	tez     *tezosService                 // Tezos keys and policy (tezos.go); nil when not enabled
	pol     atomic.Pointer[policy.Policy] // per-key policy (Inv 4); swapped whole by SetPolicy
	rec     recorder                      // Tezos daily limits and the audit trail (policy.go)
	appr    approvals                     // requests waiting for an operator (approval.go)

	verifier batchVerifier      // Inv 6 across concurrent requests
	hashes   *keys.BLSHashCache // H(signing root) of recent roots, for signing only

	mu   sync.RWMutex // guards keys and pubs (the map, not the entries)
	keys map[[48]byte]*keyEntry
	pubs [][48]byte // sorted, for ListKeys
}

// keyEntry is one signing key. inUse is read-held by every signing request for the key
// and write-held while the key is disabled, so that a deleted key's history is exported
// only after its last signature was recorded.
type keyEntry struct {
	key      BLSKey
	inUse    sync.RWMutex // guards disabled
	disabled bool
}

// New builds a Service. It refuses missing dependencies.
func New(network *eth.Network, ks []BLSKey, prot Protection) (*Service, error) {
	if network == nil {
		return nil, errors.New("core: no network")
	}
	if prot == nil {
		return nil, errors.New("core: no protection store")
	}
	s := &Service{network: network, keys: make(map[[48]byte]*keyEntry, len(ks)), prot: prot,
		hashes: keys.NewBLSHashCache(hashCacheSize)}
	s.pol.Store(policy.Default()) // fail closed until EnablePolicy: no exit, no deposit, no transfer
	for _, k := range ks {
		s.keys[k.PublicKey()] = &keyEntry{key: k}
	}
	s.sortPubs()
	return s, nil
}

// sortPubs rebuilds the sorted key list; s.mu must be write-held (or s unshared).
func (s *Service) sortPubs() {
	s.pubs = s.pubs[:0]
	for pub := range s.keys {
		s.pubs = append(s.pubs, pub)
	}
	slices.SortFunc(s.pubs, func(a, b [48]byte) int { return bytes.Compare(a[:], b[:]) })
}

// PublicKeys returns the Ethereum public keys the service can sign with, sorted.
func (s *Service) PublicKeys() [][48]byte {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return slices.Clone(s.pubs)
}

// lookup returns the key's entry with inUse read-held, or nil. The caller releases it.
func (s *Service) lookup(pub [48]byte) *keyEntry {
	s.mu.RLock()
	e := s.keys[pub]
	s.mu.RUnlock()
	if e == nil {
		return nil
	}
	e.inUse.RLock()
	if e.disabled {
		e.inUse.RUnlock()
		return nil
	}
	return e
}

// SignEth is the whole decision for one Ethereum signing request, in order. It never
// returns a signature that was not recorded (for blocks and attestations) and verified.
// Every decision becomes an audit event. A request under an "approve" rule waits, on the
// caller's goroutine, for an operator (approval.go); Serve waits on a goroutine of its own.
func (s *Service) SignEth(r *wire.EthSignRequest) *wire.SignResult {
	return decideNow(s, s.ethSigning(r))
}

// signEth decides; it also returns the decoded request (nil when decoding failed).
// approved is an operator's approval of this request, on its second pass (nil on the first).
func (s *Service) signEth(r *wire.EthSignRequest, approved *grant) (*wire.SignResult, *eth.Signable) {
	e := s.lookup(r.Pubkey)
	if e == nil {
		return fail(wire.KindUnknownKey, "no key 0x%x", r.Pubkey[:]), nil
	}
	defer e.inUse.RUnlock() // a key being deleted waits for this request to finish
	key := e.key
	// Inv 2, Inv 3: the root is computed here from the typed body and the pinned network.
	sg, err := s.network.Signable(&r.Req)
	if err != nil {
		return fail(wire.KindBadRequest, "%v", err), nil
	}
	// Inv 4: the key's policy (exits, deposits, registrations), before protection records;
	// an "approve" rule passes only with an operator's approval of this signing root.
	if werr := policyError(s.pol.Load().Eth(r.Pubkey, sg), approved, sg.SigningRoot); werr != nil {
		return &wire.SignResult{Err: werr}, sg
	}
	// Inv 5: protection records durably before the signature exists.
	switch sg.Class {
	case eth.ClassBlock:
		err = s.prot.CheckBlock(r.Pubkey, sg.Slot, sg.SigningRoot)
	case eth.ClassAttestation:
		err = s.prot.CheckAttestation(r.Pubkey, sg.SourceEpoch, sg.TargetEpoch, sg.SigningRoot)
	case eth.ClassOther:
		err = nil // not slashable
	default:
		return fail(wire.KindBadRequest, "unclassified signing request"), sg // fail closed
	}
	if err != nil {
		var ref *protect.Refusal
		if errors.As(err, &ref) {
			return fail(wire.KindProtection, "%v", ref), sg
		}
		return fail(wire.KindUnavailable, "slashing protection unavailable: %v", err), sg
	}
	// Inv 6: verify before the signature leaves the core. The point computed by
	// SignHashed is verified as it is (no decompression, no subgroup check of a point
	// computed here; see keys.BLSKey.VerifySignature and keys.VerifyBLSBatch), against a
	// hash of the root that verification computes itself, and the bytes returned are its
	// compression. Keys signing one root (attestations of a slot) share its hash to G2.
	root := sg.SigningRoot[:]
	h, point := s.signCounted(key, sg.SigningRoot)
	sig, ok := s.verifier.verify(key, root, point)
	if !ok {
		// A corrupted cached hash would fail every key signing that root: evict it and
		// sign once more from a fresh hash, verified alone. A faulty key fails again.
		s.hashes.Evict(sg.SigningRoot, h)
		sig, ok = key.VerifySignature(root, key.SignPoint(root))
	}
	if !ok {
		return fail(wire.KindUnavailable, "signature failed verification; key 0x%x may be corrupt", r.Pubkey[:]), sg
	}
	return &wire.SignResult{Signature: sig}, sg
}

// signCounted signs root from its shared hash with the request counted in
// s.verifier.signing until it joins the verification queue (a batch's leader waits for
// the requests still signing). A panic while hashing or signing uncounts it before it
// propagates (to handleSign's recover, Inv 8), so that no leader ever waits for a request
// that will not come.
func (s *Service) signCounted(key BLSKey, root [32]byte) (*keys.BLSMessageHash, keys.BLSSignature) {
	s.verifier.signing.Add(1)
	signed := false
	defer func() {
		if !signed {
			s.verifier.signing.Add(-1)
		}
	}()
	h := s.hashes.Hash(root)
	sig := key.SignHashed(h)
	signed = true
	return h, sig
}

func fail(k wire.Kind, format string, args ...any) *wire.SignResult {
	return &wire.SignResult{Err: wire.Errorf(k, format, args...)}
}
