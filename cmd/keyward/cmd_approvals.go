package main

import (
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"net"
	"os"
	"strings"
	"syscall"
	"time"

	"github.com/keyward/keyward/internal/config"
	"github.com/keyward/keyward/internal/wire"
)

const approvalsHelp = `Requests under an "approve" rule of policy.toml (a voluntary exit, a deposit, a Tezos
transfer) wait in the core until an operator approves or denies them, or until
core.approval_timeout (default 2m) passes; then they are refused. These commands talk to
the core over its own admin socket (core.admin_socket, default <state dir>/admin.sock,
mode 0600), never through the gateway. The core serves root and the users listed in
core.approvers, and refuses the user the gateway runs as (a compromised gateway must not
approve its own requests): run them with sudo, or as an approver who can reach the socket
(docs/operations.md).

'approvals list' shows each waiting request as the core decoded it: its ID, how long it
has waited and may still wait, the key, the kind, the client (as the gateway named it),
the rule that asks for approval, the facts (validator index and epoch of an exit; amount,
withdrawal credentials of a deposit; each destination and amount of a Tezos transfer) and
the digest: the Ethereum signing root, or the BLAKE2b-256 of the Tezos payload.

'approve ID' lets that one request be decided again with the policy in force and signed
(a policy reloaded to refuse meanwhile still refuses it), and prints what it approved and
whether it was signed. 'deny ID' refuses it; --reason is shown to the client. An ID is
decided once: a second decision is refused.

Examples:
  sudo keyward approvals list --dir /var/lib/keyward
  sudo keyward approvals list --dir /var/lib/keyward --json
  sudo keyward approve --dir /var/lib/keyward 3a7kx2m4q5r6s7t2u3v4w5x6yq
  sudo keyward deny --dir /var/lib/keyward --reason "no exit planned" 3a7kx2m4q5r6s7t2u3v4w5x6yq
  keyward approvals list --socket /run/keyward/admin.sock   # an approver, socket widened`

// adminTimeout bounds one admin command (an approval waits for the signature it allows).
const adminTimeout = time.Minute

func cmdApprovals(args []string) int {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		fmt.Printf("Usage: keyward approvals list [flags]\n       keyward approve | deny [flags] ID\n\n%s\n", approvalsHelp)
		if len(args) == 0 {
			return 2
		}
		return 0
	}
	switch args[0] {
	case "list":
		return cmdApprovalsList(args[1:])
	default:
		return fail("approvals: unknown subcommand %q (list; to decide: keyward approve ID, keyward deny ID)", args[0])
	}
}

// adminFlags are the flags that find the admin socket.
type adminFlags struct {
	dir, socket *string
}

func newAdminFlags(fs *flag.FlagSet) adminFlags {
	return adminFlags{
		dir:    fs.String("dir", "", "state directory (its keyward.toml names the admin socket)"),
		socket: fs.String("socket", "", "the core's admin socket, instead of --dir (for approvers who cannot read the state directory)"),
	}
}

// dial connects to the core's admin socket.
func (f adminFlags) dial() (*wire.Admin, error) {
	path := *f.socket
	if (path == "") == (*f.dir == "") {
		return nil, errors.New("give one of --dir and --socket")
	}
	if path == "" {
		dir, err := stateDir(*f.dir)
		if err != nil {
			return nil, err
		}
		cfg, err := config.Load(dir)
		if err != nil {
			return nil, err
		}
		path = config.Path(dir, cfg.Core.AdminSocket)
	}
	c, err := net.DialTimeout("unix", path, 5*time.Second)
	switch {
	case errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ECONNREFUSED):
		return nil, fmt.Errorf("no core listens on %s: is keyward running on this state directory?", path)
	case errors.Is(err, fs.ErrPermission):
		return nil, fmt.Errorf("permission denied on %s: run as root (sudo) or as an approver who can reach the socket (docs/operations.md)", path)
	case err != nil:
		return nil, fmt.Errorf("connect to the core's admin socket: %w", err)
	}
	if err := c.SetDeadline(time.Now().Add(adminTimeout)); err != nil {
		c.Close()
		return nil, fmt.Errorf("admin socket: %w", err)
	}
	return wire.NewAdmin(c), nil
}

// adminError says what went wrong: a refusal by the core is its message alone.
func adminError(err error) string {
	var we *wire.Error
	if errors.As(err, &we) {
		return we.Msg
	}
	return err.Error()
}

func cmdApprovalsList(args []string) int {
	fs := newFlags("approvals list", "approvals list (--dir D | --socket S) [--json]", approvalsHelp)
	af := newAdminFlags(fs)
	asJSON := fs.Bool("json", false, "print a JSON array")
	if st := parse(fs, args); st >= 0 {
		return st
	}
	adm, err := af.dial()
	if err != nil {
		return fail("approvals list: %v", err)
	}
	defer adm.Close()
	l, err := adm.ListApprovals()
	if err != nil {
		return fail("approvals list: %s", adminError(err))
	}
	if *asJSON {
		return printJSON(os.Stdout, l.Pending)
	}
	if len(l.Pending) == 0 {
		fmt.Println("no request awaits approval")
		return 0
	}
	fmt.Printf("%d request(s) await approval (keyward approve ID | keyward deny ID):\n", len(l.Pending))
	for i := range l.Pending {
		fmt.Println()
		printPending(os.Stdout, &l.Pending[i])
	}
	return 0
}

// pendingJSON is one pending approval in `approvals list --json`.
type pendingJSON struct {
	ID          string     `json:"id"`
	Chain       string     `json:"chain"`
	Key         string     `json:"key"`
	Kind        string     `json:"kind"`
	Client      string     `json:"client"`
	Rule        string     `json:"rule"`
	AgeSeconds  float64    `json:"age_seconds"`
	LeftSeconds float64    `json:"left_seconds"`
	DigestName  string     `json:"digest_name"`
	Digest      string     `json:"digest"`
	Facts       []factJSON `json:"facts"`
}

// factJSON is one decoded fact in `approvals list --json`.
type factJSON struct {
	Name  string `json:"name"`
	Value string `json:"value"`
}

func printJSON(w io.Writer, ps []wire.PendingApproval) int {
	out := make([]pendingJSON, len(ps))
	for i, p := range ps {
		out[i] = pendingJSON{ID: p.ID.String(), Chain: p.Chain, Key: p.Key, Kind: p.Kind, Client: p.Client, Rule: p.Reason,
			AgeSeconds: float64(p.AgeMillis) / 1000, LeftSeconds: float64(p.LeftMillis) / 1000,
			DigestName: digestName(p.Chain), Digest: "0x" + hex.EncodeToString(p.Digest[:]), Facts: []factJSON{}}
		for _, f := range p.Facts {
			out[i].Facts = append(out[i].Facts, factJSON(f))
		}
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	if err := enc.Encode(out); err != nil {
		return fail("approvals list: %v", err)
	}
	return 0
}

// digestName names what a pending approval's digest is.
func digestName(chain string) string {
	if chain == "tezos" {
		return "payload_blake2b"
	}
	return "signing_root"
}

// printPending writes one pending approval, a line per field. Every text is displayable
// (the admin protocol refuses control characters), so nothing can rewrite the terminal.
func printPending(w io.Writer, p *wire.PendingApproval) {
	age, left := time.Duration(p.AgeMillis)*time.Millisecond, time.Duration(p.LeftMillis)*time.Millisecond
	fmt.Fprintf(w, "%s  %s  waiting %s, %s left\n", p.ID, p.Kind, age.Round(time.Second), left.Round(time.Second))
	row := func(name, value string) { fmt.Fprintf(w, "  %-24s %s\n", name, value) }
	row("chain", p.Chain)
	row("key", p.Key)
	client := p.Client
	if client == "" {
		client = "(not named)"
	}
	row("client", client)
	row("rule", p.Reason)
	for _, f := range p.Facts {
		row(f.Name, f.Value)
	}
	row(digestName(p.Chain), "0x"+hex.EncodeToString(p.Digest[:]))
}

// summary is a one-line description of a pending approval.
func summary(p *wire.PendingApproval) string {
	var facts []string
	for _, f := range p.Facts {
		facts = append(facts, f.Name+" "+f.Value)
	}
	s := fmt.Sprintf("%s %s for %s", p.Chain, p.Kind, p.Key)
	if len(facts) > 0 {
		s += " (" + strings.Join(facts, ", ") + ")"
	}
	return s
}

func cmdApprove(args []string) int { return cmdDecide("approve", args) }

func cmdDeny(args []string) int { return cmdDecide("deny", args) }

// cmdDecide is keyward approve and keyward deny.
func cmdDecide(name string, args []string) int {
	fs := newFlags(name, name+" (--dir D | --socket S) ID", approvalsHelp)
	af := newAdminFlags(fs)
	var reason *string
	if name == "deny" {
		reason = fs.String("reason", "", fmt.Sprintf("why, shown to the client (at most %d bytes)", wire.MaxDenyReason))
	}
	id, st := parseWithID(fs, args)
	if st >= 0 {
		return st
	}
	d := &wire.ApprovalDecision{ID: id, Verdict: wire.VerdictApprove}
	if reason != nil {
		d.Verdict, d.Reason = wire.VerdictDeny, wire.Displayable(*reason, wire.MaxDenyReason)
	}
	adm, err := af.dial()
	if err != nil {
		return fail("%s: %v", name, err)
	}
	defer adm.Close()
	out, err := adm.Decide(d)
	if err != nil {
		return fail("%s: %s", name, adminError(err))
	}
	fmt.Printf("%s %s: %s\n", out.Verdict, out.Approval.ID, summary(&out.Approval))
	switch {
	case out.Verdict == wire.VerdictDeny:
		return 0
	case out.Result != nil:
		return fail("%s: approved, but not signed: %s: %s", name, out.Result.Kind, out.Result.Msg)
	}
	fmt.Println("signed")
	return 0
}

// parseWithID parses flags that may come before or after the one approval ID and returns
// it, or the exit status to end with (as parse).
func parseWithID(fs *flag.FlagSet, args []string) (wire.ApprovalID, int) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return wire.ApprovalID{}, 0
			}
			return wire.ApprovalID{}, 2
		}
		if fs.NArg() == 0 {
			break
		}
		pos, args = append(pos, fs.Arg(0)), fs.Args()[1:]
	}
	if len(pos) != 1 {
		fmt.Fprintf(os.Stderr, "keyward %s: give one approval ID (see keyward approvals list)\n", fs.Name())
		return wire.ApprovalID{}, 2
	}
	id, err := wire.ParseApprovalID(pos[0])
	if err != nil {
		return id, fail("%s: %q is not an approval ID (%d characters a-z, 2-7; see keyward approvals list)", fs.Name(), pos[0], wire.ApprovalIDTextLen)
	}
	return id, -1
}
