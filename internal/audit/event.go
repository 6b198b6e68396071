package audit

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"time"
)

// FileName is the audit trail in the state directory.
const FileName = "audit.jsonl"

// Decision is what the core did. The zero value is invalid (Verify refuses it).
type Decision string

// Decisions. A request under an "approve" rule makes an Approval event, then one of
// Approved, Denied or Expired (same ApprovalID), then its Signed or Refused event.
const (
	Signed   Decision = "signed"
	Refused  Decision = "refused"
	Approval Decision = "approval" // awaiting an operator's approval
	Approved Decision = "approved" // an operator approved it (Operator says who)
	Denied   Decision = "denied"   // an operator denied it (Operator says who)
	Expired  Decision = "expired"  // no decision in time, or the gateway connection ended (Reason)
	// AdminRefused is a connection to the admin socket refused: its peer (Operator) is
	// neither root nor an approver, or is the gateway's user.
	AdminRefused Decision = "admin_refused"
	// PolicyReloaded is policy.toml put in force by a reload (Reason: its SHA-256 and
	// tables; Operator: who asked, or "SIGHUP"); PolicyReloadFailed a reload refused
	// because the file did not validate (Reason: why); the policy in force stayed.
	PolicyReloaded     Decision = "policy_reloaded"
	PolicyReloadFailed Decision = "policy_reload_failed"
)

func (d Decision) valid() bool {
	switch d {
	case Signed, Refused, Approval, Approved, Denied, Expired, AdminRefused, PolicyReloaded, PolicyReloadFailed:
		return true
	}
	return false
}

// Event is one decision of the core. Fields that do not apply are omitted. It holds no
// secret: no key material, no signature, no payload beyond the facts below.
type Event struct {
	// Time is when the core decided, in UTC.
	Time time.Time `json:"time"`
	// Decision, and Reason for anything but Signed (the message the client got).
	Decision Decision `json:"decision"`
	Reason   string   `json:"reason,omitempty"`
	// Client names the client as the gateway authenticated it ("" when unknown). The
	// gateway asserts it: a compromised gateway can lie about it, not about the rest.
	Client string `json:"client,omitempty"`
	// Chain is "eth" or "tezos"; Key the 0x public key or the pkh; Kind the signing type
	// (VOLUNTARY_EXIT, …) or the Tezos payload kind (block, attestation, generic: the
	// operation kinds, comma-separated).
	Chain string `json:"chain"`
	Key   string `json:"key"`
	Kind  string `json:"kind"`
	// Slot (Ethereum) or Level (Tezos), when the request has one.
	Slot  *uint64 `json:"slot,omitempty"`
	Level *uint32 `json:"level,omitempty"`
	// FeeRecipient and GasLimit of a validator registration; Destination and Amount
	// (mutez; the sum for a batch) of Tezos transactions; ValidatorIndex of an exit.
	FeeRecipient   string  `json:"fee_recipient,omitempty"`
	GasLimit       *uint64 `json:"gas_limit,omitempty"`
	ValidatorIndex *uint64 `json:"validator_index,omitempty"`
	Destination    string  `json:"destination,omitempty"`
	Amount         *uint64 `json:"amount,omitempty"`
	// Origin is "gateway" for a refusal the gateway decided and reported (401, 403 out of
	// scope; wire.GatewayRefusal), empty for the core's own decisions. Remote is then the
	// connection's source address and Suppressed how many further refusals were counted
	// but not recorded one by one (the core records at most a bounded number per second).
	// These are the gateway's assertions: a compromised gateway can forge or omit them.
	Origin     string  `json:"origin,omitempty"`
	Remote     string  `json:"remote,omitempty"`
	Suppressed *uint64 `json:"suppressed,omitempty"`
	// Epoch of a voluntary exit.
	Epoch *uint64 `json:"epoch,omitempty"`
	// ApprovalID links the events of one request that waited for an operator (the ID of
	// keyward approvals list); Operator is who approved or denied it, or the peer the
	// admin socket refused ("uid 0 (root)"), as the kernel named it (SO_PEERCRED).
	ApprovalID string `json:"approval_id,omitempty"`
	Operator   string `json:"operator,omitempty"`
}

// Hash is a SHA-256 record hash, written as 64 hex digits.
type Hash [32]byte

// String returns the hex form.
func (h Hash) String() string { return hex.EncodeToString(h[:]) }

// MarshalText implements encoding.TextMarshaler.
func (h Hash) MarshalText() ([]byte, error) { return []byte(h.String()), nil }

// UnmarshalText accepts exactly 64 lower-case hex digits (the canonical form).
func (h *Hash) UnmarshalText(b []byte) error {
	if len(b) != 2*len(h) {
		return errHashForm
	}
	for _, c := range b {
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return errHashForm
		}
	}
	_, err := hex.Decode(h[:], b)
	return err
}

// Record is one line of the trail.
type Record struct {
	Seq   uint64 `json:"seq"`
	Event Event  `json:"event"`
	Prev  Hash   `json:"prev"`
	Hash  Hash   `json:"hash"`
}

// unhashed is the part of a record its hash covers, in its canonical field order.
type unhashed struct {
	Seq   uint64 `json:"seq"`
	Event Event  `json:"event"`
	Prev  Hash   `json:"prev"`
}

// hashDomain separates audit hashes from every other SHA-256 use.
const hashDomain = "keyward-audit-v1\n"

// canonical is the JSON encoding of v without HTML escaping and without the trailing
// newline json.Encoder adds.
func canonical(v any) ([]byte, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(b.Bytes(), []byte("\n")), nil
}

// seal sets r.Hash from r.Seq, r.Event and r.Prev and returns the line (with its newline).
func (r *Record) seal() ([]byte, error) {
	r.Event.Time = r.Event.Time.UTC()
	body, err := canonical(unhashed{r.Seq, r.Event, r.Prev})
	if err != nil {
		return nil, err
	}
	r.Hash = hashOf(body)
	line, err := canonical(r)
	if err != nil {
		return nil, err
	}
	return append(line, '\n'), nil
}

func hashOf(body []byte) Hash {
	h := sha256.New()
	h.Write([]byte(hashDomain))
	h.Write(body)
	return Hash(h.Sum(nil))
}
