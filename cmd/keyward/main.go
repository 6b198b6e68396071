// Command keyward is a remote signer for proof-of-stake validators: a network-facing
// gateway that holds no key, and a confined core that holds the keys and decides.
// Run `keyward help` for the subcommands.
package main

import (
	"fmt"
	"os"
	"runtime/debug"
)

// gcPercent is the garbage collector's target for every keyward process (core, gateway,
// bench): see main.
const gcPercent = 400

func main() {
	// A signing request allocates a few KiB on a live heap of a few MiB: at the default
	// GOGC of 100 the core and the gateway each collect several times a second under load,
	// and on a busy 2-core machine every stop-the-world pause can last a scheduler time
	// slice (1–20 ms measured), which lands in p99 latency. 400 collects five to seven
	// times less often for a few MiB more heap (peak RSS with 10,000 keys: core 36 MiB,
	// was 32). An operator's GOGC wins (the gateway's environment; the core starts with
	// an empty one). Measured for issue 7: docs/benchmarks.md.
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(gcPercent)
	}
	os.Exit(runMain(os.Args[1:]))
}

// runMain dispatches to a subcommand and returns the exit status.
func runMain(args []string) int {
	if len(args) == 0 {
		fmt.Fprint(os.Stderr, usage)
		return 2
	}
	cmds := commands()
	name, rest := args[0], args[1:]
	if name == "help" || name == "-h" || name == "--help" {
		if len(rest) > 0 {
			if c, ok := cmds[rest[0]]; ok {
				return c(append(rest[1:], "--help"))
			}
		}
		fmt.Print(usage)
		return 0
	}
	c, ok := cmds[name]
	if !ok {
		fmt.Fprintf(os.Stderr, "keyward: unknown command %q\n\n%s", name, usage)
		return 2
	}
	return c(rest)
}

// commands lists the subcommands: one cmd_<name>.go each.
func commands() map[string]func([]string) int {
	return map[string]func([]string) int{
		"init":      cmdInit,
		"run":       cmdRun,
		"core":      cmdCore,
		"keys":      cmdKeys,
		"slashing":  cmdSlashing,
		"tezos":     cmdTezos,
		"demo":      cmdDemo,
		"doctor":    cmdDoctor,
		"gateway":   cmdGateway,
		"migrate":   cmdMigrate,
		"version":   cmdVersion,
		"bench":     cmdBench,
		"audit":     cmdAudit,
		"clients":   cmdClients,
		"tls":       cmdTLS,
		"approvals": cmdApprovals,
		"approve":   cmdApprove,
		"deny":      cmdDeny,
		"policy":    cmdPolicy,
	}
}

const usage = `keyward: a remote signer for Ethereum validators (Web3Signer eth2 API) and Tezos
bakers (Octez remote-signer API, tz1..tz4)

Usage: keyward <command> [flags]

Commands:
  demo      run a signer with fresh keys in a temporary directory, no setup
  init      create a state directory: configuration, pinned network, master key
  keys      import, generate, list or delete keys (sealed under the master key)
  slashing  import, export slashing protection (EIP-3076), set the emergency brake, status
  tezos     import octez-signer or Signatory high watermarks
  run       serve the signing API: the gateway, with the core as a confined child
  migrate   move keys and their protection history from Web3Signer, Lighthouse, Teku,
            Prysm, Nimbus, octez-signer or Signatory (dry run first)
  doctor    check a state directory and a running signer for unsafe settings
  audit     verify the core's hash-chained audit trail
  approvals list the requests waiting for an operator (policy.toml "approve" rules)
  approve   approve one waiting request (on the core's admin socket, never the gateway)
  deny      deny one waiting request
  policy    check policy.toml, or have the running core reload it (admin socket)
  clients   bearer-token clients of the signing APIs and their scopes
  tls       create a CA, server and client certificates (PKCS#12 for Lighthouse, Teku)
  bench     measure throughput, latency, start-up and memory against raw signing
  version   print the version
  core      the key-holding compartment: a child of run, or a socket-activated service
  gateway   the HTTP APIs as a service of their own, connected to a core service

Examples:
  keyward demo
  keyward init --dir /var/lib/keyward --network mainnet
  keyward keys import --dir /var/lib/keyward --keystores ./validator_keys --password-file ./pass.txt
  keyward slashing import --dir /var/lib/keyward ./slashing_protection.json
  keyward run --dir /var/lib/keyward
  sudo keyward approvals list --dir /var/lib/keyward

Run 'keyward help <command>' for the flags of a command.
`
