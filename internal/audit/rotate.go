package audit

import (
	"bytes"
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
)

// Rotated files are named audit-<last seq, 20 digits>.jsonl, so that their lexical order
// is the chain's order. The trail being written is always FileName.
const (
	rotatedPrefix = "audit-"
	rotatedSuffix = ".jsonl"
)

// rotatedName is the name of a rotated file whose last record has sequence number seq.
func rotatedName(seq uint64) string {
	return fmt.Sprintf("%s%020d%s", rotatedPrefix, seq, rotatedSuffix)
}

// RotatedFiles returns the rotated files of the trail in dir, oldest first, with the
// sequence number of each one's last record (from its name).
func RotatedFiles(dir string) ([]string, []uint64, error) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, nil, fmt.Errorf("list rotated audit files: %w", err)
	}
	type rotated struct {
		name string
		seq  uint64
	}
	var rs []rotated
	for _, e := range ents {
		digits, ok := strings.CutPrefix(e.Name(), rotatedPrefix)
		digits, ok2 := strings.CutSuffix(digits, rotatedSuffix)
		if !ok || !ok2 || !e.Type().IsRegular() {
			continue
		}
		if seq, err := strconv.ParseUint(digits, 10, 64); err == nil {
			rs = append(rs, rotated{filepath.Join(dir, e.Name()), seq})
		}
	}
	slices.SortFunc(rs, func(a, b rotated) int { return cmp.Compare(a.seq, b.seq) })
	names := make([]string, len(rs))
	seqs := make([]uint64, len(rs))
	for i, r := range rs {
		names[i], seqs[i] = r.name, r.seq
	}
	return names, seqs, nil
}

// predecessor returns where the trail file in dir must continue from: the summary of the
// newest rotated file (its last record, whose own hash is checked), or the empty summary
// when nothing was rotated.
func predecessor(dir string) (Summary, error) {
	names, seqs, err := RotatedFiles(dir)
	if err != nil || len(names) == 0 {
		return Summary{}, err
	}
	name, seq := names[len(names)-1], seqs[len(seqs)-1]
	rec, err := lastRecord(name)
	if err != nil {
		return Summary{}, fmt.Errorf("%s: %w", name, err)
	}
	if rec.Seq != seq {
		return Summary{}, &ChainError{Line: 0, Reason: fmt.Sprintf("%s ends at sequence %d, not %d as its name says", filepath.Base(name), rec.Seq, seq)}
	}
	return Summary{Records: rec.Seq, Last: rec.Hash}, nil
}

// lastRecord reads and checks (its own hash, its canonical form) the last line of a
// rotated file, without reading the whole file.
func lastRecord(path string) (Record, error) {
	f, err := os.Open(path)
	if err != nil {
		return Record{}, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return Record{}, err
	}
	n := min(fi.Size(), MaxLineSize+1)
	buf := make([]byte, n)
	if _, err := f.ReadAt(buf, fi.Size()-n); err != nil && !errors.Is(err, io.EOF) {
		return Record{}, err
	}
	buf, ok := bytes.CutSuffix(buf, []byte("\n"))
	if !ok {
		return Record{}, &ChainError{Reason: "rotated file does not end with a complete line"}
	}
	if i := bytes.LastIndexByte(buf, '\n'); i >= 0 {
		buf = buf[i+1:]
	}
	rec, reason := checkAnchor(buf)
	if reason != "" {
		return Record{}, &ChainError{Reason: "last line: " + reason}
	}
	return rec, nil
}

// checkAnchor checks a line that starts a file continuing a chain whose earlier part is
// not at hand: its own hash and form, with whatever sequence number and prev it names.
func checkAnchor(line []byte) (Record, string) {
	var head struct {
		Seq  uint64 `json:"seq"`
		Prev Hash   `json:"prev"`
	}
	if err := json.Unmarshal(line, &head); err != nil || head.Seq == 0 {
		return Record{}, "not a record"
	}
	return checkLine(line, Summary{Records: head.Seq - 1, Last: head.Prev})
}

// rotate closes the full file, renames it after its last record and starts an empty
// FileName that continues the chain; then removes the oldest rotated files beyond
// Options.Keep. t.flushMu is held and the file is synced. A failure leaves the trail
// appending to the file it had (the chain stays whole); the next flush tries again.
func (t *Trail) rotate(lastSeq uint64) error {
	dir := filepath.Dir(t.path)
	rotated := filepath.Join(dir, rotatedName(lastSeq))
	if _, err := os.Lstat(rotated); err == nil {
		return fmt.Errorf("rotate audit trail: %s exists", rotated)
	}
	if err := os.Rename(t.path, rotated); err != nil {
		return fmt.Errorf("rotate audit trail: %w", err)
	}
	nf, err := os.OpenFile(t.path, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		// Put the full file back: appending to it is better than losing the chain.
		if rerr := os.Rename(rotated, t.path); rerr != nil {
			t.setErr(fmt.Errorf("rotate audit trail: %w; and the file cannot be put back: %v", err, rerr))
		}
		return fmt.Errorf("rotate audit trail: %w", err)
	}
	if err := syncDir(dir); err != nil {
		nf.Close()
		return fmt.Errorf("rotate audit trail: %w", err)
	}
	_ = t.f.Close()
	t.f, t.size = nf, 0
	if t.opts.Keep > 0 {
		names, _, err := RotatedFiles(dir)
		if err != nil {
			return err
		}
		for len(names) > t.opts.Keep {
			if err := os.Remove(names[0]); err != nil {
				return fmt.Errorf("remove old audit file: %w", err)
			}
			names = names[1:]
		}
	}
	return nil
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// setErr makes err the trail's sticky failure, unless it has one.
func (t *Trail) setErr(err error) {
	t.mu.Lock()
	if t.err == nil {
		t.err = err
	}
	t.mu.Unlock()
}

// FileSummary is what VerifyDir found in one file of a trail.
type FileSummary struct {
	Path  string
	First uint64 // sequence number of its first record (0 for an empty file)
	Summary
}

// VerifyDir verifies the trail in dir across its files: the rotated files oldest first,
// then FileName. Each file must continue the one before exactly. The oldest file present
// may start anywhere in the chain (older files archived or removed; its first record's
// own hash is still checked), which VerifyDir reports through the first FileSummary's
// First. It returns what it verified before the first failure.
func VerifyDir(dir string) ([]FileSummary, error) {
	names, _, err := RotatedFiles(dir)
	if err != nil {
		return nil, err
	}
	names = append(names, filepath.Join(dir, FileName))
	var out []FileSummary
	var prev Summary
	for i, name := range names {
		f, err := os.Open(name)
		if err != nil {
			return out, fmt.Errorf("open audit trail: %w", err)
		}
		fs := FileSummary{Path: name}
		fs.Summary, fs.First, err = verify(f, prev, i == 0)
		f.Close()
		if err != nil {
			return out, fmt.Errorf("%s: %w", name, err)
		}
		if fs.First == 0 { // empty: the chain goes on from prev
			fs.Summary = prev
		}
		out = append(out, fs)
		prev = fs.Summary
	}
	return out, nil
}

// VerifyOne verifies one file of a trail on its own: a whole trail, or a rotated file,
// whose first record may continue a chain that is elsewhere (its own hash is checked; that
// it links to the file before is what VerifyDir checks).
func VerifyOne(path string) (FileSummary, error) {
	f, err := os.Open(path)
	if err != nil {
		return FileSummary{}, fmt.Errorf("open audit trail: %w", err)
	}
	defer f.Close()
	fs := FileSummary{Path: path}
	fs.Summary, fs.First, err = verify(f, Summary{}, true)
	return fs, err
}

// VerifyCurrent verifies the file being written in dir (FileName) as Open does: as the
// whole chain, or as the continuation of the newest rotated file beside it. It reads
// only that file and the last line of its predecessor.
func VerifyCurrent(dir string) (FileSummary, error) {
	start, err := predecessor(dir)
	if err != nil {
		return FileSummary{}, err
	}
	path := filepath.Join(dir, FileName)
	f, err := os.Open(path)
	if err != nil {
		return FileSummary{}, fmt.Errorf("open audit trail: %w", err)
	}
	defer f.Close()
	fs := FileSummary{Path: path}
	fs.Summary, fs.First, err = verify(f, start, false)
	return fs, err
}
