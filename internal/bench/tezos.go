package bench

import (
	"encoding/binary"
	"encoding/hex"
	"fmt"
)

// TezosWorkload sends Tezos attestations (magic 0x13, tag 21) for a chain, with levels
// moving forward per key so that the high watermark never refuses.
type TezosWorkload struct {
	ChainID [4]byte
	PKHs    []string // tz1/tz2/tz3 public key hashes
	Base    uint32   // first level
}

// Name implements Workload.
func (w *TezosWorkload) Name() string { return "tezos-attestation" }

// Keys implements Workload.
func (w *TezosWorkload) Keys() int { return len(w.PKHs) }

// Request implements Workload: request seq of key k attests at level Base+seq.
func (w *TezosWorkload) Request(k int, seq uint64) (string, []byte) {
	pkh := w.PKHs[k]
	level := w.Base + uint32(seq)
	p := make([]byte, 0, 80)
	p = append(p, 0x13)
	p = append(p, w.ChainID[:]...)
	p = append(p, make([]byte, 32)...) // branch
	p = append(p, 21)                  // attestation
	p = binary.BigEndian.AppendUint16(p, 0)
	p = binary.BigEndian.AppendUint32(p, level)
	p = binary.BigEndian.AppendUint32(p, 0) // round
	p = append(p, make([]byte, 32)...)      // block payload hash
	return "/keys/" + pkh, []byte(fmt.Sprintf("%q", hex.EncodeToString(p)))
}
