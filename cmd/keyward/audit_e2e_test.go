package main

import (
	"strings"
	"syscall"
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
	// Stop the signer: the core flushes and closes its trail, so the files are final
	// (while it runs, a flush may be between a rotation and its pruning).
	if err := s.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-s.done:
		s.done <- err // for the cleanup
	case <-time.After(30 * time.Second):
		t.Fatal("keyward did not stop")
	}
	if names, _, _ := audit.RotatedFiles(s.dir); len(names) != 2 {
		t.Fatalf("%d rotated files, want 2 (keep_files)\n%s", len(names), s.logs)
	}
	out := run(t, "audit", "verify", "--dir", s.dir)
	if !strings.Contains(out, "starts at record") || !strings.Contains(out, "in 3 file(s)") {
		t.Fatalf("audit verify after rotation:\n%s", out)
	}
}
