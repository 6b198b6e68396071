package doctor

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io/fs"
	"os"

	"golang.org/x/sys/unix"
)

// bboltMagic is the magic number at offset 16 of a bbolt meta page (page header 16 bytes,
// then the meta's magic): the first two pages of every bbolt file.
const bboltMagic = 0xED0CDAED

// checkProtectionStore looks at protection.db without opening it (a running core holds
// it locked, and opening it read-only would wait for the lock): present, a regular file,
// a bbolt header in both meta pages, and enough free disk to grow. An absent store is a
// warning: it is created at the first start, and keys that signed elsewhere need their
// history imported before that.
func checkProtectionStore(path string) Finding {
	const name = "protection store"
	fi, err := os.Lstat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return Finding{name, Warn, "no protection.db yet: created at the first start, empty",
			"before the first start, import the EIP-3076 history of every key that signed elsewhere (keyward slashing import, keyward migrate)"}
	}
	if err != nil {
		return Finding{name, Fail, err.Error(), ""}
	}
	if !fi.Mode().IsRegular() {
		return Finding{name, Fail, path + " is not a regular file", "restore it; never replace it with a link"}
	}
	f, err := os.Open(path)
	if err != nil {
		return Finding{name, Fail, err.Error(), ""}
	}
	defer f.Close()
	var hdr [32]byte
	if _, err := f.ReadAt(hdr[:], 0); err != nil {
		return Finding{name, Fail, fmt.Sprintf("%s: %d bytes, unreadable header: %v", path, fi.Size(), err), "the store is damaged: stop and restore from the most recent copy, never an older one"}
	}
	if binary.LittleEndian.Uint32(hdr[16:20]) != bboltMagic {
		return Finding{name, Fail, path + " has no bbolt header", "the store is damaged: stop and restore from the most recent copy, never an older one"}
	}
	pageSize := binary.LittleEndian.Uint32(hdr[24:28])
	if pageSize >= 512 && pageSize <= 1<<20 {
		var m [4]byte
		if _, err := f.ReadAt(m[:], int64(pageSize)+16); err != nil || binary.LittleEndian.Uint32(m[:]) != bboltMagic {
			return Finding{name, Warn, path + ": the second meta page is unreadable; bbolt falls back to the first", "keep a copy (with the signer stopped) before the next upgrade"}
		}
	}
	var st unix.Statfs_t
	if err := unix.Statfs(path, &st); err == nil {
		if free := st.Bavail * uint64(st.Bsize); free < 2*uint64(fi.Size()) {
			return Finding{name, Fail, fmt.Sprintf("%s is %d MiB and only %d MiB are free: a compaction or growth can fail and signing stops", path, fi.Size()>>20, free>>20), "free disk space"}
		}
	}
	return Finding{name, Pass, fmt.Sprintf("%s: %d KiB, bbolt, page size %d", path, fi.Size()>>10, pageSize), ""}
}

// journalMagic opens a protection journal (internal/protect/journal.go); doctor does not
// import protect, so the string is repeated here and a test holds the two equal.
const journalMagic = "keyward protection journal 1\n"

// checkProtectionJournal looks at protection.db.journal, the protection store's
// write-ahead journal, without opening the store: absent before the first start, else a
// regular file, 0600 (Inv 9: it holds protection records), with the journal's header.
func checkProtectionJournal(path string) Finding {
	const name = "protection journal"
	fi, err := os.Lstat(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return Finding{name, Pass, "no protection.db.journal yet (created at the core's first start)", ""}
	case err != nil:
		return Finding{name, Fail, err.Error(), ""}
	case !fi.Mode().IsRegular():
		return Finding{name, Fail, path + " is not a regular file", "put the database's own journal back; never a link"}
	case fi.Mode().Perm() != 0o600:
		return Finding{name, Fail, fmt.Sprintf("%s has mode %#o", path, fi.Mode().Perm()), "chmod 600 " + path}
	}
	f, err := os.Open(path)
	if err != nil {
		return Finding{name, Fail, err.Error(), ""}
	}
	defer f.Close()
	hdr := make([]byte, len(journalMagic))
	if _, err := f.ReadAt(hdr, 0); err != nil || string(hdr) != journalMagic {
		return Finding{name, Fail, path + " has no protection journal header", "it belongs with protection.db: never delete or replace it while the database was not closed cleanly (docs/operations.md, The journal)"}
	}
	return Finding{name, Pass, fmt.Sprintf("%s: %d KiB, belongs with protection.db", path, fi.Size()>>10), ""}
}
