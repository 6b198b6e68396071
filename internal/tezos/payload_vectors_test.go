package tezos

import (
	"encoding/hex"
	"errors"
	"testing"
)

type opVector struct {
	Kind         string  `json:"kind"`
	Source       string  `json:"source"`
	Destination  string  `json:"destination"`
	Entrypoint   string  `json:"entrypoint"`
	Delegate     string  `json:"delegate"`
	PublicKey    string  `json:"public_key"`
	Fee          *uint64 `json:"fee"`
	Amount       *uint64 `json:"amount"`
	Balance      *uint64 `json:"balance"`
	Counter      *uint64 `json:"counter"`
	GasLimit     *uint64 `json:"gas_limit"`
	StorageLimit *uint64 `json:"storage_limit"`
}

type payloadVector struct {
	ID             string     `json:"id"`
	Hex            string     `json:"hex"`
	Kind           string     `json:"kind"`
	Note           string     `json:"note"`
	ChainID        string     `json:"chain_id"`
	Level          uint32     `json:"level"`
	Round          uint32     `json:"round"`
	OperationTag   byte       `json:"operation_tag"`
	Branch         string     `json:"branch"`
	PayloadHash    string     `json:"payload_hash"`
	Slot           *uint16    `json:"slot"`
	PayloadRound   uint32     `json:"payload_round"`
	Operations     []opVector `json:"operations"`
	OperationCount int        `json:"operation_count"`
}

type payloadsFile struct {
	Source   string          `json:"source"`
	Payloads []payloadVector `json:"payloads"`
}

func loadPayloads(t testing.TB) []payloadVector {
	var f payloadsFile
	loadVectors(t, "payloads.json", &f)
	if len(f.Payloads) < 40 {
		t.Fatalf("implausibly few payloads: %d", len(f.Payloads))
	}
	return f.Payloads
}

// TestPayloadVectors_Inv7 decodes every real payload (Signatory's mainnet and
// sandbox payloads, Octez U025 encoding samples) and checks chain id, level,
// round, tags and the operation contents against the values the sources state.
func TestPayloadVectors_Inv7(t *testing.T) {
	for _, v := range loadPayloads(t) {
		t.Run(v.ID, func(t *testing.T) {
			t.Parallel()
			payload := unhex(t, v.Hex)
			req, err := Classify(payload)
			if v.Kind == "error" {
				if !errors.Is(err, ErrPayload) {
					t.Fatalf("Classify = %+v, %v; want a payload error (%s)", req, err, v.Note)
				}
				return
			}
			if err != nil {
				t.Fatalf("Classify: %v", err)
			}
			checkPayload(t, v, req)
		})
	}
}

func checkPayload(t *testing.T, v payloadVector, req *Request) {
	t.Helper()
	wantKind := map[string]RequestKind{"block": RequestBlock, "preattestation": RequestPreattestation,
		"attestation": RequestAttestation, "generic_operation": RequestGeneric}[v.Kind]
	if req.Kind != wantKind || wantKind == 0 {
		t.Fatalf("kind %s, want %s", req.Kind, v.Kind)
	}
	if v.Branch != "" && req.Branch.String() != v.Branch {
		t.Errorf("branch %s, want %s", req.Branch, v.Branch)
	}
	if req.Kind == RequestGeneric {
		checkOperations(t, v, req)
		if _, err := req.WatermarkKey(); !errors.Is(err, ErrNoWatermark) {
			t.Errorf("WatermarkKey of a generic operation: %v", err)
		}
		return
	}
	if req.ChainID.String() != v.ChainID || req.Level != v.Level || req.Round != v.Round {
		t.Errorf("chain %s level %d round %d, want %s %d %d", req.ChainID, req.Level, req.Round, v.ChainID, v.Level, v.Round)
	}
	if req.PayloadHash.String() != v.PayloadHash {
		t.Errorf("payload hash %s, want %s", req.PayloadHash, v.PayloadHash)
	}
	key, err := req.WatermarkKey()
	if err != nil || key.ChainID != req.ChainID || key.Level != v.Level || key.Round != v.Round {
		t.Errorf("WatermarkKey = %+v, %v", key, err)
	}
	wantClass := map[RequestKind]Class{RequestBlock: ClassBlock, RequestPreattestation: ClassPreattestation,
		RequestAttestation: ClassAttestation}[req.Kind]
	if key.Class != wantClass {
		t.Errorf("class %s, want %s", key.Class, wantClass)
	}
	if req.Kind == RequestBlock {
		if req.PayloadRound != v.PayloadRound {
			t.Errorf("payload round %d, want %d", req.PayloadRound, v.PayloadRound)
		}
		return
	}
	if req.OperationTag != v.OperationTag {
		t.Errorf("tag %d, want %d", req.OperationTag, v.OperationTag)
	}
	if v.Slot != nil && req.Slot != *v.Slot {
		t.Errorf("slot %d, want %d", req.Slot, *v.Slot)
	}
	bls := v.OperationTag == TagBLSModeAttestation || v.OperationTag == TagBLSModePreattestation
	for _, k := range []KeyKind{KeyKindEd25519, KeyKindSecp256k1, KeyKindP256, KeyKindBLS} {
		err := req.CheckKeyKind(k)
		if (err == nil) != (bls == (k == KeyKindBLS)) {
			t.Errorf("CheckKeyKind(%s) = %v", k, err)
		}
	}
}

func checkOperations(t *testing.T, v payloadVector, req *Request) {
	t.Helper()
	if len(req.Operations) != v.OperationCount {
		t.Fatalf("%d operations, want %d", len(req.Operations), v.OperationCount)
	}
	for i, w := range v.Operations {
		op := req.Operations[i]
		if op.Kind.String() != w.Kind {
			t.Errorf("op %d: kind %s, want %s", i, op.Kind, w.Kind)
		}
		if w.Source != "" && op.Source.String() != w.Source {
			t.Errorf("op %d: source %s, want %s", i, op.Source, w.Source)
		}
		if w.Destination != "" && op.Destination.String() != w.Destination {
			t.Errorf("op %d: destination %s, want %s", i, op.Destination, w.Destination)
		}
		if w.Entrypoint != "" && op.Entrypoint != w.Entrypoint {
			t.Errorf("op %d: entrypoint %s, want %s", i, op.Entrypoint, w.Entrypoint)
		}
		if w.Delegate != "" && (!op.HasDelegate || op.Delegate.String() != w.Delegate) {
			t.Errorf("op %d: delegate %s, want %s", i, op.Delegate, w.Delegate)
		}
		if w.Kind == "delegation" && w.Delegate == "" && op.HasDelegate {
			t.Errorf("op %d: withdrawal decoded with delegate %s", i, op.Delegate)
		}
		if w.PublicKey != "" && op.PublicKey.String() != w.PublicKey {
			t.Errorf("op %d: public key %s, want %s", i, op.PublicKey, w.PublicKey)
		}
		for _, f := range []struct {
			name string
			want *uint64
			got  uint64
		}{
			{"fee", w.Fee, op.Fee}, {"amount", w.Amount, op.Amount}, {"balance", w.Balance, op.Amount},
			{"counter", w.Counter, op.Counter}, {"gas_limit", w.GasLimit, op.GasLimit},
			{"storage_limit", w.StorageLimit, op.StorageLimit},
		} {
			if f.want != nil && *f.want != f.got {
				t.Errorf("op %d: %s %d, want %d", i, f.name, f.got, *f.want)
			}
		}
	}
}

// TestPayloadVectorsHexRoundTrip guards the vector file itself: every hex
// string decodes.
func TestPayloadVectorsHexRoundTrip(t *testing.T) {
	for _, v := range loadPayloads(t) {
		if _, err := hex.DecodeString(v.Hex); err != nil {
			t.Errorf("%s: %v", v.ID, err)
		}
	}
}
