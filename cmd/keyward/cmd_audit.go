package main

import (
	"errors"
	"fmt"

	"github.com/keyward/keyward/internal/audit"
)

const auditHelp = `Check the core's audit trail (audit.jsonl in the state directory, and the rotated
files audit-<last seq>.jsonl beside it): every line must be a record with the next
sequence number, the hash of the line before, and a correct hash of its own, and each
file must continue the one before, so that a removed, reordered, inserted or edited line
or file is found. It prints the records and the last hash: keep them elsewhere, and a
later truncation or a replaced file shows too. The oldest file present may start
mid-chain (older files archived); that is said, not refused. It only reads, so it may run
while keyward runs (the last lines may still be in the core's memory then).

Exit status: 0 the trail verifies, 1 it does not (the file, line and reason are printed).

Examples:
  keyward audit verify --dir /var/lib/keyward
  keyward audit verify --file /backup/audit-00000000000001048576.jsonl`

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
	if (*file == "") == (*dirFlag == "") {
		return fail("audit verify: give one of --dir and --file")
	}
	var files []audit.FileSummary
	var err error
	if *file != "" {
		var one audit.FileSummary
		one, err = audit.VerifyOne(*file)
		files = []audit.FileSummary{one}
	} else {
		dir, derr := stateDir(*dirFlag)
		if derr != nil {
			return fail("audit verify: %v", derr)
		}
		files, err = audit.VerifyDir(dir)
	}
	var ce *audit.ChainError
	switch {
	case errors.As(err, &ce):
		return fail("audit verify: %v (the records before it verify)", err)
	case err != nil:
		return fail("audit verify: %v", err)
	}
	first, last := files[0], files[len(files)-1]
	if first.First > 1 {
		fmt.Printf("note: the trail present starts at record %d (earlier files archived or removed)\n", first.First)
	}
	fmt.Printf("ok: records %d to %d in %d file(s), last hash %s\n", max(first.First, 1), last.Records, len(files), last.Last)
	return 0
}
