package wire

import (
	"bytes"
	"errors"
	"strings"
	"testing"
)

func TestGatewayRefusalRoundTrip(t *testing.T) {
	r := &GatewayRefusal{Status: 403, Suppressed: 7, Client: "vc-1", Key: "0xab", Op: "BLOCK_V2", Remote: "192.0.2.1:5000", API: "eth2", Reason: "client vc-1 may not ask for BLOCK_V2"}
	b := AppendGatewayRefusal(nil, r)
	got, err := DecodeGatewayRefusal(b)
	if err != nil || *got != *r {
		t.Fatalf("round trip: %+v, %v", got, err)
	}
	for i := range b { // every truncation is refused
		if _, err := DecodeGatewayRefusal(b[:i]); !errors.Is(err, ErrMalformed) {
			t.Fatalf("truncated to %d bytes: %v", i, err)
		}
	}
	if _, err := DecodeGatewayRefusal(append(b, 0)); !errors.Is(err, ErrMalformed) {
		t.Fatalf("trailing byte: %v", err)
	}
}

func TestGatewayRefusalRefused(t *testing.T) {
	long := strings.Repeat("x", 300)
	tests := []struct {
		name string
		b    []byte
	}{
		{"status 200", AppendGatewayRefusal(nil, &GatewayRefusal{Status: 200})},
		{"status 503", AppendGatewayRefusal(nil, &GatewayRefusal{Status: 503})},
		{"field over its limit", append([]byte{1, 0x91, 0, 0, 0, 0, 200}, []byte(long[:200]+"\x00\x00\x00\x00\x00\x00")...)},
		{"invalid UTF-8", []byte{1, 0x91, 0, 0, 0, 0, 1, 0xff, 0, 0, 0, 0, 0, 0}},
	}
	for _, tt := range tests {
		if _, err := DecodeGatewayRefusal(tt.b); !errors.Is(err, ErrMalformed) {
			t.Errorf("%s: %v, want ErrMalformed", tt.name, err)
		}
	}
}

// TestGatewayRefusalCutsLongFields: the encoder cuts what a hostile request put in a
// field (a 300-byte key, invalid UTF-8) so the refusal is still reported and decodes.
func TestGatewayRefusalCutsLongFields(t *testing.T) {
	r := &GatewayRefusal{Status: 401, Key: strings.Repeat("é", 200), Remote: "\xff\xfe", Reason: strings.Repeat("r", 1000)}
	got, err := DecodeGatewayRefusal(AppendGatewayRefusal(nil, r))
	if err != nil {
		t.Fatal(err)
	}
	if len(got.Key) > maxRefusalField || len(got.Reason) != maxRefusalReason || got.Remote != "\uFFFD" {
		t.Fatalf("not cut: key %d bytes, reason %d, remote %q", len(got.Key), len(got.Reason), got.Remote)
	}
}

func FuzzDecodeGatewayRefusal(f *testing.F) {
	f.Add(AppendGatewayRefusal(nil, &GatewayRefusal{Status: 401, Remote: "[::1]:1", API: "tezos", Reason: "authentication required"}))
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := DecodeGatewayRefusal(b)
		if err != nil {
			return
		}
		if again := AppendGatewayRefusal(nil, r); !bytes.Equal(again, b) {
			t.Fatalf("re-encodes differently")
		}
	})
}
