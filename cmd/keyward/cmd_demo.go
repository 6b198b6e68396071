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
	"github.com/keyward/keyward/internal/wire"
)

const demoHelp = `Run a working signer with no setup: a temporary state directory, freshly generated
keys, the embedded slashing-protection store, the network's real fork schedule. Prints the
URL, the public keys and a request to paste. Everything is deleted on exit (Ctrl-C).

The demo asks the core for best-effort confinement so it starts on any Linux; it prints
what was achieved. Use --confinement full to require all of it.

Examples:
  keyward demo
  keyward demo --keys 8 --network hoodi --eth-listen 127.0.0.1:9100`

func cmdDemo(args []string) int {
	fs := newFlags("demo", "demo [flags]", demoHelp)
	n := fs.Int("keys", 4, "number of keys to generate")
	network := fs.String("network", "mainnet", "mainnet, hoodi, sepolia, holesky, or a config.yaml path")
	listen := fs.String("eth-listen", "127.0.0.1:9000", "address of the eth2 API")
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
	store.Close()
	cfg, err := config.Load(dir)
	if err != nil {
		return fail("demo: %v", err)
	}
	err = serve(serveOptions{dir: dir, cfg: cfg, onReady: func(addr string, st *wire.Status) {
		printDemoBanner(addr, net, st, dir)
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
