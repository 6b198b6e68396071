package protect

import (
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"strconv"
	"testing"
)

// wouldSign reports whether the store would sign a request now, without recording it.
func wouldSign(t testing.TB, s *Store, pub [48]byte, isBlock bool, a, b uint64, r [32]byte) bool {
	t.Helper()
	e := s.entry(pub)
	e.mu.Lock()
	defer e.mu.Unlock()
	var v verdict
	var err error
	if isBlock {
		v, _, err = s.checkBlock(pub, e, a, r)
	} else {
		v, _, err = s.checkAttestation(pub, e, a, b, r)
	}
	if err != nil {
		t.Fatalf("check: %v", err)
	}
	return v != refuse
}

// gridMax bounds the slots and epochs of random histories and of the request grid.
const gridMax = 24

// gridRoots are the signing roots tried at each grid point.
var gridRoots = [][32]byte{root(1), root(2), root(3), {}}

// refusals returns the grid requests s refuses for pub, as keys of a set.
func refusals(t testing.TB, s *Store, pub [48]byte) map[string]bool {
	t.Helper()
	out := map[string]bool{}
	for a := uint64(0); a <= gridMax+2; a++ {
		for i, r := range gridRoots {
			if !wouldSign(t, s, pub, true, a, 0, r) {
				out[fmt.Sprintf("block %d root %d", a, i)] = true
			}
			for b := a; b <= gridMax+2; b++ {
				if !wouldSign(t, s, pub, false, a, b, r) {
					out[fmt.Sprintf("vote (%d,%d) root %d", a, b, i)] = true
				}
			}
		}
	}
	return out
}

// requireSuperset fails unless every refusal of before is in after.
func requireSuperset(t testing.TB, before, after map[string]bool, what string) {
	t.Helper()
	n := 0
	for k := range before {
		if !after[k] {
			if n++; n <= 5 {
				t.Errorf("%s: %s was refused, now it would be signed", what, k)
			}
		}
	}
	if n > 5 {
		t.Errorf("%s: %d more", what, n-5)
	}
}

// randomOps signs random requests for pub (small slots and epochs, so they conflict).
func randomOps(t testing.TB, s *Store, rng *rand.Rand, pub [48]byte, n int) {
	t.Helper()
	for range n {
		var err error
		r := root(byte(1 + rng.IntN(3)))
		if rng.IntN(3) == 0 {
			err = s.CheckBlock(pub, rng.Uint64N(gridMax), r)
		} else {
			src := rng.Uint64N(gridMax)
			err = s.CheckAttestation(pub, src, src+rng.Uint64N(4), r)
		}
		if _, ok := err.(*Refusal); err != nil && !ok {
			t.Fatal(err)
		}
	}
}

// randomInterchange builds an interchange for pubs with random, possibly slashable
// records (roots present or not).
func randomInterchange(rng *rand.Rand, gvr [32]byte, pubs ...[48]byte) []byte {
	type b struct {
		Slot string `json:"slot"`
		Root string `json:"signing_root,omitempty"`
	}
	type a struct {
		S    string `json:"source_epoch"`
		T    string `json:"target_epoch"`
		Root string `json:"signing_root,omitempty"`
	}
	type k struct {
		Pubkey string `json:"pubkey"`
		Blocks []b    `json:"signed_blocks"`
		Atts   []a    `json:"signed_attestations"`
	}
	rt := func() string {
		if rng.IntN(2) == 0 {
			return ""
		}
		r := root(byte(1 + rng.IntN(3)))
		return "0x" + hex.EncodeToString(r[:])
	}
	u := func(v uint64) string { return strconv.FormatUint(v, 10) }
	var data []k
	for _, pub := range pubs {
		e := k{Pubkey: "0x" + hex.EncodeToString(pub[:]), Blocks: []b{}, Atts: []a{}}
		for range rng.IntN(4) {
			e.Blocks = append(e.Blocks, b{u(rng.Uint64N(gridMax)), rt()})
		}
		for range rng.IntN(5) {
			src := rng.Uint64N(gridMax)
			tgt := src + rng.Uint64N(5)
			if rng.IntN(8) == 0 && src > 1 {
				tgt = src - 1 // source after target: slashable in itself
			}
			e.Atts = append(e.Atts, a{u(src), u(tgt), rt()})
		}
		data = append(data, e)
	}
	doc, _ := json.Marshal(map[string]any{
		"metadata": map[string]string{"interchange_format_version": "5", "genesis_validators_root": "0x" + hex.EncodeToString(gvr[:])},
		"data":     data,
	})
	return doc
}
