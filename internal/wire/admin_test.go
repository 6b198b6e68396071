package wire

import (
	"bufio"
	"bytes"
	"errors"
	"net"
	"reflect"
	"strings"
	"testing"
)

func samplePending() PendingApproval {
	return PendingApproval{
		ID:        ApprovalID{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16},
		Chain:     "eth",
		Key:       "0x" + strings.Repeat("ab", 48),
		Kind:      "VOLUNTARY_EXIT",
		Client:    "lighthouse-1",
		Reason:    "voluntary exit of validator 7 at epoch 411392: needs operator approval",
		Digest:    [32]byte{0xde, 0xad},
		AgeMillis: 1500, LeftMillis: 118500,
		Facts: []Fact{{"validator_index", "7"}, {"epoch", "411392"}},
	}
}

func TestAdminTypes(t *testing.T) {
	for _, mt := range []MsgType{MsgApprovalList, MsgApprovalListResult, MsgApprovalDecide, MsgApprovalDecided, MsgAdminError, 63} {
		if !IsAdmin(mt) {
			t.Errorf("type %d is not an admin type", mt)
		}
	}
	for _, mt := range []MsgType{MsgEthSign, MsgStatus, MsgHighWatermarkResult, MsgGatewayRefusal, 47, 64, 255} {
		if IsAdmin(mt) {
			t.Errorf("type %d is an admin type", mt)
		}
	}
}

func TestApprovalID(t *testing.T) {
	id := ApprovalID{0xff, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 0x80}
	s := id.String()
	if len(s) != ApprovalIDTextLen || strings.ToLower(s) != s {
		t.Fatalf("text form %q", s)
	}
	for _, in := range []string{s, strings.ToUpper(s)} {
		got, err := ParseApprovalID(in)
		if err != nil || got != id {
			t.Fatalf("parse %q: %x, %v", in, got, err)
		}
	}
	last := s[len(s)-1:]
	other := "b"
	if last == "b" {
		other = "c"
	}
	for _, bad := range []string{"", s[:25], s + "a", s[:25] + "1", s[:25] + "=", " " + s[:25],
		s[:25] + other} { // non-zero trailing bits: not the canonical form
		if _, err := ParseApprovalID(bad); !errors.Is(err, ErrMalformed) {
			t.Errorf("parse %q: %v, want ErrMalformed", bad, err)
		}
	}
}

func TestAdminRoundTrip(t *testing.T) {
	p := samplePending()
	l := &ApprovalList{Pending: []PendingApproval{p, {ID: ApprovalID{9}, Chain: "tezos", Kind: "generic: transaction"}}}
	gotL, err := DecodeApprovalList(AppendApprovalList(nil, l))
	if err != nil || !reflect.DeepEqual(gotL, l) {
		t.Fatalf("list: %+v, %v", gotL, err)
	}
	if gotL, err := DecodeApprovalList(AppendApprovalList(nil, &ApprovalList{})); err != nil || len(gotL.Pending) != 0 {
		t.Fatalf("empty list: %+v, %v", gotL, err)
	}
	for _, d := range []*ApprovalDecision{{ID: p.ID, Verdict: VerdictApprove}, {ID: p.ID, Verdict: VerdictDeny, Reason: "not today"}} {
		got, err := DecodeApprovalDecision(AppendApprovalDecision(nil, d))
		if err != nil || !reflect.DeepEqual(got, d) {
			t.Fatalf("decision: %+v, %v", got, err)
		}
	}
	for _, o := range []*ApprovalOutcome{{Approval: p, Verdict: VerdictApprove}, {Approval: p, Verdict: VerdictDeny, Result: Errorf(KindPolicy, "denied by operator (uid 0)")}} {
		got, err := DecodeApprovalOutcome(AppendApprovalOutcome(nil, o))
		if err != nil || !reflect.DeepEqual(got, o) {
			t.Fatalf("outcome: %+v, %v", got, err)
		}
	}
}

// TestAdminStrict_Inv7: every truncation and trailing byte is refused, and so are unknown
// verdicts and result kinds, a reason with an approval, too many facts, and text that is
// not displayable (a control character a gateway put in a client name must never reach the
// operator's terminal).
func TestAdminStrict_Inv7(t *testing.T) {
	p := samplePending()
	encs := map[string][]byte{
		"list":     AppendApprovalList(nil, &ApprovalList{Pending: []PendingApproval{p}}),
		"decision": AppendApprovalDecision(nil, &ApprovalDecision{ID: p.ID, Verdict: VerdictDeny, Reason: "no"}),
		"outcome":  AppendApprovalOutcome(nil, &ApprovalOutcome{Approval: p, Verdict: VerdictApprove, Result: Errorf(KindPolicy, "x")}),
	}
	decode := map[string]func([]byte) error{
		"list":     func(b []byte) error { _, err := DecodeApprovalList(b); return err },
		"decision": func(b []byte) error { _, err := DecodeApprovalDecision(b); return err },
		"outcome":  func(b []byte) error { _, err := DecodeApprovalOutcome(b); return err },
	}
	for name, b := range encs {
		for i := range len(b) {
			if err := decode[name](b[:i]); !errors.Is(err, ErrMalformed) {
				t.Fatalf("%s truncated to %d: %v", name, i, err)
			}
		}
		if err := decode[name](append(bytes.Clone(b), 0)); !errors.Is(err, ErrMalformed) {
			t.Fatalf("%s with a trailing byte: %v", name, err)
		}
	}
	dec := func(v ApprovalVerdict, reason string) []byte {
		b := append(p.ID[:], byte(v), byte(len(reason)))
		return append(b, reason...)
	}
	for name, b := range map[string][]byte{
		"verdict 0":            dec(0, ""),
		"verdict 3":            dec(3, ""),
		"reason with approval": dec(VerdictApprove, "why"),
		"escape in reason":     dec(VerdictDeny, "\x1b[2J"),
		"bidi override":        dec(VerdictDeny, "\u202eevil"),
		"invalid UTF-8":        dec(VerdictDeny, "\xff"),
		"reason too long":      dec(VerdictDeny, strings.Repeat("a", MaxDenyReason+1)),
	} {
		if _, err := DecodeApprovalDecision(b); !errors.Is(err, ErrMalformed) {
			t.Errorf("decision %s: %v, want ErrMalformed", name, err)
		}
	}
	// A pending approval with a control character in a text, or 33 facts.
	raw := AppendPendingApproval(nil, &p)
	i := bytes.Index(raw, []byte("lighthouse-1"))
	bad := bytes.Clone(raw)
	bad[i] = 0x07
	if _, err := DecodeApprovalList(append([]byte{0, 1}, bad...)); !errors.Is(err, ErrMalformed) {
		t.Errorf("control character in a client name: %v", err)
	}
	many := p
	many.Facts = nil
	base := AppendPendingApproval(nil, &many)
	base[len(base)-1] = MaxApprovalFacts + 1
	for range MaxApprovalFacts + 1 {
		base = append(base, 1, 'a', 0, 1, 'b')
	}
	if _, err := DecodeApprovalList(append([]byte{0, 1}, base...)); !errors.Is(err, ErrMalformed) {
		t.Errorf("too many facts: %v", err)
	}
	// Unknown result kind; a message with a signed result.
	out := AppendApprovalOutcome(nil, &ApprovalOutcome{Approval: p, Verdict: VerdictApprove})
	k := len(out) - 3
	for name, mut := range map[string]func([]byte){
		"kind 7":            func(b []byte) { b[k] = 7 },
		"message on signed": func(b []byte) { b[k+2] = 1 },
	} {
		b := bytes.Clone(out)
		mut(b)
		if name == "message on signed" {
			b = append(b, 'x')
		}
		if _, err := DecodeApprovalOutcome(b); !errors.Is(err, ErrMalformed) {
			t.Errorf("outcome %s: %v", name, err)
		}
	}
}

// TestDisplayable: control and format characters become visible escapes, invalid UTF-8 the
// replacement character, and long texts are cut at a rune boundary; what it returns decodes.
func TestDisplayable(t *testing.T) {
	for in, want := range map[string]string{
		"plain text é":    "plain text é",
		"\x1b[31mred":     `\x1b[31mred`,
		"a\nb\tc":         `a\x0ab\x09c`,
		"\u202eevil":      `\u202eevil`,
		"bad \xff byte":   "bad \uFFFD byte",
		"\x00":            `\x00`,
		"zero\u200bwidth": `zero\u200bwidth`,
	} {
		if got := Displayable(in, 100); got != want {
			t.Errorf("Displayable(%q) = %q, want %q", in, got, want)
		}
	}
	if got := Displayable(strings.Repeat("é", 10), 5); got != "éé" {
		t.Errorf("cut: %q", got)
	}
	p := samplePending()
	p.Client = "\x1b]0;owned\x07" + strings.Repeat("x", 300)
	l, err := DecodeApprovalList(AppendApprovalList(nil, &ApprovalList{Pending: []PendingApproval{p}}))
	if err != nil || strings.ContainsAny(l.Pending[0].Client, "\x1b\x07") || len(l.Pending[0].Client) > maxAdminShort {
		t.Fatalf("encoded client name: %q, %v", l.Pending[0].Client, err)
	}
}

// TestAdminClient: Admin matches answers to its request and turns MsgAdminError, also one
// sent unasked before the core closes (a refused peer), into an *Error.
func TestAdminClient(t *testing.T) {
	ours, theirs := net.Pipe()
	defer ours.Close()
	go func() {
		r := bufio.NewReader(theirs)
		f, err := ReadFrame(r)
		if err != nil || f.Type != MsgApprovalList {
			return
		}
		_, _ = theirs.Write(AppendFrame(nil, MsgApprovalListResult, f.ID, AppendApprovalList(nil, &ApprovalList{Pending: []PendingApproval{samplePending()}})))
		if f, err = ReadFrame(r); err != nil {
			return
		}
		_, _ = theirs.Write(AppendFrame(nil, MsgAdminError, 0, AppendError(nil, Errorf(KindPolicy, "permission denied: uid 1000 is not an approver"))))
		theirs.Close()
	}()
	a := NewAdmin(ours)
	l, err := a.ListApprovals()
	if err != nil || len(l.Pending) != 1 || l.Pending[0].Kind != "VOLUNTARY_EXIT" {
		t.Fatalf("list: %+v, %v", l, err)
	}
	_, err = a.Decide(&ApprovalDecision{ID: ApprovalID{1}, Verdict: VerdictApprove})
	var we *Error
	if !errors.As(err, &we) || we.Kind != KindPolicy || !strings.Contains(we.Msg, "not an approver") {
		t.Fatalf("decide: %v", err)
	}
}

// FuzzDecodeAdmin: the admin decoders never panic, and whatever decodes re-encodes to the
// same bytes (no malleability).
func FuzzDecodeAdmin(f *testing.F) {
	p := samplePending()
	f.Add(byte(0), AppendApprovalList(nil, &ApprovalList{Pending: []PendingApproval{p}}))
	f.Add(byte(1), AppendApprovalDecision(nil, &ApprovalDecision{ID: p.ID, Verdict: VerdictDeny, Reason: "no"}))
	f.Add(byte(2), AppendApprovalOutcome(nil, &ApprovalOutcome{Approval: p, Verdict: VerdictApprove, Result: Errorf(KindPolicy, "x")}))
	f.Add(byte(3), []byte("policy.toml sha256 00: 0 Ethereum key table(s), 0 Tezos key table(s)"))
	f.Fuzz(func(t *testing.T, which byte, b []byte) {
		var again []byte
		switch which % 4 {
		case 3:
			sum, err := DecodePolicySummary(b)
			if err != nil {
				return
			}
			again = []byte(sum)
		case 0:
			l, err := DecodeApprovalList(b)
			if err != nil {
				return
			}
			again = AppendApprovalList(nil, l)
		case 1:
			d, err := DecodeApprovalDecision(b)
			if err != nil {
				return
			}
			again = AppendApprovalDecision(nil, d)
		case 2:
			o, err := DecodeApprovalOutcome(b)
			if err != nil {
				return
			}
			again = AppendApprovalOutcome(nil, o)
		}
		if !bytes.Equal(again, b) {
			t.Fatalf("re-encodes differently: %x vs %x", again, b)
		}
	})
}
