package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/keyward/keyward/internal/gateway"
)

const clientsHelp = `Manage who may call the signing APIs: clients.toml in the gateway's directory (the state
directory for keyward run), 0600. A client with a bearer token sends
"Authorization: Bearer <token>" (Taquito and octez-client can, with
TEZOS_SIGNER_HTTP_HEADERS; Lighthouse and Teku cannot: give them client certificates with
'keyward tls init', which adds them here with a cert_sha256; Prysm can do neither: keep it
on loopback). Only the token's SHA-256 is
stored; add prints the token once. The loopback client is whoever connects from a loopback
address without a token; without clients.toml it may do everything (the same-host default).
A request from anywhere else without a valid token gets 401; a client asking outside its
keys or operations gets 403. Send SIGHUP to keyward run or keyward gateway after a change
(or restart it); a bad file is refused and the clients in force stay.

  clients add       create a client and print its token
  clients remove    delete a client (its token stops working at the next reload)
  clients list      the clients and their scopes
  clients loopback  set the loopback client's scope, or --off to require tokens from loopback too

Keys: "*", an exact 0x public key or pkh, or a prefix ending in "*". Operations: "*",
Web3Signer types (ATTESTATION, BLOCK_V2, AGGREGATION_SLOT, …), tezos:block,
tezos:preattestation, tezos:attestation, tezos:generic.

Examples:
  keyward clients add --dir /var/lib/keyward --name baker --keys 'tz1abc…' --operations tezos:block,tezos:preattestation,tezos:attestation
  keyward clients add --dir /var/lib/keyward --name tools --keys '*' --operations '*'
  keyward clients list --dir /var/lib/keyward
  keyward clients loopback --dir /var/lib/keyward --off
  keyward clients remove --dir /var/lib/keyward --name tools`

func cmdClients(args []string) int {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		fmt.Printf("Usage: keyward clients add|remove|list|loopback [flags]\n\n%s\n", clientsHelp)
		if len(args) == 0 {
			return 2
		}
		return 0
	}
	switch args[0] {
	case "add":
		return cmdClientsAdd(args[1:])
	case "remove":
		return cmdClientsRemove(args[1:])
	case "list":
		return cmdClientsList(args[1:])
	case "loopback":
		return cmdClientsLoopback(args[1:])
	default:
		return fail("clients: unknown subcommand %q (add, remove, list, loopback)", args[0])
	}
}

func splitList(s string) []string {
	var out []string
	for _, f := range strings.Split(s, ",") {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	return out
}

// loadClientsDir resolves --dir and reads its clients.toml (or the default).
func loadClientsDir(dirFlag string) (string, *gateway.Clients, error) {
	dir, err := stateDir(dirFlag)
	if err != nil {
		return "", nil, err
	}
	c, err := gateway.LoadClients(dir)
	return dir, c, err
}

func saveClients(dir string, c *gateway.Clients) error {
	if err := c.Validate(); err != nil {
		return err
	}
	b, err := c.Marshal()
	if err != nil {
		return err
	}
	return writeFileAtomic(filepath.Join(dir, gateway.ClientsFile), b, 0o600)
}

func cmdClientsAdd(args []string) int {
	fs := newFlags("clients add", "clients add --dir D --name N [--keys K,…] [--operations O,…]", clientsHelp)
	dirFlag := fs.String("dir", "", "the gateway's directory (the state directory for keyward run)")
	name := fs.String("name", "", "client name: a-z 0-9 . _ -")
	keys := fs.String("keys", "*", "comma-separated key patterns")
	ops := fs.String("operations", "*", "comma-separated operations")
	if st := parse(fs, args); st >= 0 {
		return st
	}
	dir, c, err := loadClientsDir(*dirFlag)
	if err != nil {
		return fail("clients add: %v", err)
	}
	if _, dup := c.Clients[*name]; dup {
		return fail("clients add: client %q exists (remove it first to issue a new token)", *name)
	}
	token, hash, err := gateway.NewToken()
	if err != nil {
		return fail("clients add: %v", err)
	}
	c.Clients[*name] = gateway.ClientEntry{TokenSHA256: hash, Keys: splitList(*keys), Operations: splitList(*ops)}
	if err := saveClients(dir, c); err != nil {
		return fail("clients add: %v", err)
	}
	fmt.Println(token)
	fmt.Fprintf(os.Stderr, "keyward: client %s added; the token above is shown only once; send SIGHUP to the gateway to use it\n", *name)
	return 0
}

func cmdClientsRemove(args []string) int {
	fs := newFlags("clients remove", "clients remove --dir D --name N", clientsHelp)
	dirFlag := fs.String("dir", "", "the gateway's directory (the state directory for keyward run)")
	name := fs.String("name", "", "client name")
	if st := parse(fs, args); st >= 0 {
		return st
	}
	dir, c, err := loadClientsDir(*dirFlag)
	if err != nil {
		return fail("clients remove: %v", err)
	}
	if _, ok := c.Clients[*name]; !ok {
		return fail("clients remove: no client %q", *name)
	}
	delete(c.Clients, *name)
	if err := saveClients(dir, c); err != nil {
		return fail("clients remove: %v", err)
	}
	fmt.Fprintf(os.Stderr, "keyward: client %s removed; send SIGHUP to the gateway\n", *name)
	return 0
}

func cmdClientsList(args []string) int {
	fs := newFlags("clients list", "clients list --dir D", clientsHelp)
	dirFlag := fs.String("dir", "", "the gateway's directory (the state directory for keyward run)")
	if st := parse(fs, args); st >= 0 {
		return st
	}
	_, c, err := loadClientsDir(*dirFlag)
	if err != nil {
		return fail("clients list: %v", err)
	}
	if c.Loopback != nil {
		fmt.Printf("loopback\tkeys=%s\toperations=%s\t(no token, loopback addresses only)\n", strings.Join(c.Loopback.Keys, ","), strings.Join(c.Loopback.Operations, ","))
	} else {
		fmt.Println("loopback\toff")
	}
	for _, n := range c.Names() {
		e := c.Clients[n]
		var auth []string
		if e.TokenSHA256 != "" {
			auth = append(auth, "token")
		}
		if e.CertSHA256 != "" {
			auth = append(auth, "cert_sha256="+e.CertSHA256)
		}
		if len(auth) == 0 {
			auth = append(auth, "certificate by name (client CA or known_clients_file)")
		}
		fmt.Printf("%s\tkeys=%s\toperations=%s\t%s\n", n, strings.Join(e.Keys, ","), strings.Join(e.Operations, ","), strings.Join(auth, " "))
	}
	return 0
}

func cmdClientsLoopback(args []string) int {
	fs := newFlags("clients loopback", "clients loopback --dir D (--off | --keys K,… --operations O,…)", clientsHelp)
	dirFlag := fs.String("dir", "", "the gateway's directory (the state directory for keyward run)")
	off := fs.Bool("off", false, "no anonymous access, even from loopback")
	keys := fs.String("keys", "*", "comma-separated key patterns")
	ops := fs.String("operations", "*", "comma-separated operations")
	if st := parse(fs, args); st >= 0 {
		return st
	}
	dir, c, err := loadClientsDir(*dirFlag)
	if err != nil {
		return fail("clients loopback: %v", err)
	}
	c.Loopback = nil
	if !*off {
		c.Loopback = &gateway.LoopbackClient{Keys: splitList(*keys), Operations: splitList(*ops)}
	}
	if err := saveClients(dir, c); err != nil {
		return fail("clients loopback: %v", err)
	}
	fmt.Fprintln(os.Stderr, "keyward: loopback client updated; send SIGHUP to the gateway")
	return 0
}
