package secmem

import (
	"fmt"
	"os"
	"unsafe"

	"golang.org/x/sys/unix"
)

// New maps an arena of n slots of slotSize bytes. It always excludes the mapping from core
// dumps and forked children; it locks the pages when the memlock limit allows. If
// requireLock is set, failing to lock is an error instead of a reported downgrade.
func New(n, slotSize int, requireLock bool) (*Arena, error) {
	if n <= 0 || slotSize <= 0 {
		return nil, fmt.Errorf("secmem: invalid size %d×%d", n, slotSize)
	}
	page := os.Getpagesize()
	size := (n*slotSize + page - 1) / page * page
	mem, err := unix.Mmap(-1, 0, size, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_PRIVATE|unix.MAP_ANONYMOUS)
	if err != nil {
		return nil, fmt.Errorf("secmem: mmap %d bytes: %w", size, err)
	}
	if err := unix.Madvise(mem, unix.MADV_DONTDUMP); err != nil {
		_ = unix.Munmap(mem)
		return nil, fmt.Errorf("secmem: madvise DONTDUMP: %w", err)
	}
	// WIPEONFORK is best effort: the core never forks, this only guards future mistakes.
	_ = unix.Madvise(mem, unix.MADV_WIPEONFORK)
	a := &Arena{mem: mem, slot: slotSize}
	if err := unix.Mlock(mem); err != nil {
		if requireLock {
			_ = unix.Munmap(mem)
			return nil, fmt.Errorf("secmem: mlock %d bytes (raise LimitMEMLOCK / RLIMIT_MEMLOCK): %w", size, err)
		}
	} else {
		a.locked = true
	}
	return a, nil
}

func unmap(b []byte) error { return unix.Munmap(b) }

func offsetOf(mem, b []byte) int {
	base := uintptr(unsafe.Pointer(unsafe.SliceData(mem)))
	p := uintptr(unsafe.Pointer(unsafe.SliceData(b)))
	if p < base || p >= base+uintptr(len(mem)) {
		return -1
	}
	return int(p - base)
}
