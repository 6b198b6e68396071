package migrate

import (
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/keyward/keyward/internal/boundedio"
	"github.com/keyward/keyward/internal/keys"
	"github.com/keyward/keyward/internal/protect"
)

// Source names a signer or validator client keys are migrated from.
type Source string

// Sources. Each reads its own layout; see the Options fields.
const (
	Web3Signer Source = "web3signer"
	Lighthouse Source = "lighthouse"
	Teku       Source = "teku"
	Prysm      Source = "prysm"
	Nimbus     Source = "nimbus"
)

// Sources lists the Ethereum sources in the order the CLI shows them.
var Sources = []Source{Web3Signer, Lighthouse, Teku, Prysm, Nimbus}

// exportHint says how each source exports its EIP-3076 history.
var exportHint = map[Source]string{
	Web3Signer: "web3signer eth2 export --to=FILE (with the same --slashing-protection-db-* options)",
	Lighthouse: "lighthouse account validator slashing-protection export FILE",
	Teku:       "teku slashing-protection export --data-path=DIR --to=FILE",
	Prysm:      "prysm.sh validator slashing-protection-history export --datadir=DIR --slashing-protection-export-dir=OUT",
	Nimbus:     "nimbus_beacon_node slashingdb export FILE --data-dir=DIR",
}

// Options say where the source is.
type Options struct {
	Source Source
	// From is the source's directory: Web3Signer's key configuration directory
	// (--key-store-path); Lighthouse's validators directory (validator_definitions.yml);
	// Nimbus's data directory (validators/, secrets/); Teku's keystore directory
	// (--validator-keys KEYS:PASSWORDS, KEYS part); Prysm's backup directory
	// (`prysmctl validator accounts backup`, unzipped).
	From string
	// Passwords is Teku's password directory (default From: <name>.txt next to
	// <name>.json) or Prysm's backup password file.
	Passwords string
	// Interchange is the EIP-3076 export of the source's slashing protection.
	Interchange string
	// AcceptMissingHistory migrates keys without history. Only for keys that have never
	// signed anywhere: a key that did can then sign a slashable message here.
	AcceptMissingHistory bool
}

// Key is one key to migrate. It holds no decrypted secret until Apply.
type Key struct {
	Pubkey [keys.BLSPublicKeySize]byte
	// Origin is the file the key comes from (keystore or key configuration).
	Origin string
	// HasHistory is set when the interchange has records for the key.
	HasHistory bool

	keystore     []byte // EIP-2335 JSON, or nil for a raw key
	passwordPath string // file holding the keystore's password
	password     []byte // inline password (Lighthouse voting_keystore_password)
	rawPath      string // Web3Signer file-raw: the configuration file with privateKey
}

// Plan is what a migration will do. Prepare builds it; nothing has changed yet.
type Plan struct {
	Source Source
	Keys   []Key
	// Interchange is the EIP-3076 document, or nil when AcceptMissingHistory allowed none.
	Interchange []byte
	// HistoryKeys is the number of keys the interchange has records for (some may not be
	// migrated: their history is imported anyway, which only adds protection).
	HistoryKeys int
	// Notes are things the operator should know (skipped entries, the source's database).
	Notes []string
}

// Prepare reads the source and returns the plan, or an error that wraps
// ErrWouldLoseProtection, ErrUnsupported, ErrNoKeys or ErrSource. gvr is the genesis
// validators root the state directory is pinned to.
func Prepare(o Options, gvr [32]byte) (*Plan, error) {
	p := &Plan{Source: o.Source}
	var err error
	switch o.Source {
	case Web3Signer:
		err = p.readWeb3Signer(o.From)
	case Lighthouse:
		err = p.readLighthouse(o.From)
	case Nimbus:
		err = p.readNimbus(o.From)
	case Teku:
		err = p.readTeku(o.From, o.Passwords)
	case Prysm:
		err = p.readPrysm(o.From, o.Passwords)
	default:
		return nil, fmt.Errorf("prepare migration: %w: source %q (one of %v)", ErrUnsupported, o.Source, Sources)
	}
	if err != nil {
		return nil, fmt.Errorf("prepare migration from %s: %w", o.Source, err)
	}
	if len(p.Keys) == 0 {
		return nil, fmt.Errorf("prepare migration from %s: %w in %s", o.Source, ErrNoKeys, o.From)
	}
	sort.Slice(p.Keys, func(i, j int) bool { return string(p.Keys[i].Pubkey[:]) < string(p.Keys[j].Pubkey[:]) })
	for i := 1; i < len(p.Keys); i++ {
		if p.Keys[i].Pubkey == p.Keys[i-1].Pubkey {
			return nil, fmt.Errorf("prepare migration from %s: %w: key %#x appears twice (%s, %s)", o.Source, ErrSource, p.Keys[i].Pubkey, p.Keys[i-1].Origin, p.Keys[i].Origin)
		}
	}
	if err := p.readHistory(o, gvr); err != nil {
		return nil, fmt.Errorf("prepare migration from %s: %w", o.Source, err)
	}
	return p, nil
}

// interchangeHead is the part of an EIP-3076 document the plan needs; the strict parse
// is internal/protect's, in Check and Apply.
type interchangeHead struct {
	Metadata struct {
		Version string `json:"interchange_format_version"`
		GVR     string `json:"genesis_validators_root"`
	} `json:"metadata"`
	Data []struct {
		Pubkey string `json:"pubkey"`
	} `json:"data"`
}

// readHistory reads the interchange and refuses what would lose protection.
func (p *Plan) readHistory(o Options, gvr [32]byte) error {
	if o.Interchange == "" {
		if !o.AcceptMissingHistory {
			return fmt.Errorf("%w: no EIP-3076 history given; stop the source, export it with `%s` and pass it with --interchange",
				ErrWouldLoseProtection, exportHint[o.Source])
		}
		p.Notes = append(p.Notes, "no slashing-protection history imported (--accept-missing-history): only safe for keys that never signed")
		return nil
	}
	b, err := readLimited(o.Interchange, protect.MaxInterchangeSize)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrSource, err)
	}
	var h interchangeHead
	if err := json.Unmarshal(b, &h); err != nil {
		return fmt.Errorf("%w: %s is not an EIP-3076 interchange: %w", ErrSource, o.Interchange, err)
	}
	got, err := decodeHex(h.Metadata.GVR, 32)
	if err != nil {
		return fmt.Errorf("%w: %s: genesis_validators_root: %w", ErrSource, o.Interchange, err)
	}
	if [32]byte(got) != gvr { // Inv 3: a history for another network protects nothing here
		return fmt.Errorf("%w: %s is for genesis validators root %#x, the state directory is pinned to %#x",
			ErrWouldLoseProtection, o.Interchange, got, gvr)
	}
	have := map[[48]byte]bool{}
	for _, d := range h.Data {
		pk, err := decodeHex(d.Pubkey, 48)
		if err != nil {
			return fmt.Errorf("%w: %s: pubkey %q: %w", ErrSource, o.Interchange, d.Pubkey, err)
		}
		have[[48]byte(pk)] = true
	}
	p.Interchange, p.HistoryKeys = b, len(have)
	var missing []string
	for i := range p.Keys {
		p.Keys[i].HasHistory = have[p.Keys[i].Pubkey]
		if !p.Keys[i].HasHistory {
			missing = append(missing, fmt.Sprintf("%#x", p.Keys[i].Pubkey))
		}
	}
	if len(missing) > 0 && !o.AcceptMissingHistory {
		return fmt.Errorf("%w: %d keys have no history in %s: %s (export from the database the source used; if they never signed, pass --accept-missing-history)",
			ErrWouldLoseProtection, len(missing), o.Interchange, strings.Join(missing, ", "))
	}
	if len(missing) > 0 {
		p.Notes = append(p.Notes, fmt.Sprintf("%d keys without history (--accept-missing-history)", len(missing)))
	}
	return nil
}

// Check proves the plan's history imports: it is imported into a scratch store pinned to
// the same network, strictly parsed by internal/protect. Nothing in the state directory
// changes.
func (p *Plan) Check(gvr [32]byte, slotsPerEpoch uint64) error {
	if p.Interchange == nil {
		return nil
	}
	tmp, err := os.MkdirTemp("", "keyward-migrate-")
	if err != nil {
		return fmt.Errorf("check history: %w", err)
	}
	defer os.RemoveAll(tmp)
	st, err := protect.Open(filepath.Join(tmp, "protection.db"), protect.Options{GenesisValidatorsRoot: gvr, SlotsPerEpoch: slotsPerEpoch})
	if err != nil {
		return fmt.Errorf("check history: %w", err)
	}
	defer st.Close()
	if _, err := st.ImportInterchange(p.Interchange); err != nil {
		return fmt.Errorf("check history: %w", err)
	}
	return nil
}

// Result is what Apply did.
type Result struct {
	// History is the protection import's report; nil when no history was given.
	History *protect.ImportReport
	// Keys has one result per planned key, in plan order.
	Keys []keys.ImportResult
}

// Apply imports the history into prot (all or nothing, durable) and then every key into
// ks. A key that fails is reported in its result; the history stays imported, which
// only adds protection. An error means the history import failed and no key was touched.
func (p *Plan) Apply(ks *keys.Store, prot *protect.Store, now time.Time) (*Result, error) {
	res := &Result{}
	if p.Interchange != nil {
		rep, err := prot.ImportInterchange(p.Interchange) // first: no key without its history
		if err != nil {
			return nil, fmt.Errorf("apply migration: nothing imported: %w", err)
		}
		res.History = rep
	}
	for _, k := range p.Keys {
		res.Keys = append(res.Keys, k.importInto(ks, now))
	}
	return res, nil
}

func (k *Key) importInto(ks *keys.Store, now time.Time) keys.ImportResult {
	failed := func(err error) keys.ImportResult {
		return keys.ImportResult{Path: k.Origin, PublicKey: k.Pubkey, Status: keys.ImportFailed, Err: err}
	}
	if k.rawPath != "" {
		secret, err := readRawKey(k.rawPath)
		if err != nil {
			return failed(err)
		}
		defer clear(secret)
		pub, err := ks.PutBLS(secret, keys.Meta{Source: keys.SourceImported, Created: now, Description: "web3signer file-raw " + filepath.Base(k.rawPath)})
		switch {
		case errors.Is(err, keys.ErrExists):
			return keys.ImportResult{Path: k.Origin, PublicKey: pub, Status: keys.ImportExists}
		case err != nil:
			return failed(err)
		case pub != k.Pubkey:
			return failed(fmt.Errorf("%s: derived key %#x, planned %#x", k.rawPath, pub, k.Pubkey))
		}
		return keys.ImportResult{Path: k.Origin, PublicKey: pub, Status: keys.ImportImported}
	}
	pw := k.password
	if k.passwordPath != "" {
		var err error
		if pw, err = readPassword(k.passwordPath); err != nil {
			return failed(err)
		}
		defer clear(pw)
	}
	return ks.ImportKeystore(k.keystore, pw, k.Origin, now)
}

// Limits of what a migration reads.
const (
	maxKeystoreFile = 64 << 10
	maxPasswordFile = 4 << 10
	maxConfigFile   = 1 << 20
	maxDefinitions  = 16 << 20
)

// readLimited reads a file whole, refusing one larger than limit (boundedio.ReadFile).
func readLimited(path string, limit int64) ([]byte, error) { return boundedio.ReadFile(path, limit) }

// readPassword reads a password file: it must be a regular file that group and others
// cannot access (Inv 9), at most maxPasswordFile bytes; one trailing newline is removed.
func readPassword(path string) ([]byte, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("password file: %w", err)
	}
	if !fi.Mode().IsRegular() || fi.Mode().Perm()&0o077 != 0 {
		return nil, fmt.Errorf("password file %s: mode %#o: group or others can access it (chmod 600): %w", path, fi.Mode().Perm(), keys.ErrInsecureFile)
	}
	b, err := readLimited(path, maxPasswordFile)
	if err != nil {
		return nil, err
	}
	if n := len(b); n > 0 && b[n-1] == '\n' {
		b = b[:n-1]
		if n := len(b); n > 0 && b[n-1] == '\r' {
			b = b[:n-1]
		}
	}
	return b, nil
}

// keystoreKey reads a keystore file and returns a planned key with its pubkey field. The
// strict parse and the pubkey check happen at import (keys.Store.ImportKeystore).
func keystoreKey(path string) (Key, error) {
	b, err := readLimited(path, maxKeystoreFile)
	if err != nil {
		return Key{}, fmt.Errorf("%w: %w", ErrSource, err)
	}
	var ks struct {
		Pubkey  string          `json:"pubkey"`
		Crypto  json.RawMessage `json:"crypto"`
		Version int             `json:"version"`
	}
	if err := json.Unmarshal(b, &ks); err != nil || len(ks.Crypto) == 0 || ks.Version != 4 {
		return Key{}, fmt.Errorf("%w: %s is not an EIP-2335 (version 4) keystore", ErrSource, path)
	}
	pk, err := decodeHex(ks.Pubkey, 48)
	if err != nil {
		return Key{}, fmt.Errorf("%w: %s: pubkey: %w", ErrSource, path, err)
	}
	return Key{Pubkey: [48]byte(pk), Origin: path, keystore: b}, nil
}

// decodeHex decodes n bytes of hex, with or without 0x.
func decodeHex(s string, n int) ([]byte, error) {
	s = strings.TrimPrefix(strings.TrimPrefix(s, "0x"), "0X")
	if len(s) != 2*n {
		return nil, fmt.Errorf("want %d hex bytes, got %d characters", n, len(s))
	}
	return hex.DecodeString(s)
}

// sourceDB notes a protection database the source keeps, so the operator knows it exists
// and must be exported.
func (p *Plan) sourceDB(path string) {
	if _, err := os.Stat(path); err == nil {
		p.Notes = append(p.Notes, fmt.Sprintf("the source keeps its slashing protection in %s: the --interchange file must be exported from it after the source stopped (%s)", path, exportHint[p.Source]))
	}
}
