package eth2json

import (
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/keyward/keyward/internal/eth"
)

const fi = `"fork_info":{"fork":{"previous_version":"0x00000001","current_version":"0x00000001","epoch":"1"},"genesis_validators_root":"0x04700007fabc8282644aed6d1c7c9e21d38a03a0c4ba193f3afe428824b3a673"}`

const att = `"attestation":{"slot":"32","index":"0","beacon_block_root":"0xb2eedb01adbd02c828d5eec09b4c70cbba12ffffba525ebf48aca33028e8ad89","source":{"epoch":"0","root":"0x0000000000000000000000000000000000000000000000000000000000000000"},"target":{"epoch":"0","root":"0xb2eedb01adbd02c828d5eec09b4c70cbba12ffffba525ebf48aca33028e8ad89"}}`

func TestParseSignRequestAccepts(t *testing.T) {
	for name, body := range map[string]string{
		"extra top-level field (Nimbus proofs)": `{"type":"ATTESTATION",` + fi + `,` + att + `,"proofs":[{"index":"1"}]}`,
		"signing_root alias":                    `{"type":"ATTESTATION",` + fi + `,` + att + `,"signing_root":"0x548c9a015f4c96cb8b1ddbbdfca85846f85bf9f344a434c140f378cdfb5341f0"}`,
		"both root spellings equal":             `{"type":"ATTESTATION",` + fi + `,` + att + `,"signing_root":"0x548c9a015f4c96cb8b1ddbbdfca85846f85bf9f344a434c140f378cdfb5341f0","signingRoot":"0x548c9a015f4c96cb8b1ddbbdfca85846f85bf9f344a434c140f378cdfb5341f0"}`,
		"other payload null":                    `{"type":"ATTESTATION",` + fi + `,` + att + `,"block":null}`,
		"max uint64":                            `{"type":"RANDAO_REVEAL",` + fi + `,"randao_reveal":{"epoch":"18446744073709551615"}}`,
	} {
		t.Run(name, func(t *testing.T) {
			r, err := ParseSignRequest([]byte(body))
			if err != nil {
				t.Fatal(err)
			}
			if r.ForkInfo == nil || len(r.Body) == 0 {
				t.Fatalf("%+v", r)
			}
		})
	}
}

// TestParseSignRequestRefusals_Inv7: malformed input is refused naming the field.
func TestParseSignRequestRefusals_Inv7(t *testing.T) {
	tests := []struct{ name, body, field string }{
		{"not json", `{`, ""},
		{"trailing data", `{"type":"ATTESTATION"} x`, ""},
		{"not an object", `[]`, ""},
		{"no type", `{` + fi + `,` + att + `}`, "type"},
		{"unknown type", `{"type":"BLOB_SIDECAR",` + fi + `}`, "type"},
		{"lower-case type", `{"type":"attestation",` + fi + `,` + att + `}`, "type"},
		{"type not string", `{"type":5}`, "type"},
		{"missing payload", `{"type":"ATTESTATION",` + fi + `}`, "attestation"},
		{"null payload", `{"type":"ATTESTATION",` + fi + `,"attestation":null}`, "attestation"},
		{"foreign payload", `{"type":"ATTESTATION",` + fi + `,` + att + `,"block":{}}`, "block"},
		{"missing fork_info", `{"type":"ATTESTATION",` + att + `}`, "fork_info"},
		{"fork_info unknown field", `{"type":"ATTESTATION","fork_info":{"fork":{"previousVersion":"0x00000001"}},` + att + `}`, "fork_info"},
		{"fork_info no fork", `{"type":"ATTESTATION","fork_info":{"genesis_validators_root":"0x00"},` + att + `}`, "fork_info.fork"},
		{"short version", `{"type":"ATTESTATION",` + strings.Replace(fi, `"previous_version":"0x00000001"`, `"previous_version":"0x000001"`, 1) + `,` + att + `}`, "fork_info.fork.previous_version"},
		{"version no 0x", `{"type":"ATTESTATION",` + strings.Replace(fi, `"current_version":"0x00000001"`, `"current_version":"00000001"`, 1) + `,` + att + `}`, "fork_info.fork.current_version"},
		{"epoch as number", `{"type":"ATTESTATION",` + strings.Replace(fi, `"epoch":"1"`, `"epoch":1`, 1) + `,` + att + `}`, "fork_info.fork.epoch"},
		{"bad hex", `{"type":"ATTESTATION",` + fi + `,` + strings.Replace(att, "0xb2eedb01", "0xg2eedb01", 1) + `}`, "attestation.beacon_block_root"},
		{"odd hex", `{"type":"ATTESTATION",` + fi + `,` + strings.Replace(att, "0xb2eedb01", "0xb2eedb0", 1) + `}`, "attestation.beacon_block_root"},
		{"long root", `{"type":"ATTESTATION",` + fi + `,` + strings.Replace(att, "0xb2eedb01", "0xb2eedb0101", 1) + `}`, "attestation.beacon_block_root"},
		{"huge number", `{"type":"ATTESTATION",` + fi + `,` + strings.Replace(att, `"slot":"32"`, `"slot":"18446744073709551616"`, 1) + `}`, "attestation.slot"},
		{"negative", `{"type":"ATTESTATION",` + fi + `,` + strings.Replace(att, `"slot":"32"`, `"slot":"-1"`, 1) + `}`, "attestation.slot"},
		{"leading zero", `{"type":"ATTESTATION",` + fi + `,` + strings.Replace(att, `"slot":"32"`, `"slot":"032"`, 1) + `}`, "attestation.slot"},
		{"hex number", `{"type":"ATTESTATION",` + fi + `,` + strings.Replace(att, `"slot":"32"`, `"slot":"0x20"`, 1) + `}`, "attestation.slot"},
		{"missing slot", `{"type":"ATTESTATION",` + fi + `,` + strings.Replace(att, `"slot":"32",`, ``, 1) + `}`, "attestation.slot"},
		{"missing source", `{"type":"ATTESTATION",` + fi + `,"attestation":{"slot":"1","index":"0","beacon_block_root":"0x` + strings.Repeat("00", 32) + `"}}`, "attestation.source"},
		{"unknown payload field", `{"type":"ATTESTATION",` + fi + `,` + strings.Replace(att, `"slot":"32"`, `"slot":"32","x":"1"`, 1) + `}`, "attestation"},
		{"bad signingRoot", `{"type":"ATTESTATION",` + fi + `,` + att + `,"signingRoot":"0x12"}`, "signingRoot"},
		{"root spellings differ", `{"type":"ATTESTATION",` + fi + `,` + att + `,"signingRoot":"0x` + strings.Repeat("11", 32) + `","signing_root":"0x` + strings.Repeat("22", 32) + `"}`, "signing_root"},
		{"block_v2 no version", `{"type":"BLOCK_V2",` + fi + `,"beacon_block":{"block_header":{}}}`, "beacon_block.version"},
		{"block_v2 bad version", `{"type":"BLOCK_V2",` + fi + `,"beacon_block":{"version":"GLOAS","block_header":{}}}`, "beacon_block.version"},
		{"block_v2 header for phase0", `{"type":"BLOCK_V2",` + fi + `,"beacon_block":{"version":"PHASE0","block_header":{}}}`, "beacon_block.block_header"},
		{"block_v2 missing header", `{"type":"BLOCK_V2",` + fi + `,"beacon_block":{"version":"DENEB"}}`, "beacon_block.block_header"},
		{"block_v2 header slot", `{"type":"BLOCK_V2",` + fi + `,"beacon_block":{"version":"DENEB","block_header":{"slot":"x"}}}`, "beacon_block.block_header.slot"},
		{"aggregate v2 bad version", `{"type":"AGGREGATE_AND_PROOF_V2",` + fi + `,"aggregate_and_proof":{"version":"NOPE","data":{}}}`, "aggregate_and_proof.version"},
		{"aggregate v2 no data", `{"type":"AGGREGATE_AND_PROOF_V2",` + fi + `,"aggregate_and_proof":{"version":"DENEB"}}`, "aggregate_and_proof.data"},
		{"aggregate committee_bits in phase0", `{"type":"AGGREGATE_AND_PROOF_V2",` + fi + `,"aggregate_and_proof":{"version":"DENEB","data":{"aggregate":{"committee_bits":"0x00"}}}}`, "aggregate_and_proof.data"},
		{"bitlist without length bit", `{"type":"AGGREGATE_AND_PROOF",` + fi + `,"aggregate_and_proof":{"aggregator_index":"1","aggregate":{"aggregation_bits":"0x0100"}}}`, "aggregate_and_proof.aggregate.aggregation_bits"},
		{"deposit no genesis version", `{"type":"DEPOSIT","deposit":{"pubkey":"0x` + strings.Repeat("00", 48) + `","withdrawal_credentials":"0x` + strings.Repeat("00", 32) + `","amount":"32"}}`, "deposit.genesis_fork_version"},
		{"registration short fee recipient", `{"type":"VALIDATOR_REGISTRATION","validator_registration":{"fee_recipient":"0x00","gas_limit":"1","timestamp":"1","pubkey":"0x` + strings.Repeat("00", 48) + `"}}`, "validator_registration.fee_recipient"},
		{"attesting indices as numbers", `{"type":"BLOCK",` + fi + `,"block":{"slot":"0","proposer_index":"0","parent_root":"0x` + strings.Repeat("00", 32) + `","state_root":"0x` + strings.Repeat("00", 32) + `","body":{"attester_slashings":[{"attestation_1":{"attesting_indices":[1]}}]}}}`, "block.body.attester_slashings.attestation_1.attesting_indices"},
		{"too many exits", `{"type":"BLOCK",` + fi + `,"block":{"slot":"0","proposer_index":"0","parent_root":"0x` + strings.Repeat("00", 32) + `","state_root":"0x` + strings.Repeat("00", 32) + `","body":{"randao_reveal":"0x` + strings.Repeat("00", 96) + `","eth1_data":{"deposit_root":"0x` + strings.Repeat("00", 32) + `","deposit_count":"0","block_hash":"0x` + strings.Repeat("00", 32) + `"},"graffiti":"0x` + strings.Repeat("00", 32) + `","voluntary_exits":[` + strings.Repeat(`{},`, 16) + `{}]}}}`, "block.body.voluntary_exits"},
		{"oversized", `{"type":"ATTESTATION","x":"` + strings.Repeat("a", MaxRequestSize) + `"}`, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r, err := ParseSignRequest([]byte(tc.body))
			var pe *ParseError
			if !errors.As(err, &pe) {
				t.Fatalf("got %v, %v; want a ParseError", r, err)
			}
			if pe.Field != tc.field {
				t.Fatalf("field %q (%v), want %q", pe.Field, err, tc.field)
			}
		})
	}
}

// TestLegacyAggregateShapes: the legacy type and the unwrapped V2 shape are Electra exactly
// when committee_bits is present.
func TestLegacyAggregateShapes(t *testing.T) {
	b, err := os.ReadFile("testdata/web3signer/aggregate_and_proof_v2_electra.json")
	if err != nil {
		t.Fatal(err)
	}
	wrapped, err := ParseSignRequest(b)
	if err != nil || wrapped.Version != eth.ForkElectra {
		t.Fatalf("%v %v", wrapped, err)
	}
	// Unwrap {version, data} into the legacy shape, for both types.
	var doc struct {
		AggregateAndProof struct {
			Data json.RawMessage `json:"data"`
		} `json:"aggregate_and_proof"`
	}
	if err := json.Unmarshal(b, &doc); err != nil {
		t.Fatal(err)
	}
	inner := string(doc.AggregateAndProof.Data)
	for _, typ := range []string{"AGGREGATE_AND_PROOF", "AGGREGATE_AND_PROOF_V2"} {
		body := `{"type":"` + typ + `",` + fi + `,"aggregate_and_proof":` + inner + `}`
		r, err := ParseSignRequest([]byte(body))
		if err != nil || r.Version != eth.ForkElectra || string(r.Body) != string(wrapped.Body) {
			t.Fatalf("%s: %v %v", typ, r, err)
		}
	}
}

// TestGatewayHoldsNoKeys_Inv1: this package must not depend on blst or key-holding code.
func TestGatewayHoldsNoKeys_Inv1(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", ".").Output()
	if err != nil {
		t.Skipf("go list unavailable: %v", err)
	}
	for _, dep := range strings.Fields(string(out)) {
		if strings.Contains(dep, "blst") || strings.HasPrefix(dep, "github.com/keyward/keyward/internal/") &&
			dep != "github.com/keyward/keyward/internal/eth" && dep != "github.com/keyward/keyward/internal/gateway/eth2json" {
			t.Errorf("forbidden dependency %s", dep)
		}
	}
}

// FuzzParseSignRequest_Inv7_Inv8: any bytes give a request or a *ParseError, never a panic
// (the parser's recover reports "internal parser fault", treated as a failure here).
func FuzzParseSignRequest_Inv7_Inv8(f *testing.F) {
	files, _ := os.ReadDir("testdata/web3signer")
	for _, e := range files {
		if strings.HasSuffix(e.Name(), ".json") && e.Name() != "manifest.json" {
			b, _ := os.ReadFile("testdata/web3signer/" + e.Name())
			f.Add(b)
		}
	}
	f.Add([]byte(`{"type":"ATTESTATION",` + fi + `,` + att + `}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		r, err := ParseSignRequest(body)
		if err != nil {
			pe, ok := err.(*ParseError)
			if !ok {
				t.Fatalf("untyped error %T", err)
			}
			if pe.Reason == "internal parser fault" {
				t.Fatal("parser panicked")
			}
			return
		}
		if !r.Type.Valid() || len(r.Body) == 0 {
			t.Fatalf("accepted an empty request %+v", r)
		}
	})
}
