package main

import (
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/keyward/keyward/internal/config"
	"github.com/keyward/keyward/internal/eth"
	"github.com/keyward/keyward/internal/keys"
	"github.com/keyward/keyward/internal/policy"
	"github.com/keyward/keyward/internal/tezos"
	"github.com/keyward/keyward/internal/wire"
)

const demoHelp = `Run a working signer with no setup: a temporary state directory, freshly generated
keys, the embedded slashing-protection store, the network's real fork schedule. Prints the
URL, the public keys and a request to paste. Everything is deleted on exit (Ctrl-C).

The demo also serves the Octez remote-signer API (--tezos-listen, default 127.0.0.1:6732)
with one generated Tezos key of each type (tz1 ed25519, tz2 secp256k1, tz3 P-256, tz4 BLS)
for mainnet (NetXdQprcVkpaWU), with GET /known_keys and GET /bls_prove_possession enabled.
--tezos-listen "" turns it off.

The demo asks the core for best-effort confinement so it starts on any Linux; it prints
what was achieved. Use --confinement full to require all of it.

Examples:
  keyward demo
  keyward demo --keys 8 --network hoodi --eth-listen 127.0.0.1:9100
  keyward demo --tezos-listen 127.0.0.1:16732`

func cmdDemo(args []string) int {
	fs := newFlags("demo", "demo [flags]", demoHelp)
	n := fs.Int("keys", 4, "number of keys to generate")
	network := fs.String("network", "mainnet", "mainnet, hoodi, sepolia, holesky, or a config.yaml path")
	listen := fs.String("eth-listen", "127.0.0.1:9000", "address of the eth2 API")
	tezListen := fs.String("tezos-listen", config.DefaultTezos().Listen, "address of the Octez remote-signer API (\"\" turns it off)")
	confinement := fs.String("confinement", config.ConfinementBestEffort, "core confinement: full or best-effort")
	keep := fs.String("dir", "", "use and keep this state directory instead of a temporary one")
	if st := parse(fs, args); st >= 0 {
		return st
	}
	dir := *keep
	if dir == "" {
		tmp, err := os.MkdirTemp("", "keyward-demo-")
		if err != nil {
			return fail("demo: %v", err)
		}
		defer os.RemoveAll(tmp)
		dir = filepath.Join(tmp, "state")
	}
	dir, err := stateDir(dir)
	if err != nil {
		return fail("demo: %v", err)
	}
	net, err := initDir(initOptions{dir: dir, network: *network, listen: *listen, confinement: *confinement})
	if err != nil {
		return fail("demo: %v", err)
	}
	store, _, err := openKeyStore(dir)
	if err != nil {
		return fail("demo: %v", err)
	}
	if _, err := keys.GenerateBLS(store, *n, keys.Meta{Source: keys.SourceGenerated, Created: time.Now()}); err != nil {
		store.Close()
		return fail("demo: %v", err)
	}
	var tezKeys []tezos.PublicKeyHash
	if *tezListen != "" {
		for _, k := range []tezos.KeyKind{tezos.KeyKindEd25519, tezos.KeyKindSecp256k1, tezos.KeyKindP256, tezos.KeyKindBLS} {
			pk, err := keys.GenerateTezos(store, k, keys.Meta{Created: time.Now(), Description: "demo"})
			if err != nil {
				store.Close()
				return fail("demo: %v", err)
			}
			tezKeys = append(tezKeys, pk.Hash())
		}
	}
	store.Close()
	cfg, err := config.Load(dir)
	if err != nil {
		return fail("demo: %v", err)
	}
	cfg.Tezos.Listen = *tezListen
	cfg.Tezos.AllowKnownKeys, cfg.Tezos.AllowProvePossession = true, true
	if err := writeConfig(dir, cfg); err != nil { // the core reads the file
		return fail("demo: %v", err)
	}
	if err := writeFileAtomic(filepath.Join(dir, policy.FileName), []byte(demoPolicy), 0o600); err != nil {
		return fail("demo: %v", err)
	}
	err = serve(serveOptions{dir: dir, cfg: cfg, onReady: func(addr, tezosAddr string, st *wire.Status) {
		printDemoBanner(addr, net, st, dir)
		if tezosAddr != "" {
			printTezosBanner(tezosAddr, tezKeys)
		}
	}})
	if err != nil {
		return fail("demo: %v", err)
	}
	return 0
}

// printDemoBanner prints the URL, keys and a ready-to-paste request.
func printDemoBanner(addr string, n *eth.Network, st *wire.Status, dir string) {
	f := eth.ForkPhase0
	for g := eth.ForkPhase0; g.Valid(); g++ {
		if n.Epoch(g) != eth.FarFutureEpoch {
			f = g
		}
	}
	prev := f
	if f > eth.ForkPhase0 {
		prev = f - 1
	}
	epoch := n.Epoch(f) + 1
	pv, cv := n.Version(prev), n.Version(f)
	url := "http://" + addr
	fmt.Printf("\nkeyward demo: signing for %s, %d keys, core confinement %s, key memory locked %v\n", n.Name, st.BLSKeys, st.ConfinementLevel, st.KeyMemoryLocked)
	fmt.Printf("state directory: %s (deleted on exit)\n", dir)
	fmt.Printf("URL: %s\n\npublic keys:\n", url)
	fmt.Printf("  curl -s %s/api/v1/eth2/publicKeys\n\n", url)
	fmt.Printf("sign an attestation (a second, different one for the same target gets 412):\n")
	fmt.Printf(`  KEY=$(curl -s %s/api/v1/eth2/publicKeys | tr -d '[]"' | cut -d, -f1)
  curl -s -H 'Content-Type: application/json' -H 'Accept: application/json' \
    %s/api/v1/eth2/sign/$KEY -d '{"type":"ATTESTATION",
    "fork_info":{"fork":{"previous_version":"0x%s","current_version":"0x%s","epoch":"%d"},
                 "genesis_validators_root":"0x%s"},
    "attestation":{"slot":"%d","index":"0","beacon_block_root":"0x%s",
                   "source":{"epoch":"%d","root":"0x%s"},"target":{"epoch":"%d","root":"0x%s"}}}'
`, url, url, hex.EncodeToString(pv[:]), hex.EncodeToString(cv[:]), n.Epoch(f),
		hex.EncodeToString(n.GenesisValidatorsRoot[:]), epoch*n.SlotsPerEpoch, zeroRoot, epoch-1, zeroRoot, epoch, zeroRoot)
	fmt.Printf("\nhealth: curl -s %s/healthcheck   metrics: curl -s %s/metrics\nCtrl-C stops the demo.\n\n", url, url)
}

const zeroRoot = "0000000000000000000000000000000000000000000000000000000000000000"

// writeConfig validates and writes dir/keyward.toml.
func writeConfig(dir string, cfg config.Config) error {
	if err := cfg.Validate(); err != nil {
		return err
	}
	b, err := config.Marshal(cfg)
	if err != nil {
		return err
	}
	return writeFileAtomic(filepath.Join(dir, config.FileName), b, 0o600)
}

// printTezosBanner prints the Tezos keys and a ready-to-paste preattestation request.
func printTezosBanner(addr string, pkhs []tezos.PublicKeyHash) {
	url := "http://" + addr
	fmt.Printf("Tezos (Octez remote-signer API, chain NetXdQprcVkpaWU): %s\n", url)
	for _, h := range pkhs {
		fmt.Printf("  %s  %s\n", h, h.Kind)
	}
	fmt.Printf("\n  curl -s %s/known_keys\n  curl -s %s/keys/%s\n", url, url, pkhs[0])
	fmt.Printf("sign a preattestation at level 100, round 0 (the same bytes again return the same\nsignature; other bytes at that level and round get 409):\n")
	fmt.Printf("  curl -s -X POST -H 'Content-Type: application/json' %s/keys/%s \\\n    -d '\"%s\"'\n\n", url, pkhs[0], demoPreattestation(100, 0))
}

// demoPreattestation builds a tz1..tz3 preattestation (magic 0x12, tag 20) for mainnet:
// chain id ‖ branch ‖ tag ‖ slot ‖ level ‖ round ‖ block payload hash.
func demoPreattestation(level, round uint32) string {
	b := []byte{tezos.MagicPreattestation, 0x7a, 0x06, 0xa7, 0x70}
	b = append(b, make([]byte, 32)...) // branch
	b = append(b, tezos.TagPreattestation, 0, 0)
	b = append(b, byte(level>>24), byte(level>>16), byte(level>>8), byte(level))
	b = append(b, byte(round>>24), byte(round>>16), byte(round>>8), byte(round))
	b = append(b, make([]byte, 32)...) // block payload hash
	return hex.EncodeToString(b)
}

// demoPolicy is the demo's policy.toml. Unlike a state directory made by init (no
// policy.toml: exits and deposits refused), the demo signs voluntary exits and deposits,
// so that every signing type can be tried against it (test/lodestar expects 200 for both).
const demoPolicy = `# keyward demo policy: signs exits and deposits (init's default refuses them).
[eth.default]
exit = "allow"
deposit = "allow"
`
