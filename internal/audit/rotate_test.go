package audit

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// appendSynced appends n events, syncing after each so that rotation can happen between
// them, and closes the trail.
func appendSynced(t *testing.T, dir string, o Options, n int) {
	t.Helper()
	tr, err := Open(filepath.Join(dir, FileName), o)
	if err != nil {
		t.Fatal(err)
	}
	for i := range n {
		if err := tr.Append(Event{Time: time.Unix(int64(i), 0), Decision: Signed, Chain: "eth", Key: "0xaa", Kind: "ATTESTATION", Slot: u64(uint64(i))}); err != nil {
			t.Fatal(err)
		}
		if err := tr.Sync(); err != nil {
			t.Fatal(err)
		}
	}
	if err := tr.Close(); err != nil {
		t.Fatal(err)
	}
}

// wantChain verifies dir and checks that its files hold records first..last, contiguous.
func wantChain(t *testing.T, dir string, first, last uint64) []FileSummary {
	t.Helper()
	fs, err := VerifyDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if fs[0].First != first || fs[len(fs)-1].Records != last {
		t.Fatalf("chain %d..%d, want %d..%d (%+v)", fs[0].First, fs[len(fs)-1].Records, first, last, fs)
	}
	return fs
}

// TestRotate: a full file is renamed after its last record and a new one continues the
// chain; reopening continues it again; VerifyDir checks the whole chain across files.
func TestRotate(t *testing.T) {
	dir := t.TempDir()
	o := Options{MaxFileSize: 1500}
	appendSynced(t, dir, o, 40)
	fs := wantChain(t, dir, 1, 40)
	if len(fs) < 4 {
		t.Fatalf("%d files for 40 records of ~200 bytes in files of 1,500: no rotation", len(fs))
	}
	for _, f := range fs {
		fi, err := os.Stat(f.Path)
		if err != nil || fi.Mode().Perm() != 0o600 {
			t.Fatalf("%s: %v %v", f.Path, fi.Mode(), err)
		}
		if filepath.Base(f.Path) != FileName && filepath.Base(f.Path) != rotatedName(f.Records) {
			t.Fatalf("%s holds records up to %d", f.Path, f.Records)
		}
	}
	appendSynced(t, dir, o, 10) // a restart continues the chain across the rotated files
	wantChain(t, dir, 1, 50)
}

// TestRotate_Keep: beyond Keep rotated files the oldest are removed; the oldest present
// then starts mid-chain, which VerifyDir accepts and reports.
func TestRotate_Keep(t *testing.T) {
	dir := t.TempDir()
	appendSynced(t, dir, Options{MaxFileSize: 1500, Keep: 2}, 40)
	names, _, err := RotatedFiles(dir)
	if err != nil || len(names) != 2 {
		t.Fatalf("%d rotated files kept, want 2 (%v)", len(names), err)
	}
	fs, err := VerifyDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if fs[0].First <= 1 || fs[len(fs)-1].Records != 40 {
		t.Fatalf("kept chain %d..%d", fs[0].First, fs[len(fs)-1].Records)
	}
}

// TestRotate_Tampered: an edited rotated file, a removed file in the middle of the chain,
// or a removed newest rotated file (the current file no longer continues what is beside
// it) are all detected; Open refuses to append to the last case.
func TestRotate_Tampered(t *testing.T) {
	build := func(t *testing.T) (string, []string) {
		dir := t.TempDir()
		appendSynced(t, dir, Options{MaxFileSize: 1500}, 40)
		names, _, err := RotatedFiles(dir)
		if err != nil || len(names) < 3 {
			t.Fatalf("%d rotated files", len(names))
		}
		return dir, names
	}
	t.Run("edited line", func(t *testing.T) {
		dir, names := build(t)
		b, _ := os.ReadFile(names[1])
		os.WriteFile(names[1], []byte(strings.Replace(string(b), `"ATTESTATION"`, `"BLOCK_V2"`, 1)), 0o600)
		if _, err := VerifyDir(dir); !errors.Is(err, ErrBroken) {
			t.Fatalf("edited rotated file: %v", err)
		}
	})
	t.Run("file removed in the middle", func(t *testing.T) {
		dir, names := build(t)
		os.Remove(names[1])
		if _, err := VerifyDir(dir); !errors.Is(err, ErrBroken) {
			t.Fatalf("gap in the chain: %v", err)
		}
	})
	t.Run("newest rotated file removed", func(t *testing.T) {
		dir, names := build(t)
		os.Remove(names[len(names)-1])
		if _, err := VerifyDir(dir); !errors.Is(err, ErrBroken) {
			t.Fatalf("VerifyDir: %v", err)
		}
		if _, err := Open(filepath.Join(dir, FileName), Options{}); !errors.Is(err, ErrBroken) {
			t.Fatalf("Open appended to a file that continues a missing one: %v", err)
		}
	})
	t.Run("rotated file renamed", func(t *testing.T) {
		dir, names := build(t)
		last := names[len(names)-1]
		os.Rename(last, filepath.Join(dir, rotatedName(1<<40)))
		if _, err := Open(filepath.Join(dir, FileName), Options{}); !errors.Is(err, ErrBroken) {
			t.Fatalf("Open with a rotated file whose name lies: %v", err)
		}
	})
}
