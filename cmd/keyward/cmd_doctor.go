package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/keyward/keyward/internal/doctor"
)

const doctorHelp = `Check a state directory, this host and the running signer for unsafe settings: the
user keyward runs as; ownership and modes of the state directory, master key, config,
token and stores, and of any file put there by hand; key material inside a git, mercurial
or other work tree, or below a directory others can write (the state directory, a master
key kept elsewhere, and every --check-path); eth and tezos listeners reachable from other
hosts without authentication; certificate expiry; the protection store's header and the
free disk; whether the kernel reports the clock unsynchronized; the same key configured
in another signer or validator client (--also); core and gateway under one user; the
confinement this kernel can give and the one the running core achieved and proved. Each
finding says pass, warn or fail, and the fix. The exit status is 1 when anything failed.

Examples:
  keyward doctor --dir /var/lib/keyward
  keyward doctor --dir /var/lib/keyward --json
  keyward doctor --dir /var/lib/keyward-core --also /var/lib/lighthouse/validators --check-path ~/validator_keys`

func cmdDoctor(args []string) int {
	fs := newFlags("doctor", "doctor --dir DIR [--json]", doctorHelp)
	dirFlag := fs.String("dir", "", "state directory (required)")
	asJSON := fs.Bool("json", false, "print findings as JSON")
	offline := fs.Bool("offline", false, "do not query the running signer")
	var also, paths listFlag
	fs.Var(&also, "also", "another keyward state directory or validator-client directory whose keys must not overlap (repeatable)")
	fs.Var(&paths, "check-path", "a file or directory of keystores, passwords or tokens to check for work trees and modes (repeatable)")
	if st := parse(fs, args); st >= 0 {
		return st
	}
	dir, err := stateDir(*dirFlag)
	if err != nil {
		return fail("doctor: %v", err)
	}
	o := doctor.Options{Dir: dir, Euid: os.Geteuid(), Also: also, SecretPaths: paths}
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

// listFlag is a repeatable string flag.
type listFlag []string

func (l *listFlag) String() string     { return strings.Join(*l, ",") }
func (l *listFlag) Set(v string) error { *l = append(*l, v); return nil }
