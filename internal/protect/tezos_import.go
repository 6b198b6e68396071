package protect

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math"

	"github.com/keyward/keyward/internal/tezos"
)

// MaxTezosWatermarkFile bounds one octez-signer or Signatory watermark file.
const MaxTezosWatermarkFile = 16 << 20

// OctezWatermarkFiles names octez-signer's high-watermark files in its base directory
// and their classes (Octez src/bin_signer/handler.ml). The pre-23.0 names
// (preendorsement, endorsement) are read too: Octez 23.0 renamed the files without
// migrating them.
var OctezWatermarkFiles = []struct {
	Name  string
	Class tezos.Class
}{
	{"block_high_watermarks", tezos.ClassBlock},
	{"preattestation_high_watermarks", tezos.ClassPreattestation},
	{"attestation_high_watermarks", tezos.ClassAttestation},
	{"preendorsement_high_watermarks", tezos.ClassPreattestation},
	{"endorsement_high_watermarks", tezos.ClassAttestation},
}

// legacyRound stands for "no round recorded" (marks written before Tenderbake): nothing
// at that level may be signed again, as octez-signer requires a strictly greater level.
const legacyRound = math.MaxUint32

// ParseOctezWatermarks parses one octez-signer high-watermark file of the given class:
// {"<chain Net…>": {"<pkh>": {"level": L, "round": R, "hash": "<hex>", "signature":
// "<b58>"}}}, where round, hash and signature are optional. Unknown fields, bad
// encodings and negative levels are refused.
func ParseOctezWatermarks(class tezos.Class, data []byte) ([]TezosMark, error) {
	type entry struct {
		Level     *int64  `json:"level"`
		Round     *int64  `json:"round"`
		Hash      *string `json:"hash"`
		Signature *string `json:"signature"`
	}
	var doc map[string]map[string]entry
	if err := strictJSON(data, &doc); err != nil {
		return nil, fmt.Errorf("parse octez watermarks: %w: %w", ErrInvalidInterchange, err)
	}
	var out []TezosMark
	for chainStr, keys := range doc {
		chain, err := tezos.ParseChainID(chainStr)
		if err != nil {
			return nil, fmt.Errorf("parse octez watermarks: %w: %w", ErrInvalidInterchange, err)
		}
		for pkhStr, e := range keys {
			pkh, err := tezos.ParsePublicKeyHash(pkhStr)
			if err != nil {
				return nil, fmt.Errorf("parse octez watermarks: %w: %w", ErrInvalidInterchange, err)
			}
			m := TezosMark{ChainID: chain, Key: pkh, Class: class}
			if e.Level == nil || *e.Level < 0 || *e.Level > math.MaxInt32 {
				return nil, fmt.Errorf("parse octez watermarks: %w: %s: missing or bad level", ErrInvalidInterchange, pkhStr)
			}
			m.Level, m.Round = uint32(*e.Level), legacyRound
			if e.Round != nil {
				if *e.Round < 0 || *e.Round > math.MaxInt32 {
					return nil, fmt.Errorf("parse octez watermarks: %w: %s: bad round", ErrInvalidInterchange, pkhStr)
				}
				m.Round = uint32(*e.Round)
			}
			if e.Hash != nil {
				h, err := hex.DecodeString(*e.Hash)
				if err != nil || len(h) != 32 {
					return nil, fmt.Errorf("parse octez watermarks: %w: %s: bad hash", ErrInvalidInterchange, pkhStr)
				}
				copy(m.PayloadHash[:], h)
				if e.Signature != nil {
					sig, err := tezos.ParseSignature(*e.Signature)
					if err != nil {
						return nil, fmt.Errorf("parse octez watermarks: %w: %s: %w", ErrInvalidInterchange, pkhStr, err)
					}
					m.Signature = sig.Raw
				}
			}
			out = append(out, m)
		}
	}
	return out, nil
}

// ParseSignatoryWatermarks parses one Signatory file-vault watermark file
// (<base_dir>/watermark_v2/<chain>.json): {"<pkh>": {"<request kind>": {"level": L,
// "round": R, "hash": "vh…"}}}. Request kinds block, preattestation, attestation and
// attestation_with_dal (which Signatory keeps apart and keyward merges into one class;
// the higher mark wins) and the older endorsement names are read; any other kind is
// refused rather than dropped.
func ParseSignatoryWatermarks(chain tezos.ChainID, data []byte) ([]TezosMark, error) {
	type entry struct {
		Level *int64  `json:"level"`
		Round *int64  `json:"round"`
		Hash  *string `json:"hash"`
	}
	var doc map[string]map[string]entry
	if err := strictJSON(data, &doc); err != nil {
		return nil, fmt.Errorf("parse signatory watermarks: %w: %w", ErrInvalidInterchange, err)
	}
	var out []TezosMark
	for pkhStr, kinds := range doc {
		pkh, err := tezos.ParsePublicKeyHash(pkhStr)
		if err != nil {
			return nil, fmt.Errorf("parse signatory watermarks: %w: %w", ErrInvalidInterchange, err)
		}
		for kind, e := range kinds {
			var class tezos.Class
			switch kind {
			case "block":
				class = tezos.ClassBlock
			case "preattestation", "preendorsement":
				class = tezos.ClassPreattestation
			case "attestation", "attestation_with_dal", "endorsement", "endorsement_with_dal":
				class = tezos.ClassAttestation
			default:
				return nil, fmt.Errorf("parse signatory watermarks: %w: %s: unknown request kind %q", ErrInvalidInterchange, pkhStr, kind)
			}
			if e.Level == nil || *e.Level < 0 || *e.Level > math.MaxInt32 {
				return nil, fmt.Errorf("parse signatory watermarks: %w: %s %s: missing or bad level", ErrInvalidInterchange, pkhStr, kind)
			}
			m := TezosMark{ChainID: chain, Key: pkh, Class: class}
			m.Level, m.Round = uint32(*e.Level), legacyRound
			if e.Round != nil {
				if *e.Round < 0 || *e.Round > math.MaxInt32 {
					return nil, fmt.Errorf("parse signatory watermarks: %w: %s %s: bad round", ErrInvalidInterchange, pkhStr, kind)
				}
				m.Round = uint32(*e.Round)
			}
			if e.Hash != nil && *e.Hash != "" {
				h, err := tezos.ParsePayloadHash(*e.Hash)
				if err != nil {
					return nil, fmt.Errorf("parse signatory watermarks: %w: %s %s: %w", ErrInvalidInterchange, pkhStr, kind, err)
				}
				m.PayloadHash = h
			}
			out = append(out, m)
		}
	}
	return out, nil
}

func strictJSON(data []byte, v any) error {
	if len(data) > MaxTezosWatermarkFile {
		return ErrInterchangeTooLarge
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return err
	}
	if dec.More() {
		return fmt.Errorf("trailing data")
	}
	return nil
}
