package secmem

import (
	"errors"
	"testing"
)

func TestArenaAllocFreeFull(t *testing.T) {
	a, err := New(3, 32, false)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Destroy()
	var slots [][]byte
	for i := 0; i < 3; i++ {
		b, err := a.Alloc()
		if err != nil {
			t.Fatalf("alloc %d: %v", i, err)
		}
		if len(b) != 32 {
			t.Fatalf("slot size %d", len(b))
		}
		b[0] = byte(i + 1)
		slots = append(slots, b)
	}
	// The mapping is page-rounded, so a 4th slot may still fit; fill until full.
	for {
		if _, err := a.Alloc(); err != nil {
			if !errors.Is(err, ErrFull) {
				t.Fatalf("want ErrFull, got %v", err)
			}
			break
		}
	}
	a.Free(slots[1])
	b, err := a.Alloc()
	if err != nil {
		t.Fatalf("alloc after free: %v", err)
	}
	if b[0] != 0 {
		t.Fatal("reused slot not zeroed")
	}
	if slots[0][0] != 1 || slots[2][0] != 3 {
		t.Fatal("neighbouring slots changed")
	}
}

// TestArenaLocked checks that a small arena is locked under the default memlock limit
// (Inv 1: key memory never swapped).
func TestArenaLocked(t *testing.T) {
	a, err := New(1000, 32, true)
	if err != nil {
		t.Fatalf("locked arena of 32 KB: %v", err)
	}
	defer a.Destroy()
	if !a.Locked() {
		t.Fatal("arena not locked")
	}
}
