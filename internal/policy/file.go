package policy

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/pelletier/go-toml/v2"

	"github.com/keyward/keyward/internal/boundedio"
	"github.com/keyward/keyward/internal/tezos"
)

// FileName is the policy file in the state directory.
const FileName = "policy.toml"

// maxFileSize bounds policy.toml (a table per key for tens of thousands of keys fits).
const maxFileSize = 16 << 20

// Policy is the decoded policy of every key. It is immutable once built: a reload builds
// a new one and swaps it in whole. A nil *Policy refuses everything.
type Policy struct {
	ethDefault   EthKey
	eth          map[[48]byte]EthKey
	tezosDefault TezosKey
	tezos        map[tezos.PublicKeyHash]TezosKey
	digest       [32]byte // SHA-256 of the file Parse read; zero for Default()
}

// Default returns the policy of a state directory without policy.toml (and of
// `keyward init`): DefaultEthKey for every Ethereum key, no transaction for Tezos keys.
func Default() *Policy {
	return &Policy{ethDefault: DefaultEthKey(), eth: map[[48]byte]EthKey{}, tezos: map[tezos.PublicKeyHash]TezosKey{}}
}

// file is policy.toml as written. Pointers tell "not set" (take the default) from a value.
type file struct {
	Eth   ethSection   `toml:"eth"`
	Tezos tezosSection `toml:"tezos"`
}

type ethSection struct {
	Default ethTable            `toml:"default"`
	Keys    map[string]ethTable `toml:"keys"`
}

type ethTable struct {
	Exit          *string   `toml:"exit"`
	Deposit       *string   `toml:"deposit"`
	FeeRecipients *[]string `toml:"fee_recipients"`
	GasLimitMin   *uint64   `toml:"gas_limit_min"`
	GasLimitMax   *uint64   `toml:"gas_limit_max"`
}

type tezosSection struct {
	Default tezosTable            `toml:"default"`
	Keys    map[string]tezosTable `toml:"keys"`
}

type tezosTable struct {
	Transaction     *string   `toml:"transaction"`
	Destinations    *[]string `toml:"destinations"`
	DailyLimitMutez *uint64   `toml:"daily_limit_mutez"`
}

// Load reads dir/policy.toml. A missing file gives Default(); any other failure an error
// wrapping ErrInvalid or the read error.
func Load(dir string) (*Policy, error) {
	p, err := LoadFile(filepath.Join(dir, FileName))
	if errors.Is(err, fs.ErrNotExist) {
		return Default(), nil
	}
	return p, err
}

// LoadFile reads and parses the policy file at path (at most 16 MiB); a missing file is an
// error wrapping fs.ErrNotExist.
func LoadFile(path string) (*Policy, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", FileName, err)
	}
	defer f.Close()
	b, err := boundedio.ReadAll(f, maxFileSize)
	if errors.Is(err, boundedio.ErrTooLarge) {
		return nil, fmt.Errorf("%w: %s is larger than %d bytes", ErrInvalid, FileName, maxFileSize)
	}
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", FileName, err)
	}
	return Parse(b)
}

// Parse decodes policy.toml strictly (unknown keys refused) and validates every value.
// Per-key tables inherit each value they do not set from the section's default table,
// which inherits from Default().
func Parse(b []byte) (*Policy, error) {
	var f file
	dec := toml.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&f); err != nil {
		var sm *toml.StrictMissingError
		if errors.As(err, &sm) {
			return nil, fmt.Errorf("%w: %s: unknown key:\n%s", ErrInvalid, FileName, sm.String())
		}
		var de *toml.DecodeError
		if errors.As(err, &de) {
			row, col := de.Position()
			return nil, fmt.Errorf("%w: %s:%d:%d: %v", ErrInvalid, FileName, row, col, de)
		}
		return nil, fmt.Errorf("%w: %s: %v", ErrInvalid, FileName, err)
	}
	p := Default()
	var err error
	if p.ethDefault, err = f.Eth.Default.apply(DefaultEthKey(), "[eth.default]"); err != nil {
		return nil, err
	}
	for name, t := range f.Eth.Keys {
		where := fmt.Sprintf("[eth.keys.%q]", name)
		pub, err := parsePubkey(name)
		if err != nil {
			return nil, fmt.Errorf("%w: %s %s: %v", ErrInvalid, FileName, where, err)
		}
		if _, dup := p.eth[pub]; dup {
			return nil, fmt.Errorf("%w: %s %s: key given twice", ErrInvalid, FileName, where)
		}
		if p.eth[pub], err = t.apply(p.ethDefault, where); err != nil {
			return nil, err
		}
	}
	if p.tezosDefault, err = f.Tezos.Default.apply(TezosKey{}, "[tezos.default]"); err != nil {
		return nil, err
	}
	for name, t := range f.Tezos.Keys {
		where := fmt.Sprintf("[tezos.keys.%q]", name)
		pkh, err := tezos.ParsePublicKeyHash(name)
		if err != nil {
			return nil, fmt.Errorf("%w: %s %s: %v", ErrInvalid, FileName, where, err)
		}
		if _, dup := p.tezos[pkh]; dup {
			return nil, fmt.Errorf("%w: %s %s: key given twice", ErrInvalid, FileName, where)
		}
		if p.tezos[pkh], err = t.apply(p.tezosDefault, where); err != nil {
			return nil, err
		}
	}
	p.digest = sha256.Sum256(b)
	return p, nil
}

// Summary describes the policy for a log line or an audit event: the SHA-256 of the file
// it was read from and how many keys have a table of their own, e.g. "policy.toml sha256
// 3f1c…: 2 Ethereum key table(s), 1 Tezos key table(s)".
func (p *Policy) Summary() string {
	if p.digest == ([32]byte{}) {
		return "the defaults (no policy.toml)"
	}
	return fmt.Sprintf("%s sha256 %x: %d Ethereum key table(s), %d Tezos key table(s)", FileName, p.digest, len(p.eth), len(p.tezos))
}

func invalid(where, key, format string, args ...any) error {
	return fmt.Errorf("%w: %s %s %s: %s", ErrInvalid, FileName, where, key, fmt.Sprintf(format, args...))
}

func (t *ethTable) apply(k EthKey, where string) (EthKey, error) {
	var ok bool
	if t.Exit != nil {
		if k.Exit, ok = parseAction(*t.Exit); !ok {
			return EthKey{}, invalid(where, "exit", "%q is not refuse, allow or approve", *t.Exit)
		}
	}
	if t.Deposit != nil {
		if k.Deposit, ok = parseAction(*t.Deposit); !ok {
			return EthKey{}, invalid(where, "deposit", "%q is not refuse, allow or approve", *t.Deposit)
		}
	}
	if t.FeeRecipients != nil {
		k.FeeRecipients = make([][20]byte, 0, len(*t.FeeRecipients))
		for _, s := range *t.FeeRecipients {
			a, err := parseAddress(s)
			if err != nil {
				return EthKey{}, invalid(where, "fee_recipients", "%v", err)
			}
			k.FeeRecipients = append(k.FeeRecipients, a)
		}
	} else {
		k.FeeRecipients = slices.Clone(k.FeeRecipients)
	}
	if t.GasLimitMin != nil {
		k.GasLimitMin = *t.GasLimitMin
	}
	if t.GasLimitMax != nil {
		k.GasLimitMax = *t.GasLimitMax
	}
	if k.GasLimitMin > k.GasLimitMax {
		return EthKey{}, invalid(where, "gas_limit_min", "%d is above gas_limit_max %d", k.GasLimitMin, k.GasLimitMax)
	}
	return k, nil
}

func (t *tezosTable) apply(k TezosKey, where string) (TezosKey, error) {
	var ok bool
	if t.Transaction != nil {
		if k.Transaction, ok = parseAction(*t.Transaction); !ok {
			return TezosKey{}, invalid(where, "transaction", "%q is not refuse, allow or approve", *t.Transaction)
		}
	}
	if t.Destinations != nil {
		k.Destinations = make([]string, 0, len(*t.Destinations))
		for _, s := range *t.Destinations {
			c, err := parseDestination(s)
			if err != nil {
				return TezosKey{}, invalid(where, "destinations", "%v", err)
			}
			k.Destinations = append(k.Destinations, c)
		}
	} else {
		k.Destinations = slices.Clone(k.Destinations)
	}
	if t.DailyLimitMutez != nil {
		k.DailyLimitMutez = *t.DailyLimitMutez
	}
	if k.Transaction != ActionRefuse && len(k.Destinations) == 0 {
		return TezosKey{}, invalid(where, "destinations", "required when transaction is %q", k.Transaction)
	}
	return k, nil
}

// parsePubkey reads "0x" and 96 hex digits (either case).
func parsePubkey(s string) ([48]byte, error) {
	var pub [48]byte
	h, ok := strings.CutPrefix(s, "0x")
	if !ok || len(h) != 96 {
		return pub, fmt.Errorf("%q is not a 0x-prefixed 48-byte public key", s)
	}
	if _, err := hex.Decode(pub[:], []byte(h)); err != nil {
		return pub, fmt.Errorf("%q is not a 0x-prefixed 48-byte public key", s)
	}
	return pub, nil
}

// parseAddress reads "0x" and 40 hex digits (either case; the EIP-55 checksum is not
// required).
func parseAddress(s string) ([20]byte, error) {
	var a [20]byte
	h, ok := strings.CutPrefix(s, "0x")
	if !ok || len(h) != 40 {
		return a, fmt.Errorf("%q is not a 0x-prefixed 20-byte address", s)
	}
	if _, err := hex.Decode(a[:], []byte(h)); err != nil {
		return a, fmt.Errorf("%q is not a 0x-prefixed 20-byte address", s)
	}
	return a, nil
}

// parseDestination reads a tz1…tz4 address or a KT1 contract and returns its canonical
// string form, the one tezos.Contract.String gives.
func parseDestination(s string) (string, error) {
	if strings.HasPrefix(s, "KT1") {
		if err := checkKT1(s); err != nil {
			return "", err
		}
		return s, nil
	}
	pkh, err := tezos.ParsePublicKeyHash(s)
	if err != nil {
		return "", fmt.Errorf("%q: %w", s, err)
	}
	return pkh.String(), nil
}
