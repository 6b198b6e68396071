package main

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/keyward/keyward/internal/config"
	"github.com/keyward/keyward/internal/eth"
	"github.com/keyward/keyward/internal/keys"
	"github.com/keyward/keyward/internal/policy"
)

const initHelp = `Create a state directory (mode 0700) holding the configuration (keyward.toml), the
pinned Ethereum network (network.yaml: fork schedule and genesis validators root, used by
the core for every domain), the core's master key (master.key, 0600) and an empty sealed
key store. An existing secret is never overwritten; running init again on the same
directory only adds what is missing, and refuses a different network.

--network takes mainnet, hoodi, sepolia, holesky, or the path of a consensus config.yaml
(fork versions and epochs) together with --genesis-validators-root unless the file carries
GENESIS_VALIDATORS_ROOT.

The [tezos] section of keyward.toml pins the Tezos chain that keys without a policy table
sign for: mainnet NetXdQprcVkpaWU by default; for a test network pass its chain id (the
node's GET /chains/main/chain_id), e.g. --tezos-chain-id NetXnHfVqm9iesp (ghostnet).

Examples:
  keyward init --dir /var/lib/keyward --network mainnet
  keyward init --dir ./devnet --network ./config.yaml --genesis-validators-root 0x83431e…`

type initOptions struct {
	dir, network, gvr, listen, confinement string
	tezosListen, tezosChain                string
}

func cmdInit(args []string) int {
	fs := newFlags("init", "init --dir DIR --network NAME|config.yaml [flags]", initHelp)
	var o initOptions
	fs.StringVar(&o.dir, "dir", "", "state directory to create (required)")
	fs.StringVar(&o.network, "network", "mainnet", "mainnet, hoodi, sepolia, holesky, or a path to a consensus config.yaml")
	fs.StringVar(&o.gvr, "genesis-validators-root", "", "genesis validators root (0x…) for a custom config.yaml")
	fs.StringVar(&o.listen, "eth-listen", "", "address of the eth2 API (default 127.0.0.1:9000)")
	fs.StringVar(&o.confinement, "confinement", "", "core confinement required at start: full (default) or best-effort")
	fs.StringVar(&o.tezosListen, "tezos-listen", "", "address of the Octez remote-signer API (default 127.0.0.1:6732)")
	fs.StringVar(&o.tezosChain, "tezos-chain-id", "", "Tezos chain id that keys without a policy table sign for (default mainnet NetXdQprcVkpaWU)")
	if st := parse(fs, args); st >= 0 {
		return st
	}
	dir, err := stateDir(o.dir)
	if err != nil {
		return fail("init: %v", err)
	}
	o.dir = dir
	n, err := initDir(o)
	if err != nil {
		return fail("init: %v", err)
	}
	fmt.Printf("initialized %s for %s (genesis validators root 0x%x)\n", dir, n.Name, n.GenesisValidatorsRoot)
	fmt.Printf("next: keyward keys import --dir %s --keystores DIR --password-file FILE\n", dir)
	return 0
}

// resolveNetwork returns the network named by arg: a built-in name or a config.yaml path.
func resolveNetwork(arg, gvr string) (*eth.Network, error) {
	if !strings.ContainsAny(arg, "/.") {
		return eth.BuiltinNetwork(arg)
	}
	b, err := os.ReadFile(arg)
	if err != nil {
		return nil, fmt.Errorf("read network config: %w", err)
	}
	if gvr != "" {
		if bytes.Contains(b, []byte(eth.GenesisValidatorsRootKey+":")) {
			return nil, fmt.Errorf("%s already sets %s; drop --genesis-validators-root", arg, eth.GenesisValidatorsRootKey)
		}
		b = append(append(b, '\n'), []byte(eth.GenesisValidatorsRootKey+": "+gvr+"\n")...)
	}
	return eth.ParseNetworkConfig(b)
}

// initDir creates or completes a state directory. It never overwrites a secret.
func initDir(o initOptions) (*eth.Network, error) {
	n, err := resolveNetwork(o.network, o.gvr)
	if err != nil {
		return nil, err
	}
	if err := ensurePrivateDir(o.dir); err != nil {
		return nil, err
	}
	// Inv 3: the network is pinned once; a different one later is refused, not replaced.
	netPath := filepath.Join(o.dir, config.NetworkFile)
	want := n.MarshalConfig()
	switch old, err := os.ReadFile(netPath); {
	case err == nil:
		pinned, perr := eth.ParseNetworkConfig(old)
		if perr != nil {
			return nil, fmt.Errorf("existing %s: %w", netPath, perr)
		}
		if !bytes.Equal(pinned.MarshalConfig(), want) {
			return nil, fmt.Errorf("%s is already pinned to network %s; refusing to re-pin it to %s", o.dir, pinned.Name, n.Name)
		}
	case errors.Is(err, fs.ErrNotExist):
		if err := writeFileAtomic(netPath, want, 0o600); err != nil {
			return nil, err
		}
	default:
		return nil, fmt.Errorf("read %s: %w", netPath, err)
	}

	cfgPath := filepath.Join(o.dir, config.FileName)
	if _, err := os.Stat(cfgPath); errors.Is(err, fs.ErrNotExist) {
		c := config.Default()
		if o.listen != "" {
			c.Eth.Listen = o.listen
		}
		if o.confinement != "" {
			c.Core.Confinement = o.confinement
		}
		if o.tezosListen != "" {
			c.Tezos.Listen = o.tezosListen
		}
		if o.tezosChain != "" {
			c.Tezos.ChainID = o.tezosChain
		}
		if err := c.Validate(); err != nil {
			return nil, err
		}
		b, err := config.Marshal(c)
		if err != nil {
			return nil, err
		}
		if err := writeFileAtomic(cfgPath, b, 0o600); err != nil {
			return nil, err
		}
	} else if o.listen != "" || o.confinement != "" || o.tezosListen != "" || o.tezosChain != "" {
		return nil, fmt.Errorf("%s exists; edit it instead of passing --eth-listen, --confinement or --tezos-*", cfgPath)
	}

	// policy.toml with the defaults spelled out (Inv 4: exits and deposits refused, no
	// transfer) and the other choices in comments; an existing one is kept.
	polPath := filepath.Join(o.dir, policy.FileName)
	if _, err := os.Lstat(polPath); errors.Is(err, fs.ErrNotExist) {
		if err := writeFileAtomic(polPath, []byte(policy.Template), 0o600); err != nil {
			return nil, err
		}
	}

	mkPath := filepath.Join(o.dir, config.MasterKeyFile)
	if _, err := os.Stat(mkPath); errors.Is(err, fs.ErrNotExist) {
		if err := keys.CreateMasterKey(mkPath); err != nil { // O_EXCL: never overwrites (Inv 9)
			return nil, err
		}
	}
	if err := createToken(filepath.Join(o.dir, config.KeymanagerTokenFile)); err != nil {
		return nil, err
	}
	mk, err := keys.LoadMasterKey(mkPath)
	if err != nil {
		return nil, err
	}
	defer mk.Zero()
	st, err := keys.OpenStore(filepath.Join(o.dir, config.KeysFile), mk, keys.StoreOptions{})
	if err != nil {
		return nil, err
	}
	return n, st.Close()
}

// ensurePrivateDir creates dir with mode 0700, or checks that an existing one is not
// accessible to group or others (Inv 9).
func ensurePrivateDir(dir string) error {
	fi, err := os.Stat(dir)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return fmt.Errorf("create state directory: %w", err)
		}
		return os.Chmod(dir, 0o700) // MkdirAll is subject to the umask; be exact
	case err != nil:
		return fmt.Errorf("stat state directory: %w", err)
	case !fi.IsDir():
		return fmt.Errorf("%s is not a directory", dir)
	case fi.Mode().Perm()&0o077 != 0:
		return fmt.Errorf("state directory %s has mode %#o; it must not be accessible to group or others (chmod 700 %s)", dir, fi.Mode().Perm(), dir)
	}
	return nil
}

// writeFileAtomic writes b to path through a temporary file, fsyncs it, renames it into
// place and fsyncs the directory.
func writeFileAtomic(path string, b []byte, mode os.FileMode) error {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	tmp := f.Name()
	defer os.Remove(tmp)
	if err := f.Chmod(mode); err != nil {
		f.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	if _, err := f.Write(b); err != nil {
		f.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return fmt.Errorf("sync %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("rename into %s: %w", path, err)
	}
	d, err := os.Open(filepath.Dir(path))
	if err != nil {
		return fmt.Errorf("sync directory of %s: %w", path, err)
	}
	defer d.Close()
	return d.Sync()
}

// createToken writes a random Keymanager bearer token to path (0600) unless one exists.
func createToken(path string) error {
	if _, err := os.Stat(path); err == nil {
		return nil // never overwrite a secret (Inv 9)
	}
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		return fmt.Errorf("create keymanager token: %w", err)
	}
	return writeFileAtomic(path, []byte("api-token-0x"+hex.EncodeToString(b[:])+"\n"), 0o600)
}

// readToken reads the Keymanager token, refusing a file others can read (Inv 9).
func readToken(path string) (string, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return "", fmt.Errorf("keymanager token: %w", err)
	}
	if fi.Mode().Perm()&0o077 != 0 {
		return "", fmt.Errorf("keymanager token %s has mode %#o; chmod 600 %s", path, fi.Mode().Perm(), path)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("keymanager token: %w", err)
	}
	tok := strings.TrimSpace(string(b))
	if len(tok) < 32 {
		return "", fmt.Errorf("keymanager token %s is shorter than 32 characters", path)
	}
	return tok, nil
}
