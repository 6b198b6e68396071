// Package boundedio reads a whole file or stream up to a named limit and refuses a larger
// one, before anything past the limit is kept (Inv 7: explicit limits where bytes are
// read). It is the one implementation of that rule; callers name their limits.
package boundedio

import (
	"errors"
	"fmt"
	"io"
	"os"
)

// ErrTooLarge means the input is larger than the limit the caller gave.
var ErrTooLarge = errors.New("larger than the limit")

// ReadAll reads r to its end, or fails with ErrTooLarge once more than limit bytes came.
func ReadAll(r io.Reader, limit int64) ([]byte, error) {
	b, err := io.ReadAll(io.LimitReader(r, limit+1))
	if err != nil {
		return nil, err
	}
	if int64(len(b)) > limit {
		return nil, fmt.Errorf("%w: larger than %d bytes", ErrTooLarge, limit)
	}
	return b, nil
}

// ReadFile reads the file at path whole, refusing one larger than limit bytes.
func ReadFile(path string, limit int64) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := ReadAll(f, limit)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	return b, nil
}
