package eth2json

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	apiv1 "github.com/attestantio/go-eth2-client/api/v1"
	"github.com/attestantio/go-eth2-client/spec/altair"
	"github.com/attestantio/go-eth2-client/spec/electra"
	"github.com/attestantio/go-eth2-client/spec/phase0"

	"github.com/keyward/keyward/internal/eth"
)

// MaxRequestSize is the largest request body ParseSignRequest accepts (Inv 7). A full
// phase0/Altair block at the mainnet list limits is a few hundred KiB of JSON. The HTTP
// layer should cut the body at this size before reading it.
const MaxRequestSize = 2 << 20

// signRequestJSON is the top level. Payloads stay raw until the type is known; they and
// fork_info are then decoded with unknown fields refused.
type signRequestJSON struct {
	Type             string          `json:"type"`
	ForkInfo         json.RawMessage `json:"fork_info"`
	SigningRoot      *string         `json:"signingRoot"`
	SigningRootSnake *string         `json:"signing_root"`

	Block                       json.RawMessage `json:"block"`
	BeaconBlock                 json.RawMessage `json:"beacon_block"`
	Attestation                 json.RawMessage `json:"attestation"`
	AggregationSlot             json.RawMessage `json:"aggregation_slot"`
	AggregateAndProof           json.RawMessage `json:"aggregate_and_proof"`
	RandaoReveal                json.RawMessage `json:"randao_reveal"`
	VoluntaryExit               json.RawMessage `json:"voluntary_exit"`
	Deposit                     json.RawMessage `json:"deposit"`
	SyncCommitteeMessage        json.RawMessage `json:"sync_committee_message"`
	SyncAggregatorSelectionData json.RawMessage `json:"sync_aggregator_selection_data"`
	ContributionAndProof        json.RawMessage `json:"contribution_and_proof"`
	ValidatorRegistration       json.RawMessage `json:"validator_registration"`
}

// payloads lists the payload fields with their JSON names, in a fixed order.
func (j *signRequestJSON) payloads() []struct {
	name string
	raw  json.RawMessage
} {
	return []struct {
		name string
		raw  json.RawMessage
	}{
		{"block", j.Block}, {"beacon_block", j.BeaconBlock}, {"attestation", j.Attestation},
		{"aggregation_slot", j.AggregationSlot}, {"aggregate_and_proof", j.AggregateAndProof},
		{"randao_reveal", j.RandaoReveal}, {"voluntary_exit", j.VoluntaryExit}, {"deposit", j.Deposit},
		{"sync_committee_message", j.SyncCommitteeMessage},
		{"sync_aggregator_selection_data", j.SyncAggregatorSelectionData},
		{"contribution_and_proof", j.ContributionAndProof},
		{"validator_registration", j.ValidatorRegistration},
	}
}

var payloadOf = map[eth.SignType]string{
	eth.TypeBlock:                             "block",
	eth.TypeBlockV2:                           "beacon_block",
	eth.TypeAttestation:                       "attestation",
	eth.TypeAggregationSlot:                   "aggregation_slot",
	eth.TypeAggregateAndProof:                 "aggregate_and_proof",
	eth.TypeAggregateAndProofV2:               "aggregate_and_proof",
	eth.TypeRandaoReveal:                      "randao_reveal",
	eth.TypeVoluntaryExit:                     "voluntary_exit",
	eth.TypeDeposit:                           "deposit",
	eth.TypeSyncCommitteeMessage:              "sync_committee_message",
	eth.TypeSyncCommitteeSelectionProof:       "sync_aggregator_selection_data",
	eth.TypeSyncCommitteeContributionAndProof: "contribution_and_proof",
	eth.TypeValidatorRegistration:             "validator_registration",
}

func present(raw json.RawMessage) bool {
	t := bytes.TrimSpace(raw)
	return len(t) > 0 && !bytes.Equal(t, []byte("null"))
}

// ParseSignRequest parses a Web3Signer eth2 signing request body into an eth.Request whose
// Body is the SSZ container of the wire contract (package internal/eth). Every error is a
// *ParseError. It never panics.
func ParseSignRequest(body []byte) (req *eth.Request, err error) {
	defer func() {
		if p := recover(); p != nil { // Inv 8: no panic crosses; a bug here is a refusal
			req, err = nil, perr("", "internal parser fault")
		}
	}()
	if len(body) > MaxRequestSize {
		return nil, perr("", fmt.Sprintf("request is %d bytes, limit %d", len(body), MaxRequestSize))
	}
	var j signRequestJSON
	if err := json.Unmarshal(body, &j); err != nil {
		return nil, jsonErr("", err)
	}
	if j.Type == "" {
		return nil, perr("type", "required")
	}
	t, ok := eth.ParseSignType(j.Type)
	if !ok {
		return nil, perr("type", fmt.Sprintf("unknown signing type %q", truncate(j.Type)))
	}
	want := payloadOf[t]
	var raw json.RawMessage
	for _, p := range j.payloads() {
		switch {
		case p.name == want:
			raw = p.raw
		case present(p.raw):
			return nil, perr(p.name, "not allowed for type "+t.String())
		}
	}
	if !present(raw) {
		return nil, perr(want, "required for type "+t.String())
	}
	r := &eth.Request{Type: t}
	if r.SigningRoot, err = signingRoot(&j); err != nil {
		return nil, err
	}
	if present(j.ForkInfo) {
		if r.ForkInfo, err = forkInfo(j.ForkInfo); err != nil {
			return nil, err
		}
	} else if t != eth.TypeDeposit && t != eth.TypeValidatorRegistration {
		return nil, perr("fork_info", "required for type "+t.String())
	}
	if r.Version, r.Body, err = encodePayload(t, want, raw); err != nil {
		return nil, err
	}
	return r, nil
}

func signingRoot(j *signRequestJSON) (*[32]byte, error) {
	var c conv
	var out *[32]byte
	for _, s := range []struct {
		name string
		v    *string
	}{{"signingRoot", j.SigningRoot}, {"signing_root", j.SigningRootSnake}} {
		if s.v == nil {
			continue
		}
		var r [32]byte
		c.fixed(s.name, *s.v, r[:])
		if c.err != nil {
			return nil, c.err
		}
		if out != nil && *out != r {
			return nil, perr("signing_root", "differs from signingRoot")
		}
		out = &r
	}
	return out, nil
}

type forkJSON struct {
	PreviousVersion string `json:"previous_version"`
	CurrentVersion  string `json:"current_version"`
	Epoch           string `json:"epoch"`
}

type forkInfoJSON struct {
	Fork                  *forkJSON `json:"fork"`
	GenesisValidatorsRoot string    `json:"genesis_validators_root"`
}

func forkInfo(raw json.RawMessage) (*eth.ForkInfo, error) {
	var j forkInfoJSON
	if err := strict("fork_info", raw, &j); err != nil {
		return nil, err
	}
	if j.Fork == nil {
		return nil, perr("fork_info.fork", "required")
	}
	var c conv
	fi := &eth.ForkInfo{}
	c.fixed("fork_info.fork.previous_version", j.Fork.PreviousVersion, fi.PreviousVersion[:])
	c.fixed("fork_info.fork.current_version", j.Fork.CurrentVersion, fi.CurrentVersion[:])
	fi.Epoch = c.u64("fork_info.fork.epoch", j.Fork.Epoch)
	c.fixed("fork_info.genesis_validators_root", j.GenesisValidatorsRoot, fi.GenesisValidatorsRoot[:])
	if c.err != nil {
		return nil, c.err
	}
	return fi, nil
}

// strict decodes one JSON value into v with unknown fields refused.
func strict(field string, raw json.RawMessage, v any) error {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return jsonErr(field, err)
	}
	if dec.More() {
		return perr(field, "trailing data")
	}
	return nil
}

// jsonErr turns an encoding/json error into a *ParseError under prefix.
func jsonErr(prefix string, err error) *ParseError {
	join := func(a, b string) string {
		switch {
		case a == "":
			return b
		case b == "":
			return a
		}
		return a + "." + b
	}
	var te *json.UnmarshalTypeError
	var se *json.SyntaxError
	switch {
	case errors.As(err, &te):
		return perr(join(prefix, te.Field), "expected "+jsonKind(te.Type.Kind().String())+", got JSON "+te.Value)
	case errors.As(err, &se):
		return perr(prefix, fmt.Sprintf("invalid JSON at offset %d", se.Offset))
	}
	msg := strings.TrimPrefix(err.Error(), "json: ")
	return perr(prefix, truncate(msg))
}

func jsonKind(k string) string {
	switch k {
	case "string":
		return "a JSON string"
	case "slice":
		return "a JSON array"
	case "struct", "ptr":
		return "a JSON object"
	}
	return k
}

func truncate(s string) string {
	if len(s) > 64 {
		return s[:64] + "…"
	}
	return s
}

// encodePayload decodes the payload of type t and returns the declared Version and the SSZ
// body of the wire contract.
func encodePayload(t eth.SignType, field string, raw json.RawMessage) (eth.Fork, []byte, error) {
	var c conv
	var obj interface{ MarshalSSZ() ([]byte, error) }
	version := eth.ForkUnset
	switch t {
	case eth.TypeBlock:
		var j beaconBlockJSON[blockBodyJSON]
		if err := strict(field, raw, &j); err != nil {
			return 0, nil, err
		}
		obj = c.phase0Block(field, &j)
	case eth.TypeBlockV2:
		return blockV2(raw)
	case eth.TypeAttestation:
		var j attestationDataJSON
		if err := strict(field, raw, &j); err != nil {
			return 0, nil, err
		}
		obj = c.attestationData(field, &j)
	case eth.TypeAggregationSlot:
		var j struct {
			Slot string `json:"slot"`
		}
		if err := strict(field, raw, &j); err != nil {
			return 0, nil, err
		}
		return ret(&c, version, le64(c.u64(field+".slot", j.Slot)))
	case eth.TypeRandaoReveal:
		var j struct {
			Epoch string `json:"epoch"`
		}
		if err := strict(field, raw, &j); err != nil {
			return 0, nil, err
		}
		return ret(&c, version, le64(c.u64(field+".epoch", j.Epoch)))
	case eth.TypeAggregateAndProof, eth.TypeAggregateAndProofV2:
		return aggregate(t, raw)
	case eth.TypeVoluntaryExit:
		var j voluntaryExitJSON
		if err := strict(field, raw, &j); err != nil {
			return 0, nil, err
		}
		obj = c.voluntaryExit(field, &j)
	case eth.TypeDeposit:
		return depositBody(raw)
	case eth.TypeSyncCommitteeMessage:
		var j struct {
			BeaconBlockRoot string `json:"beacon_block_root"`
			Slot            string `json:"slot"`
		}
		if err := strict(field, raw, &j); err != nil {
			return 0, nil, err
		}
		b := make([]byte, 32, 40)
		c.fixed(field+".beacon_block_root", j.BeaconBlockRoot, b)
		return ret(&c, version, append(b, le64(c.u64(field+".slot", j.Slot))...))
	case eth.TypeSyncCommitteeSelectionProof:
		var j struct {
			Slot              string `json:"slot"`
			SubcommitteeIndex string `json:"subcommittee_index"`
		}
		if err := strict(field, raw, &j); err != nil {
			return 0, nil, err
		}
		obj = &altair.SyncAggregatorSelectionData{
			Slot:              phase0.Slot(c.u64(field+".slot", j.Slot)),
			SubcommitteeIndex: c.u64(field+".subcommittee_index", j.SubcommitteeIndex),
		}
	case eth.TypeSyncCommitteeContributionAndProof:
		obj = contribution(&c, field, raw)
	case eth.TypeValidatorRegistration:
		var j struct {
			FeeRecipient string `json:"fee_recipient"`
			GasLimit     string `json:"gas_limit"`
			Timestamp    string `json:"timestamp"`
			Pubkey       string `json:"pubkey"`
		}
		if err := strict(field, raw, &j); err != nil {
			return 0, nil, err
		}
		v := &apiv1.ValidatorRegistration{GasLimit: c.u64(field+".gas_limit", j.GasLimit)}
		c.fixed(field+".fee_recipient", j.FeeRecipient, v.FeeRecipient[:])
		// SSZ writes uint64(Timestamp.Unix()); the conversion round-trips every uint64.
		v.Timestamp = time.Unix(int64(c.u64(field+".timestamp", j.Timestamp)), 0)
		c.fixed(field+".pubkey", j.Pubkey, v.Pubkey[:])
		obj = v
	default:
		return 0, nil, perr("type", "unsupported")
	}
	return marshal(&c, field, version, obj)
}

func le64(v uint64) []byte { return binary.LittleEndian.AppendUint64(nil, v) }

func ret(c *conv, v eth.Fork, body []byte) (eth.Fork, []byte, error) {
	if c.err != nil {
		return 0, nil, c.err
	}
	return v, body, nil
}

// marshal SSZ-encodes obj once every conversion succeeded.
func marshal(c *conv, field string, v eth.Fork, obj interface{ MarshalSSZ() ([]byte, error) }) (eth.Fork, []byte, error) {
	if c.err != nil {
		return 0, nil, c.err
	}
	b, err := obj.MarshalSSZ()
	if err != nil {
		return 0, nil, perr(field, "cannot encode: "+err.Error())
	}
	return v, b, nil
}

func parseVersion(field, s string) (eth.Fork, error) {
	if s == "" {
		return 0, perr(field, "required")
	}
	f, ok := eth.ParseFork(s)
	if !ok {
		return 0, perr(field, fmt.Sprintf("unknown fork %q", truncate(s)))
	}
	return f, nil
}

func blockV2(raw json.RawMessage) (eth.Fork, []byte, error) {
	var j struct {
		Version     string          `json:"version"`
		Block       json.RawMessage `json:"block"`
		BlockHeader json.RawMessage `json:"block_header"`
	}
	if err := strict("beacon_block", raw, &j); err != nil {
		return 0, nil, err
	}
	v, err := parseVersion("beacon_block.version", j.Version)
	if err != nil {
		return 0, nil, err
	}
	var c conv
	full := v == eth.ForkPhase0 || v == eth.ForkAltair
	want, other, wantRaw, otherRaw := "beacon_block.block", "beacon_block.block_header", j.Block, j.BlockHeader
	if !full {
		want, other, wantRaw, otherRaw = other, want, otherRaw, wantRaw
	}
	if present(otherRaw) {
		return 0, nil, perr(other, "not allowed for version "+v.String())
	}
	if !present(wantRaw) {
		return 0, nil, perr(want, "required for version "+v.String())
	}
	var obj interface{ MarshalSSZ() ([]byte, error) }
	switch v {
	case eth.ForkPhase0:
		var b beaconBlockJSON[blockBodyJSON]
		if err := strict(want, wantRaw, &b); err != nil {
			return 0, nil, err
		}
		obj = c.phase0Block(want, &b)
	case eth.ForkAltair:
		var b beaconBlockJSON[altairBlockBodyJSON]
		if err := strict(want, wantRaw, &b); err != nil {
			return 0, nil, err
		}
		obj = c.altairBlock(want, &b)
	default:
		var h blockHeaderJSON
		if err := strict(want, wantRaw, &h); err != nil {
			return 0, nil, err
		}
		obj = c.blockHeader(want, &h)
	}
	return marshal(&c, want, v, obj)
}

type aggregateAndProofJSON[A any] struct {
	AggregatorIndex string `json:"aggregator_index"`
	Aggregate       *A     `json:"aggregate"`
	SelectionProof  string `json:"selection_proof"`
}

// aggregate handles both aggregate types. V2 is {version, data}; both types also accept the
// unwrapped aggregate, which is Electra when aggregate.committee_bits is present.
func aggregate(t eth.SignType, raw json.RawMessage) (eth.Fork, []byte, error) {
	field := "aggregate_and_proof"
	var probe struct {
		Version   *string         `json:"version"`
		Data      json.RawMessage `json:"data"`
		Aggregate *struct {
			CommitteeBits json.RawMessage `json:"committee_bits"`
		} `json:"aggregate"`
	}
	if err := json.Unmarshal(raw, &probe); err != nil {
		return 0, nil, jsonErr(field, err)
	}
	var v eth.Fork
	data := raw
	if t == eth.TypeAggregateAndProofV2 && probe.Version != nil {
		var w struct {
			Version string          `json:"version"`
			Data    json.RawMessage `json:"data"`
		}
		if err := strict(field, raw, &w); err != nil {
			return 0, nil, err
		}
		var err error
		if v, err = parseVersion(field+".version", w.Version); err != nil {
			return 0, nil, err
		}
		field += ".data"
		if !present(w.Data) {
			return 0, nil, perr(field, "required")
		}
		data = w.Data
	} else {
		v = eth.ForkPhase0
		if probe.Aggregate != nil && present(probe.Aggregate.CommitteeBits) {
			v = eth.ForkElectra
		}
	}
	var c conv
	if v >= eth.ForkElectra {
		var j aggregateAndProofJSON[electraAttestationJSON]
		if err := strict(field, data, &j); err != nil {
			return 0, nil, err
		}
		a := &electra.AggregateAndProof{AggregatorIndex: phase0.ValidatorIndex(c.u64(field+".aggregator_index", j.AggregatorIndex))}
		a.Aggregate = c.electraAttestation(field+".aggregate", j.Aggregate)
		c.fixed(field+".selection_proof", j.SelectionProof, a.SelectionProof[:])
		return marshal(&c, field, v, a)
	}
	var j aggregateAndProofJSON[attestationJSON]
	if err := strict(field, data, &j); err != nil {
		return 0, nil, err
	}
	a := &phase0.AggregateAndProof{AggregatorIndex: phase0.ValidatorIndex(c.u64(field+".aggregator_index", j.AggregatorIndex))}
	a.Aggregate = c.attestation(field+".aggregate", j.Aggregate)
	c.fixed(field+".selection_proof", j.SelectionProof, a.SelectionProof[:])
	return marshal(&c, field, v, a)
}

// depositBody encodes DepositMessage ‖ genesis_fork_version (Bytes4).
func depositBody(raw json.RawMessage) (eth.Fork, []byte, error) {
	const field = "deposit"
	var j struct {
		Pubkey                string `json:"pubkey"`
		WithdrawalCredentials string `json:"withdrawal_credentials"`
		Amount                string `json:"amount"`
		GenesisForkVersion    string `json:"genesis_fork_version"`
	}
	if err := strict(field, raw, &j); err != nil {
		return 0, nil, err
	}
	var c conv
	m := &phase0.DepositMessage{Amount: phase0.Gwei(c.u64(field+".amount", j.Amount))}
	c.fixed(field+".pubkey", j.Pubkey, m.PublicKey[:])
	m.WithdrawalCredentials = c.hexBytes(field+".withdrawal_credentials", j.WithdrawalCredentials, 32, 32)
	var gfv [4]byte
	c.fixed(field+".genesis_fork_version", j.GenesisForkVersion, gfv[:])
	v, b, err := marshal(&c, field, eth.ForkUnset, m)
	if err != nil {
		return 0, nil, err
	}
	return v, append(b, gfv[:]...), nil
}

func contribution(c *conv, field string, raw json.RawMessage) *altair.ContributionAndProof {
	var j struct {
		AggregatorIndex string `json:"aggregator_index"`
		SelectionProof  string `json:"selection_proof"`
		Contribution    *struct {
			Slot              string `json:"slot"`
			BeaconBlockRoot   string `json:"beacon_block_root"`
			SubcommitteeIndex string `json:"subcommittee_index"`
			AggregationBits   string `json:"aggregation_bits"`
			Signature         string `json:"signature"`
		} `json:"contribution"`
	}
	if err := strict(field, raw, &j); err != nil {
		c.err = err.(*ParseError)
		return nil
	}
	a := &altair.ContributionAndProof{AggregatorIndex: phase0.ValidatorIndex(c.u64(field+".aggregator_index", j.AggregatorIndex))}
	c.fixed(field+".selection_proof", j.SelectionProof, a.SelectionProof[:])
	if j.Contribution == nil {
		c.fail(field+".contribution", "required")
		return nil
	}
	f := field + ".contribution"
	k := &altair.SyncCommitteeContribution{
		Slot:              phase0.Slot(c.u64(f+".slot", j.Contribution.Slot)),
		SubcommitteeIndex: c.u64(f+".subcommittee_index", j.Contribution.SubcommitteeIndex),
		AggregationBits:   c.hexBytes(f+".aggregation_bits", j.Contribution.AggregationBits, syncContributionBitsBytes, syncContributionBitsBytes),
	}
	c.fixed(f+".beacon_block_root", j.Contribution.BeaconBlockRoot, k.BeaconBlockRoot[:])
	c.fixed(f+".signature", j.Contribution.Signature, k.Signature[:])
	a.Contribution = k
	return a
}
