package migrate

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/keyward/keyward/internal/keys"
	"github.com/keyward/keyward/internal/protect"
	"github.com/keyward/keyward/internal/tezos"
)

// Tezos sources.
const (
	// Octez is octez-signer's base directory (-d): secret_keys, public_key_hashs and the
	// *_high_watermarks files it writes with --check-high-watermark.
	Octez Source = "octez"
	// Signatory is Signatory's configuration file (signatory.yaml): base_dir (holding
	// watermark_v2/<chain>.json) and file vaults (an octez-client secret_keys file).
	Signatory Source = "signatory"
)

// TezosSources lists the Tezos sources in the order the CLI shows them.
var TezosSources = []Source{Octez, Signatory}

// TezosOptions say where a Tezos source is and what the state directory signs for.
type TezosOptions struct {
	Source Source
	// From is octez-signer's base directory or Signatory's configuration file.
	From string
	// Chains are the chains the state directory's keys sign for (tezos.chain_id and
	// every key's chain_ids): a key's history must cover one of them.
	Chains []tezos.ChainID
	// Password is called for each encrypted secret key; nil refuses encrypted keys.
	Password func() ([]byte, error)
	// AcceptMissingHistory migrates keys without watermarks: only for keys that never
	// baked or attested.
	AcceptMissingHistory bool
}

// TezosKey is one Tezos key to migrate.
type TezosKey struct {
	Hash tezos.PublicKeyHash
	Name string // its alias in the source
	// Marks counts its watermarks on the state directory's chains.
	Marks int
}

// TezosPlan is what a Tezos migration will do.
type TezosPlan struct {
	Source  Source
	Keys    []TezosKey
	Marks   []protect.TezosMark
	Notes   []string
	secrets []secretFile // octez-client secret_keys files, imported in order
	pw      func() ([]byte, error)
}

type secretFile struct {
	path string
	data []byte
}

// octezEntry is one element of an octez-client alias file (secret_keys, public_key_hashs).
type octezEntry struct {
	Name  string          `json:"name"`
	Value json.RawMessage `json:"value"`
}

// PrepareTezos reads a Tezos source and returns its plan, or an error wrapping
// ErrWouldLoseProtection (a key without watermarks, or with watermarks only for chains the
// state directory does not sign for), ErrUnsupported, ErrNoKeys or ErrSource. It learns
// each key's hash by importing the keys into a scratch store under a throwaway master key
// (removed before it returns), which also proves the keys decrypt and import: Apply then
// stores exactly the planned keys. gvr is the state directory's network (the scratch
// protection store is pinned to it). Nothing in the state directory changes.
func PrepareTezos(o TezosOptions, gvr [32]byte) (*TezosPlan, error) {
	p := &TezosPlan{Source: o.Source, pw: o.Password}
	var err error
	switch o.Source {
	case Octez:
		err = p.readOctez(o.From)
	case Signatory:
		err = p.readSignatory(o.From)
	default:
		return nil, fmt.Errorf("prepare migration: %w: source %q (one of %v)", ErrUnsupported, o.Source, TezosSources)
	}
	if err != nil {
		return nil, fmt.Errorf("prepare migration from %s: %w", o.Source, err)
	}
	trial, err := p.trial(gvr)
	if err != nil {
		return nil, fmt.Errorf("prepare migration from %s: %w", o.Source, err)
	}
	if len(trial) == 0 {
		return nil, fmt.Errorf("prepare migration from %s: %w in %s", o.Source, ErrNoKeys, o.From)
	}
	chains := map[tezos.ChainID]bool{}
	for _, c := range o.Chains {
		chains[c] = true
	}
	marks := map[tezos.PublicKeyHash]int{}
	other := map[tezos.PublicKeyHash][]string{}
	for _, m := range p.Marks {
		if chains[m.ChainID] {
			marks[m.Key]++
		} else {
			other[m.Key] = append(other[m.Key], m.ChainID.String())
		}
	}
	var missing []string
	for _, r := range trial {
		k := TezosKey{Hash: r.Hash, Name: r.Name, Marks: marks[r.Hash]}
		p.Keys = append(p.Keys, k)
		if k.Marks == 0 {
			why := "no watermark"
			if len(other[k.Hash]) > 0 {
				why = "watermarks only for chains this state directory does not sign for (" + strings.Join(other[k.Hash], ", ") + ")"
			}
			missing = append(missing, fmt.Sprintf("%s (%s): %s", k.Hash, k.Name, why))
		}
	}
	sort.Slice(p.Keys, func(i, j int) bool { return p.Keys[i].Hash.String() < p.Keys[j].Hash.String() })
	sort.Strings(missing)
	if len(missing) > 0 && !o.AcceptMissingHistory {
		return nil, fmt.Errorf("prepare migration from %s: %w: %s (stop the source and migrate from where it keeps its watermarks; if these keys never signed, pass --accept-missing-history)",
			o.Source, ErrWouldLoseProtection, strings.Join(missing, "; "))
	}
	if len(missing) > 0 {
		p.Notes = append(p.Notes, fmt.Sprintf("%d keys without watermarks (--accept-missing-history)", len(missing)))
	}
	return p, nil
}

// readOctez reads octez-signer's base directory.
func (p *TezosPlan) readOctez(dir string) error {
	path := filepath.Join(dir, "secret_keys")
	sk, err := readLimited(path, maxConfigFile)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrSource, err)
	}
	if err := checkSchemes(path, sk); err != nil {
		return err
	}
	p.secrets = append(p.secrets, secretFile{path, sk})
	found := 0
	for _, f := range protect.OctezWatermarkFiles {
		b, err := readLimited(filepath.Join(dir, f.Name), protect.MaxTezosWatermarkFile)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return fmt.Errorf("%w: %w", ErrSource, err)
		}
		found++
		m, err := protect.ParseOctezWatermarks(f.Class, b)
		if err != nil {
			return fmt.Errorf("%w: %s: %w", ErrSource, f.Name, err)
		}
		p.Marks = append(p.Marks, m...)
	}
	if found == 0 {
		p.Notes = append(p.Notes, dir+" has no *_high_watermarks file: octez-signer ran without --check-high-watermark, or elsewhere")
	}
	return nil
}

// checkSchemes refuses a secret_keys file with keys keyward cannot hold: only
// unencrypted: and encrypted: keys move; remote: and ledger: keys stay where they are.
func checkSchemes(path string, secretKeys []byte) error {
	var sks []octezEntry
	if err := json.Unmarshal(secretKeys, &sks); err != nil {
		return fmt.Errorf("%w: %s: %w", ErrSource, path, err)
	}
	for _, e := range sks {
		var v string
		if err := json.Unmarshal(e.Value, &v); err != nil {
			return fmt.Errorf("%w: %s %q: %w", ErrSource, path, e.Name, err)
		}
		scheme, _, _ := strings.Cut(v, ":")
		if scheme != "unencrypted" && scheme != "encrypted" {
			return fmt.Errorf("%w: %s %q: scheme %q (only unencrypted: and encrypted: keys can move)", ErrUnsupported, path, e.Name, scheme)
		}
	}
	return nil
}

// signatoryConfig is the part of signatory.yaml a migration reads (Signatory docs,
// "Configuration"). Other sections (server, policy per key) are ignored: keyward's policy
// is configured in keyward.toml.
type signatoryConfig struct {
	BaseDir string `yaml:"base_dir"`
	Vaults  map[string]struct {
		Driver string `yaml:"driver"`
		Config struct {
			File string `yaml:"file"`
		} `yaml:"config"`
	} `yaml:"vaults"`
	Watermark *struct {
		Driver string `yaml:"driver"`
	} `yaml:"watermark"`
}

// readSignatory reads Signatory's configuration: its file vaults (octez-client secret_keys
// format, with the key hashes taken from the config's tezos section) and the file
// watermarks under base_dir/watermark_v2.
func (p *TezosPlan) readSignatory(configPath string) error {
	b, err := readLimited(configPath, maxConfigFile)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrSource, err)
	}
	var c signatoryConfig
	if err := yaml.Unmarshal(b, &c); err != nil {
		return fmt.Errorf("%w: %s: %w", ErrSource, configPath, err)
	}
	if c.Watermark != nil && c.Watermark.Driver != "" && c.Watermark.Driver != "file" {
		return fmt.Errorf("%w: watermark driver %q: export its marks to files first", ErrUnsupported, c.Watermark.Driver)
	}
	rel := func(s string) string {
		if filepath.IsAbs(s) {
			return s
		}
		return filepath.Join(filepath.Dir(configPath), s)
	}
	names := make([]string, 0, len(c.Vaults))
	for n := range c.Vaults {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		v := c.Vaults[n]
		if v.Driver != "file" {
			return fmt.Errorf("%w: vault %q has driver %q (only file vaults hold keys keyward can take)", ErrUnsupported, n, v.Driver)
		}
		path := rel(v.Config.File)
		sk, err := readLimited(path, maxConfigFile)
		if err != nil {
			return fmt.Errorf("%w: vault %q: %w", ErrSource, n, err)
		}
		if err := checkSchemes(path, sk); err != nil {
			return fmt.Errorf("vault %q: %w", n, err)
		}
		p.secrets = append(p.secrets, secretFile{path, sk})
	}
	if c.BaseDir == "" {
		return fmt.Errorf("%w: %s sets no base_dir: where are the watermarks?", ErrSource, configPath)
	}
	wdir := filepath.Join(rel(c.BaseDir), "watermark_v2")
	files, err := filesWithSuffix(wdir, ".json")
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	for _, f := range files {
		chain, err := tezos.ParseChainID(strings.TrimSuffix(filepath.Base(f), ".json"))
		if err != nil {
			return fmt.Errorf("%w: %s: file name is not a chain id: %w", ErrSource, f, err)
		}
		b, err := readLimited(f, protect.MaxTezosWatermarkFile)
		if err != nil {
			return fmt.Errorf("%w: %w", ErrSource, err)
		}
		m, err := protect.ParseSignatoryWatermarks(chain, b)
		if err != nil {
			return fmt.Errorf("%w: %s: %w", ErrSource, f, err)
		}
		p.Marks = append(p.Marks, m...)
	}
	if len(files) == 0 {
		p.Notes = append(p.Notes, wdir+" holds no watermark file")
	}
	return nil
}

// trial imports the plan into scratch stores and returns the key results; any key that
// does not import is an error.
func (p *TezosPlan) trial(gvr [32]byte) ([]keys.OctezImportResult, error) {
	tmp, err := os.MkdirTemp("", "keyward-migrate-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(tmp)
	mkPath := filepath.Join(tmp, "master.key")
	if err := keys.CreateMasterKey(mkPath); err != nil {
		return nil, err
	}
	mk, err := keys.LoadMasterKey(mkPath)
	if err != nil {
		return nil, err
	}
	ks, err := keys.OpenStore(filepath.Join(tmp, "keys.db"), mk, keys.StoreOptions{})
	mk.Zero()
	if err != nil {
		return nil, err
	}
	defer ks.Close()
	prot, err := protect.Open(filepath.Join(tmp, "protection.db"), protect.Options{GenesisValidatorsRoot: gvr})
	if err != nil {
		return nil, err
	}
	defer prot.Close()
	res, err := p.Apply(ks, prot, time.Now())
	if err != nil {
		return nil, err
	}
	var bad []string
	for _, r := range res.Keys {
		if r.Status != keys.ImportImported {
			bad = append(bad, fmt.Sprintf("%q: %s %v", r.Name, r.Status, r.Err))
		}
	}
	if len(bad) > 0 {
		return nil, fmt.Errorf("%w: %s", ErrSource, strings.Join(bad, "; "))
	}
	return res.Keys, nil
}

// TezosResult is what ApplyTezos did.
type TezosResult struct {
	// Raised is the number of watermarks written (others were already at or above).
	Raised int
	Keys   []keys.OctezImportResult
}

// Apply imports the watermarks first (all or nothing, only raising), then the keys from
// every secret_keys file; a key whose hash differs from the plan is reported failed.
func (p *TezosPlan) Apply(ks *keys.Store, prot *protect.Store, now time.Time) (*TezosResult, error) {
	res := &TezosResult{}
	if len(p.Marks) > 0 {
		n, err := prot.ImportTezosMarks(p.Marks) // first: no key without its watermarks
		if err != nil {
			return nil, fmt.Errorf("apply migration: nothing imported: %w", err)
		}
		res.Raised = n
	}
	want := map[string]tezos.PublicKeyHash{}
	for _, k := range p.Keys { // empty during the trial import
		want[k.Name] = k.Hash
	}
	pw := p.pw
	if pw == nil {
		pw = func() ([]byte, error) { return nil, errors.New("encrypted key: no password given") }
	}
	for _, f := range p.secrets {
		rs, err := keys.ImportOctezSecretKeys(ks, f.data, pw, now)
		if err != nil {
			return res, fmt.Errorf("apply migration: %s: %w", f.path, err)
		}
		for _, r := range rs {
			if h, ok := want[r.Name]; ok && r.Err == nil && r.Hash != h {
				r.Status, r.Err = keys.ImportFailed, fmt.Errorf("%s: %q holds %s, public_key_hashs says %s", f.path, r.Name, r.Hash, want[r.Name])
			}
			res.Keys = append(res.Keys, r)
		}
	}
	return res, nil
}
