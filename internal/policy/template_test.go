package policy

import (
	"crypto/sha256"
	"fmt"
	"strings"
	"testing"
)

// TestTemplateIsDefault: the file init writes changes nothing: it parses to exactly the
// policy of a state directory without policy.toml (an empty list and no list are the same).
func TestTemplateIsDefault(t *testing.T) {
	p, err := Parse([]byte(Template))
	if err != nil {
		t.Fatal(err)
	}
	p.digest = [32]byte{} // what the file was, not what it says
	if got, want := fmt.Sprintf("%v", p), fmt.Sprintf("%v", Default()); got != want {
		t.Fatalf("template parses to %s, want the default %s", got, want)
	}
}

// TestSummary: a parsed policy names its file's SHA-256 and its per-key tables, so that an
// audit event says which policy came into force; the defaults say so.
func TestSummary(t *testing.T) {
	b := []byte("[eth.keys.\"0x" + strings.Repeat("aa", 48) + "\"]\nexit = \"allow\"\n")
	p, err := Parse(b)
	if err != nil {
		t.Fatal(err)
	}
	want := fmt.Sprintf("policy.toml sha256 %x: 1 Ethereum key table(s), 0 Tezos key table(s)", sha256.Sum256(b))
	if got := p.Summary(); got != want {
		t.Fatalf("summary %q, want %q", got, want)
	}
	if got := Default().Summary(); got != "the defaults (no policy.toml)" {
		t.Fatalf("default summary %q", got)
	}
}
