package boundedio

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestLimits(t *testing.T) {
	for _, tc := range []struct {
		in    string
		limit int64
		ok    bool
	}{{"", 0, true}, {"abc", 3, true}, {"abcd", 3, false}, {"a", 0, false}} {
		b, err := ReadAll(strings.NewReader(tc.in), tc.limit)
		if tc.ok && (err != nil || string(b) != tc.in) {
			t.Errorf("%q/%d: %q %v", tc.in, tc.limit, b, err)
		}
		if !tc.ok && !errors.Is(err, ErrTooLarge) {
			t.Errorf("%q/%d: want ErrTooLarge, got %v", tc.in, tc.limit, err)
		}
	}
	p := filepath.Join(t.TempDir(), "f")
	os.WriteFile(p, []byte("12345"), 0o600)
	if _, err := ReadFile(p, 4); !errors.Is(err, ErrTooLarge) || !strings.Contains(err.Error(), p) {
		t.Fatalf("file over the limit: %v", err)
	}
	if b, err := ReadFile(p, 5); err != nil || string(b) != "12345" {
		t.Fatalf("file at the limit: %q %v", b, err)
	}
}
