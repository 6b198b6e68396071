package protect

import (
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strconv"

	bolt "go.etcd.io/bbolt"
)

// JSON shapes of an EIP-3076 version 5 interchange, for export only (import is parsed
// strictly by parseInterchange).
type (
	exportDoc struct {
		Metadata exportMeta  `json:"metadata"`
		Data     []exportKey `json:"data"`
	}
	exportMeta struct {
		Version string `json:"interchange_format_version"`
		GVR     string `json:"genesis_validators_root"`
	}
	exportKey struct {
		Pubkey       string        `json:"pubkey"`
		Blocks       []exportBlock `json:"signed_blocks"`
		Attestations []exportAtt   `json:"signed_attestations"`
	}
	exportBlock struct {
		Slot        string `json:"slot"`
		SigningRoot string `json:"signing_root,omitempty"`
	}
	exportAtt struct {
		Source      string `json:"source_epoch"`
		Target      string `json:"target_epoch"`
		SigningRoot string `json:"signing_root,omitempty"`
	}
)

// ExportInterchange writes the complete history of pubkeys (nil: every key) as an EIP-3076
// version 5 interchange. A requested key the store has never seen is left out (so the
// Keymanager API can tell "not_found" from "not_active").
//
// The export protects at least as much as the store: importing it into an empty store
// refuses everything this store refuses. Every record is exported (a vote merged from
// several sources as two votes without root, one per extreme source); the low watermarks,
// which an interchange can only express as the minimum of its records, are exported as a
// block at the watermark slot and a vote at (source watermark, target watermark) without
// signing root, unless records already reach them. Invariant W (no record below the
// watermarks) makes those minima exact.
//
// The export is a consistent snapshot of what is durable. A key that keeps signing after
// the export has history the export lacks: stop signing with a key before moving it.
func (s *Store) ExportInterchange(pubkeys [][48]byte) ([]byte, error) {
	if err := s.enter(); err != nil {
		return nil, fmt.Errorf("export interchange: %w", err)
	}
	defer s.leave()
	gvr := s.opts.GenesisValidatorsRoot
	doc := exportDoc{Metadata: exportMeta{Version: interchangeVersion, GVR: "0x" + hex.EncodeToString(gvr[:])}, Data: []exportKey{}}
	// Every record made durable so far (some only in the journal yet) is in bbolt first.
	if err := s.settleAll(); err != nil {
		return nil, fmt.Errorf("export interchange: %w", err)
	}
	err := s.db.View(func(tx *bolt.Tx) error {
		eth := tx.Bucket(bucketEth)
		if pubkeys == nil {
			err := eth.ForEachBucket(func(k []byte) error {
				pubkeys = append(pubkeys, [48]byte(k))
				return nil
			})
			if err != nil {
				return err
			}
		}
		seen := make(map[[48]byte]bool, len(pubkeys))
		for _, pub := range pubkeys {
			if seen[pub] {
				continue
			}
			seen[pub] = true
			kb := eth.Bucket(pub[:])
			if kb == nil {
				continue
			}
			k, err := exportKeyHistory(kb, pub)
			if err != nil {
				return fmt.Errorf("key %#x: %w", pub, err)
			}
			doc.Data = append(doc.Data, k)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("export interchange: %w", err)
	}
	out, err := json.MarshalIndent(doc, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("export interchange: %w", err)
	}
	return append(out, '\n'), nil
}

// exportKeyHistory exports one key bucket.
func exportKeyHistory(kb *bolt.Bucket, pub [48]byte) (exportKey, error) {
	k := exportKey{Pubkey: "0x" + hex.EncodeToString(pub[:]), Blocks: []exportBlock{}, Attestations: []exportAtt{}}
	sum, err := decodeSummary(kb.Get(keySummary))
	if err != nil {
		return k, err
	}
	u := func(v uint64) string { return strconv.FormatUint(v, 10) }
	root := func(known bool, r [32]byte) string {
		if !known {
			return ""
		}
		return "0x" + hex.EncodeToString(r[:])
	}
	if bb := kb.Bucket(bucketBlocks); bb != nil {
		err := bb.ForEach(func(key, v []byte) error {
			slot, err := fromBE64(key)
			if err != nil {
				return err
			}
			rec, err := decodeBlockRec(v)
			if err != nil {
				return err
			}
			k.Blocks = append(k.Blocks, exportBlock{Slot: u(slot), SigningRoot: root(rec.known, rec.root)})
			return nil
		})
		if err != nil {
			return k, err
		}
	}
	// The block watermark: the first record is at the lowest slot (W: none below it).
	if sum.hasBlocks && (len(k.Blocks) == 0 || k.Blocks[0].Slot != u(sum.lowSlot)) {
		k.Blocks = append([]exportBlock{{Slot: u(sum.lowSlot)}}, k.Blocks...)
	}
	minSource, minTarget, any := uint64(0), uint64(0), false
	if ab := kb.Bucket(bucketAtts); ab != nil {
		err := ab.ForEach(func(key, v []byte) error {
			t, err := fromBE64(key)
			if err != nil {
				return err
			}
			rec, err := decodeAttRec(v)
			if err != nil {
				return err
			}
			if !any {
				minSource, minTarget, any = rec.minSource, t, true
			}
			minSource = min(minSource, rec.minSource)
			k.Attestations = append(k.Attestations, exportAtt{Source: u(rec.minSource), Target: u(t), SigningRoot: root(rec.known, rec.root)})
			if rec.maxSource != rec.minSource {
				k.Attestations = append(k.Attestations, exportAtt{Source: u(rec.maxSource), Target: u(t)})
			}
			return nil
		})
		if err != nil {
			return k, err
		}
	}
	// The attestation watermarks. A target below the source cannot be signed anyway, so
	// the synthetic vote is never "source after target".
	if sum.hasAtts && (!any || minSource != sum.lowSource || minTarget != sum.lowTarget) {
		k.Attestations = append(k.Attestations, exportAtt{Source: u(sum.lowSource), Target: u(max(sum.lowSource, sum.lowTarget))})
	}
	return k, nil
}
