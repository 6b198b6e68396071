package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"time"

	"github.com/keyward/keyward/internal/doctor"
)

const doctorHelp = `Check a state directory, this host and the running signer for unsafe settings: the
user keyward runs as; ownership and modes of the state directory, master key, config and
stores; a state directory inside a git or other work tree; a listener reachable from other
hosts; the confinement this kernel can give and the one the running core achieved and
proved; free disk. Each finding says pass, warn or fail, and the fix. The exit status is 1
when anything failed.

Examples:
  keyward doctor --dir /var/lib/keyward
  keyward doctor --dir /var/lib/keyward --json`

func cmdDoctor(args []string) int {
	fs := newFlags("doctor", "doctor --dir DIR [--json]", doctorHelp)
	dirFlag := fs.String("dir", "", "state directory (required)")
	asJSON := fs.Bool("json", false, "print findings as JSON")
	offline := fs.Bool("offline", false, "do not query the running signer")
	if st := parse(fs, args); st >= 0 {
		return st
	}
	dir, err := stateDir(*dirFlag)
	if err != nil {
		return fail("doctor: %v", err)
	}
	o := doctor.Options{Dir: dir, Euid: os.Geteuid()}
	if !*offline {
		o.HTTPClient = &http.Client{Timeout: 3 * time.Second}
	}
	findings := doctor.Run(context.Background(), o)
	if *asJSON {
		enc := json.NewEncoder(os.Stdout)
		enc.SetIndent("", "  ")
		_ = enc.Encode(findings)
	} else {
		for _, f := range findings {
			fmt.Printf("%-4s  %-28s %s\n", f.Status, f.Check, f.Detail)
			if f.Fix != "" && f.Status != doctor.Pass {
				fmt.Printf("      %-28s fix: %s\n", "", f.Fix)
			}
		}
	}
	if doctor.Failed(findings) {
		return 1
	}
	return 0
}
