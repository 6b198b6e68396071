package audit

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
)

// MaxLineSize bounds one line of the trail; a longer line is refused (an event is a few
// hundred bytes; reasons are short).
const MaxLineSize = 64 << 10

// Summary is what a verified trail ends with: record it elsewhere to detect a truncation
// or a replaced file later.
type Summary struct {
	Records uint64
	Last    Hash // the last record's hash; zero for an empty trail
}

// Verify reads a whole trail and checks every line: a strictly decoded Record (unknown
// fields refused), written exactly in its canonical form, with the next sequence number,
// the previous record's hash as prev and a correct hash of its own. It returns the
// summary of the trail, or a *ChainError (wrapping ErrBroken) for the first bad line, or
// the read error. The first record must be the chain's first (sequence 1, prev zero):
// for the files of a rotated trail use VerifyDir.
func Verify(r io.Reader) (Summary, error) {
	s, _, err := verify(r, Summary{}, false)
	return s, err
}

// verify checks the lines of r as continuing the chain after start; with anchor, the
// first line may continue any chain (its own hash is still checked). It returns the
// summary and the first record's sequence number (0 when r is empty).
func verify(r io.Reader, start Summary, anchor bool) (Summary, uint64, error) {
	s := start
	var first uint64
	err := scan(r, func(n int, line []byte, complete bool) error {
		if !complete {
			return &ChainError{Line: n, Reason: "no newline at the end (a torn write)"}
		}
		var rec Record
		var reason string
		if n == 1 && anchor {
			rec, reason = checkAnchor(line)
		} else {
			rec, reason = checkLine(line, s)
		}
		if reason != "" {
			return &ChainError{Line: n, Reason: reason}
		}
		if n == 1 {
			first = rec.Seq
		}
		s = Summary{Records: rec.Seq, Last: rec.Hash}
		return nil
	})
	return s, first, err
}

// checkLine checks one line (without its newline) against the summary of what precedes
// it and returns the record, or why it fails.
func checkLine(line []byte, prev Summary) (Record, string) {
	var rec Record
	dec := json.NewDecoder(bytes.NewReader(line))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&rec); err != nil {
		return rec, fmt.Sprintf("not a record: %v", err)
	}
	if dec.More() {
		return rec, "trailing data after the record"
	}
	if rec.Seq != prev.Records+1 {
		return rec, fmt.Sprintf("sequence %d, want %d (a line removed, inserted or reordered)", rec.Seq, prev.Records+1)
	}
	if rec.Prev != prev.Last {
		return rec, fmt.Sprintf("prev %s is not the hash of the line before (%s)", rec.Prev, prev.Last)
	}
	if !rec.Event.Decision.valid() {
		return rec, fmt.Sprintf("unknown decision %q", rec.Event.Decision)
	}
	want := rec
	sealed, err := want.seal()
	if err != nil {
		return rec, fmt.Sprintf("cannot encode: %v", err)
	}
	if want.Hash != rec.Hash {
		return rec, fmt.Sprintf("hash %s does not match the content (%s): the line was edited", rec.Hash, want.Hash)
	}
	if !bytes.Equal(sealed[:len(sealed)-1], line) {
		return rec, "not in canonical form: the line was edited"
	}
	return rec, ""
}

// scan calls fn with each line (without its newline) and its 1-based number; complete is
// false for a last line without a newline.
func scan(r io.Reader, fn func(n int, line []byte, complete bool) error) error {
	br := bufio.NewReaderSize(r, 64<<10)
	for n := 1; ; n++ {
		line, err := readLine(br)
		if len(line) > 0 {
			complete := line[len(line)-1] == '\n'
			if complete {
				line = line[:len(line)-1]
			}
			if ferr := fn(n, line, complete); ferr != nil {
				return ferr
			}
		}
		if errors.Is(err, io.EOF) {
			return nil
		}
		if errors.Is(err, errLineTooLong) {
			return &ChainError{Line: n, Reason: fmt.Sprintf("longer than %d bytes", MaxLineSize)}
		}
		if err != nil {
			return err
		}
	}
}

var errLineTooLong = errors.New("line too long")

// readLine returns the next line including its newline, at most MaxLineSize bytes.
func readLine(br *bufio.Reader) ([]byte, error) {
	var line []byte
	for {
		chunk, err := br.ReadSlice('\n')
		line = append(line, chunk...)
		if len(line) > MaxLineSize {
			return nil, errLineTooLong
		}
		if errors.Is(err, bufio.ErrBufferFull) {
			continue
		}
		return line, err
	}
}
