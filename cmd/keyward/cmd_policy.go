package main

import (
	"fmt"

	"github.com/keyward/keyward/internal/policy"
)

const policyHelp = `Check or reload the per-key policy (policy.toml in the state directory; docs/policy.md).

'policy check' validates a policy.toml as the core would (strictly: unknown keys, bad
values and keys given twice are refused) without touching a running core, and prints its
summary: the file's SHA-256 and how many keys have a table of their own.

'policy reload' asks the running core, over its admin socket (as keyward approvals does:
root or core.approvers, never the gateway's user), to reload its policy.toml. The file is
validated whole first: a valid one is in force for the requests that start after it, one
that does not validate keeps the policy in force and the reason is printed (exit status 1).
Both are recorded in the audit trail with who asked. SIGHUP to the core (systemctl reload)
does the same, with the outcome in the core's log only.

Examples:
  keyward policy check --dir /var/lib/keyward
  keyward policy check --file ./policy.toml.new
  sudo keyward policy reload --dir /var/lib/keyward`

func cmdPolicy(args []string) int {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		fmt.Printf("Usage: keyward policy check | reload [flags]\n\n%s\n", policyHelp)
		if len(args) == 0 {
			return 2
		}
		return 0
	}
	switch args[0] {
	case "check":
		return cmdPolicyCheck(args[1:])
	case "reload":
		return cmdPolicyReload(args[1:])
	}
	return fail("policy: unknown subcommand %q (check, reload)", args[0])
}

func cmdPolicyCheck(args []string) int {
	fs := newFlags("policy check", "policy check --dir D | --file F", policyHelp)
	dirFlag := fs.String("dir", "", "state directory (checks its policy.toml)")
	file := fs.String("file", "", "a policy file, instead of --dir")
	if st := parse(fs, args); st >= 0 {
		return st
	}
	if (*file == "") == (*dirFlag == "") {
		return fail("policy check: give one of --dir and --file")
	}
	var p *policy.Policy
	var err error
	if *file != "" {
		p, err = policy.LoadFile(*file)
	} else {
		dir, derr := stateDir(*dirFlag)
		if derr != nil {
			return fail("policy check: %v", derr)
		}
		p, err = policy.Load(dir)
	}
	if err != nil {
		return fail("policy check: %v", err)
	}
	fmt.Printf("ok: %s\n", p.Summary())
	return 0
}

func cmdPolicyReload(args []string) int {
	fs := newFlags("policy reload", "policy reload (--dir D | --socket S)", policyHelp)
	af := newAdminFlags(fs)
	if st := parse(fs, args); st >= 0 {
		return st
	}
	adm, err := af.dial()
	if err != nil {
		return fail("policy reload: %v", err)
	}
	defer adm.Close()
	summary, err := adm.ReloadPolicy()
	if err != nil {
		return fail("policy reload: %s", adminError(err))
	}
	fmt.Printf("reloaded: %s\n", summary)
	return 0
}
