package config

import (
	"strings"
	"testing"
)

func TestAuditSection(t *testing.T) {
	tests := []struct {
		toml    string
		want    Audit
		errPart string
	}{
		{"", DefaultAudit(), ""},
		{"[audit]\nmax_file_bytes = 0\n", Audit{}, ""},
		{"[audit]\nmax_file_bytes = 1048576\nkeep_files = 3\n", Audit{MaxFileBytes: 1 << 20, KeepFiles: 3}, ""},
		{"[audit]\nmax_file_bytes = 100\n", Audit{}, "audit.max_file_bytes"},
		{"[audit]\nkeep_files = -1\n", Audit{}, "audit.keep_files"},
		{"[audit]\nrotate = true\n", Audit{}, "unknown key"},
	}
	for _, tt := range tests {
		c, err := Parse([]byte(tt.toml))
		if tt.errPart != "" {
			if err == nil || !strings.Contains(err.Error(), tt.errPart) {
				t.Errorf("%q: %v, want an error naming %s", tt.toml, err, tt.errPart)
			}
			continue
		}
		if err != nil || c.Audit != tt.want {
			t.Errorf("%q: %+v %v, want %+v", tt.toml, c.Audit, err, tt.want)
		}
	}
}
