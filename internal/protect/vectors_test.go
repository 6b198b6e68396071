package protect

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// vectorFile is one file of the EIP-3076 interchange test suite (testdata/eip3076).
type vectorFile struct {
	Name  string `json:"name"`
	GVR   string `json:"genesis_validators_root"`
	Steps []struct {
		ShouldSucceed         bool            `json:"should_succeed"`
		ContainsSlashableData bool            `json:"contains_slashable_data"`
		Interchange           json.RawMessage `json:"interchange"`
		Blocks                []struct {
			Pubkey                string `json:"pubkey"`
			Slot                  string `json:"slot"`
			SigningRoot           string `json:"signing_root"`
			ShouldSucceed         bool   `json:"should_succeed"`
			ShouldSucceedComplete bool   `json:"should_succeed_complete"`
		} `json:"blocks"`
		Attestations []struct {
			Pubkey                string `json:"pubkey"`
			SourceEpoch           string `json:"source_epoch"`
			TargetEpoch           string `json:"target_epoch"`
			SigningRoot           string `json:"signing_root"`
			ShouldSucceed         bool   `json:"should_succeed"`
			ShouldSucceedComplete bool   `json:"should_succeed_complete"`
		} `json:"attestations"`
	} `json:"steps"`
}

func mustHex(t *testing.T, s string, n int) []byte {
	t.Helper()
	b, err := hex.DecodeString(strings.TrimPrefix(s, "0x"))
	if err != nil || len(b) != n || !strings.HasPrefix(s, "0x") {
		t.Fatalf("bad hex %q (want %d bytes)", s, n)
	}
	return b
}

func mustUint(t *testing.T, s string) uint64 {
	t.Helper()
	v, err := strconv.ParseUint(s, 10, 64)
	if err != nil {
		t.Fatalf("bad integer %q", s)
	}
	return v
}

// TestInterchangeVectors_Inv5 runs every file of the EIP-3076 suite against
// should_succeed_complete: a fresh store per file pinned to the file's genesis validators
// root, each step's interchange imported (failing iff should_succeed is false; slashable
// data is imported), then every block and attestation through CheckBlock and
// CheckAttestation, the functions the core calls. No case is skipped; a false refusal
// fails as much as a false success.
func TestInterchangeVectors_Inv5(t *testing.T) {
	files, err := filepath.Glob("testdata/eip3076/*.json")
	if err != nil {
		t.Fatal(err)
	}
	var n, steps, blocks, atts int
	for _, f := range files {
		if filepath.Base(f) == "schema.json" {
			continue
		}
		n++
		raw, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var v vectorFile
		dec := json.NewDecoder(bytes.NewReader(raw))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&v); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		steps += len(v.Steps)
		for _, st := range v.Steps {
			blocks += len(st.Blocks)
			atts += len(st.Attestations)
		}
		t.Run(v.Name, func(t *testing.T) {
			t.Parallel()
			s, err := Open(filepath.Join(t.TempDir(), "p.db"), Options{GenesisValidatorsRoot: [32]byte(mustHex(t, v.GVR, 32))})
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			for i, st := range v.Steps {
				_, err := s.ImportInterchange(st.Interchange)
				if (err == nil) != st.ShouldSucceed {
					t.Fatalf("step %d: import error %v, should_succeed %v", i, err, st.ShouldSucceed)
				}
				for j, b := range st.Blocks {
					var root [32]byte
					if b.SigningRoot != "" {
						root = [32]byte(mustHex(t, b.SigningRoot, 32))
					}
					err := s.CheckBlock([48]byte(mustHex(t, b.Pubkey, 48)), mustUint(t, b.Slot), root)
					checkOutcome(t, err, b.ShouldSucceedComplete, "step %d block %d (slot %s)", i, j, b.Slot)
				}
				for j, a := range st.Attestations {
					var root [32]byte
					if a.SigningRoot != "" {
						root = [32]byte(mustHex(t, a.SigningRoot, 32))
					}
					err := s.CheckAttestation([48]byte(mustHex(t, a.Pubkey, 48)), mustUint(t, a.SourceEpoch), mustUint(t, a.TargetEpoch), root)
					checkOutcome(t, err, a.ShouldSucceedComplete, "step %d attestation %d (%s, %s)", i, j, a.SourceEpoch, a.TargetEpoch)
				}
			}
		})
	}
	// The suite as described in testdata/eip3076/README.md: nothing silently missing.
	if n != 38 || steps != 49 || blocks != 71 || atts != 79 {
		t.Errorf("suite has %d files, %d steps, %d block and %d attestation checks; want 38, 49, 71, 79", n, steps, blocks, atts)
	}
}

func checkOutcome(t *testing.T, err error, want bool, format string, args ...any) {
	t.Helper()
	var ref *Refusal
	switch {
	case want && err != nil:
		t.Errorf(format+": refused, want signed: %v", append(args, err)...)
	case !want && err == nil:
		t.Errorf(format+": signed, want refused", args...)
	case !want && !errors.As(err, &ref):
		t.Errorf(format+": want a *Refusal, got %v", append(args, err)...)
	}
}
