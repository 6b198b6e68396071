package eth

import (
	"encoding/hex"
	"fmt"
)

// BuiltinNetwork returns a fresh copy of a network keyward ships: "mainnet", "hoodi",
// "sepolia" or "holesky". Values were checked against these sources (read 2026):
//
//   - mainnet: ethereum/consensus-specs configs/mainnet.yaml (FULU_FORK_EPOCH 411392,
//     "December 3, 2025"); eth-clients/mainnet metadata/config.yaml @e6da65b for
//     GENESIS..ELECTRA; genesis validators root from ethereum/staking-deposit-cli
//     settings.py (MainnetSetting) and Nimbus/Lighthouse network tables.
//   - hoodi: eth-clients/hoodi metadata/config.yaml and genesis_validators_root.txt
//     @7f71638 (ELECTRA_FORK_EPOCH 2048); FULU_FORK_EPOCH 50688 (scheduled after that
//     commit) from client network tables (Lighthouse/Grandine-style Rust configs found with
//     the code index: fulu_fork_version 0x70000910, fulu_fork_epoch 50688).
//   - sepolia: eth-clients/sepolia metadata/config.yaml @00d17b4 (FULU 272640);
//     genesis validators root from staking-deposit-cli settings.py (SepoliaSetting).
//   - holesky: eth-clients/holesky metadata/config.yaml @8aec65f "feat: schedule fusaka"
//     (FULU 165120); genesis validators root from staking-deposit-cli settings.py
//     (HoleskySetting) and Nimbus.
//
// A network whose schedule changes (a new fork) needs a keyward release or a pinned
// config.yaml read with ParseNetworkConfig.
func BuiltinNetwork(name string) (*Network, error) {
	var n *Network
	switch name {
	case "mainnet":
		n = &Network{
			GenesisForkVersion:    v4(0x00, 0x00, 0x00, 0x00),
			GenesisValidatorsRoot: root("4b363db94e286120d76eb905340fdd4e54bfe9f06bf33ff6cf5ad27f511bfe95"),
			Altair:                ScheduledFork{v4(0x01, 0, 0, 0), 74240},
			Bellatrix:             ScheduledFork{v4(0x02, 0, 0, 0), 144896},
			Capella:               ScheduledFork{v4(0x03, 0, 0, 0), 194048},
			Deneb:                 ScheduledFork{v4(0x04, 0, 0, 0), 269568},
			Electra:               ScheduledFork{v4(0x05, 0, 0, 0), 364032},
			Fulu:                  ScheduledFork{v4(0x06, 0, 0, 0), 411392},
		}
	case "hoodi":
		n = &Network{
			GenesisForkVersion:    v4(0x10, 0x00, 0x09, 0x10),
			GenesisValidatorsRoot: root("212f13fc4df078b6cb7db228f1c8307566dcecf900867401a92023d7ba99cb5f"),
			Altair:                ScheduledFork{v4(0x20, 0x00, 0x09, 0x10), 0},
			Bellatrix:             ScheduledFork{v4(0x30, 0x00, 0x09, 0x10), 0},
			Capella:               ScheduledFork{v4(0x40, 0x00, 0x09, 0x10), 0},
			Deneb:                 ScheduledFork{v4(0x50, 0x00, 0x09, 0x10), 0},
			Electra:               ScheduledFork{v4(0x60, 0x00, 0x09, 0x10), 2048},
			Fulu:                  ScheduledFork{v4(0x70, 0x00, 0x09, 0x10), 50688},
		}
	case "sepolia":
		n = &Network{
			GenesisForkVersion:    v4(0x90, 0x00, 0x00, 0x69),
			GenesisValidatorsRoot: root("d8ea171f3c94aea21ebc42a1ed61052acf3f9209c00e4efbaaddac09ed9b8078"),
			Altair:                ScheduledFork{v4(0x90, 0x00, 0x00, 0x70), 50},
			Bellatrix:             ScheduledFork{v4(0x90, 0x00, 0x00, 0x71), 100},
			Capella:               ScheduledFork{v4(0x90, 0x00, 0x00, 0x72), 56832},
			Deneb:                 ScheduledFork{v4(0x90, 0x00, 0x00, 0x73), 132608},
			Electra:               ScheduledFork{v4(0x90, 0x00, 0x00, 0x74), 222464},
			Fulu:                  ScheduledFork{v4(0x90, 0x00, 0x00, 0x75), 272640},
		}
	case "holesky":
		n = &Network{
			GenesisForkVersion:    v4(0x01, 0x01, 0x70, 0x00),
			GenesisValidatorsRoot: root("9143aa7c615a7f7115e2b6aac319c03529df8242ae705fba9df39b79c59fa8b1"),
			Altair:                ScheduledFork{v4(0x02, 0x01, 0x70, 0x00), 0},
			Bellatrix:             ScheduledFork{v4(0x03, 0x01, 0x70, 0x00), 0},
			Capella:               ScheduledFork{v4(0x04, 0x01, 0x70, 0x00), 256},
			Deneb:                 ScheduledFork{v4(0x05, 0x01, 0x70, 0x00), 29696},
			Electra:               ScheduledFork{v4(0x06, 0x01, 0x70, 0x00), 115968},
			Fulu:                  ScheduledFork{v4(0x07, 0x01, 0x70, 0x00), 165120},
		}
	default:
		return nil, fmt.Errorf("%w %q (known: mainnet, hoodi, sepolia, holesky)", ErrUnknownNetwork, name)
	}
	n.Name, n.ConfigName, n.PresetBase, n.SlotsPerEpoch = name, name, "mainnet", 32
	return n, nil
}

func v4(a, b, c, d byte) [4]byte { return [4]byte{a, b, c, d} }

// root decodes a compile-time constant; it panics only on a programmer error in this file.
func root(s string) [32]byte {
	var r [32]byte
	if n, err := hex.Decode(r[:], []byte(s)); err != nil || n != 32 {
		panic("eth: internal error: bad builtin root " + s)
	}
	return r
}
