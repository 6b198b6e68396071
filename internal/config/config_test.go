package config

import (
	"strings"
	"testing"
)

func TestRoundTrip(t *testing.T) {
	b, err := Marshal(Default())
	if err != nil {
		t.Fatal(err)
	}
	c, err := Parse(b)
	if err != nil {
		t.Fatalf("parse default: %v\n%s", err, b)
	}
	if c != Default() {
		t.Fatalf("round trip changed the configuration: %+v", c)
	}
}

func TestRefused(t *testing.T) {
	cases := map[string]string{
		"[core]\nconfinment = \"full\"\n":  "unknown key",
		"[core]\nconfinement = \"some\"\n": "core.confinement",
		"[eth]\nlisten = \"nonsense\"\n":   "eth.listen",
		"[eth]\nmax_body_bytes = 1\n":      "eth.max_body_bytes",
		"[log]\nformat = \"xml\"\n":        "log.format",
		"[[core]]\n":                       "parse",
	}
	for in, want := range cases {
		if _, err := Parse([]byte(in)); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: want error containing %q, got %v", in, want, err)
		}
	}
}
