package protect

import (
	"encoding/json"
	"errors"
	"math/rand/v2"
	"path/filepath"
	"strings"
	"testing"

	bolt "go.etcd.io/bbolt"
)

const (
	hexGVRA = "0x0100000000000000000000000000000000000000000000000000000000000000"
	hexPubA = "0x0a0000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000"
)

// doc builds an interchange from a data array, with the given metadata fields.
func doc(version, gvr, data string) string {
	return `{"metadata":{"interchange_format_version":"` + version + `","genesis_validators_root":"` + gvr + `"},"data":` + data + `}`
}

// TestImportInterchange_Strict_Inv7: the parser refuses anything but a well-formed
// EIP-3076 version 5 document for the pinned network, and a refused import changes nothing.
func TestImportInterchange_Strict_Inv7(t *testing.T) {
	good := `[{"pubkey":"` + hexPubA + `","signed_blocks":[{"slot":"5"}],"signed_attestations":[{"source_epoch":"1","target_epoch":"2","signing_root":"` + hexGVRA + `"}]}]`
	cases := []struct {
		name string
		doc  string
		want error // nil: imported
	}{
		{"valid", doc("5", hexGVRA, good), nil},
		{"valid, empty data", doc("5", hexGVRA, `[]`), nil},
		{"version 4", doc("4", hexGVRA, good), ErrInvalidInterchange},
		{"version as number", `{"metadata":{"interchange_format_version":5,"genesis_validators_root":"` + hexGVRA + `"},"data":[]}`, ErrInvalidInterchange},
		{"another network", doc("5", "0x02"+strings.Repeat("0", 62), good), ErrInterchangeNetwork},
		{"short genesis root", doc("5", hexGVRA[:64], good), ErrInvalidInterchange},
		{"unknown top-level field", strings.Replace(doc("5", hexGVRA, good), `"data"`, `"extra":1,"data"`, 1), ErrInvalidInterchange},
		{"unknown metadata field", strings.Replace(doc("5", hexGVRA, good), `"metadata":{`, `"metadata":{"x":"y",`, 1), ErrInvalidInterchange},
		{"unknown key field", doc("5", hexGVRA, strings.Replace(good, `"pubkey"`, `"note":"x","pubkey"`, 1)), ErrInvalidInterchange},
		{"unknown block field", doc("5", hexGVRA, strings.Replace(good, `{"slot":"5"}`, `{"slot":"5","epoch":"0"}`, 1)), ErrInvalidInterchange},
		{"field name case", doc("5", hexGVRA, strings.Replace(good, `"pubkey"`, `"Pubkey"`, 1)), ErrInvalidInterchange},
		{"duplicate field", doc("5", hexGVRA, strings.Replace(good, `{"slot":"5"}`, `{"slot":"5","slot":"6"}`, 1)), ErrInvalidInterchange},
		{"missing pubkey", doc("5", hexGVRA, `[{"signed_blocks":[],"signed_attestations":[]}]`), ErrInvalidInterchange},
		{"missing signed_blocks", doc("5", hexGVRA, `[{"pubkey":"`+hexPubA+`","signed_attestations":[]}]`), ErrInvalidInterchange},
		{"missing target", doc("5", hexGVRA, strings.Replace(good, `"target_epoch":"2",`, ``, 1)), ErrInvalidInterchange},
		{"missing metadata", `{"data":[]}`, ErrInvalidInterchange},
		{"short pubkey", doc("5", hexGVRA, strings.Replace(good, hexPubA, hexPubA[:96], 1)), ErrInvalidInterchange},
		{"pubkey without 0x", doc("5", hexGVRA, strings.Replace(good, hexPubA, "00"+hexPubA[2:], 1)), ErrInvalidInterchange},
		{"pubkey not hex", doc("5", hexGVRA, strings.Replace(good, hexPubA, "0xzz"+hexPubA[4:], 1)), ErrInvalidInterchange},
		{"slot as number", doc("5", hexGVRA, strings.Replace(good, `"slot":"5"`, `"slot":5`, 1)), ErrInvalidInterchange},
		{"negative slot", doc("5", hexGVRA, strings.Replace(good, `"slot":"5"`, `"slot":"-5"`, 1)), ErrInvalidInterchange},
		{"slot with sign", doc("5", hexGVRA, strings.Replace(good, `"slot":"5"`, `"slot":"+5"`, 1)), ErrInvalidInterchange},
		{"hex slot", doc("5", hexGVRA, strings.Replace(good, `"slot":"5"`, `"slot":"0x5"`, 1)), ErrInvalidInterchange},
		{"empty slot", doc("5", hexGVRA, strings.Replace(good, `"slot":"5"`, `"slot":""`, 1)), ErrInvalidInterchange},
		{"slot above uint64", doc("5", hexGVRA, strings.Replace(good, `"slot":"5"`, `"slot":"18446744073709551616"`, 1)), ErrInvalidInterchange},
		{"largest slot", doc("5", hexGVRA, strings.Replace(good, `"slot":"5"`, `"slot":"18446744073709551615"`, 1)), nil},
		{"short signing root", doc("5", hexGVRA, strings.Replace(good, `"signing_root":"`+hexGVRA, `"signing_root":"`+hexGVRA[:64], 1)), ErrInvalidInterchange},
		{"null signing root", doc("5", hexGVRA, strings.Replace(good, `"signing_root":"`+hexGVRA+`"`, `"signing_root":null`, 1)), ErrInvalidInterchange},
		{"data not an array", doc("5", hexGVRA, `{}`), ErrInvalidInterchange},
		{"trailing data", doc("5", hexGVRA, good) + `{}`, ErrInvalidInterchange},
		{"truncated", doc("5", hexGVRA, good)[:100], ErrInvalidInterchange},
		{"not JSON", `metadata`, ErrInvalidInterchange},
		{"empty", ``, ErrInvalidInterchange},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := openT(t, filepath.Join(t.TempDir(), "p.db"))
			defer s.Close()
			rep, err := s.ImportInterchange([]byte(tc.doc))
			if tc.want == nil {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				return
			}
			if !errors.Is(err, tc.want) {
				t.Fatalf("want %v, got %v", tc.want, err)
			}
			if rep != nil || s.Stats().Keys != 0 {
				t.Fatalf("a refused import changed the store: %+v", s.Stats())
			}
		})
	}
}

// TestImportInterchange_ErrInterchangeTooLarge: the size limit is checked before parsing.
func TestImportInterchange_ErrInterchangeTooLarge(t *testing.T) {
	if _, err := parseInterchange(make([]byte, MaxInterchangeSize+1)); !errors.Is(err, ErrInterchangeTooLarge) {
		t.Fatalf("want ErrInterchangeTooLarge, got %v", err)
	}
}

// TestImportInterchange_ErrInvalidInterchange and ..._ErrInterchangeNetwork_Inv3 are rows
// of the strictness table; these name the sentinels once more on their own.
func TestImportInterchange_ErrInvalidInterchange(t *testing.T) {
	s := openT(t, filepath.Join(t.TempDir(), "p.db"))
	defer s.Close()
	if _, err := s.ImportInterchange([]byte(`{"metadata":{}}`)); !errors.Is(err, ErrInvalidInterchange) {
		t.Fatalf("want ErrInvalidInterchange, got %v", err)
	}
}

func TestImportInterchange_ErrInterchangeNetwork_Inv3(t *testing.T) {
	s := openT(t, filepath.Join(t.TempDir(), "p.db"))
	defer s.Close()
	if _, err := s.ImportInterchange([]byte(doc("5", "0x"+strings.Repeat("0", 64), `[]`))); !errors.Is(err, ErrInterchangeNetwork) {
		t.Fatalf("want ErrInterchangeNetwork, got %v", err)
	}
}

// TestImportInterchange_AllOrNothing: a failure in the middle of the transaction leaves
// every key as it was.
func TestImportInterchange_AllOrNothing(t *testing.T) {
	s := openT(t, filepath.Join(t.TempDir(), "p.db"))
	defer s.Close()
	if err := s.CheckBlock(pubB, 1, root(1)); err != nil {
		t.Fatal(err)
	}
	// Corrupt B's summary on disk only (memory keeps the good one), once it is in bbolt.
	if err := s.settleAll(); err != nil {
		t.Fatal(err)
	}
	s.db.Update(func(tx *bolt.Tx) error { return tx.Bucket(bucketEth).Bucket(pubB[:]).Put(keySummary, []byte{9}) })
	ic := randomInterchange(rand.New(rand.NewPCG(1, 2)), gvrA, pubA, pubB) // pubA first, then the corrupt pubB
	if _, err := s.ImportInterchange(ic); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("want ErrCorrupt, got %v", err)
	}
	if exp, _ := s.ExportInterchange([][48]byte{pubA}); strings.Contains(string(exp), hexPubA) {
		t.Fatalf("key A was imported although the import failed:\n%s", exp)
	}
}

// TestImportInterchange_NeverLowers_Inv5: importing any interchange, slashable or not,
// into any history refuses everything refused before, and every imported vote and block
// is refused afterwards with another root.
func TestImportInterchange_NeverLowers_Inv5(t *testing.T) {
	for seed := uint64(0); seed < 60; seed++ {
		rng := rand.New(rand.NewPCG(seed, 7))
		s := openT(t, filepath.Join(t.TempDir(), "p.db"))
		randomOps(t, s, rng, pubA, rng.IntN(12))
		before := refusals(t, s, pubA)
		ic := randomInterchange(rng, gvrA, pubA, pubA)
		if _, err := s.ImportInterchange(ic); err != nil {
			t.Fatalf("seed %d: %v", seed, err)
		}
		after := refusals(t, s, pubA)
		requireSuperset(t, before, after, "import")
		var d struct {
			Data []struct {
				Blocks []struct{ Slot string } `json:"signed_blocks"`
				Atts   []struct {
					S string `json:"source_epoch"`
					T string `json:"target_epoch"`
				} `json:"signed_attestations"`
			} `json:"data"`
		}
		json.Unmarshal(ic, &d)
		for _, k := range d.Data {
			for _, b := range k.Blocks {
				if wouldSign(t, s, pubA, true, mustUint(t, b.Slot), 0, root(9)) {
					t.Errorf("seed %d: imported block at slot %s can be signed again with another root", seed, b.Slot)
				}
			}
			for _, a := range k.Atts {
				if wouldSign(t, s, pubA, false, mustUint(t, a.S), mustUint(t, a.T), root(9)) {
					t.Errorf("seed %d: imported vote (%s,%s) can be signed again with another root", seed, a.S, a.T)
				}
			}
		}
		s.Close()
	}
}

// TestExportRoundTrip_Inv5: export, import into a fresh store: every refusal of the
// original is still a refusal, whatever history (signed, imported, slashable, pruned)
// the original holds.
func TestExportRoundTrip_Inv5(t *testing.T) {
	for seed := uint64(0); seed < 60; seed++ {
		rng := rand.New(rand.NewPCG(seed, 11))
		a := openT(t, filepath.Join(t.TempDir(), "a.db"))
		for range 1 + rng.IntN(3) {
			randomOps(t, a, rng, pubA, rng.IntN(15))
			if rng.IntN(2) == 0 {
				if _, err := a.ImportInterchange(randomInterchange(rng, gvrA, pubA)); err != nil {
					t.Fatal(err)
				}
			}
			if rng.IntN(3) == 0 {
				if _, err := a.Prune(1 + rng.Uint64N(6)); err != nil {
					t.Fatal(err)
				}
			}
		}
		exp, err := a.ExportInterchange(nil)
		if err != nil {
			t.Fatal(err)
		}
		b := openT(t, filepath.Join(t.TempDir(), "b.db"))
		if _, err := b.ImportInterchange(exp); err != nil {
			t.Fatalf("seed %d: own export refused: %v\n%s", seed, err, exp)
		}
		requireSuperset(t, refusals(t, a, pubA), refusals(t, b, pubA), "round trip")
		// Exporting again gives a document that imports to the same protection.
		exp2, _ := b.ExportInterchange([][48]byte{pubA, pubB})
		c := openT(t, filepath.Join(t.TempDir(), "c.db"))
		if _, err := c.ImportInterchange(exp2); err != nil {
			t.Fatal(err)
		}
		requireSuperset(t, refusals(t, b, pubA), refusals(t, c, pubA), "second round trip")
		a.Close()
		b.Close()
		c.Close()
	}
}

// TestExport_Watermarks: a raised watermark without a record is exported as a record
// without signing root.
func TestExport_Watermarks(t *testing.T) {
	s := openT(t, filepath.Join(t.TempDir(), "p.db"))
	defer s.Close()
	for e := uint64(0); e < 20; e++ {
		if err := s.CheckBlock(pubA, 32*e, root(1)); err != nil {
			t.Fatal(err)
		}
		if err := s.CheckAttestation(pubA, e, e+1, root(2)); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s.Prune(5); err != nil {
		t.Fatal(err)
	}
	exp, err := s.ExportInterchange(nil)
	if err != nil {
		t.Fatal(err)
	}
	var d struct {
		Data []struct {
			Blocks []exportBlock `json:"signed_blocks"`
			Atts   []exportAtt   `json:"signed_attestations"`
		} `json:"data"`
	}
	if err := json.Unmarshal(exp, &d); err != nil || len(d.Data) != 1 {
		t.Fatalf("export: %v\n%s", err, exp)
	}
	// Blocks at 32e for e < 20, keep 5 epochs = 160 slots up to 608: 480..608 stay, and
	// the watermark 448 (the last deleted block) is exported without root.
	if b := d.Data[0].Blocks; b[0] != (exportBlock{Slot: "448"}) || len(b) != 6 {
		t.Errorf("block watermark not exported: %+v", b)
	}
	// Votes (e, e+1), keep 5 targets below 20: 16..20 stay, watermark (14, 15) from the
	// last deleted vote (absorbed), exported without root.
	if a := d.Data[0].Atts; a[len(a)-1] != (exportAtt{Source: "14", Target: "15"}) || len(a) != 6 {
		t.Errorf("vote watermark not exported: %+v", a)
	}
	if exp, _ := s.ExportInterchange([][48]byte{pubB}); strings.Contains(string(exp), "pubkey") {
		t.Errorf("a key without history was exported:\n%s", exp)
	}
}
