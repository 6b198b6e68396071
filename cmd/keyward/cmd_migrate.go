package main

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/keyward/keyward/internal/config"
	"github.com/keyward/keyward/internal/eth"
	"github.com/keyward/keyward/internal/migrate"
	"github.com/keyward/keyward/internal/tezos"
)

const migrateHelp = `Move validator keys and their slashing-protection history from another signer or
validator client into a state directory (created with keyward init for the same network).
Stop the source first, and keep it stopped: export its EIP-3076 history after it stopped,
so that no signature it made is missing.

Sources and what --from names:
  web3signer  the key configuration directory (--key-store-path): file-keystore and
              file-raw YAML files; other key types are refused
  lighthouse  the validators directory (validator_definitions.yml): enabled local keystores
  nimbus      the data directory (validators/0x<pubkey>/keystore.json, secrets/0x<pubkey>)
  teku        the keystore directory; --passwords the password directory (<name>.txt)
  prysm       an unzipped 'prysmctl validator accounts backup'; --passwords its password file
  octez       octez-signer's base directory (-d): secret_keys and the *_high_watermarks
              files; --passwords a file with the password of encrypted keys
  signatory   Signatory's configuration file: its file vaults and base_dir/watermark_v2

The plan is printed first. The migration refuses, changing nothing, when it could lose
protection: no --interchange, a key without history in it, or a history for another
network (Tezos: a key without watermarks for a chain keyward.toml signs for). --dry-run stops after the plan and a strict trial import of the history into a
scratch store. Otherwise the history is imported first (all or nothing), then the keys.
keyward must not be running on the state directory.

Examples:
  keyward migrate lighthouse --dir /var/lib/keyward --from ~/.lighthouse/mainnet/validators --interchange ./lh-export.json --dry-run
  keyward migrate web3signer --dir /var/lib/keyward --from /etc/web3signer/keys --interchange ./w3s-export.json
  keyward migrate teku --dir /var/lib/keyward --from ./keys --passwords ./passwords --interchange ./teku-export.json
  keyward migrate octez --dir /var/lib/keyward --from ~/.octez-signer --dry-run
  keyward migrate signatory --dir /var/lib/keyward --from /etc/signatory.yaml`

func cmdMigrate(args []string) int {
	if len(args) == 0 || strings.HasPrefix(args[0], "-") {
		fmt.Printf("Usage: keyward migrate SOURCE --dir DIR --from PATH [flags]\n\n%s\n", migrateHelp)
		if len(args) > 0 && (args[0] == "-h" || args[0] == "--help") {
			return 0
		}
		return 2
	}
	source := migrate.Source(args[0])
	fs := newFlags("migrate", "migrate SOURCE --dir DIR --from PATH [flags]", migrateHelp)
	dirFlag := fs.String("dir", "", "keyward state directory (required)")
	var o migrate.Options
	fs.StringVar(&o.From, "from", "", "the source's directory (see above; required)")
	fs.StringVar(&o.Passwords, "passwords", "", "teku: password directory; prysm: the backup's password file")
	fs.StringVar(&o.Interchange, "interchange", "", "EIP-3076 export of the source's slashing protection")
	fs.BoolVar(&o.AcceptMissingHistory, "accept-missing-history", false, "migrate keys without history: ONLY for keys that never signed")
	dryRun := fs.Bool("dry-run", false, "print the plan and check the history; change nothing")
	if st := parse(fs, args[1:]); st >= 0 {
		return st
	}
	o.Source = source
	if o.From == "" {
		return fail("migrate: --from is required")
	}
	dir, err := stateDir(*dirFlag)
	if err != nil {
		return fail("migrate: %v", err)
	}
	network, err := pinnedNetwork(dir)
	if err != nil {
		return fail("migrate: %v", err)
	}
	if source == migrate.Octez || source == migrate.Signatory {
		return migrateTezos(dir, network, o, *dryRun)
	}
	plan, err := migrate.Prepare(o, network.GenesisValidatorsRoot)
	if err != nil {
		return fail("migrate: nothing changed: %v", err)
	}
	printPlan(plan, dir, network)
	if err := plan.Check(network.GenesisValidatorsRoot, network.SlotsPerEpoch); err != nil {
		return fail("migrate: nothing changed: %v", err)
	}
	if *dryRun {
		fmt.Println("dry run: the history imports cleanly; nothing changed. Run again without --dry-run to migrate.")
		return 0
	}

	prot, _, err := openProtection(dir)
	if err != nil {
		return fail("migrate: nothing changed: %v", err)
	}
	defer prot.Close()
	ks, _, err := openKeyStore(dir)
	if err != nil {
		return fail("migrate: nothing changed: %v", err)
	}
	defer ks.Close()
	res, err := plan.Apply(ks, prot, time.Now())
	if err != nil {
		return fail("migrate: %v", err)
	}
	if res.History != nil {
		fmt.Printf("history: imported for %d keys\n", len(res.History.Keys))
	}
	failed := 0
	for _, r := range res.Keys {
		fmt.Printf("%#x  %-15s %s\n", r.PublicKey, r.Status, r.Path)
		if r.Err != nil {
			failed++
			fmt.Fprintf(os.Stderr, "keyward: migrate: %v\n", r.Err)
		}
	}
	if failed > 0 {
		return fail("migrate: %d of %d keys failed (their history is imported; fix and run again)", failed, len(res.Keys))
	}
	fmt.Printf("migrated %d keys. Keep %s stopped and remove its keys; then keyward doctor --dir %s --also <its directory>\n", len(res.Keys), source, dir)
	return 0
}

// pinnedNetwork reads the network a state directory is pinned to, without opening a store.
func pinnedNetwork(dir string) (*eth.Network, error) {
	if _, err := config.Load(dir); err != nil {
		return nil, err
	}
	b, err := os.ReadFile(filepath.Join(dir, config.NetworkFile))
	if err != nil {
		return nil, fmt.Errorf("read pinned network: %w", err)
	}
	return eth.ParseNetworkConfig(b)
}

func printPlan(p *migrate.Plan, dir string, n *eth.Network) {
	fmt.Printf("plan: %s → %s (%s)\n", p.Source, dir, n.Name)
	for _, k := range p.Keys {
		h := "history"
		if !k.HasHistory {
			h = "NO HISTORY"
		}
		fmt.Printf("  %#x  %-10s %s\n", k.Pubkey, h, k.Origin)
	}
	if p.Interchange != nil {
		fmt.Printf("  EIP-3076 history for %d keys, imported first (all or nothing)\n", p.HistoryKeys)
	}
	for _, note := range p.Notes {
		fmt.Printf("  note: %s\n", note)
	}
}

// migrateTezos is the octez and signatory path of cmdMigrate.
func migrateTezos(dir string, network *eth.Network, o migrate.Options, dryRun bool) int {
	cfg, err := config.Load(dir)
	if err != nil {
		return fail("migrate: %v", err)
	}
	pol, err := cfg.Tezos.Policy()
	if err != nil {
		return fail("migrate: %v", err)
	}
	chains := append([]tezos.ChainID{pol.ChainID}, pol.Default.ChainIDs...)
	for _, k := range pol.Keys {
		chains = append(chains, k.ChainIDs...)
	}
	to := migrate.TezosOptions{Source: o.Source, From: o.From, Chains: chains, AcceptMissingHistory: o.AcceptMissingHistory}
	if o.Passwords != "" {
		to.Password = func() ([]byte, error) { return readPasswordFile(o.Passwords) }
	}
	plan, err := migrate.PrepareTezos(to, network.GenesisValidatorsRoot)
	if err != nil {
		return fail("migrate: nothing changed: %v", err)
	}
	fmt.Printf("plan: %s → %s\n", plan.Source, dir)
	for _, k := range plan.Keys {
		fmt.Printf("  %s  %-8q %d watermarks\n", k.Hash, k.Name, k.Marks)
	}
	fmt.Printf("  %d watermarks, imported first (all or nothing, only raising)\n", len(plan.Marks))
	for _, n := range plan.Notes {
		fmt.Printf("  note: %s\n", n)
	}
	if dryRun {
		fmt.Println("dry run: keys and watermarks import cleanly (tried in a scratch store); nothing changed. Run again without --dry-run to migrate.")
		return 0
	}
	prot, _, err := openProtection(dir)
	if err != nil {
		return fail("migrate: nothing changed: %v", err)
	}
	defer prot.Close()
	ks, _, err := openKeyStore(dir)
	if err != nil {
		return fail("migrate: nothing changed: %v", err)
	}
	defer ks.Close()
	res, err := plan.Apply(ks, prot, time.Now())
	if err != nil {
		return fail("migrate: %v", err)
	}
	fmt.Printf("watermarks: %d raised\n", res.Raised)
	failed := 0
	for _, r := range res.Keys {
		fmt.Printf("%s  %-15s %s\n", r.Hash, r.Status, r.Name)
		if r.Err != nil {
			failed++
			fmt.Fprintf(os.Stderr, "keyward: migrate: %v\n", r.Err)
		}
	}
	if failed > 0 {
		return fail("migrate: %d of %d keys failed (the watermarks are imported; fix and run again)", failed, len(res.Keys))
	}
	fmt.Printf("migrated %d keys. Keep %s stopped and remove its keys; add them to [tezos.keys] in keyward.toml as needed\n", len(res.Keys), o.Source)
	return 0
}

// readPasswordFile reads a password file that group and others cannot access; one
// trailing newline is removed.
func readPasswordFile(path string) ([]byte, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	if fi.Mode().Perm()&0o077 != 0 {
		return nil, fmt.Errorf("%s has mode %#o: group or others can read it (chmod 600)", path, fi.Mode().Perm())
	}
	b, err := readLimited(path, 4<<10)
	if err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(bytes.TrimSuffix(b, []byte("\n")), []byte("\r")), nil
}
