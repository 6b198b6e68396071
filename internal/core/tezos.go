package core

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/keyward/keyward/internal/config"
	"github.com/keyward/keyward/internal/keys"
	"github.com/keyward/keyward/internal/protect"
	"github.com/keyward/keyward/internal/tezos"
	"github.com/keyward/keyward/internal/wire"
)

// TezosKey is what the core needs of a Tezos key. Implementations keep the secret in
// locked memory (package keys).
type TezosKey interface {
	PublicKey() tezos.PublicKey
	Hash() tezos.PublicKeyHash
	// Sign signs a payload with the key's current scheme (for tz4: POP).
	Sign(payload []byte) ([]byte, error)
	// SignAUG signs with the BLS AUG scheme (Tezos signature version 1); tz4 only.
	SignAUG(payload []byte) ([]byte, error)
	// ProvePossession signs the BLS proof of possession (of override when not nil); tz4 only.
	ProvePossession(override []byte) ([]byte, error)
}

var _ TezosKey = (*keys.TezosKey)(nil)

// TezosGuard is one key's watermark lock (protect.TezosGuard): check, record (durable),
// record the signature (durable), unlock.
type TezosGuard interface {
	Check(wk tezos.WatermarkKey, hash [32]byte) (tezos.Verdict, []byte, error)
	Record(wk tezos.WatermarkKey, hash [32]byte) error
	RecordSignature(wk tezos.WatermarkKey, hash [32]byte, sig []byte) error
	// NoteSignature stores the signature without waiting for its commit; only for keys
	// that sign deterministically (see deterministicSigner).
	NoteSignature(wk tezos.WatermarkKey, hash [32]byte, sig []byte) error
	Unlock()
}

// deterministicSigner is implemented by keys that can tell whether signing the same
// bytes again gives the byte-identical signature (keys.TezosKey: every local kind). For
// those, the signature record after signing need not be durable before answering (the
// mark before signing always is, Inv 5): if it is lost, a retry of the same bytes finds
// the durable mark without a signature, signs again and gets the same signature, so the
// reissue promise (identical bytes, identical signature) still holds. A key that does not
// implement it, or answers false (a future KMS/HSM backend with random ECDSA nonces), keeps
// the durable signature record: there, signing again would give a second, different
// signature of the same bytes.
type deterministicSigner interface {
	DeterministicSignatures() bool
}

// deterministic reports whether key re-signs identical bytes identically whatever the
// request. tz4 keys do not, although BLS itself is deterministic: they sign the same bytes
// under two schemes (AUG for signature version 1, POP otherwise), and it is the durable
// signature that lets a retry under the other version be refused at reissue (a second,
// different signature of the same block would be a second block). If that record were
// lost after the first signature was returned, the retry would be signed. So tz4 keeps
// the durable record.
func deterministic(key TezosKey) bool {
	d, ok := key.(deterministicSigner)
	return ok && d.DeterministicSignatures() && key.Hash().Kind != tezos.KeyKindBLS
}

// TezosProtection is the Tezos high-watermark store.
type TezosProtection interface {
	LockTezos(pkh tezos.PublicKeyHash) (TezosGuard, error)
}

// ProtectTezos adapts a protect.Store to TezosProtection.
func ProtectTezos(s *protect.Store) TezosProtection { return tezosStore{s} }

type tezosStore struct{ s *protect.Store }

func (t tezosStore) LockTezos(pkh tezos.PublicKeyHash) (TezosGuard, error) {
	g, err := t.s.LockTezos(pkh)
	if err != nil {
		return nil, err
	}
	return g, nil
}

// tezosService is the Tezos half of the Service. It is immutable after EnableTezos.
type tezosService struct {
	policy *config.TezosPolicy
	prot   TezosProtection
	keys   map[tezos.PublicKeyHash]TezosKey
	pkhs   []tezos.PublicKeyHash // sorted by their string form, for known_keys
}

// EnableTezos lets the service sign for Tezos keys under policy, with prot as the
// watermark store. It must be called before Serve.
func (s *Service) EnableTezos(policy *config.TezosPolicy, ks []TezosKey, prot TezosProtection) error {
	if policy == nil || prot == nil {
		return errors.New("core: Tezos needs a policy and a watermark store")
	}
	t := &tezosService{policy: policy, prot: prot, keys: make(map[tezos.PublicKeyHash]TezosKey, len(ks))}
	for _, k := range ks {
		if _, dup := t.keys[k.Hash()]; dup {
			return fmt.Errorf("core: Tezos key %s loaded twice", k.Hash())
		}
		t.keys[k.Hash()] = k
		t.pkhs = append(t.pkhs, k.Hash())
	}
	slices.SortFunc(t.pkhs, func(a, b tezos.PublicKeyHash) int { return strings.Compare(a.String(), b.String()) })
	s.tez = t
	return nil
}

// TezosKeyCount returns the number of Tezos keys the service signs with.
func (s *Service) TezosKeyCount() int {
	if s.tez == nil {
		return 0
	}
	return len(s.tez.keys)
}

func tezFail(k wire.Kind, format string, args ...any) *wire.TezosSignResult {
	return &wire.TezosSignResult{Err: wire.Errorf(k, format, args...)}
}

// SignTezos is the whole decision for one Tezos signing request, in order. It never
// returns a consensus signature whose watermark was not recorded durably first, nor any
// signature that was not verified. Every decision becomes an audit event. A request under
// an "approve" rule waits, on the caller's goroutine, for an operator (approval.go).
func (s *Service) SignTezos(r *wire.TezosSignRequest) *wire.TezosSignResult {
	return decideNow(s, s.tezosSigning(r))
}

// signTezos decides; it also returns the decoded payload (nil when decoding failed).
// approved is an operator's approval of this request, on its second pass (nil on the first).
func (s *Service) signTezos(r *wire.TezosSignRequest, approved *grant) (*wire.TezosSignResult, *tezos.Request) {
	t := s.tez
	if t == nil {
		return tezFail(wire.KindUnavailable, "Tezos signing is not enabled in this core"), nil
	}
	if len(r.Payload) == 0 || len(r.Payload) > tezos.MaxPayloadSize {
		return tezFail(wire.KindBadRequest, "payload of %d bytes", len(r.Payload)), nil
	}
	key := t.keys[r.PKH]
	if key == nil {
		return tezFail(wire.KindUnknownKey, "no key %s", r.PKH), nil
	}
	// Inv 4: the authentication signature is verified here, not in the gateway.
	if werr := t.authenticate(r); werr != nil {
		return &wire.TezosSignResult{Err: werr}, nil
	}
	// The magic byte first, as octez-signer does: a payload kind the key may not sign is
	// refused by policy before it is even decoded.
	if kp := t.keyPolicy(r.PKH); !slices.Contains(kp.MagicBytes, r.Payload[0]) {
		return tezFail(wire.KindPolicy, "magic byte 0x%02X not allowed for %s", r.Payload[0], r.PKH), nil
	}
	// Inv 2: the core decodes the payload itself; anything it does not recognise is refused.
	req, err := tezos.Classify(r.Payload)
	if err != nil {
		return tezFail(wire.KindBadRequest, "%v", err), nil
	}
	// Inv 3, Inv 4: the key's own policy: payload kinds, operation kinds, chains.
	if werr := t.allowed(r.PKH, req); werr != nil {
		return &wire.TezosSignResult{Err: werr}, req
	}
	if err := req.CheckKeyKind(r.PKH.Kind); err != nil {
		return tezFail(wire.KindBadRequest, "%v", err), req
	}
	// Inv 4: the key's transaction policy from policy.toml (destinations, daily limit); an
	// "approve" rule passes only with an operator's approval of these very bytes.
	td := s.pol.Load().Tezos(r.PKH, req)
	if werr := policyError(td.Decision, approved, tezos.PayloadHash256(r.Payload)); werr != nil {
		return &wire.TezosSignResult{Err: werr}, req
	}
	sign, werr := signerFor(key, r.Version)
	if werr != nil {
		return &wire.TezosSignResult{Err: werr}, req
	}
	if req.Kind == tezos.RequestGeneric { // no watermark: governed by policy alone
		// The amount is charged durably before the signature exists; a signing failure
		// after it leaves the amount charged (fail closed).
		if werr := s.chargeTezos(r.PKH, td); werr != nil {
			return &wire.TezosSignResult{Err: werr}, req
		}
		return signVerified(key, r.Version, r.Payload, sign), req
	}
	wk, err := req.WatermarkKey()
	if err != nil {
		return tezFail(wire.KindBadRequest, "%v", err), req // fail closed
	}
	hash := tezos.PayloadHash256(r.Payload)
	// Inv 5: lock the key; check; record durably; sign; verify; record the signature
	// (durably, unless the key signs deterministically: see deterministicSigner); only
	// then answer. Other keys do not wait on this one.
	g, err := t.prot.LockTezos(r.PKH)
	if err != nil {
		return tezFail(wire.KindUnavailable, "watermark store unavailable: %v", err), req
	}
	defer g.Unlock()
	verdict, stored, err := g.Check(wk, hash)
	switch verdict {
	case tezos.VerdictReissue: // the same bytes were signed: the same signature, never a new one
		// Inv 6 holds for a stored signature too. It fails when the bytes were signed under
		// another scheme (tz4 AUG vs POP): signing again would make a second, different
		// signature of the same bytes (for a block, a second block), so refuse.
		if !verifyScheme(key.PublicKey(), r.Version, r.Payload, stored) {
			return tezFail(wire.KindProtection, "%s %s: these bytes were already signed with another signature version", r.PKH, wk.Class), req
		}
		return &wire.TezosSignResult{Kind: r.PKH.Kind, Signature: stored}, req
	case tezos.VerdictSign:
	default:
		return tezFail(wire.KindProtection, "%s %s: %v", r.PKH, wk.Class, err), req
	}
	if err := g.Record(wk, hash); err != nil {
		return tezFail(wire.KindUnavailable, "watermark store unavailable: %v", err), req
	}
	res := signVerified(key, r.Version, r.Payload, sign)
	if res.Err != nil {
		return res, req
	}
	record := g.RecordSignature // durable before answering
	if deterministic(key) {
		record = g.NoteSignature // folded into the next group commit; see deterministicSigner
	}
	if err := record(wk, hash, res.Signature); err != nil {
		// The mark is durable; the signature is not returned, so it never left the core.
		return tezFail(wire.KindUnavailable, "watermark store unavailable: %v", err), req
	}
	return res, req
}

// authenticate enforces authenticated requests when authorized keys are configured: the
// signature must verify over 0x04 0x01 ‖ pkh ‖ payload under one of them.
func (t *tezosService) authenticate(r *wire.TezosSignRequest) *wire.Error {
	if len(t.policy.Authorized) == 0 {
		return nil
	}
	if r.Auth == nil {
		return wire.Errorf(wire.KindPolicy, "missing authentication signature field")
	}
	msg, err := tezos.AuthenticationBytes(r.PKH, r.Payload)
	if err != nil {
		return wire.Errorf(wire.KindBadRequest, "%v", err)
	}
	for _, pk := range t.policy.Authorized {
		kind := pk.Kind()
		if r.Auth.Kind != kind && !(r.Auth.Kind == 0 && kind != tezos.KeyKindBLS) {
			continue
		}
		if keys.VerifyTezos(pk, msg, r.Auth.Raw) {
			return nil
		}
	}
	return wire.Errorf(wire.KindPolicy, "invalid authentication signature")
}

// allowed applies the key's policy (its table, or the default: consensus payloads for
// the configured chain only).
func (t *tezosService) allowed(pkh tezos.PublicKeyHash, req *tezos.Request) *wire.Error {
	kp := t.keyPolicy(pkh)
	if !slices.Contains(kp.MagicBytes, req.Magic) {
		return wire.Errorf(wire.KindPolicy, "magic byte 0x%02X not allowed for %s", req.Magic, pkh)
	}
	switch req.Kind {
	case tezos.RequestGeneric:
		for _, op := range req.Operations {
			if !slices.Contains(kp.Operations, op.Kind) {
				return wire.Errorf(wire.KindPolicy, "operation %s not allowed for %s", op.Kind, pkh)
			}
		}
		return nil
	case tezos.RequestBlock, tezos.RequestPreattestation, tezos.RequestAttestation:
		if !slices.Contains(kp.ChainIDs, req.ChainID) {
			return wire.Errorf(wire.KindPolicy, "chain %s not allowed for %s", req.ChainID, pkh)
		}
		return nil
	}
	return wire.Errorf(wire.KindBadRequest, "unclassified payload") // fail closed
}

// keyPolicy returns the key's table, or the default policy.
func (t *tezosService) keyPolicy(pkh tezos.PublicKeyHash) config.TezosKeyPolicy {
	if kp, ok := t.policy.Keys[pkh]; ok {
		return kp
	}
	return t.policy.Default
}

// signerFor picks the signing scheme for the requested signature version: for tz4 keys,
// version 1 is the AUG ciphersuite and 2, 3 (or none) the POP one; version 0 knew no BLS.
// The other kinds sign the same way in every version.
func signerFor(key TezosKey, version byte) (func([]byte) ([]byte, error), *wire.Error) {
	if key.Hash().Kind != tezos.KeyKindBLS {
		return key.Sign, nil
	}
	switch version {
	case 1:
		return key.SignAUG, nil
	case 2, 3, wire.TezosVersionUnset:
		return key.Sign, nil
	}
	return nil, wire.Errorf(wire.KindBadRequest, "signature version %d has no BLS signatures", version)
}

// signVerified signs and, Inv 6, verifies the signature before it may leave the core.
func signVerified(key TezosKey, version byte, payload []byte, sign func([]byte) ([]byte, error)) *wire.TezosSignResult {
	sig, err := sign(payload)
	if err != nil {
		return tezFail(wire.KindUnavailable, "sign: %v", err)
	}
	pk := key.PublicKey()
	if !verifyScheme(pk, version, payload, sig) {
		return tezFail(wire.KindUnavailable, "signature failed verification; key %s may be corrupt", key.Hash())
	}
	return &wire.TezosSignResult{Kind: pk.Kind(), Signature: sig}
}

// verifyScheme verifies sig under the scheme the version selects (tz4 version 1: AUG).
func verifyScheme(pk tezos.PublicKey, version byte, payload, sig []byte) bool {
	if pk.Kind() == tezos.KeyKindBLS && version == 1 {
		return keys.VerifyTezosAUG(pk, payload, sig)
	}
	return keys.VerifyTezos(pk, payload, sig)
}

// TezosProvePossession answers GET /bls_prove_possession when the configuration allows it.
func (s *Service) TezosProvePossession(r *wire.TezosProvePossession) *wire.TezosSignResult {
	t := s.tez
	if t == nil {
		return tezFail(wire.KindUnavailable, "Tezos signing is not enabled in this core")
	}
	if !t.policy.AllowProvePossession {
		return tezFail(wire.KindPolicy, "Request to prove possession is not allowed.")
	}
	key := t.keys[r.PKH]
	if key == nil {
		return tezFail(wire.KindUnknownKey, "no key %s", r.PKH)
	}
	if r.PKH.Kind != tezos.KeyKindBLS {
		return tezFail(wire.KindBadRequest, "%s is not a BLS (tz4) key", r.PKH)
	}
	msg := key.PublicKey().Bytes()
	var override []byte
	if r.Override != nil {
		override = r.Override.Bytes()
		msg = override
	}
	proof, err := key.ProvePossession(override)
	if err != nil {
		return tezFail(wire.KindUnavailable, "prove possession: %v", err)
	}
	if !keys.VerifyPossession(key.PublicKey(), msg, proof) { // Inv 6
		return tezFail(wire.KindUnavailable, "proof failed verification; key %s may be corrupt", r.PKH)
	}
	return &wire.TezosSignResult{Kind: tezos.KeyKindBLS, Signature: proof}
}

// TezosPublicKey returns the public key of pkh.
func (s *Service) TezosPublicKey(pkh tezos.PublicKeyHash) (*wire.TezosPublicKeyResult, *wire.Error) {
	if s.tez == nil || s.tez.keys[pkh] == nil {
		return nil, wire.Errorf(wire.KindUnknownKey, "no key %s", pkh)
	}
	return &wire.TezosPublicKeyResult{PublicKey: s.tez.keys[pkh].PublicKey()}, nil
}

// TezosKnownKeys lists the pkhs when the configuration allows it.
func (s *Service) TezosKnownKeys() (*wire.TezosKeyList, *wire.Error) {
	if s.tez == nil {
		return &wire.TezosKeyList{}, nil
	}
	if !s.tez.policy.AllowKnownKeys {
		return nil, wire.Errorf(wire.KindPolicy, "List known keys request not allowed.")
	}
	return &wire.TezosKeyList{Keys: slices.Clone(s.tez.pkhs)}, nil
}

// TezosAuthorizedKeys says whether requests must be authenticated, and by which keys.
func (s *Service) TezosAuthorizedKeys() *wire.TezosAuthorizedKeys {
	a := &wire.TezosAuthorizedKeys{}
	if s.tez == nil {
		return a
	}
	for _, pk := range s.tez.policy.Authorized {
		a.Required = true
		a.Keys = append(a.Keys, pk.Hash())
	}
	return a
}
