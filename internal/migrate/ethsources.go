package migrate

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"

	blst "github.com/supranational/blst/bindings/go"
	"go.yaml.in/yaml/v3"

	"github.com/keyward/keyward/internal/keys"
)

// web3signerKey is one Web3Signer key configuration document (docs.web3signer.consensys.io,
// "Key configuration files"). Only the two file types are migrated; the vault and cloud
// types keep their key elsewhere and are refused with their name.
type web3signerKey struct {
	Type                 string `yaml:"type"`
	KeyType              string `yaml:"keyType"`
	KeystoreFile         string `yaml:"keystoreFile"`
	KeystorePasswordFile string `yaml:"keystorePasswordFile"`
	PrivateKey           string `yaml:"privateKey"`
}

// readWeb3Signer reads every *.yaml / *.yml file of a key configuration directory; a file
// may hold several documents. Relative paths are taken relative to the file.
func (p *Plan) readWeb3Signer(dir string) error {
	files, err := filesWithSuffix(dir, ".yaml", ".yml")
	if err != nil {
		return err
	}
	for _, f := range files {
		b, err := readLimited(f, maxConfigFile)
		if err != nil {
			return fmt.Errorf("%w: %w", ErrSource, err)
		}
		dec := yaml.NewDecoder(bytes.NewReader(b))
		dec.KnownFields(true)
		for n := 0; ; n++ {
			var c web3signerKey
			if err := dec.Decode(&c); errors.Is(err, io.EOF) {
				break
			} else if err != nil {
				return fmt.Errorf("%w: %s document %d: %w", ErrSource, f, n+1, err)
			}
			if c.KeyType != "" && !strings.EqualFold(c.KeyType, "BLS") {
				return fmt.Errorf("%w: %s: keyType %q (only BLS keys are Ethereum validator keys)", ErrUnsupported, f, c.KeyType)
			}
			rel := func(s string) string {
				if s == "" || filepath.IsAbs(s) {
					return s
				}
				return filepath.Join(filepath.Dir(f), s)
			}
			switch c.Type {
			case "file-keystore":
				if c.KeystoreFile == "" || c.KeystorePasswordFile == "" || c.PrivateKey != "" {
					return fmt.Errorf("%w: %s: file-keystore needs keystoreFile and keystorePasswordFile only", ErrSource, f)
				}
				k, err := keystoreKey(rel(c.KeystoreFile))
				if err != nil {
					return err
				}
				k.passwordPath = rel(c.KeystorePasswordFile)
				p.Keys = append(p.Keys, k)
			case "file-raw":
				if c.PrivateKey == "" || c.KeystoreFile != "" {
					return fmt.Errorf("%w: %s: file-raw needs privateKey only", ErrSource, f)
				}
				pub, err := rawPublicKey(f)
				if err != nil {
					return err
				}
				p.Keys = append(p.Keys, Key{Pubkey: pub, Origin: f, rawPath: f})
				p.Notes = append(p.Notes, fmt.Sprintf("%s holds a plaintext private key: once migrated, delete it securely", f))
			default:
				return fmt.Errorf("%w: %s: key type %q (only file-keystore and file-raw; export other keys as EIP-2335 keystores)", ErrUnsupported, f, c.Type)
			}
		}
	}
	return nil
}

// readRawKey returns the 32-byte secret of a Web3Signer file-raw configuration file. The
// caller zeroes it.
func readRawKey(path string) ([]byte, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	if fi.Mode().Perm()&0o077 != 0 {
		return nil, fmt.Errorf("%s: mode %#o: group or others can read the private key (chmod 600): %w", path, fi.Mode().Perm(), keys.ErrInsecureFile)
	}
	b, err := readLimited(path, maxConfigFile)
	if err != nil {
		return nil, err
	}
	defer clear(b)
	var c web3signerKey
	if err := yaml.Unmarshal(b, &c); err != nil || c.Type != "file-raw" {
		return nil, fmt.Errorf("%w: %s: not a single file-raw document", ErrSource, path)
	}
	secret, err := decodeHex(c.PrivateKey, 32)
	if err != nil {
		return nil, fmt.Errorf("%w: %s: privateKey: %w", ErrSource, path, err)
	}
	return secret, nil
}

// rawPublicKey derives the public key of a file-raw configuration for the plan; the
// secret is zeroed at once. keys.Store.PutBLS derives it again when it stores the key.
func rawPublicKey(path string) ([48]byte, error) {
	var pub [48]byte
	secret, err := readRawKey(path)
	if err != nil {
		return pub, err
	}
	defer clear(secret)
	var sk blst.SecretKey
	defer sk.Zeroize()
	if sk.Deserialize(secret) == nil {
		return pub, fmt.Errorf("%w: %s: privateKey is not a BLS secret key in [1, r-1]", ErrSource, path)
	}
	copy(pub[:], new(blst.P1Affine).From(&sk).Compress())
	return pub, nil
}

// lighthouseDefinition is one entry of Lighthouse's validator_definitions.yml (Lighthouse
// book, "Validator management"). Fields this migration does not use are ignored.
type lighthouseDefinition struct {
	Enabled            bool    `yaml:"enabled"`
	VotingPublicKey    string  `yaml:"voting_public_key"`
	Type               string  `yaml:"type"`
	KeystorePath       string  `yaml:"voting_keystore_path"`
	KeystorePasswordAt string  `yaml:"voting_keystore_password_path"`
	KeystorePassword   *string `yaml:"voting_keystore_password"`
}

// readLighthouse reads a Lighthouse validators directory: the enabled local keystores of
// validator_definitions.yml, with their password file (or inline password).
func (p *Plan) readLighthouse(dir string) error {
	defsPath := filepath.Join(dir, "validator_definitions.yml")
	b, err := readLimited(defsPath, maxDefinitions)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrSource, err)
	}
	var defs []lighthouseDefinition
	if err := yaml.Unmarshal(b, &defs); err != nil {
		return fmt.Errorf("%w: %s: %w", ErrSource, defsPath, err)
	}
	for i, d := range defs {
		switch {
		case d.Type == "web3signer":
			p.Notes = append(p.Notes, fmt.Sprintf("%s entry %d (%s) already uses a remote signer: skipped", defsPath, i+1, d.VotingPublicKey))
			continue
		case d.Type != "local_keystore":
			return fmt.Errorf("%w: %s entry %d: type %q", ErrUnsupported, defsPath, i+1, d.Type)
		case !d.Enabled:
			p.Notes = append(p.Notes, fmt.Sprintf("%s entry %d (%s) is disabled: skipped", defsPath, i+1, d.VotingPublicKey))
			continue
		}
		k, err := keystoreKey(d.KeystorePath)
		if err != nil {
			return err
		}
		if want, err := decodeHex(d.VotingPublicKey, 48); err != nil || [48]byte(want) != k.Pubkey {
			return fmt.Errorf("%w: %s entry %d: voting_public_key %s does not match %s", ErrSource, defsPath, i+1, d.VotingPublicKey, d.KeystorePath)
		}
		switch {
		case d.KeystorePasswordAt != "":
			k.passwordPath = d.KeystorePasswordAt
		case d.KeystorePassword != nil:
			k.password = []byte(*d.KeystorePassword)
		default:
			return fmt.Errorf("%w: %s entry %d: no password (voting_keystore_password_path or voting_keystore_password)", ErrSource, defsPath, i+1)
		}
		p.Keys = append(p.Keys, k)
	}
	p.sourceDB(filepath.Join(dir, "slashing_protection.sqlite"))
	return nil
}

// readNimbus reads a Nimbus data directory: validators/<0xpubkey>/keystore.json with the
// password in secrets/<0xpubkey>. Remote-signer entries (remote_keystore.json) are skipped.
func (p *Plan) readNimbus(dataDir string) error {
	vdir := filepath.Join(dataDir, "validators")
	entries, err := os.ReadDir(vdir)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrSource, err)
	}
	for _, e := range entries {
		if !e.IsDir() || !strings.HasPrefix(e.Name(), "0x") {
			continue
		}
		ksPath := filepath.Join(vdir, e.Name(), "keystore.json")
		if _, err := os.Stat(ksPath); err != nil {
			p.Notes = append(p.Notes, fmt.Sprintf("%s has no keystore.json (a remote keystore?): skipped", filepath.Join(vdir, e.Name())))
			continue
		}
		k, err := keystoreKey(ksPath)
		if err != nil {
			return err
		}
		if fmt.Sprintf("0x%x", k.Pubkey) != strings.ToLower(e.Name()) {
			return fmt.Errorf("%w: %s holds key %#x", ErrSource, ksPath, k.Pubkey)
		}
		k.passwordPath = filepath.Join(dataDir, "secrets", e.Name())
		p.Keys = append(p.Keys, k)
	}
	p.sourceDB(filepath.Join(vdir, "slashing_protection.sqlite3"))
	return nil
}

// readTeku reads a Teku keys directory (--validator-keys KEYS:PASSWORDS): every
// <name>.json keystore with its password in <passwords>/<name>.txt.
func (p *Plan) readTeku(keysDir, passDir string) error {
	if passDir == "" {
		passDir = keysDir
	}
	files, err := filesWithSuffix(keysDir, ".json")
	if err != nil {
		return err
	}
	for _, f := range files {
		k, err := keystoreKey(f)
		if err != nil {
			return err
		}
		k.passwordPath = filepath.Join(passDir, strings.TrimSuffix(filepath.Base(f), ".json")+".txt")
		p.Keys = append(p.Keys, k)
	}
	p.Notes = append(p.Notes, "Teku keeps its slashing protection in <data-path>/validator/slashprotection: the --interchange file must be exported from it after Teku stopped ("+exportHint[Teku]+")")
	return nil
}

// readPrysm reads the output of `prysmctl validator accounts backup`, unzipped: EIP-2335
// keystores (keystore-*.json) sharing the one backup password. Prysm's own wallet
// (all-accounts.keystore.json) holds every key in one non-standard keystore and is
// refused with the backup command to use.
func (p *Plan) readPrysm(dir, passwordFile string) error {
	if _, err := os.Stat(filepath.Join(dir, "all-accounts.keystore.json")); err == nil {
		return fmt.Errorf("%w: %s is a Prysm wallet; export EIP-2335 keystores with `prysmctl validator accounts backup` and migrate the unzipped backup", ErrUnsupported, dir)
	}
	if passwordFile == "" {
		return fmt.Errorf("%w: Prysm backups share one password: pass its file with --passwords", ErrSource)
	}
	files, err := filesWithSuffix(dir, ".json")
	if err != nil {
		return err
	}
	for _, f := range files {
		if !strings.HasPrefix(filepath.Base(f), "keystore") {
			continue
		}
		k, err := keystoreKey(f)
		if err != nil {
			return err
		}
		k.passwordPath = passwordFile
		p.Keys = append(p.Keys, k)
	}
	p.Notes = append(p.Notes, "Prysm keeps its slashing protection in validator.db: the --interchange file must be exported from it after Prysm stopped ("+exportHint[Prysm]+")")
	return nil
}

// filesWithSuffix lists the regular files directly in dir with one of the suffixes, sorted.
func filesWithSuffix(dir string, suffixes ...string) ([]string, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrSource, err)
	}
	var out []string
	for _, e := range entries {
		if !e.Type().IsRegular() {
			continue
		}
		for _, s := range suffixes {
			if strings.HasSuffix(e.Name(), s) {
				out = append(out, filepath.Join(dir, e.Name()))
				break
			}
		}
	}
	sort.Strings(out)
	return out, nil
}
