package eth

import (
	"errors"
	"strings"
	"testing"
)

func TestBuiltinNetworksRoundTrip(t *testing.T) {
	for _, name := range []string{"mainnet", "hoodi", "sepolia", "holesky"} {
		t.Run(name, func(t *testing.T) {
			n, err := BuiltinNetwork(name)
			if err != nil {
				t.Fatal(err)
			}
			if err := n.Validate(); err != nil {
				t.Fatal(err)
			}
			back, err := ParseNetworkConfig(n.MarshalConfig())
			if err != nil {
				t.Fatal(err)
			}
			if *back != *n {
				t.Fatalf("round trip:\n%+v\n%+v", back, n)
			}
			if n.ForkAtEpoch(FarFutureEpoch) != ForkFulu || n.ForkAtEpoch(n.Fulu.Epoch-1) == ForkFulu {
				t.Fatal("schedule")
			}
		})
	}
	if _, err := BuiltinNetwork("goerli"); !errors.Is(err, ErrUnknownNetwork) {
		t.Fatalf("goerli: %v", err)
	}
}

func TestMainnetSchedule(t *testing.T) {
	n := mainnet(t)
	for _, tc := range []struct {
		epoch uint64
		fork  Fork
	}{{0, ForkPhase0}, {74239, ForkPhase0}, {74240, ForkAltair}, {144896, ForkBellatrix}, {194048, ForkCapella},
		{269567, ForkCapella}, {269568, ForkDeneb}, {364032, ForkElectra}, {411391, ForkElectra}, {411392, ForkFulu}} {
		if got := n.ForkAtEpoch(tc.epoch); got != tc.fork {
			t.Errorf("epoch %d: %s, want %s", tc.epoch, got, tc.fork)
		}
	}
	if n.Version(ForkCapella) != [4]byte{3, 0, 0, 0} || n.Epoch(ForkPhase0) != 0 || n.Epoch(ForkUnset) != FarFutureEpoch {
		t.Fatal("version/epoch helpers")
	}
	// hoodi: several forks at genesis; a beacon node reports (capella, deneb, 0) there.
	h, _ := BuiltinNetwork("hoodi")
	if f, ok := h.matchTransition(h.Capella.Version, h.Deneb.Version, 0); !ok || f != ForkDeneb {
		t.Fatal("hoodi deneb transition")
	}
}

const goodConfig = `# a real config.yaml carries many more keys
PRESET_BASE: 'mainnet'
CONFIG_NAME: 'testnet-1'
MIN_GENESIS_TIME: 1655647200
GENESIS_FORK_VERSION: 0x90000069
GENESIS_VALIDATORS_ROOT: 0xd8ea171f3c94aea21ebc42a1ed61052acf3f9209c00e4efbaaddac09ed9b8078
ALTAIR_FORK_VERSION: 0x90000070
ALTAIR_FORK_EPOCH: 50
BELLATRIX_FORK_VERSION: 0x90000071
BELLATRIX_FORK_EPOCH: 100
CAPELLA_FORK_VERSION: 0x90000072
CAPELLA_FORK_EPOCH: 56832
DENEB_FORK_VERSION: 0x90000073
DENEB_FORK_EPOCH: 132608
ELECTRA_FORK_VERSION: 0x90000074
ELECTRA_FORK_EPOCH: 222464
FULU_FORK_VERSION: 0x90000075
FULU_FORK_EPOCH: 18446744073709551615
GLOAS_FORK_VERSION: 0x90000076
GLOAS_FORK_EPOCH: 353024
DEPOSIT_CONTRACT_ADDRESS: 0x7f02C3E3c98b133055B8B348B2Ac625669Ed295D
BLOB_SCHEDULE:
  - EPOCH: 274176
    MAX_BLOBS_PER_BLOCK: 15
`

func TestParseNetworkConfig(t *testing.T) {
	n, err := ParseNetworkConfig([]byte(goodConfig))
	if err != nil {
		t.Fatal(err)
	}
	if n.Name != "testnet-1" || n.SlotsPerEpoch != 32 || n.Fulu.Scheduled() || n.Electra.Epoch != 222464 || n.GenesisForkVersion != [4]byte{0x90, 0, 0, 0x69} {
		t.Fatalf("%+v", n)
	}
	// Without any FULU keys the fork is unscheduled, with a zero version.
	cut := strings.NewReplacer("FULU_FORK_VERSION: 0x90000075\n", "", "FULU_FORK_EPOCH: 18446744073709551615\n", "").Replace(goodConfig)
	if n, err := ParseNetworkConfig([]byte(cut)); err != nil || n.Fulu != (ScheduledFork{Epoch: FarFutureEpoch}) {
		t.Fatalf("no fulu: %v %+v", err, n)
	}
}

func TestParseNetworkConfigRefusals(t *testing.T) {
	rep := func(old, new string) string {
		if !strings.Contains(goodConfig, old) {
			t.Fatalf("fixture lacks %q", old)
		}
		return strings.Replace(goodConfig, old, new, 1)
	}
	for name, cfg := range map[string]string{
		"no gvr":              rep("GENESIS_VALIDATORS_ROOT: 0xd8ea171f3c94aea21ebc42a1ed61052acf3f9209c00e4efbaaddac09ed9b8078\n", ""),
		"short gvr":           rep("0xd8ea171f3c94", "0xd8ea171f3c9"),
		"gvr not hex":         rep("0xd8ea171f3c94", "0xz8ea171f3c94"),
		"version no 0x":       rep("ALTAIR_FORK_VERSION: 0x90000070", "ALTAIR_FORK_VERSION: 90000070"),
		"version 5 bytes":     rep("ALTAIR_FORK_VERSION: 0x90000070", "ALTAIR_FORK_VERSION: 0x9000007000"),
		"epoch not decimal":   rep("ALTAIR_FORK_EPOCH: 50", "ALTAIR_FORK_EPOCH: 0x32"),
		"epoch negative":      rep("ALTAIR_FORK_EPOCH: 50", "ALTAIR_FORK_EPOCH: -1"),
		"epoch overflow":      rep("FULU_FORK_EPOCH: 18446744073709551615", "FULU_FORK_EPOCH: 18446744073709551616"),
		"out of order":        rep("BELLATRIX_FORK_EPOCH: 100", "BELLATRIX_FORK_EPOCH: 10"),
		"version only":        rep("ALTAIR_FORK_EPOCH: 50\n", ""),
		"duplicate key":       goodConfig + "ALTAIR_FORK_EPOCH: 50\n",
		"not scalar":          rep("ALTAIR_FORK_EPOCH: 50", "ALTAIR_FORK_EPOCH: [50]"),
		"minimal preset":      rep("PRESET_BASE: 'mainnet'", "PRESET_BASE: 'minimal'"),
		"no preset":           rep("PRESET_BASE: 'mainnet'\n", ""),
		"bad name":            rep("CONFIG_NAME: 'testnet-1'", "CONFIG_NAME: 'Test Net'"),
		"no name":             rep("CONFIG_NAME: 'testnet-1'\n", ""),
		"zero slots":          goodConfig + "SLOTS_PER_EPOCH: 0\n",
		"not a mapping":       "- a\n- b\n",
		"not yaml":            "{{{",
		"empty":               "",
		"genesis version bad": rep("GENESIS_FORK_VERSION: 0x90000069", "GENESIS_FORK_VERSION: 0x9000006"),
	} {
		t.Run(name, func(t *testing.T) {
			if _, err := ParseNetworkConfig([]byte(cfg)); !errors.Is(err, ErrBadConfig) {
				t.Fatalf("got %v, want ErrBadConfig", err)
			}
		})
	}
}
