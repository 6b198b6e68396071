package audit

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

func u64(v uint64) *uint64 { return &v }

// writeTrail appends n events to a new trail in a temp dir and returns its path.
func writeTrail(t *testing.T, n int) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), FileName)
	tr, err := Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	t0 := time.Date(2026, 11, 21, 10, 0, 0, 0, time.UTC)
	for i := range n {
		ev := Event{Time: t0.Add(time.Duration(i) * time.Second), Decision: Signed, Chain: "eth",
			Key: "0xaa", Kind: "ATTESTATION", Slot: u64(uint64(i)), Client: "lighthouse"}
		if i%3 == 1 {
			ev.Decision, ev.Reason, ev.Kind = Refused, "voluntary exit: not allowed by the key's policy <&>", "VOLUNTARY_EXIT"
		}
		if err := tr.Append(ev); err != nil {
			t.Fatal(err)
		}
	}
	if err := tr.Close(); err != nil {
		t.Fatal(err)
	}
	return path
}

func lines(t *testing.T, path string) []string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return strings.SplitAfter(strings.TrimSuffix(string(b), "\n"), "\n")
}

func verifyLines(ls []string) (Summary, error) {
	s := strings.Join(ls, "")
	if !strings.HasSuffix(s, "\n") && s != "" {
		s += "\n"
	}
	return Verify(strings.NewReader(s))
}

// TestVerify_Intact: a written trail verifies, with its count and last hash; the file is 0600.
func TestVerify_Intact(t *testing.T) {
	path := writeTrail(t, 10)
	s, err := VerifyFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if s.Records != 10 || s.Last == (Hash{}) {
		t.Fatalf("summary %+v", s)
	}
	fi, err := os.Stat(path)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("mode %v, %v", fi.Mode(), err)
	}
	if s, err := Verify(strings.NewReader("")); err != nil || s.Records != 0 {
		t.Fatalf("empty trail: %+v %v", s, err)
	}
}

// TestVerify_Tampered: each kind of tampering is detected at the right line.
func TestVerify_Tampered(t *testing.T) {
	orig := lines(t, writeTrail(t, 6))
	edit := func(i int, from, to string) []string {
		ls := append([]string(nil), orig...)
		if !strings.Contains(ls[i], from) {
			t.Fatalf("line %d has no %q", i+1, from)
		}
		ls[i] = strings.Replace(ls[i], from, to, 1)
		return ls
	}
	// resealed edits line i and recomputes its own hash, as a careful forger would.
	resealed := func(i int) []string {
		ls := append([]string(nil), orig...)
		var r Record
		dec := jsonDecoder(ls[i])
		if err := dec.Decode(&r); err != nil {
			t.Fatal(err)
		}
		r.Event.Decision = Signed
		r.Event.Reason = ""
		line, err := r.seal()
		if err != nil {
			t.Fatal(err)
		}
		ls[i] = string(line)
		return ls
	}
	tests := []struct {
		name   string
		ls     []string
		line   int
		reason string
	}{
		{"middle line removed", append(append([]string(nil), orig[:2]...), orig[3:]...), 3, "sequence 4, want 3"},
		{"first line removed", orig[1:], 1, "sequence 2, want 1"},
		{"two lines swapped", []string{orig[0], orig[2], orig[1], orig[3], orig[4], orig[5]}, 2, "sequence 3, want 2"},
		{"line duplicated", []string{orig[0], orig[1], orig[1], orig[2]}, 3, "sequence 2, want 3"},
		{"decision edited", edit(1, `"refused"`, `"signed"`), 2, "hash"},
		{"slot edited", edit(3, `"slot":3`, `"slot":4`), 4, "hash"},
		{"line edited and resealed", resealed(1), 3, "prev"},
		{"whitespace added", edit(2, `{"seq"`, `{ "seq"`), 3, "canonical"},
		{"unknown field", edit(2, `{"seq"`, `{"x":1,"seq"`), 3, "not a record"},
		{"hash in upper case", edit(0, lines0Hash(t, orig[0]), strings.ToUpper(lines0Hash(t, orig[0]))), 1, "not a record"},
		{"not json", append(append([]string(nil), orig[:2]...), "garbage\n"), 3, "not a record"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := verifyLines(tt.ls)
			var ce *ChainError
			if !errors.As(err, &ce) || !errors.Is(err, ErrBroken) {
				t.Fatalf("error %v, want a ChainError", err)
			}
			if ce.Line != tt.line || !strings.Contains(ce.Reason, tt.reason) {
				t.Fatalf("line %d %q, want line %d %q", ce.Line, ce.Reason, tt.line, tt.reason)
			}
		})
	}
	// A torn last line (no newline).
	if _, err := Verify(strings.NewReader(strings.Join(orig, "") + orig[0][:20])); !errors.Is(err, ErrBroken) {
		t.Fatalf("torn line: %v", err)
	}
	// An overlong line.
	if _, err := Verify(strings.NewReader(strings.Repeat("x", MaxLineSize+1) + "\n")); !errors.Is(err, ErrBroken) {
		t.Fatalf("long line: %v", err)
	}
}

func lines0Hash(t *testing.T, line string) string {
	var r Record
	if err := jsonDecoder(line).Decode(&r); err != nil {
		t.Fatal(err)
	}
	return r.Hash.String()
}

// TestOpen_Continues: reopening continues the chain; a torn last line is cut; a broken
// trail is refused.
func TestOpen_Continues(t *testing.T) {
	path := writeTrail(t, 3)
	f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteString(`{"seq":4,"ev`); err != nil { // a crash during a write
		t.Fatal(err)
	}
	f.Close()
	tr, err := Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if s := tr.Summary(); s.Records != 3 {
		t.Fatalf("summary after reopen %+v", s)
	}
	if err := tr.Append(Event{Decision: Approval, Chain: "tezos", Key: "tz1x", Kind: "generic: transaction", Destination: "tz1y", Amount: u64(5)}); err != nil {
		t.Fatal(err)
	}
	if err := tr.Close(); err != nil {
		t.Fatal(err)
	}
	if s, err := VerifyFile(path); err != nil || s.Records != 4 {
		t.Fatalf("after append: %+v %v", s, err)
	}
	if err := tr.Append(Event{Decision: Signed}); !errors.Is(err, ErrClosed) {
		t.Fatalf("append after close: %v", err)
	}

	ls := lines(t, path)
	ls[1], ls[2] = ls[2], ls[1]
	if err := os.WriteFile(path, []byte(strings.Join(ls, "")), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := Open(path, Options{}); !errors.Is(err, ErrBroken) {
		t.Fatalf("open of a broken trail: %v", err)
	}
}

// TestTrail_Concurrent: concurrent appends form one valid chain; the background flush and
// the MaxPending back-pressure write everything.
func TestTrail_Concurrent(t *testing.T) {
	path := filepath.Join(t.TempDir(), FileName)
	tr, err := Open(path, Options{FlushInterval: time.Millisecond, MaxPending: 7})
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 50 {
				if err := tr.Append(Event{Decision: Signed, Chain: "eth", Key: fmt.Sprintf("0x%02x", g), Kind: "ATTESTATION", Slot: u64(uint64(i))}); err != nil {
					t.Error(err)
				}
			}
		})
	}
	wg.Wait()
	time.Sleep(5 * time.Millisecond)
	if s, err := VerifyFile(path); err != nil || s.Records == 0 {
		t.Fatalf("before close: %+v %v", s, err) // whatever was flushed verifies
	}
	if err := tr.Close(); err != nil {
		t.Fatal(err)
	}
	s, err := VerifyFile(path)
	if err != nil || s.Records != 400 || s.Last != tr.Summary().Last {
		t.Fatalf("after close: %+v %v", s, err)
	}
}

// TestEvent_NoHTMLEscape: the canonical encoding keeps <, > and & as they are.
func TestEvent_NoHTMLEscape(t *testing.T) {
	b, err := os.ReadFile(writeTrail(t, 2))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(b, []byte("<&>")) {
		t.Fatalf("reason escaped: %s", b)
	}
}
