package bench

import (
	"encoding/hex"
	"fmt"

	"github.com/keyward/keyward/internal/eth"
)

// EthWorkload sends Ethereum signing requests for a network's current fork, spreading
// workers over keys and moving epochs forward so that protection never refuses.
type EthWorkload struct {
	Kind    string // "attestation", "block" or "aggregate"
	Network *eth.Network
	Pubkeys []string // 0x-hex public keys
	// Base offsets epochs and slots, so that runs against the same signer never repeat.
	Base uint64
}

// Name implements Workload.
func (w *EthWorkload) Name() string { return "eth-" + w.Kind }

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
		body = fmt.Sprintf(`{"type":"ATTESTATION",%s,"attestation":{"slot":"%d","index":"0","beacon_block_root":"0x%064x","source":{"epoch":"%d","root":"0x%064x"},"target":{"epoch":"%d","root":"0x%064x"}}}`,
			fi, slot, 0, epoch-1, 0, epoch, 0)
	}
	return "/api/v1/eth2/sign/" + key, []byte(body)
}
