package main

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
)

// newFlags makes a flag set whose usage prints the command's description and examples.
func newFlags(name, synopsis, help string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "Usage: keyward %s\n\n%s\n\nFlags:\n", synopsis, help)
		fs.PrintDefaults()
	}
	return fs
}

// parse parses args and returns the exit status to use if parsing ended the command
// (help asked: 0; bad flags: 2), or -1 to go on.
func parse(fs *flag.FlagSet, args []string) int {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if fs.NArg() > 0 && fs.Name() != "keys delete" {
		fmt.Fprintf(os.Stderr, "keyward %s: unexpected argument %q\n", fs.Name(), fs.Arg(0))
		return 2
	}
	return -1
}

// fail prints a diagnostic as "keyward: …" and returns exit status 1.
func fail(format string, args ...any) int {
	fmt.Fprintf(os.Stderr, "keyward: "+format+"\n", args...)
	return 1
}

// stateDir resolves the --dir flag to an absolute path.
func stateDir(dir string) (string, error) {
	if dir == "" {
		return "", errors.New("--dir is required")
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return "", fmt.Errorf("resolve %s: %w", dir, err)
	}
	return abs, nil
}
