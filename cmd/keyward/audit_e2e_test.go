package main

import (
	"strings"
	"testing"
	"time"

	"github.com/keyward/keyward/internal/audit"
)

// TestAuditRotationEndToEnd: the confined core rotates its audit trail at
// audit.max_file_bytes (rename and create inside the state directory, under Landlock and
// seccomp), removes rotated files beyond audit.keep_files, and keyward audit verify checks
// the chain across the files left.
func TestAuditRotationEndToEnd(t *testing.T) {
	s := startSignerWith(t, 1, nil, func(cfg string) string {
		if !strings.Contains(cfg, "max_file_bytes = 16777216") || !strings.Contains(cfg, "keep_files = 0") {
			t.Fatalf("init wrote no [audit] defaults:\n%s", cfg)
		}
		cfg = strings.Replace(cfg, "max_file_bytes = 16777216", "max_file_bytes = 65536", 1)
		return strings.Replace(cfg, "keep_files = 0", "keep_files = 2", 1)
	})
	key := s.keys()[0]
	for i := range uint64(600) { // ~350 bytes an event: about three files' worth
		if code, m := s.sign(key, attestation(i, i+1, 1, "")); code != 200 {
			t.Fatalf("attestation %d: %d %v", i, code, m)
		}
	}
	var names []string
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		names, _, _ = audit.RotatedFiles(s.dir)
		if len(names) == 2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d rotated files, want 2 (keep_files)\n%s", len(names), s.logs)
		}
	}
	out := run(t, "audit", "verify", "--dir", s.dir)
	if !strings.Contains(out, "starts at record") || !strings.Contains(out, "in 3 file(s)") {
		t.Fatalf("audit verify after rotation:\n%s", out)
	}
}
