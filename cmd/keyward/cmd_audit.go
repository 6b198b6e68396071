package main

import (
	"errors"
	"fmt"
	"path/filepath"

	"github.com/keyward/keyward/internal/audit"
)

const auditHelp = `Check the core's audit trail (audit.jsonl in the state directory): every line must be
a record with the next sequence number, the hash of the line before, and a correct hash
of its own, so that a removed, reordered, inserted or edited line is found. It prints the
number of records and the last hash: keep them elsewhere, and a later truncation or a
replaced file shows too. It only reads, so it may run while keyward runs (the last lines
may still be in the core's memory then).

Exit status: 0 the trail verifies, 1 it does not (the line and the reason are printed).

Examples:
  keyward audit verify --dir /var/lib/keyward
  keyward audit verify --file /backup/audit.jsonl`

func cmdAudit(args []string) int {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		fmt.Printf("Usage: keyward audit verify [flags]\n\n%s\n", auditHelp)
		if len(args) == 0 {
			return 2
		}
		return 0
	}
	switch args[0] {
	case "verify":
		return cmdAuditVerify(args[1:])
	default:
		return fail("audit: unknown subcommand %q (verify)", args[0])
	}
}

func cmdAuditVerify(args []string) int {
	fs := newFlags("audit verify", "audit verify --dir D | --file F", auditHelp)
	dirFlag := fs.String("dir", "", "state directory (reads its "+audit.FileName+")")
	file := fs.String("file", "", "an audit trail file, instead of --dir")
	if st := parse(fs, args); st >= 0 {
		return st
	}
	path := *file
	if (path == "") == (*dirFlag == "") {
		return fail("audit verify: give one of --dir and --file")
	}
	if path == "" {
		dir, err := stateDir(*dirFlag)
		if err != nil {
			return fail("audit verify: %v", err)
		}
		path = filepath.Join(dir, audit.FileName)
	}
	s, err := audit.VerifyFile(path)
	var ce *audit.ChainError
	switch {
	case errors.As(err, &ce):
		return fail("audit verify: %s: line %d: %s (records before it verify)", path, ce.Line, ce.Reason)
	case err != nil:
		return fail("audit verify: %v", err)
	}
	fmt.Printf("ok: %d records, last hash %s\n", s.Records, s.Last)
	return 0
}
