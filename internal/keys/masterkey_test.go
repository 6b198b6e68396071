package keys

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestCreateMasterKey(t *testing.T) {
	path := filepath.Join(t.TempDir(), "master.key")
	if err := CreateMasterKey(path); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 || fi.Size() != MasterKeySize {
		t.Fatalf("mode %v size %d", fi.Mode(), fi.Size())
	}
	mk, err := LoadMasterKey(path)
	if err != nil {
		t.Fatal(err)
	}
	if mk.k == ([MasterKeySize]byte{}) {
		t.Fatal("master key is zero")
	}
	mk.Zero()
	if mk.k != ([MasterKeySize]byte{}) {
		t.Fatal("Zero left bytes")
	}
}

// TestCreateMasterKeyNeverOverwrites: an existing key (or any file) is left untouched.
func TestCreateMasterKeyNeverOverwrites(t *testing.T) {
	path := filepath.Join(t.TempDir(), "master.key")
	if err := CreateMasterKey(path); err != nil {
		t.Fatal(err)
	}
	before, _ := os.ReadFile(path)
	err := CreateMasterKey(path)
	if !errors.Is(err, fs.ErrExist) {
		t.Fatalf("second create: %v, want fs.ErrExist", err)
	}
	after, _ := os.ReadFile(path)
	if !bytes.Equal(before, after) {
		t.Fatal("master key overwritten")
	}
	// A symlink at the path is not followed either.
	link := filepath.Join(t.TempDir(), "link.key")
	target := filepath.Join(t.TempDir(), "target")
	if err := os.Symlink(target, link); err != nil {
		t.Fatal(err)
	}
	if err := CreateMasterKey(link); err == nil {
		t.Fatal("create through a symlink succeeded")
	}
	if _, err := os.Stat(target); !errors.Is(err, fs.ErrNotExist) {
		t.Fatal("symlink target created")
	}
}

// TestInv9MasterKeyModeRefused: ErrInsecureFile for group/other bits, with the fix named.
func TestInv9MasterKeyModeRefused(t *testing.T) {
	path := filepath.Join(t.TempDir(), "master.key")
	if err := CreateMasterKey(path); err != nil {
		t.Fatal(err)
	}
	for _, mode := range []os.FileMode{0o644, 0o640, 0o604, 0o660, 0o602} {
		if err := os.Chmod(path, mode); err != nil {
			t.Fatal(err)
		}
		_, err := LoadMasterKey(path)
		if !errors.Is(err, ErrInsecureFile) {
			t.Fatalf("mode %04o: %v, want ErrInsecureFile", mode, err)
		}
		if !strings.Contains(err.Error(), "chmod 600 "+path) {
			t.Fatalf("error does not say the fix: %v", err)
		}
	}
	if err := os.Chmod(path, 0o400); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadMasterKey(path); err != nil {
		t.Fatalf("mode 0400 refused: %v", err)
	}
}

// TestInv9MasterKeyOwnerRefused needs root to give the file to another user.
func TestInv9MasterKeyOwnerRefused(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("skipped: changing a file's owner needs root")
	}
	path := filepath.Join(t.TempDir(), "master.key")
	if err := CreateMasterKey(path); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(path, 65534, -1); err != nil {
		t.Fatal(err)
	}
	_, err := LoadMasterKey(path)
	if !errors.Is(err, ErrInsecureFile) || !strings.Contains(err.Error(), "chown 0 "+path) {
		t.Fatalf("foreign owner: %v", err)
	}
}

func TestLoadMasterKeyErrMasterKeyFormat(t *testing.T) {
	dir := t.TempDir()
	for _, n := range []int{0, 31, 33, 64} {
		path := filepath.Join(dir, fmt.Sprintf("k%d", n))
		if err := os.WriteFile(path, make([]byte, n), 0o600); err != nil {
			t.Fatal(err)
		}
		if _, err := LoadMasterKey(path); !errors.Is(err, ErrMasterKeyFormat) {
			t.Fatalf("%d bytes: %v, want ErrMasterKeyFormat", n, err)
		}
	}
	if err := os.Mkdir(filepath.Join(dir, "d"), 0o700); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadMasterKey(filepath.Join(dir, "d")); !errors.Is(err, ErrInsecureFile) {
		t.Fatalf("directory: %v, want ErrInsecureFile", err)
	}
}

// TestMasterKeyRedacted: no fmt verb prints key bytes (STYLE rule 13).
func TestMasterKeyRedacted(t *testing.T) {
	mk := &MasterKey{}
	for i := range mk.k {
		mk.k[i] = 0xab
	}
	for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%x", "%X", "%q", "%d"} {
		for _, arg := range []any{mk, *mk} {
			out := fmt.Sprintf(verb, arg)
			if strings.Contains(strings.ToLower(out), "ab") && !strings.Contains(out, "redacted") {
				t.Fatalf("%s leaks: %s", verb, out)
			}
			if strings.Contains(strings.ToLower(out), "abab") || strings.Contains(out, "171") {
				t.Fatalf("%s leaks: %s", verb, out)
			}
		}
	}
}
