package eth

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"os"
	"strings"
	"testing"
)

type vector struct {
	Name     string `json:"name"`
	Type     string `json:"type"`
	Version  string `json:"version"`
	ForkInfo *struct {
		PreviousVersion       string `json:"previous_version"`
		CurrentVersion        string `json:"current_version"`
		Epoch                 uint64 `json:"epoch"`
		GenesisValidatorsRoot string `json:"genesis_validators_root"`
	} `json:"fork_info"`
	GenesisValidatorsRoot string `json:"genesis_validators_root"`
	ForkAtEpoch0          string `json:"fork_at_epoch_0"`
	Body                  string `json:"body"`
	SigningRoot           string `json:"signing_root"`
}

func unhex(t testing.TB, s string, n int) []byte {
	t.Helper()
	b, err := hex.DecodeString(strings.TrimPrefix(s, "0x"))
	if err != nil || (n >= 0 && len(b) != n) {
		t.Fatalf("bad hex %q", s)
	}
	return b
}

func loadVectors(t testing.TB) []vector {
	t.Helper()
	b, err := os.ReadFile("testdata/web3signer_vectors.json")
	if err != nil {
		t.Fatal(err)
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	var vs []vector
	if err := dec.Decode(&vs); err != nil {
		t.Fatal(err)
	}
	return vs
}

// exampleNetwork is the pinned network that reproduces a Web3Signer example's domain.
func exampleNetwork(gvr [32]byte, atZero Fork) *Network {
	n := &Network{Name: "example", ConfigName: "example", PresetBase: "mainnet", SlotsPerEpoch: 32,
		GenesisForkVersion: [4]byte{0, 0, 0, 1}, GenesisValidatorsRoot: gvr}
	for f := ForkAltair; f <= ForkFulu; f++ {
		s := n.sched(f)
		s.Version, s.Epoch = [4]byte{0, 0, 0, 1}, 1
		if f <= atZero {
			s.Epoch = 0
		}
	}
	return n
}

// vectorRequest turns a vector into a Request and its pinned network.
func vectorRequest(t testing.TB, v vector) (*Network, *Request, [32]byte) {
	typ, ok := ParseSignType(v.Type)
	if !ok {
		t.Fatalf("%s: bad type", v.Name)
	}
	r := &Request{Type: typ, Body: unhex(t, v.Body, -1)}
	if v.Version != "" {
		if r.Version, ok = ParseFork(v.Version); !ok {
			t.Fatalf("%s: bad version", v.Name)
		}
	}
	if fi := v.ForkInfo; fi != nil {
		r.ForkInfo = &ForkInfo{Epoch: fi.Epoch}
		copy(r.ForkInfo.PreviousVersion[:], unhex(t, fi.PreviousVersion, 4))
		copy(r.ForkInfo.CurrentVersion[:], unhex(t, fi.CurrentVersion, 4))
		copy(r.ForkInfo.GenesisValidatorsRoot[:], unhex(t, fi.GenesisValidatorsRoot, 32))
	}
	var gvr, want [32]byte
	copy(gvr[:], unhex(t, v.GenesisValidatorsRoot, 32))
	copy(want[:], unhex(t, v.SigningRoot, 32))
	atZero, ok := ParseFork(v.ForkAtEpoch0)
	if !ok {
		t.Fatalf("%s: bad fork_at_epoch_0", v.Name)
	}
	return exampleNetwork(gvr, atZero), r, want
}

// TestSignableWeb3SignerVectors_Inv2_Inv3: every example's signing root is reproduced, with
// and without the caller's signingRoot, and every type and version is covered.
func TestSignableWeb3SignerVectors_Inv2_Inv3(t *testing.T) {
	seen := map[SignType]bool{}
	for _, v := range loadVectors(t) {
		t.Run(v.Name, func(t *testing.T) {
			n, r, want := vectorRequest(t, v)
			if err := n.Validate(); err != nil {
				t.Fatal(err)
			}
			seen[r.Type] = true
			s, err := n.Signable(r)
			if err != nil {
				t.Fatal(err)
			}
			if s.SigningRoot != want {
				t.Fatalf("root %x, want %x", s.SigningRoot, want)
			}
			r.SigningRoot = &want
			if _, err := n.Signable(r); err != nil {
				t.Fatalf("with signingRoot: %v", err)
			}
			if s.Class == ClassInvalid {
				t.Fatal("invalid class")
			}
		})
	}
	for ty := TypeInvalid + 1; ty < typeEnd; ty++ {
		if !seen[ty] {
			t.Errorf("no vector for %s", ty)
		}
	}
}
