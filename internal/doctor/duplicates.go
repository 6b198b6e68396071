package doctor

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/keyward/keyward/internal/config"
	"github.com/keyward/keyward/internal/keys"
)

// Limits of what the duplicate-key check reads.
const (
	maxKeystoreSize    = 64 << 10
	maxDefinitionsSize = 16 << 20
	maxKeyListSize     = 16 << 20
)

// keySet maps a lower-case 0x-hex BLS public key to where it was found.
type keySet map[string]string

// stateDirKeys lists the BLS public keys of a keyward state directory: from its key store
// when this user can open it (stopped signer, readable master key), else from the running
// signer's GET /api/v1/eth2/publicKeys on its eth.listen. It says which source it used.
func stateDirKeys(ctx context.Context, dir string, c *http.Client) (keySet, string, error) {
	cfg, err := config.Load(dir)
	if err != nil {
		return nil, "", err
	}
	out := keySet{}
	storeErr := func() error {
		mk, err := keys.LoadMasterKey(config.Path(dir, cfg.Core.MasterKey))
		if err != nil {
			return err
		}
		defer mk.Zero()
		st, err := keys.OpenStore(filepath.Join(dir, config.KeysFile), mk, keys.StoreOptions{ReadOnly: true, Timeout: 200 * time.Millisecond})
		if err != nil {
			return err
		}
		defer st.Close()
		entries, err := st.List()
		if err != nil {
			return err
		}
		for _, e := range entries {
			out["0x"+hex.EncodeToString(e.PublicKey)] = dir
		}
		return nil
	}()
	if storeErr == nil {
		return out, "key store", nil
	}
	if c == nil {
		return nil, "", fmt.Errorf("key store: %w (and no running signer queried)", storeErr)
	}
	ctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+cfg.Eth.Listen+"/api/v1/eth2/publicKeys", nil)
	if err != nil {
		return nil, "", err
	}
	resp, err := c.Do(req)
	if err != nil {
		return nil, "", fmt.Errorf("key store: %w; running signer: %w", storeErr, err)
	}
	defer resp.Body.Close()
	var list []string
	if err := json.NewDecoder(io.LimitReader(resp.Body, maxKeyListSize)).Decode(&list); err != nil {
		return nil, "", fmt.Errorf("running signer's key list: %w", err)
	}
	for _, k := range list {
		out[strings.ToLower(k)] = dir
	}
	return out, "running signer", nil
}

// otherKeys lists the BLS keys another place would sign with: a keyward state directory
// (keyward.toml inside), or a validator client's directory, walked to depth 3 for
// EIP-2335 keystores (their pubkey field) and Lighthouse validator_definitions.yml
// entries that are enabled local keystores. A definition of type web3signer is a client
// using a remote signer (perhaps this one) and does not count.
func otherKeys(ctx context.Context, path string, c *http.Client) (keySet, error) {
	if _, err := os.Stat(filepath.Join(path, config.FileName)); err == nil {
		ks, _, err := stateDirKeys(ctx, path, c)
		return ks, err
	}
	out := keySet{}
	err := filepath.WalkDir(path, func(p string, e fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if e.IsDir() {
			if p != path && strings.Count(strings.TrimPrefix(p, path), string(filepath.Separator)) > 3 {
				return filepath.SkipDir
			}
			return nil
		}
		switch {
		case e.Name() == "validator_definitions.yml":
			return lighthouseDefinitions(p, out)
		case strings.HasSuffix(e.Name(), ".json"):
			keystorePubkey(p, out)
		}
		return nil
	})
	return out, err
}

// keystorePubkey adds the pubkey of an EIP-2335 keystore; other JSON files are ignored.
func keystorePubkey(path string, out keySet) {
	fi, err := os.Stat(path)
	if err != nil || fi.Size() > maxKeystoreSize {
		return
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return
	}
	var ks struct {
		Pubkey string          `json:"pubkey"`
		Crypto json.RawMessage `json:"crypto"`
	}
	if json.Unmarshal(b, &ks) != nil || len(ks.Crypto) == 0 || len(ks.Pubkey) != 96 {
		return
	}
	out["0x"+strings.ToLower(ks.Pubkey)] = path
}

// lighthouseDefinitions adds the enabled local-keystore validators of a Lighthouse
// validator_definitions.yml.
func lighthouseDefinitions(path string, out keySet) error {
	fi, err := os.Stat(path)
	if err != nil {
		return err
	}
	if fi.Size() > maxDefinitionsSize {
		return fmt.Errorf("%s: larger than %d bytes", path, maxDefinitionsSize)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	var defs []struct {
		Enabled bool   `yaml:"enabled"`
		Pubkey  string `yaml:"voting_public_key"`
		Type    string `yaml:"type"`
	}
	if err := yaml.Unmarshal(b, &defs); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	for _, d := range defs {
		if d.Enabled && d.Type == "local_keystore" {
			out[strings.ToLower(d.Pubkey)] = path + " (enabled local_keystore)"
		}
	}
	return nil
}

// checkDuplicateKeys fails when a key of this state directory is also configured in one of
// the other places (keyward state directories or validator-client directories, given with
// --also): two signers with one key is how validators get slashed. Without --also it
// only says what it would need.
func checkDuplicateKeys(ctx context.Context, dir string, also []string, c *http.Client) Finding {
	const name = "keys configured twice"
	if len(also) == 0 {
		return Finding{name, Pass, "no other signer or validator directory given; pass --also DIR to compare", ""}
	}
	ours, src, err := stateDirKeys(ctx, dir, c)
	if err != nil {
		return Finding{name, Warn, "cannot list this directory's keys: " + err.Error(), "run doctor as the service user, or with the signer running"}
	}
	var dups []string
	for _, p := range also {
		theirs, err := otherKeys(ctx, p, c)
		if err != nil {
			return Finding{name, Warn, fmt.Sprintf("cannot list the keys of %s: %v", p, err), ""}
		}
		for k, where := range theirs {
			if _, ok := ours[k]; ok {
				dups = append(dups, fmt.Sprintf("%s also in %s", k, where))
			}
		}
	}
	if len(dups) > 0 {
		sort.Strings(dups)
		return Finding{name, Fail, fmt.Sprintf("%d keys are configured twice: %s", len(dups), strings.Join(dups, "; ")),
			"remove (or disable) each key from all but one signer, and move its slashing-protection history with it"}
	}
	return Finding{name, Pass, fmt.Sprintf("%d keys (from the %s), none in %s", len(ours), src, strings.Join(also, ", ")), ""}
}
