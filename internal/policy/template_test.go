package policy

import (
	"fmt"
	"testing"
)

// TestTemplateIsDefault: the file init writes changes nothing: it parses to exactly the
// policy of a state directory without policy.toml (an empty list and no list are the same).
func TestTemplateIsDefault(t *testing.T) {
	p, err := Parse([]byte(Template))
	if err != nil {
		t.Fatal(err)
	}
	if got, want := fmt.Sprintf("%v", p), fmt.Sprintf("%v", Default()); got != want {
		t.Fatalf("template parses to %s, want the default %s", got, want)
	}
}
