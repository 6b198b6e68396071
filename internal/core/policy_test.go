package core

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/keyward/keyward/internal/audit"
	"github.com/keyward/keyward/internal/config"
	"github.com/keyward/keyward/internal/eth"
	"github.com/keyward/keyward/internal/policy"
	"github.com/keyward/keyward/internal/tezos"
	"github.com/keyward/keyward/internal/wire"
)

// memAudit collects events; it is safe for concurrent use.
type memAudit struct {
	mu     sync.Mutex // guards events
	events []audit.Event
}

func (m *memAudit) Append(ev audit.Event) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.events = append(m.events, ev)
	return nil
}

// snapshot returns the events so far.
func (m *memAudit) snapshot() []audit.Event {
	m.mu.Lock()
	defer m.mu.Unlock()
	return slices.Clone(m.events)
}

func (m *memAudit) last(t *testing.T) audit.Event {
	t.Helper()
	evs := m.snapshot()
	if len(evs) == 0 {
		t.Fatal("no audit event")
	}
	return evs[len(evs)-1]
}

// allowTransfers puts in force a policy.toml that lets pkh send payload's destination
// times n its amount per day, with an in-memory ledger.
func allowTransfers(t *testing.T, s *Service, pkh tezos.PublicKeyHash, payload []byte, n uint64) *memAudit {
	t.Helper()
	req := mustClassify(t, payload)
	var dst string
	var amount uint64
	for _, op := range req.Operations {
		if op.Kind == tezos.OpTransaction {
			dst, amount = op.Destination.String(), amount+op.Amount
		}
	}
	p, err := policy.Parse(fmt.Appendf(nil, "[tezos.keys.%q]\ntransaction = \"allow\"\ndestinations = [%q]\ndaily_limit_mutez = %d\n", pkh.String(), dst, n*amount))
	if err != nil {
		t.Fatal(err)
	}
	a := &memAudit{}
	if err := s.EnablePolicy(PolicyOptions{Policy: p, Ledger: &policy.MemLedger{}, Audit: a}); err != nil {
		t.Fatal(err)
	}
	return a
}

func mustClassify(t *testing.T, payload []byte) *tezos.Request {
	t.Helper()
	req, err := tezos.Classify(payload)
	if err != nil {
		t.Fatal(err)
	}
	return req
}

// transferService is a service whose tz1 key may sign generic operations holding
// transactions (keyward.toml's side of the policy), and a transfer payload.
func transferService(t *testing.T) (*Service, tezos.PublicKeyHash, []byte) {
	t.Helper()
	cfg := config.DefaultTezos()
	s, ks := newTezosService(t, cfg)
	tz1 := ks[0].Hash()
	cfg.Keys[tz1.String()] = config.TezosKey{MagicBytes: []string{"0x03"}, Operations: []string{"transaction"}, ChainIDs: []string{config.MainnetChainID}}
	pol, err := cfg.Policy()
	if err != nil {
		t.Fatal(err)
	}
	if err := s.EnableTezos(pol, []TezosKey{ks[0]}, s3Prot(t)); err != nil {
		t.Fatal(err)
	}
	tr, _ := hex.DecodeString(transferHex)
	return s, tz1, tr
}

// TestTezosTransfer_HostileClient_Inv4: a transfer over the daily limit and a transfer to
// an unknown destination are refused by policy and recorded in the audit trail; under an
// approve rule, a transfer nobody approves is refused when the approval times out.
func TestTezosTransfer_HostileClient_Inv4(t *testing.T) {
	s, tz1, tr := transferService(t)
	sign := func() *wire.TezosSignResult {
		return s.SignTezos(&wire.TezosSignRequest{PKH: tz1, Version: wire.TezosVersionUnset, Payload: tr})
	}
	a := allowTransfers(t, s, tz1, tr, 2)
	for i := range 2 {
		if res := sign(); res.Err != nil {
			t.Fatalf("transfer %d within the limit: %v", i, res.Err)
		}
		if ev := a.last(t); ev.Decision != audit.Signed || ev.Chain != "tezos" || ev.Key != tz1.String() || ev.Amount == nil || ev.Destination == "" {
			t.Fatalf("audit of a signed transfer: %+v", ev)
		}
	}
	res := sign()
	if res.Err == nil || res.Err.Kind != wire.KindPolicy || !strings.Contains(res.Err.Msg, "over the daily limit") {
		t.Fatalf("third transfer: %+v", res.Err)
	}
	if ev := a.last(t); ev.Decision != audit.Refused || !strings.Contains(ev.Reason, "over the daily limit") || ev.Kind != "generic: transaction" {
		t.Fatalf("audit of the refused transfer: %+v", ev)
	}

	// Another destination.
	p, err := policy.Parse(fmt.Appendf(nil, "[tezos.keys.%q]\ntransaction = \"allow\"\ndestinations = [%q]\ndaily_limit_mutez = 1000000000\n", tz1.String(), tz1.String())) // its own address: not the transfer's destination
	if err != nil {
		t.Fatal(err)
	}
	if err := s.SetPolicy(p); err != nil {
		t.Fatal(err)
	}
	res = sign()
	if res.Err == nil || res.Err.Kind != wire.KindPolicy || !strings.Contains(res.Err.Msg, "destination not in the key's destinations") {
		t.Fatalf("unknown destination: %+v", res.Err)
	}
	if ev := a.last(t); ev.Decision != audit.Refused || !strings.Contains(ev.Reason, "destination") {
		t.Fatalf("audit of the unknown destination: %+v", ev)
	}

	// An approve rule: the request waits for an operator; nobody decides: refused when the
	// approval times out, recorded as asked, expired, refused.
	p, err = policy.Parse(fmt.Appendf(nil, "[tezos.keys.%q]\ntransaction = \"approve\"\ndestinations = [%q]\ndaily_limit_mutez = 1000000000\n", tz1.String(), a.snapshot()[0].Destination))
	if err != nil {
		t.Fatal(err)
	}
	if err := s.SetPolicy(p); err != nil {
		t.Fatal(err)
	}
	clock := newFakeClock()
	if err := s.EnableApprovals(ApprovalOptions{Now: clock.Now, After: clock.After}); err != nil {
		t.Fatal(err)
	}
	done := make(chan *wire.TezosSignResult, 1)
	go func() { done <- sign() }()
	clock.waitArmed(t, 1)
	pa := onlyPending(t, s)
	clock.advance(2 * time.Minute)
	if res = <-done; res.Err == nil || res.Err.Kind != wire.KindPolicy || !strings.Contains(res.Err.Msg, "approval timed out") || res.Signature != nil {
		t.Fatalf("approve rule, nobody approving: %+v", res)
	}
	if got := decisions(a, pa.ID); !sameDecisions(got, audit.Approval, audit.Expired, audit.Refused) {
		t.Fatalf("audit of the approval: %v", got)
	}
}

// exitRequest is a mainnet VOLUNTARY_EXIT of validator 7 at the Fulu epoch.
func exitRequest(t *testing.T, n *eth.Network) eth.Request {
	t.Helper()
	body := make([]byte, 16) // phase0.VoluntaryExit: epoch, validator_index
	binary.LittleEndian.PutUint64(body[0:], fuluEpoch)
	binary.LittleEndian.PutUint64(body[8:], 7)
	fi := attestationReq([48]byte{}, 0, 1, 0).Req.ForkInfo
	if fi.GenesisValidatorsRoot != n.GenesisValidatorsRoot {
		t.Fatal("attestationReq is not mainnet")
	}
	return eth.Request{Type: eth.TypeVoluntaryExit, ForkInfo: fi, Body: body}
}

// registrationRequest is a VALIDATOR_REGISTRATION (no fork_info: genesis domain).
func registrationRequest(t *testing.T, fee [20]byte, gas uint64) eth.Request {
	t.Helper()
	body := make([]byte, 84) // ValidatorRegistrationV1: fee_recipient, gas_limit, timestamp, pubkey
	copy(body, fee[:])
	binary.LittleEndian.PutUint64(body[20:], gas)
	binary.LittleEndian.PutUint64(body[28:], 1_700_000_000)
	return eth.Request{Type: eth.TypeValidatorRegistration, Body: body}
}

func discardLog() *slog.Logger { return slog.New(slog.DiscardHandler) }

// ethService is a service with one real BLS key and a policy.
func ethService(t *testing.T, policyTOML string) (*Service, [48]byte, *memAudit) {
	t.Helper()
	ks := realKeys(t, 1)
	s := newService(t, asBLS(ks))
	pub := ks[0].PublicKey()
	p, err := policy.Parse([]byte(policyTOML))
	if err != nil {
		t.Fatal(err)
	}
	a := &memAudit{}
	if err := s.EnablePolicy(PolicyOptions{Policy: p, Audit: a, Now: func() time.Time { return time.Unix(1e9, 0) }}); err != nil {
		t.Fatal(err)
	}
	return s, pub, a
}

// TestEthPolicy_HostileClient_Inv4: an exit without policy and a registration to a
// foreign fee recipient are refused by policy (before protection), an exit under an
// approve rule awaits approval, and each decision is in the audit trail.
func TestEthPolicy_HostileClient_Inv4(t *testing.T) {
	n, _ := eth.BuiltinNetwork("mainnet")
	exit := exitRequest(t, n)
	reg := registrationRequest(t, [20]byte{0xee}, 36_000_000)
	okReg := registrationRequest(t, [20]byte{0xfa}, 36_000_000)
	fee := "0x" + hex.EncodeToString(append([]byte{0xfa}, make([]byte, 19)...))

	s, pub, a := ethService(t, "[eth.default]\nfee_recipients = [\""+fee+"\"]\n")
	for _, tc := range []struct {
		name   string
		req    eth.Request
		kind   wire.Kind
		reason string
		dec    audit.Decision
	}{
		{"exit without policy", exit, wire.KindPolicy, "voluntary exit", audit.Refused},
		{"registration to a foreign fee recipient", reg, wire.KindPolicy, "fee recipient 0xee", audit.Refused},
		{"registration to the listed fee recipient", okReg, wire.KindOK, "", audit.Signed},
	} {
		res := s.SignEth(&wire.EthSignRequest{Pubkey: pub, Req: tc.req})
		got := wire.KindOK
		if res.Err != nil {
			got = res.Err.Kind
		}
		if got != tc.kind || (res.Err != nil && !strings.Contains(res.Err.Msg, tc.reason)) {
			t.Fatalf("%s: %+v", tc.name, res.Err)
		}
		ev := a.last(t)
		if ev.Decision != tc.dec || ev.Chain != "eth" || ev.Key != "0x"+hex.EncodeToString(pub[:]) || !strings.Contains(ev.Reason, tc.reason) || ev.Time.IsZero() {
			t.Fatalf("%s: audit %+v", tc.name, ev)
		}
		if tc.req.Type == eth.TypeValidatorRegistration && (ev.FeeRecipient == "" || ev.GasLimit == nil) {
			t.Fatalf("%s: audit without fee recipient: %+v", tc.name, ev)
		}
	}
	// Under an approve rule the exit waits for an operator, recorded with its validator
	// index; denied, it is refused (approval_test.go has the rest).
	s, pub, a = ethService(t, "[eth.default]\nexit = \"approve\"\n")
	clock := newFakeClock()
	if err := s.EnableApprovals(ApprovalOptions{Now: clock.Now, After: clock.After}); err != nil {
		t.Fatal(err)
	}
	res := signAsync(s, &wire.EthSignRequest{Pubkey: pub, Req: exit})
	clock.waitArmed(t, 1)
	if ev := a.last(t); ev.Decision != audit.Approval || ev.ValidatorIndex == nil || ev.ApprovalID == "" {
		t.Fatalf("exit under approve: audit %+v", ev)
	}
	if _, werr := decide(s, onlyPending(t, s).ID, wire.VerdictDeny, "", root); werr != nil {
		t.Fatal(werr)
	}
	if r := <-res; r.Err == nil || r.Err.Kind != wire.KindPolicy || !strings.Contains(r.Err.Msg, "denied by operator (uid 0)") {
		t.Fatalf("exit under approve, denied: %+v", r)
	}
	s, pub, _ = ethService(t, "[eth.default]\nexit = \"allow\"\n")
	if res := s.SignEth(&wire.EthSignRequest{Pubkey: pub, Req: exit}); res.Err != nil {
		t.Fatalf("exit allowed: %+v", res.Err)
	}
}

// TestReloadPolicy: a bad policy.toml keeps the policy in force and says why; a good one
// replaces it; each reload, done or refused, is an audit event naming who asked.
func TestReloadPolicy(t *testing.T) {
	n, _ := eth.BuiltinNetwork("mainnet")
	exit := exitRequest(t, n)
	s, pub, a := ethService(t, "")
	dir := t.TempDir()
	write := func(body string) {
		if err := os.WriteFile(filepath.Join(dir, policy.FileName), []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	kind := func() wire.Kind {
		if res := s.SignEth(&wire.EthSignRequest{Pubkey: pub, Req: exit}); res.Err != nil {
			return res.Err.Kind
		}
		return wire.KindOK
	}
	good := "[eth.default]\nexit = \"allow\"\n"
	write(good)
	summary, err := s.ReloadPolicy(dir, "SIGHUP")
	if err != nil || !strings.Contains(summary, fmt.Sprintf("sha256 %x", sha256.Sum256([]byte(good)))) {
		t.Fatalf("good reload: %q, %v", summary, err)
	}
	if ev := a.last(t); ev.Decision != audit.PolicyReloaded || ev.Operator != "SIGHUP" || ev.Reason != summary {
		t.Fatalf("audit of a reload: %+v", ev)
	}
	if k := kind(); k != wire.KindOK {
		t.Fatalf("after a good reload: %s", k)
	}
	write("[eth.default]\nexit = \"alow\"\n")
	if _, err := s.ReloadPolicy(dir, "uid 0 (root)"); err == nil || !strings.Contains(err.Error(), "alow") {
		t.Fatalf("bad reload: %v, want the reason", err)
	}
	if ev := a.last(t); ev.Decision != audit.PolicyReloadFailed || ev.Operator != "uid 0 (root)" || !strings.Contains(ev.Reason, "alow") {
		t.Fatalf("audit of a refused reload: %+v", ev)
	}
	if k := kind(); k != wire.KindOK {
		t.Fatalf("a bad file replaced the policy: %s", k)
	}
}
