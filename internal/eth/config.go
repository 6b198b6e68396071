package eth

import (
	"bytes"
	"encoding/hex"
	"fmt"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// GenesisValidatorsRootKey is the keyward field added to a consensus config.yaml to pin the
// genesis validators root, which the standard file does not carry.
const GenesisValidatorsRootKey = "GENESIS_VALIDATORS_ROOT"

// maxConfigSize bounds the config.yaml ParseNetworkConfig accepts (real ones are ~6 KiB).
const maxConfigSize = 1 << 20

var forkKeys = [...]struct {
	fork Fork
	name string
}{
	{ForkAltair, "ALTAIR"}, {ForkBellatrix, "BELLATRIX"}, {ForkCapella, "CAPELLA"},
	{ForkDeneb, "DENEB"}, {ForkElectra, "ELECTRA"}, {ForkFulu, "FULU"},
}

// ParseNetworkConfig reads a standard consensus config.yaml plus GENESIS_VALIDATORS_ROOT.
//
// Read: CONFIG_NAME, PRESET_BASE, GENESIS_FORK_VERSION, GENESIS_VALIDATORS_ROOT (all
// required), <FORK>_FORK_VERSION and <FORK>_FORK_EPOCH for ALTAIR..FULU (both or neither;
// neither means not scheduled), SLOTS_PER_EPOCH (optional; else from the preset). Other keys
// are ignored, as real files carry hundreds; a known key that is duplicated, not a scalar,
// or malformed is an error, as is a schedule out of epoch order.
func ParseNetworkConfig(configYAML []byte) (*Network, error) {
	if len(configYAML) > maxConfigSize {
		return nil, fmt.Errorf("%w: config is %d bytes, limit %d", ErrBadConfig, len(configYAML), maxConfigSize)
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(configYAML, &doc); err != nil {
		return nil, fmt.Errorf("%w: parse yaml: %v", ErrBadConfig, err)
	}
	if doc.Kind != yaml.DocumentNode || len(doc.Content) != 1 || doc.Content[0].Kind != yaml.MappingNode {
		return nil, fmt.Errorf("%w: config is not a yaml mapping", ErrBadConfig)
	}
	known := map[string]bool{
		"CONFIG_NAME": true, "PRESET_BASE": true, "GENESIS_FORK_VERSION": true,
		GenesisValidatorsRootKey: true, "SLOTS_PER_EPOCH": true,
	}
	for _, k := range forkKeys {
		known[k.name+"_FORK_VERSION"], known[k.name+"_FORK_EPOCH"] = true, true
	}
	vals := map[string]string{}
	m := doc.Content[0]
	for i := 0; i+1 < len(m.Content); i += 2 {
		k, v := m.Content[i], m.Content[i+1]
		if k.Kind != yaml.ScalarNode || !known[k.Value] {
			continue
		}
		if _, dup := vals[k.Value]; dup {
			return nil, fmt.Errorf("%w: %s given twice", ErrBadConfig, k.Value)
		}
		if v.Kind != yaml.ScalarNode {
			return nil, fmt.Errorf("%w: %s is not a scalar", ErrBadConfig, k.Value)
		}
		vals[k.Value] = v.Value
	}
	return networkFromValues(vals)
}

func networkFromValues(vals map[string]string) (*Network, error) {
	var n Network
	var err error
	req := func(key string) (string, error) {
		s, ok := vals[key]
		if !ok {
			return "", fmt.Errorf("%w: %s is required", ErrBadConfig, key)
		}
		return s, nil
	}
	if n.ConfigName, err = req("CONFIG_NAME"); err != nil {
		return nil, err
	}
	n.Name = n.ConfigName
	if n.PresetBase, err = req("PRESET_BASE"); err != nil {
		return nil, err
	}
	n.SlotsPerEpoch = 32 // the mainnet preset; Validate refuses any other
	if s, ok := vals["SLOTS_PER_EPOCH"]; ok {
		if n.SlotsPerEpoch, err = parseConfigUint(s); err != nil {
			return nil, fmt.Errorf("%w: SLOTS_PER_EPOCH: %v", ErrBadConfig, err)
		}
	}
	s, err := req("GENESIS_FORK_VERSION")
	if err != nil {
		return nil, err
	}
	if err := parseConfigHex(s, n.GenesisForkVersion[:]); err != nil {
		return nil, fmt.Errorf("%w: GENESIS_FORK_VERSION: %v", ErrBadConfig, err)
	}
	if s, err = req(GenesisValidatorsRootKey); err != nil {
		return nil, err
	}
	if err := parseConfigHex(s, n.GenesisValidatorsRoot[:]); err != nil {
		return nil, fmt.Errorf("%w: %s: %v", ErrBadConfig, GenesisValidatorsRootKey, err)
	}
	for _, k := range forkKeys {
		sf := n.sched(k.fork)
		vs, hasV := vals[k.name+"_FORK_VERSION"]
		es, hasE := vals[k.name+"_FORK_EPOCH"]
		switch {
		case !hasV && !hasE:
			sf.Epoch = FarFutureEpoch
			continue
		case hasV != hasE:
			return nil, fmt.Errorf("%w: %s_FORK_VERSION and %s_FORK_EPOCH must be given together", ErrBadConfig, k.name, k.name)
		}
		if err := parseConfigHex(vs, sf.Version[:]); err != nil {
			return nil, fmt.Errorf("%w: %s_FORK_VERSION: %v", ErrBadConfig, k.name, err)
		}
		if sf.Epoch, err = parseConfigUint(es); err != nil {
			return nil, fmt.Errorf("%w: %s_FORK_EPOCH: %v", ErrBadConfig, k.name, err)
		}
	}
	if err := n.Validate(); err != nil {
		return nil, err
	}
	return &n, nil
}

// parseConfigHex decodes "0x" followed by exactly 2*len(dst) hex digits.
func parseConfigHex(s string, dst []byte) error {
	if !strings.HasPrefix(s, "0x") && !strings.HasPrefix(s, "0X") {
		return fmt.Errorf("%q is not 0x-prefixed hex", s)
	}
	h := s[2:]
	if len(h) != 2*len(dst) {
		return fmt.Errorf("%q is not %d bytes", s, len(dst))
	}
	if _, err := hex.Decode(dst, []byte(h)); err != nil {
		return fmt.Errorf("%q is not hex", s)
	}
	return nil
}

// parseConfigUint decodes a plain decimal uint64 (no sign, no underscores, no hex).
func parseConfigUint(s string) (uint64, error) {
	if s == "" || len(s) > 20 {
		return 0, fmt.Errorf("%q is not a decimal uint64", s)
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, fmt.Errorf("%q is not a decimal uint64", s)
		}
	}
	v, err := strconv.ParseUint(s, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("%q is not a decimal uint64", s)
	}
	return v, nil
}

// MarshalConfig writes n as a config.yaml that ParseNetworkConfig reads back to an equal
// Network (the file `keyward init` pins into the state directory). It writes only the keys
// keyward reads.
func (n *Network) MarshalConfig() []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, "# keyward pinned network (Inv 3). Read by ParseNetworkConfig; edit with care.\n")
	fmt.Fprintf(&b, "CONFIG_NAME: %s\n", n.ConfigName)
	fmt.Fprintf(&b, "PRESET_BASE: %s\n", n.PresetBase)
	fmt.Fprintf(&b, "SLOTS_PER_EPOCH: %d\n", n.SlotsPerEpoch)
	fmt.Fprintf(&b, "GENESIS_FORK_VERSION: 0x%x\n", n.GenesisForkVersion)
	fmt.Fprintf(&b, "%s: 0x%x\n", GenesisValidatorsRootKey, n.GenesisValidatorsRoot)
	for _, k := range forkKeys {
		sf := n.sched(k.fork)
		fmt.Fprintf(&b, "%s_FORK_VERSION: 0x%x\n", k.name, sf.Version)
		fmt.Fprintf(&b, "%s_FORK_EPOCH: %d\n", k.name, sf.Epoch)
	}
	return b.Bytes()
}
