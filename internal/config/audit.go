package config

import "fmt"

// Audit configures the core's audit trail (package audit): when the file being written
// is rotated and how many rotated files the core keeps.
type Audit struct {
	// MaxFileBytes rotates audit.jsonl once it reaches this size: it is renamed
	// audit-<last seq>.jsonl and a new file continues the chain. 0 never rotates.
	// The core verifies the whole current file at every start (about 1 s for 16 MiB,
	// 50,000 events, on a busy 2-core machine), so this also bounds start-up time. With
	// 10,000 validators the trail grows by about 750 MB a day.
	MaxFileBytes int64 `toml:"max_file_bytes"`
	// KeepFiles is how many rotated files the core keeps (it removes the oldest beyond);
	// 0 keeps them all, for the operator to archive. Keep the newest rotated file in
	// place: the core checks that audit.jsonl continues it.
	KeepFiles int `toml:"keep_files"`
}

// Limits of [audit].
const (
	DefaultAuditMaxFileBytes = 16 << 20
	minAuditMaxFileBytes     = 64 << 10
)

// DefaultAudit returns the [audit] section `keyward init` writes.
func DefaultAudit() Audit {
	return Audit{MaxFileBytes: DefaultAuditMaxFileBytes}
}

func (a Audit) validate() error {
	if a.MaxFileBytes != 0 && a.MaxFileBytes < minAuditMaxFileBytes {
		return fmt.Errorf("audit.max_file_bytes: %d is below %d; 0 never rotates", a.MaxFileBytes, minAuditMaxFileBytes)
	}
	if a.KeepFiles < 0 {
		return fmt.Errorf("audit.keep_files: %d < 0", a.KeepFiles)
	}
	return nil
}
