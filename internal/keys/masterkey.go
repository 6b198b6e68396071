package keys

import (
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"syscall"
)

// MasterKeySize is the length of the master key in bytes.
const MasterKeySize = 32

// MasterKey is the key every stored secret is sealed under (Inv 9). It redacts itself on
// every fmt verb. Zero it once the store is open: OpenStore keeps only a derived key.
type MasterKey struct {
	k [MasterKeySize]byte
}

const redactedMasterKey = "keys.MasterKey(redacted)"

// String returns a fixed redaction marker. The redacting methods have value receivers so
// that a copied MasterKey redacts too.
func (MasterKey) String() string { return redactedMasterKey }

// GoString returns a fixed redaction marker.
func (MasterKey) GoString() string { return redactedMasterKey }

// Format writes a fixed redaction marker for every verb.
func (MasterKey) Format(f fmt.State, _ rune) { _, _ = io.WriteString(f, redactedMasterKey) }

// Zero overwrites the key with zeros.
func (mk *MasterKey) Zero() { clear(mk.k[:]) }

// CreateMasterKey writes 32 random bytes to a new file at path with mode 0600 and makes
// the file and its directory entry durable. It never overwrites: if path exists the error
// wraps fs.ErrExist.
func CreateMasterKey(path string) (err error) {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL|syscall.O_NOFOLLOW, 0o600)
	if err != nil {
		return fmt.Errorf("create master key: %w", err)
	}
	defer func() {
		if err != nil {
			_ = f.Close()
			_ = os.Remove(path) // a partial key must not be mistaken for a key later
		}
	}()
	// The umask can only clear bits; set the mode explicitly anyway (Inv 9).
	if err := f.Chmod(0o600); err != nil {
		return fmt.Errorf("create master key: %w", err)
	}
	var k [MasterKeySize]byte
	defer clear(k[:])
	if _, err := rand.Read(k[:]); err != nil {
		return fmt.Errorf("create master key: %w", err)
	}
	if _, err := f.Write(k[:]); err != nil {
		return fmt.Errorf("create master key: %w", err)
	}
	if err := f.Sync(); err != nil {
		return fmt.Errorf("create master key: sync: %w", err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("create master key: %w", err)
	}
	if err := syncDir(filepath.Dir(path)); err != nil {
		return fmt.Errorf("create master key: %w", err)
	}
	return nil
}

// LoadMasterKey reads the master key from path. It refuses (ErrInsecureFile) a file that
// is not a regular file, whose mode grants any access to group or others, or whose owner
// is not the effective user, and (ErrMasterKeyFormat) one that is not exactly 32 bytes.
func LoadMasterKey(path string) (*MasterKey, error) {
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NOFOLLOW, 0)
	if err != nil {
		return nil, fmt.Errorf("load master key: %w", err)
	}
	defer f.Close()
	if err := checkSecretFile(f, path); err != nil {
		return nil, fmt.Errorf("load master key: %w", err)
	}
	mk := new(MasterKey)
	if _, err := io.ReadFull(f, mk.k[:]); err != nil {
		mk.Zero()
		return nil, fmt.Errorf("load master key %s: %w", path, ErrMasterKeyFormat)
	}
	var extra [1]byte
	if n, _ := f.Read(extra[:]); n != 0 {
		mk.Zero()
		return nil, fmt.Errorf("load master key %s: %w", path, ErrMasterKeyFormat)
	}
	return mk, nil
}

// checkSecretFile enforces Inv 9 on an open file: a regular file, owned by the effective
// user, with no permission bits for group or others. The error says how to fix it.
func checkSecretFile(f *os.File, path string) error {
	fi, err := f.Stat()
	if err != nil {
		return err
	}
	if !fi.Mode().IsRegular() {
		return fmt.Errorf("%s is not a regular file: %w", path, ErrInsecureFile)
	}
	if perm := fi.Mode().Perm(); perm&0o077 != 0 {
		return fmt.Errorf("%s has mode %04o, which lets group or others access it (fix: chmod 600 %s): %w",
			path, perm, path, ErrInsecureFile)
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return fmt.Errorf("%s: cannot read file owner: %w", path, ErrInsecureFile)
	}
	if euid := os.Geteuid(); int(st.Uid) != euid {
		return fmt.Errorf("%s is owned by uid %d, not by the service user uid %d (fix: chown %d %s): %w",
			path, st.Uid, euid, euid, path, ErrInsecureFile)
	}
	return nil
}

// checkSecretPath is checkSecretFile for a path that may not exist yet (a new store).
func checkSecretPath(path string) error {
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NOFOLLOW, 0)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	defer f.Close()
	return checkSecretFile(f, path)
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("sync directory %s: %w", dir, err)
	}
	return nil
}
