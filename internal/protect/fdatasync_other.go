//go:build !linux

package protect

import "os"

// fdatasync flushes f to the device (fsync where fdatasync is not available).
func fdatasync(f *os.File) error { return f.Sync() }
