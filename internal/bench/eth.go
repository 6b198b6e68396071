package bench

import (
	"encoding/hex"
	"fmt"
	"strings"

	"github.com/keyward/keyward/internal/eth"
)

// EthWorkload sends Ethereum signing requests for a network's current fork, spreading
// workers over keys and moving epochs forward so that protection never refuses.
type EthWorkload struct {
	Kind string // "attestation", "block" or "aggregate"
	// Distinct gives each key its own attestation data (its own beacon_block_root), the
	// worst case for a signer. Without it the keys signing the same seq sign identical
	// data, as every validator attesting in a slot does since Electra (EIP-7549).
	Distinct bool
	Network  *eth.Network
	Pubkeys  []string // 0x-hex public keys
	// Base offsets epochs and slots, so that runs against the same signer never repeat.
	Base uint64
}

// Name implements Workload.
func (w *EthWorkload) Name() string {
	if w.Distinct {
		return "eth-" + w.Kind + "-distinct"
	}
	return "eth-" + w.Kind
}

// NewEthWorkload returns the workload named eth-attestation, eth-attestation-distinct,
// eth-block or eth-aggregate, or nil for another name.
func NewEthWorkload(name string, n *eth.Network, pubkeys []string, base uint64) *EthWorkload {
	w := &EthWorkload{Network: n, Pubkeys: pubkeys, Base: base}
	switch name {
	case "eth-attestation", "eth-block", "eth-aggregate":
		w.Kind = strings.TrimPrefix(name, "eth-")
	case "eth-attestation-distinct":
		w.Kind, w.Distinct = "attestation", true
	default:
		return nil
	}
	return w
}

// latest returns the newest scheduled fork.
func latest(n *eth.Network) eth.Fork {
	f := eth.ForkPhase0
	for g := eth.ForkAltair; g.Valid(); g++ {
		if n.Epoch(g) != eth.FarFutureEpoch {
			f = g
		}
	}
	return f
}

// Keys implements Workload.
func (w *EthWorkload) Keys() int { return len(w.Pubkeys) }

// Request implements Workload: request seq of key k signs at epoch fork+1+Base+seq.
func (w *EthWorkload) Request(k int, seq uint64) (string, []byte) {
	n := w.Network
	f := latest(n)
	prev := f - 1
	key := w.Pubkeys[k]
	epoch := n.Epoch(f) + 1 + w.Base + seq
	pv, cv := n.Version(prev), n.Version(f)
	fi := fmt.Sprintf(`"fork_info":{"fork":{"previous_version":"0x%s","current_version":"0x%s","epoch":"%d"},"genesis_validators_root":"0x%s"}`,
		hex.EncodeToString(pv[:]), hex.EncodeToString(cv[:]), n.Epoch(f), hex.EncodeToString(n.GenesisValidatorsRoot[:]))
	slot := epoch * n.SlotsPerEpoch
	var body string
	switch w.Kind {
	case "block":
		body = fmt.Sprintf(`{"type":"BLOCK_V2",%s,"beacon_block":{"version":"%s","block_header":{"slot":"%d","proposer_index":"1","parent_root":"0x%064x","state_root":"0x%064x","body_root":"0x%064x"}}}`,
			fi, f, slot, 0, 0, seq)
	case "aggregate":
		body = fmt.Sprintf(`{"type":"AGGREGATION_SLOT",%s,"aggregation_slot":{"slot":"%d"}}`, fi, slot)
	default:
		blockRoot := 0
		if w.Distinct {
			blockRoot = k + 1
		}
		body = fmt.Sprintf(`{"type":"ATTESTATION",%s,"attestation":{"slot":"%d","index":"0","beacon_block_root":"0x%064x","source":{"epoch":"%d","root":"0x%064x"},"target":{"epoch":"%d","root":"0x%064x"}}}`,
			fi, slot, blockRoot, epoch-1, 0, epoch, 0)
	}
	return "/api/v1/eth2/sign/" + key, []byte(body)
}
