package main

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"github.com/keyward/keyward/internal/wire"
)

// TestDecideArguments: approve and deny take exactly one well-formed ID, before or after
// the flags, and one of --dir and --socket.
func TestDecideArguments(t *testing.T) {
	id := wire.ApprovalID{7}.String()
	for _, tc := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"approve", "--dir", "/nonexistent"}, 2, "give one approval ID"},
		{[]string{"approve", id, id, "--dir", "/nonexistent"}, 2, "give one approval ID"},
		{[]string{"approve", "--dir", "/nonexistent", "not-an-id"}, 1, "is not an approval ID"},
		{[]string{"deny", id}, 1, "give one of --dir and --socket"},
		{[]string{"deny", "--reason", "x", id, "--dir", "/nonexistent"}, 1, "read configuration"},
		{[]string{"approve", "--socket", "/nonexistent/admin.sock", id}, 1, "no core listens on /nonexistent/admin.sock"},
		{[]string{"approvals", "list", "--socket", "/nonexistent/admin.sock"}, 1, "no core listens"},
		{[]string{"approvals", "sign"}, 1, "unknown subcommand"},
	} {
		_, stderr, code := keyward(t, tc.args...)
		if code != tc.code || !strings.Contains(stderr, tc.want) {
			t.Errorf("keyward %s: exit %d, %q; want %d, %q", strings.Join(tc.args, " "), code, stderr, tc.code, tc.want)
		}
	}
}

// TestPrintPending: every field and fact is printed, one per line; the JSON form has
// lower-case names, seconds and a digest named for its chain.
func TestPrintPending(t *testing.T) {
	p := wire.PendingApproval{ID: wire.ApprovalID{1}, Chain: "tezos", Key: "tz1abc", Kind: "generic: transaction", Client: "",
		Reason: "1 transaction(s) of 5 mutez in total: needs operator approval", Digest: [32]byte{0xab}, AgeMillis: 1500, LeftMillis: 118_500,
		Facts: []wire.Fact{{Name: "destinations", Value: "tz1dst"}, {Name: "operation_1", Value: "transaction of 5 mutez to tz1dst, fee 0 mutez"}}}
	var b bytes.Buffer
	printPending(&b, &p)
	out := b.String()
	for _, want := range []string{p.ID.String() + "  generic: transaction  waiting 2s, 1m59s left", "client                   (not named)",
		"operation_1              transaction of 5 mutez to tz1dst", "payload_blake2b          0xab00"} {
		if !strings.Contains(out, want) {
			t.Errorf("output has no %q:\n%s", want, out)
		}
	}
	b.Reset()
	if code := printJSON(&b, []wire.PendingApproval{p}); code != 0 {
		t.Fatal(code)
	}
	var got []map[string]any
	if err := json.Unmarshal(b.Bytes(), &got); err != nil || len(got) != 1 || got[0]["left_seconds"] != 118.5 || got[0]["digest_name"] != "payload_blake2b" ||
		got[0]["facts"].([]any)[0].(map[string]any)["name"] != "destinations" {
		t.Fatalf("JSON: %s (%v)", b.Bytes(), err)
	}
	if summary(&p) != "tezos generic: transaction for tz1abc (destinations tz1dst, operation_1 transaction of 5 mutez to tz1dst, fee 0 mutez)" {
		t.Errorf("summary: %q", summary(&p))
	}
}
