package wire

import (
	"bufio"
	"encoding/base32"
	"encoding/binary"
	"fmt"
	"net"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// The admin channel: an operator's command (keyward approvals, approve, deny) and the core,
// over the core's own local unix socket, never through the gateway. Same framing as the
// gateway connection (ReadFrame, AppendFrame); its message types are 48–63 and no other.
// The core's gateway connection refuses these types (a gateway that sends one is
// disconnected), and the admin socket answers only these: a compromised gateway has no way
// to approve its own request.
const (
	MsgApprovalList       MsgType = 48 // operator → core: empty body
	MsgApprovalListResult MsgType = 49 // core → operator: ApprovalList
	MsgApprovalDecide     MsgType = 50 // operator → core: ApprovalDecision
	MsgApprovalDecided    MsgType = 51 // core → operator: ApprovalOutcome
	MsgAdminError         MsgType = 52 // core → operator: Error (AppendError layout)
	MsgPolicyReload       MsgType = 53 // operator → core: empty body
	MsgPolicyReloaded     MsgType = 54 // core → operator: the new policy's summary (UTF-8)

	adminTypeFirst MsgType = 48 // the range 48–63 is the admin channel's
	adminTypeLast  MsgType = 63
)

// IsAdmin reports whether t belongs to the admin channel (48–63).
func IsAdmin(t MsgType) bool { return t >= adminTypeFirst && t <= adminTypeLast }

// Limits of the admin messages (Inv 7).
const (
	// MaxPendingApprovals bounds an ApprovalList (the core's own bound is lower).
	MaxPendingApprovals = 1024
	// MaxApprovalFacts bounds the facts of one pending approval.
	MaxApprovalFacts = 32
	// MaxDenyReason bounds the operator's reason for a denial, in bytes.
	MaxDenyReason = 200
	maxAdminShort = 255  // chain, key, kind, client, fact name
	maxAdminLong  = 1024 // reason, fact value, result message
)

// ApprovalIDLen is the length of an ApprovalID in bytes; its text form has
// ApprovalIDTextLen characters.
const (
	ApprovalIDLen     = 16
	ApprovalIDTextLen = 26
)

// approvalIDEncoding writes IDs in lower-case base32 without padding: no characters a
// shell or a terminal treats specially, and no 0/O or 1/l to confuse.
var approvalIDEncoding = base32.NewEncoding("abcdefghijklmnopqrstuvwxyz234567").WithPadding(base32.NoPadding)

// ApprovalID names one pending approval: 16 random bytes drawn by the core, used once.
type ApprovalID [ApprovalIDLen]byte

// String returns the 26-character text form.
func (id ApprovalID) String() string { return approvalIDEncoding.EncodeToString(id[:]) }

// ParseApprovalID reads the text form, exactly (case-insensitive, no padding, no spaces).
func ParseApprovalID(s string) (ApprovalID, error) {
	var id ApprovalID
	if len(s) != ApprovalIDTextLen {
		return id, fmt.Errorf("%w: approval id %q: want %d characters", ErrMalformed, s, ApprovalIDTextLen)
	}
	b, err := approvalIDEncoding.DecodeString(strings.ToLower(s))
	if err != nil || len(b) != ApprovalIDLen || approvalIDEncoding.EncodeToString(b) != strings.ToLower(s) {
		return id, fmt.Errorf("%w: approval id %q: not base32", ErrMalformed, s)
	}
	copy(id[:], b)
	return id, nil
}

// ApprovalVerdict is the operator's decision. The zero value is invalid.
type ApprovalVerdict uint8

// Verdicts.
const (
	VerdictApprove ApprovalVerdict = 1
	VerdictDeny    ApprovalVerdict = 2
)

// String returns "approved" or "denied".
func (v ApprovalVerdict) String() string {
	switch v {
	case VerdictApprove:
		return "approved"
	case VerdictDeny:
		return "denied"
	}
	return "verdict(" + strconv.Itoa(int(v)) + ")"
}

// ApprovalDecision is an operator's approval or denial of one pending request.
//
// Layout: id (16) | verdict (1) | reason (1-byte length + text; deny only).
type ApprovalDecision struct {
	ID      ApprovalID
	Verdict ApprovalVerdict
	// Reason is the operator's reason for a denial, shown to the client; "" for an approval.
	Reason string
}

// AppendApprovalDecision appends the encoding of d to dst. The reason is made displayable
// and cut to MaxDenyReason.
func AppendApprovalDecision(dst []byte, d *ApprovalDecision) []byte {
	dst = append(dst, d.ID[:]...)
	dst = append(dst, byte(d.Verdict))
	return appendText8(dst, Displayable(d.Reason, MaxDenyReason))
}

// DecodeApprovalDecision decodes an ApprovalDecision strictly (Inv 7): a known verdict, a
// reason only with a denial, displayable text, no trailing bytes.
func DecodeApprovalDecision(b []byte) (*ApprovalDecision, error) {
	d := decoder{b: b}
	r := &ApprovalDecision{}
	copy(r.ID[:], d.bytes(ApprovalIDLen))
	r.Verdict = ApprovalVerdict(d.byte())
	r.Reason = d.text8(MaxDenyReason)
	if err := d.finish(); err != nil {
		return nil, err
	}
	switch {
	case r.Verdict != VerdictApprove && r.Verdict != VerdictDeny:
		return nil, fmt.Errorf("%w: approval verdict %d", ErrMalformed, r.Verdict)
	case r.Verdict == VerdictApprove && r.Reason != "":
		return nil, fmt.Errorf("%w: a reason with an approval", ErrMalformed)
	}
	return r, nil
}

// Fact is one decoded fact of a pending request ("validator_index" = "7").
type Fact struct {
	Name, Value string
}

// PendingApproval is a request waiting for an operator, as the core decoded it. Every text
// is displayable (no control or format characters: Displayable), so that a name a
// gateway chose cannot rewrite the operator's terminal.
//
// Layout: id (16) | chain, key, kind, client (each 1-byte length + text) | reason (2-byte
// length + text) | digest (32) | age ms (8) | left ms (8) | fact count (1) | facts: name
// (1-byte length + text), value (2-byte length + text).
type PendingApproval struct {
	ID     ApprovalID
	Chain  string // "eth" or "tezos"
	Key    string // 0x public key or pkh
	Kind   string // signing type or Tezos payload kind
	Client string // as the gateway named it (its assertion)
	Reason string // the policy rule that asks for approval
	// Digest identifies the exact request: the Ethereum signing root, or the BLAKE2b-256
	// of the Tezos payload.
	Digest [32]byte
	// AgeMillis is how long the request has waited; LeftMillis how long it may still wait.
	AgeMillis, LeftMillis uint64
	Facts                 []Fact
}

// AppendPendingApproval appends the encoding of p to dst. Texts are made displayable and
// cut to their limits; facts beyond MaxApprovalFacts are dropped.
func AppendPendingApproval(dst []byte, p *PendingApproval) []byte {
	dst = append(dst, p.ID[:]...)
	for _, s := range [...]string{p.Chain, p.Key, p.Kind, p.Client} {
		dst = appendText8(dst, Displayable(s, maxAdminShort))
	}
	dst = appendText16(dst, Displayable(p.Reason, maxAdminLong))
	dst = append(dst, p.Digest[:]...)
	dst = binary.BigEndian.AppendUint64(dst, p.AgeMillis)
	dst = binary.BigEndian.AppendUint64(dst, p.LeftMillis)
	facts := p.Facts[:min(len(p.Facts), MaxApprovalFacts)]
	dst = append(dst, byte(len(facts)))
	for _, f := range facts {
		dst = appendText8(dst, Displayable(f.Name, maxAdminShort))
		dst = appendText16(dst, Displayable(f.Value, maxAdminLong))
	}
	return dst
}

func (d *decoder) pendingApproval() PendingApproval {
	var p PendingApproval
	copy(p.ID[:], d.bytes(ApprovalIDLen))
	p.Chain = d.text8(maxAdminShort)
	p.Key = d.text8(maxAdminShort)
	p.Kind = d.text8(maxAdminShort)
	p.Client = d.text8(maxAdminShort)
	p.Reason = d.text16(maxAdminLong)
	copy(p.Digest[:], d.bytes(32))
	p.AgeMillis, p.LeftMillis = d.uint64(), d.uint64()
	n := int(d.byte())
	if n > MaxApprovalFacts {
		d.fail()
		return p
	}
	for i := 0; i < n && d.err == nil; i++ {
		p.Facts = append(p.Facts, Fact{Name: d.text8(maxAdminShort), Value: d.text16(maxAdminLong)})
	}
	return p
}

// ApprovalList is the core's list of pending approvals, oldest first.
//
// Layout: count (2) | count × PendingApproval.
type ApprovalList struct {
	Pending []PendingApproval
}

// AppendApprovalList appends the encoding of l to dst; entries beyond
// MaxPendingApprovals are dropped.
func AppendApprovalList(dst []byte, l *ApprovalList) []byte {
	ps := l.Pending[:min(len(l.Pending), MaxPendingApprovals)]
	dst = binary.BigEndian.AppendUint16(dst, uint16(len(ps)))
	for i := range ps {
		dst = AppendPendingApproval(dst, &ps[i])
	}
	return dst
}

// DecodeApprovalList decodes an ApprovalList strictly (Inv 7): bounded counts and texts,
// displayable text, no trailing bytes.
func DecodeApprovalList(b []byte) (*ApprovalList, error) {
	d := decoder{b: b}
	n := int(d.uint16())
	if n > MaxPendingApprovals {
		return nil, fmt.Errorf("%w: %d pending approvals", ErrMalformed, n)
	}
	l := &ApprovalList{}
	for i := 0; i < n && d.err == nil; i++ {
		l.Pending = append(l.Pending, d.pendingApproval())
	}
	if err := d.finish(); err != nil {
		return nil, err
	}
	return l, nil
}

// ApprovalOutcome is the core's answer to an ApprovalDecision: what was decided and what
// became of the request after it.
//
// Layout: PendingApproval | verdict (1) | result kind (1) | result message (2-byte length +
// text; empty when signed).
type ApprovalOutcome struct {
	Approval PendingApproval
	Verdict  ApprovalVerdict
	// Result is nil when the request was signed, or the failure its client got.
	Result *Error
}

// AppendApprovalOutcome appends the encoding of o to dst.
func AppendApprovalOutcome(dst []byte, o *ApprovalOutcome) []byte {
	dst = AppendPendingApproval(dst, &o.Approval)
	dst = append(dst, byte(o.Verdict))
	if o.Result == nil {
		return append(dst, byte(KindOK), 0, 0)
	}
	dst = append(dst, byte(o.Result.Kind))
	return appendText16(dst, Displayable(o.Result.Msg, maxAdminLong))
}

// DecodeApprovalOutcome decodes an ApprovalOutcome strictly (Inv 7): a known verdict and
// result kind, a message only with a failure.
func DecodeApprovalOutcome(b []byte) (*ApprovalOutcome, error) {
	d := decoder{b: b}
	o := &ApprovalOutcome{Approval: d.pendingApproval(), Verdict: ApprovalVerdict(d.byte())}
	k := Kind(d.byte())
	msg := d.text16(maxAdminLong)
	if err := d.finish(); err != nil {
		return nil, err
	}
	switch {
	case o.Verdict != VerdictApprove && o.Verdict != VerdictDeny:
		return nil, fmt.Errorf("%w: approval verdict %d", ErrMalformed, o.Verdict)
	case k >= kindEnd, k == KindOK && msg != "":
		return nil, fmt.Errorf("%w: approval result kind %d", ErrMalformed, k)
	}
	if k != KindOK {
		o.Result = &Error{Kind: k, Msg: msg}
	}
	return o, nil
}

// Displayable returns s as valid UTF-8 without control or format characters (each such
// rune is written as an escape, \x1b or \u202e), cut to at most n bytes at a rune boundary.
// It is how every text of the admin channel is encoded, and what its decoders require.
func Displayable(s string, n int) string {
	if len(s) <= n && displayable(s) {
		return s
	}
	var b strings.Builder
	for _, r := range strings.ToValidUTF8(s, "\uFFFD") {
		switch {
		case r == ' ' || unicode.IsGraphic(r):
			b.WriteRune(r)
		case r < 0x100:
			fmt.Fprintf(&b, `\x%02x`, r)
		default:
			fmt.Fprintf(&b, `\u%04x`, r)
		}
	}
	return cutUTF8(b.String(), n)
}

// displayable reports whether s is valid UTF-8 made of graphic characters and spaces only.
func displayable(s string) bool {
	if !utf8.ValidString(s) {
		return false
	}
	for _, r := range s {
		if r != ' ' && !unicode.IsGraphic(r) {
			return false
		}
	}
	return true
}

func appendText8(dst []byte, s string) []byte {
	dst = append(dst, byte(len(s)))
	return append(dst, s...)
}

func appendText16(dst []byte, s string) []byte {
	dst = binary.BigEndian.AppendUint16(dst, uint16(len(s)))
	return append(dst, s...)
}

// fail marks the decoding as failed.
func (d *decoder) fail() {
	if d.err == nil {
		d.err = ErrMalformed
	}
}

// text8 reads a 1-byte length and that many bytes of displayable text, at most limit.
func (d *decoder) text8(limit int) string {
	return d.text(int(d.byte()), limit)
}

// text16 reads a 2-byte length and that many bytes of displayable text, at most limit.
func (d *decoder) text16(limit int) string {
	return d.text(int(d.uint16()), limit)
}

func (d *decoder) text(n, limit int) string {
	v := d.bytes(n)
	if d.err != nil {
		return ""
	}
	if n > limit || !displayable(string(v)) {
		d.fail()
		return ""
	}
	return string(v)
}

// Admin is the operator's side of the admin channel: one request at a time over conn (the
// core's admin socket). It is not safe for concurrent use.
type Admin struct {
	conn net.Conn
	r    *bufio.Reader
	id   uint64
}

// NewAdmin wraps a connection to the core's admin socket. Close ends it.
func NewAdmin(conn net.Conn) *Admin {
	return &Admin{conn: conn, r: bufio.NewReaderSize(conn, 64<<10)}
}

// Close ends the connection.
func (a *Admin) Close() error { return a.conn.Close() }

// call sends one request and reads its answer. A MsgAdminError answer, also one the core
// sends unasked before closing (a peer it refuses), becomes an *Error.
func (a *Admin) call(t MsgType, body []byte, want MsgType) ([]byte, error) {
	a.id++
	_, werr := a.conn.Write(AppendFrame(nil, t, a.id, body))
	f, err := ReadFrame(a.r) // after a failed write too: a refusal may wait there
	switch {
	case err == nil:
	case werr != nil:
		return nil, fmt.Errorf("write to the core's admin socket: %w", werr)
	default:
		return nil, fmt.Errorf("read from the core's admin socket: %w", err)
	}
	switch {
	case f.Type == MsgAdminError:
		e, err := DecodeError(f.Body)
		if err != nil {
			return nil, err
		}
		return nil, e
	case f.Type != want || f.ID != a.id:
		return nil, fmt.Errorf("%w: admin answer of type %d for request %d, want %d for %d", ErrMalformed, f.Type, f.ID, want, a.id)
	}
	return f.Body, nil
}

// maxPolicySummary bounds a MsgPolicyReloaded body.
const maxPolicySummary = 1024

// ReloadPolicy asks the core to reload its policy.toml and returns the summary of the
// policy now in force; a file that does not validate is an *Error saying why (the policy
// in force stays).
func (a *Admin) ReloadPolicy() (string, error) {
	b, err := a.call(MsgPolicyReload, nil, MsgPolicyReloaded)
	if err != nil {
		return "", err
	}
	return DecodePolicySummary(b)
}

// DecodePolicySummary decodes a MsgPolicyReloaded body strictly (Inv 7): at most 1 KiB of
// UTF-8 an operator's terminal may show (no control characters).
func DecodePolicySummary(b []byte) (string, error) {
	if len(b) > maxPolicySummary || !utf8.Valid(b) || strings.ContainsFunc(string(b), unicode.IsControl) {
		return "", fmt.Errorf("%w: policy summary", ErrMalformed)
	}
	return string(b), nil
}

// ListApprovals asks the core for its pending approvals.
func (a *Admin) ListApprovals() (*ApprovalList, error) {
	b, err := a.call(MsgApprovalList, nil, MsgApprovalListResult)
	if err != nil {
		return nil, err
	}
	return DecodeApprovalList(b)
}

// Decide sends an approval or a denial and returns what became of the request.
func (a *Admin) Decide(d *ApprovalDecision) (*ApprovalOutcome, error) {
	b, err := a.call(MsgApprovalDecide, AppendApprovalDecision(nil, d), MsgApprovalDecided)
	if err != nil {
		return nil, err
	}
	return DecodeApprovalOutcome(b)
}
