package config

import (
	"fmt"
	"net"
	"slices"
	"strconv"
	"strings"

	"github.com/keyward/keyward/internal/tezos"
)

// MainnetChainID is the chain id of Tezos mainnet, the default of tezos.chain_id.
const MainnetChainID = "NetXdQprcVkpaWU"

// Tezos configures the Octez remote-signer API (gateway) and the Tezos policy (core).
//
// Policy defaults, chosen to fail closed (Inv 3, Inv 4):
//   - a key signs only blocks, preattestations and attestations (magic bytes 0x11, 0x12,
//     0x13); generic operations (0x03) need "0x03" in magic_bytes AND the operation kinds
//     listed in operations;
//   - a key signs only for the chains listed in its chain_ids, which is required in a
//     key's table; a key without a table signs only for chain_id.
type Tezos struct {
	// Listen is the address of the Octez remote-signer HTTP API. Default 127.0.0.1:6732;
	// "" turns the API off. It is started only when the core holds Tezos keys.
	Listen string `toml:"listen"`
	// ChainID is the chain (b58 "Net…") that keys without their own table sign for.
	// Default mainnet, NetXdQprcVkpaWU.
	ChainID string `toml:"chain_id"`
	// AuthorizedKeys are public keys (edpk, sppk, p2pk, BLpk). When not empty, every sign
	// request must carry an authentication signature by one of them, verified in the core
	// over 0x04 0x01 ‖ pkh ‖ payload (Inv 4).
	AuthorizedKeys []string `toml:"authorized_keys"`
	// AllowKnownKeys serves GET /known_keys (the list of pkhs). Default false.
	AllowKnownKeys bool `toml:"allow_known_keys"`
	// AllowProvePossession serves GET /bls_prove_possession/<tz4>. Default false.
	AllowProvePossession bool `toml:"allow_prove_possession"`
	// Keys is the per-key policy, by pkh (tz1…tz4).
	Keys map[string]TezosKey `toml:"keys"`
}

// TezosKey is one key's policy table, [tezos.keys."tz1…"].
type TezosKey struct {
	// MagicBytes lists the payload kinds the key signs: "0x11" blocks, "0x12"
	// preattestations, "0x13" attestations, "0x03" generic operations. Default the three
	// consensus bytes.
	MagicBytes []string `toml:"magic_bytes"`
	// Operations lists the generic operation kinds allowed under 0x03 (Octez names:
	// "transaction", "delegation", "reveal", "stake", …). Default none.
	Operations []string `toml:"operations"`
	// ChainIDs lists the chains the key signs for. Required.
	ChainIDs []string `toml:"chain_ids"`
}

// TezosPolicy is the Tezos configuration decoded into typed values.
type TezosPolicy struct {
	ChainID              tezos.ChainID
	Authorized           []tezos.PublicKey
	AllowKnownKeys       bool
	AllowProvePossession bool
	Keys                 map[tezos.PublicKeyHash]TezosKeyPolicy
	// Default applies to keys without a table.
	Default TezosKeyPolicy
}

// TezosKeyPolicy is one key's decoded policy.
type TezosKeyPolicy struct {
	MagicBytes []byte
	Operations []tezos.OperationKind
	ChainIDs   []tezos.ChainID
}

// DefaultMagicBytes are the payload kinds a key signs without a table: consensus only.
var DefaultMagicBytes = []byte{tezos.MagicBlock, tezos.MagicPreattestation, tezos.MagicAttestation}

// DefaultTezos returns the [tezos] section `keyward init` writes.
func DefaultTezos() Tezos {
	return Tezos{Listen: "127.0.0.1:6732", ChainID: MainnetChainID, AuthorizedKeys: []string{}, Keys: map[string]TezosKey{}}
}

// Policy decodes and validates the section.
func (t *Tezos) Policy() (*TezosPolicy, error) {
	if t.Listen != "" {
		if _, _, err := net.SplitHostPort(t.Listen); err != nil {
			return nil, fmt.Errorf("tezos.listen: %w", err)
		}
	}
	chain, err := tezos.ParseChainID(t.ChainID)
	if err != nil {
		return nil, fmt.Errorf("tezos.chain_id: %q: %w", t.ChainID, err)
	}
	p := &TezosPolicy{
		ChainID:              chain,
		AllowKnownKeys:       t.AllowKnownKeys,
		AllowProvePossession: t.AllowProvePossession,
		Keys:                 make(map[tezos.PublicKeyHash]TezosKeyPolicy, len(t.Keys)),
		Default:              TezosKeyPolicy{MagicBytes: DefaultMagicBytes, ChainIDs: []tezos.ChainID{chain}},
	}
	for i, s := range t.AuthorizedKeys {
		pk, err := tezos.ParsePublicKey(s)
		if err != nil {
			return nil, fmt.Errorf("tezos.authorized_keys[%d]: %q: %w", i, s, err)
		}
		p.Authorized = append(p.Authorized, pk)
	}
	for name, k := range t.Keys {
		pkh, err := tezos.ParsePublicKeyHash(name)
		if err != nil {
			return nil, fmt.Errorf("tezos.keys: %q: %w", name, err)
		}
		kp, err := k.policy()
		if err != nil {
			return nil, fmt.Errorf("tezos.keys.%s: %w", name, err)
		}
		p.Keys[pkh] = kp
	}
	return p, nil
}

func (k *TezosKey) policy() (TezosKeyPolicy, error) {
	var p TezosKeyPolicy
	if len(k.ChainIDs) == 0 {
		return p, fmt.Errorf("chain_ids: required (the chains this key signs for, e.g. [%q])", MainnetChainID)
	}
	for _, s := range k.ChainIDs {
		c, err := tezos.ParseChainID(s)
		if err != nil {
			return p, fmt.Errorf("chain_ids: %q: %w", s, err)
		}
		p.ChainIDs = append(p.ChainIDs, c)
	}
	if k.MagicBytes == nil {
		p.MagicBytes = DefaultMagicBytes
	}
	for _, s := range k.MagicBytes {
		v, err := strconv.ParseUint(strings.TrimPrefix(strings.ToLower(s), "0x"), 16, 8)
		b := byte(v)
		if err != nil || !strings.HasPrefix(strings.ToLower(s), "0x") ||
			(b != tezos.MagicGeneric && b != tezos.MagicBlock && b != tezos.MagicPreattestation && b != tezos.MagicAttestation) {
			return p, fmt.Errorf("magic_bytes: %q is not one of \"0x03\", \"0x11\", \"0x12\", \"0x13\"", s)
		}
		p.MagicBytes = append(p.MagicBytes, b)
	}
	for _, s := range k.Operations {
		op, ok := tezos.ParseOperationKind(s)
		if !ok {
			return p, fmt.Errorf("operations: unknown operation kind %q", s)
		}
		p.Operations = append(p.Operations, op)
	}
	generic := slices.Contains(p.MagicBytes, tezos.MagicGeneric)
	switch {
	case generic && len(p.Operations) == 0:
		return p, fmt.Errorf("magic_bytes: \"0x03\" allows nothing without operations = [...]")
	case !generic && len(p.Operations) != 0:
		return p, fmt.Errorf("operations: listed, but magic_bytes does not include \"0x03\"")
	}
	return p, nil
}
