package main

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"time"

	"golang.org/x/term"

	"github.com/keyward/keyward/internal/boundedio"
	"github.com/keyward/keyward/internal/config"
	"github.com/keyward/keyward/internal/keys"
	"github.com/keyward/keyward/internal/tezos"
)

const keysHelp = `Manage the sealed key store of a state directory. Keys are sealed under the core's
master key; a running signer picks up changes at its next start.

  keys import    import EIP-2335 keystores (files or directories, staking-deposit-cli layout),
                 or an octez-client secret_keys file (Tezos tz1..tz4, unencrypted or encrypted)
  keys generate  generate new keys: BLS (Ethereum) or Tezos tz1, tz2, tz3, tz4
  keys list      list keys (public keys and metadata; never secrets)
  keys delete    delete keys by public key (their slashing-protection history is kept)

Examples:
  keyward keys import --dir /var/lib/keyward --keystores ./validator_keys --password-file ./pass.txt
  keyward keys import --dir /var/lib/keyward --keystores ./ks --password-dir ./passwords
  keyward keys import --dir /var/lib/keyward --octez-secret-keys ~/.octez-client/secret_keys --password-file ./pass.txt
  keyward keys generate --dir ./state --count 4
  keyward keys generate --dir ./state --type tz4
  keyward keys list --dir ./state --json
  keyward keys delete --dir ./state 0x93247f…`

func cmdKeys(args []string) int {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		fmt.Printf("Usage: keyward keys import|generate|list|delete [flags]\n\n%s\n", keysHelp)
		if len(args) == 0 {
			return 2
		}
		return 0
	}
	switch args[0] {
	case "import":
		return cmdKeysImport(args[1:])
	case "generate":
		return cmdKeysGenerate(args[1:])
	case "list":
		return cmdKeysList(args[1:])
	case "delete":
		return cmdKeysDelete(args[1:])
	default:
		return fail("keys: unknown subcommand %q (import, generate, list, delete)", args[0])
	}
}

// openKeyStore opens the sealed store of dir for writing.
func openKeyStore(dirFlag string) (*keys.Store, string, error) {
	dir, err := stateDir(dirFlag)
	if err != nil {
		return nil, "", err
	}
	cfg, err := config.Load(dir)
	if err != nil {
		return nil, "", err
	}
	mk, err := keys.LoadMasterKey(config.Path(dir, cfg.Core.MasterKey))
	if err != nil {
		return nil, "", err
	}
	defer mk.Zero()
	st, err := keys.OpenStore(filepath.Join(dir, config.KeysFile), mk, keys.StoreOptions{Timeout: 5 * time.Second})
	if err != nil {
		return nil, "", err
	}
	return st, dir, nil
}

func cmdKeysImport(args []string) int {
	fs := newFlags("keys import", "keys import --dir DIR (--keystores PATH[,PATH…] (--password-file F | --password-dir D) | --octez-secret-keys FILE [--password-file F])",
		`Import EIP-2335 keystores. Each keystore is decrypted (scrypt or pbkdf2) with bounded
parallelism (one scrypt decryption needs 256 MiB: bounded by memory and cores), checked
against its pubkey field, and re-sealed under the master key. Passwords are never written
anywhere. A key already in the store is reported and skipped.

With --password-dir, the password of keystore NAME.json is read from NAME.txt, NAME, or
0x<pubkey>.txt in that directory. A trailing newline is stripped.

With --octez-secret-keys, import Tezos keys from an octez-client secret_keys file (a JSON
list of {"name", "value"}): "unencrypted:edsk…|spsk…|p2sk…|BLsk…" and
"encrypted:edesk…|spesk…|p2esk…|BLesk…" entries; encrypted ones need --password-file.
Each key's public key is derived and printed with its pkh; remote: and ledger: entries are
reported and skipped. The name becomes the key's description.`)
	dirFlag := fs.String("dir", "", "state directory (required)")
	paths := fs.String("keystores", "", "keystore files or directories, comma-separated (required)")
	pwFile := fs.String("password-file", "", "file holding the password of every keystore")
	pwDir := fs.String("password-dir", "", "directory of password files, one per keystore")
	par := fs.Int("parallel", 0, "decryptions at once (0: from cores and available memory)")
	octez := fs.String("octez-secret-keys", "", "octez-client secret_keys file (Tezos keys)")
	if st := parse(fs, args); st >= 0 {
		return st
	}
	if *octez != "" {
		if *paths != "" || *pwDir != "" {
			return fail("keys import: --octez-secret-keys takes only --password-file")
		}
		return importOctez(*dirFlag, *octez, *pwFile)
	}
	if *paths == "" || (*pwFile == "") == (*pwDir == "") {
		return fail("keys import: need --keystores and exactly one of --password-file, --password-dir")
	}
	store, _, err := openKeyStore(*dirFlag)
	if err != nil {
		return fail("keys import: %v", err)
	}
	defer store.Close()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	opts := keys.ImportOptions{
		Paths:        strings.Split(*paths, ","),
		PasswordFile: *pwFile,
		PasswordDir:  *pwDir,
		Parallelism:  *par,
	}
	if term.IsTerminal(int(os.Stderr.Fd())) {
		opts.Progress = newProgress(os.Stderr, "decrypting").update
	}
	start := time.Now()
	rep, err := keys.Import(ctx, store, opts)
	if err != nil {
		return fail("keys import: %v", err)
	}
	return printImportReport(rep, time.Since(start))
}

func cmdKeysGenerate(args []string) int {
	fs := newFlags("keys generate", "keys generate --dir DIR [--type bls|tz1|tz2|tz3|tz4] [--count N]",
		"Generate new keys from the system's random source, sealed under the master key.\nPrints the public keys: 0x-hex for BLS (Ethereum), \"pkh public-key\" for Tezos.\n\nTypes: bls (Ethereum validator), tz1 (ed25519), tz2 (secp256k1), tz3 (P-256),\ntz4 (BLS, Tezos; never served as an Ethereum key, nor the reverse).")
	dirFlag := fs.String("dir", "", "state directory (required)")
	count := fs.Int("count", 1, "number of keys")
	typ := fs.String("type", "bls", "bls, tz1, tz2, tz3 or tz4")
	if st := parse(fs, args); st >= 0 {
		return st
	}
	store, _, err := openKeyStore(*dirFlag)
	if err != nil {
		return fail("keys generate: %v", err)
	}
	defer store.Close()
	if *typ != "bls" {
		kind, ok := tezosKinds[*typ]
		if !ok {
			return fail("keys generate: --type %q: want bls, tz1, tz2, tz3 or tz4", *typ)
		}
		if *count < 1 || *count > 1000 {
			return fail("keys generate: --count %d not in 1..1000", *count)
		}
		for range *count {
			pk, err := keys.GenerateTezos(store, kind, keys.Meta{Created: time.Now()})
			if err != nil {
				return fail("keys generate: %v", err)
			}
			fmt.Printf("%s %s\n", pk.Hash(), pk)
		}
		return 0
	}
	pubs, err := keys.GenerateBLS(store, *count, keys.Meta{Source: keys.SourceGenerated, Created: time.Now()})
	if err != nil {
		return fail("keys generate: %v", err)
	}
	for _, p := range pubs {
		fmt.Println("0x" + hex.EncodeToString(p[:]))
	}
	return 0
}

func cmdKeysList(args []string) int {
	fs := newFlags("keys list", "keys list --dir DIR [--json]", "List the keys of the sealed store: type, public key, source, creation time.")
	dirFlag := fs.String("dir", "", "state directory (required)")
	asJSON := fs.Bool("json", false, "print JSON")
	if st := parse(fs, args); st >= 0 {
		return st
	}
	store, _, err := openKeyStore(*dirFlag)
	if err != nil {
		return fail("keys list: %v", err)
	}
	defer store.Close()
	entries, err := store.List()
	if err != nil {
		return fail("keys list: %v", err)
	}
	type row struct {
		Type        string `json:"type"`
		PKH         string `json:"pkh,omitempty"`
		PublicKey   string `json:"public_key"`
		Source      string `json:"source"`
		Created     string `json:"created,omitempty"`
		Path        string `json:"derivation_path,omitempty"`
		Description string `json:"description,omitempty"`
	}
	rows := make([]row, 0, len(entries))
	for _, e := range entries {
		r := row{Type: e.Type.String(), PublicKey: "0x" + hex.EncodeToString(e.PublicKey), Source: e.Meta.Source.String(), Path: e.Meta.Path, Description: e.Meta.Description}
		if !e.Meta.Created.IsZero() {
			r.Created = e.Meta.Created.UTC().Format(time.RFC3339)
		}
		rows = append(rows, r)
	}
	tez, err := store.ListTezos()
	if err != nil {
		return fail("keys list: %v", err)
	}
	for _, e := range tez {
		r := row{Type: e.Type.String(), PKH: e.Hash.String(), PublicKey: e.PublicKey.String(), Source: e.Meta.Source.String(), Description: e.Meta.Description}
		if !e.Meta.Created.IsZero() {
			r.Created = e.Meta.Created.UTC().Format(time.RFC3339)
		}
		rows = append(rows, r)
	}
	if *asJSON {
		enc := json.NewEncoder(os.Stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(rows); err != nil {
			return fail("keys list: %v", err)
		}
		return 0
	}
	for _, r := range rows {
		id := r.PublicKey
		if r.PKH != "" {
			id = r.PKH + "  " + r.PublicKey
		}
		fmt.Printf("%s  %s  %s  %s\n", r.Type, id, r.Source, r.Created)
	}
	fmt.Fprintf(os.Stderr, "%d keys\n", len(rows))
	return 0
}

func cmdKeysDelete(args []string) int {
	fs := newFlags("keys delete", "keys delete --dir DIR PUBKEY|PKH…",
		"Delete keys from the sealed store: Ethereum keys by 0x public key, Tezos keys by pkh\n(tz1…tz4). Their slashing-protection history and high watermarks stay in the\nprotection database, so re-importing a key later cannot re-sign what it signed.")
	dirFlag := fs.String("dir", "", "state directory (required)")
	if st := parse(fs, args); st >= 0 {
		return st
	}
	if fs.NArg() == 0 {
		return fail("keys delete: name at least one public key")
	}
	store, _, err := openKeyStore(*dirFlag)
	if err != nil {
		return fail("keys delete: %v", err)
	}
	defer store.Close()
	status := 0
	for _, a := range fs.Args() {
		if pkh, err := tezos.ParsePublicKeyHash(a); err == nil {
			if err := store.DeleteTezos(pkh); err != nil {
				if errors.Is(err, keys.ErrNotFound) {
					status = fail("keys delete: no key %s", a)
					continue
				}
				return fail("keys delete: %v", err)
			}
			fmt.Printf("deleted %s\n", pkh)
			continue
		}
		var pub [48]byte
		h := strings.TrimPrefix(strings.ToLower(a), "0x")
		if n, err := hex.Decode(pub[:], []byte(h)); err != nil || n != 48 || len(h) != 96 {
			status = fail("keys delete: %q is not a 48-byte hex public key", a)
			continue
		}
		if err := store.Delete(pub); err != nil {
			if errors.Is(err, keys.ErrNotFound) {
				status = fail("keys delete: no key %s", a)
				continue
			}
			return fail("keys delete: %v", err)
		}
		fmt.Printf("deleted 0x%x\n", pub)
	}
	if status == 0 {
		fmt.Fprintln(os.Stderr, "keyward: restart keyward for the change to take effect")
	}
	return status
}

// printImportReport prints one line per keystore and a summary; the exit status is 1 if
// any keystore failed.
func printImportReport(rep keys.ImportReport, took time.Duration) int {
	for _, r := range rep.Results {
		line := fmt.Sprintf("%-13s 0x%x  %s", r.Status, r.PublicKey, r.Path)
		if r.Err != nil {
			line += ": " + r.Err.Error()
		}
		fmt.Println(line)
	}
	imported, present, failed := rep.Count(keys.ImportImported), rep.Count(keys.ImportExists), rep.Count(keys.ImportFailed)
	fmt.Fprintf(os.Stderr, "keyward: %d imported, %d already present, %d failed, in %v\n", imported, present, failed, took.Round(time.Millisecond))
	if failed > 0 || imported+present < len(rep.Results) {
		return 1
	}
	if imported > 0 {
		fmt.Fprintln(os.Stderr, "keyward: restart keyward for new keys to be served")
	}
	return 0
}

// tezosKinds are the --type values of Tezos keys.
var tezosKinds = map[string]tezos.KeyKind{
	"tz1": tezos.KeyKindEd25519, "tz2": tezos.KeyKindSecp256k1, "tz3": tezos.KeyKindP256, "tz4": tezos.KeyKindBLS,
}

// importOctez imports an octez-client secret_keys file and prints one line per entry.
func importOctez(dirFlag, path, pwFile string) int {
	data, err := boundedio.ReadFile(path, 1<<20)
	if err != nil {
		return fail("keys import: %v", err)
	}
	store, _, err := openKeyStore(dirFlag)
	if err != nil {
		return fail("keys import: %v", err)
	}
	defer store.Close()
	password := func() ([]byte, error) {
		if pwFile == "" {
			return nil, errors.New("encrypted key: pass --password-file")
		}
		b, err := boundedio.ReadFile(pwFile, 4096)
		if err != nil {
			return nil, err
		}
		return []byte(strings.TrimRight(string(b), "\r\n")), nil
	}
	res, err := keys.ImportOctezSecretKeys(store, data, password, time.Now())
	if err != nil {
		return fail("keys import: %v", err)
	}
	status := 0
	var imported int
	for _, r := range res {
		line := fmt.Sprintf("%-13s %s  %s", r.Status, r.Hash, r.Name)
		if !r.Hash.Valid() {
			line = fmt.Sprintf("%-13s %s", r.Status, r.Name)
		}
		if r.Err != nil {
			line += ": " + r.Err.Error()
			status = 1
		}
		if r.Status == keys.ImportImported {
			imported++
		}
		fmt.Println(line)
	}
	if imported > 0 {
		fmt.Fprintln(os.Stderr, "keyward: restart keyward for new keys to be served")
	}
	return status
}
