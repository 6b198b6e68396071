package migrate

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/keyward/keyward/internal/keys"
	"github.com/keyward/keyward/internal/tezos"
)

const bakerPKH = "tz1RvhdZ5pcjD19vCCK9PgZpnmErTba3dsBs"

func mainnetChain(t *testing.T) tezos.ChainID {
	t.Helper()
	c, err := tezos.ParseChainID("NetXdQprcVkpaWU")
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// migrateTezos prepares (which imports into scratch stores only), checks the state is
// untouched, applies, and checks the key and its three marks are stored.
func migrateTezos(t *testing.T, o TezosOptions) {
	t.Helper()
	tg := newTarget(t)
	plan, err := PrepareTezos(o, tg.net.GenesisValidatorsRoot)
	if err != nil {
		t.Fatalf("PrepareTezos: %v", err)
	}
	if len(plan.Keys) != 1 || plan.Keys[0].Hash.String() != bakerPKH || plan.Keys[0].Marks != 3 {
		t.Fatalf("plan keys %+v", plan.Keys)
	}
	if l, _ := tg.keys.ListTezos(); len(l) != 0 {
		t.Fatal("prepare stored a key")
	}
	tg.prot = tg.openProtection(t)
	res, err := plan.Apply(tg.keys, tg.prot, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if res.Raised != 3 || len(res.Keys) != 1 || res.Keys[0].Status != keys.ImportImported {
		t.Fatalf("result %+v", res)
	}
	l, err := tg.keys.ListTezos()
	if err != nil || len(l) != 1 {
		t.Fatalf("stored tezos keys %+v, %v", l, err)
	}
	marks := tg.prot.TezosMarks()
	if len(marks) != 3 {
		t.Fatalf("marks %+v", marks)
	}
	for _, m := range marks {
		if m.Key.String() != bakerPKH || m.Level < 5726001 {
			t.Errorf("mark %+v", m)
		}
	}
}

// TestOctez migrates octez-signer's base directory: secret_keys and the three
// *_high_watermarks files.
func TestOctez(t *testing.T) {
	migrateTezos(t, TezosOptions{Source: Octez, From: fixture(t, "octez"), Chains: []tezos.ChainID{mainnetChain(t)}})
}

// TestSignatory migrates a Signatory configuration with a file vault and file watermarks.
func TestSignatory(t *testing.T) {
	src := fixture(t, "signatory")
	migrateTezos(t, TezosOptions{Source: Signatory, From: filepath.Join(src, "signatory.yaml"), Chains: []tezos.ChainID{mainnetChain(t)}})
}

// TestTezosRefusals: keys without watermarks, or with watermarks for other chains only,
// and keys or watermarks kept where keyward cannot take them are refused.
func TestTezosRefusals(t *testing.T) {
	ghostnet, err := tezos.ParseChainID("NetXnHfVqm9iesp")
	if err != nil {
		t.Fatal(err)
	}
	noMarks := fixture(t, "octez")
	for _, f := range []string{"block_high_watermarks", "preattestation_high_watermarks", "attestation_high_watermarks"} {
		os.Remove(filepath.Join(noMarks, f))
	}
	remote := fixture(t, "octez")
	os.WriteFile(filepath.Join(remote, "secret_keys"), []byte(`[{"name":"baker","value":"remote:tz1RvhdZ5pcjD19vCCK9PgZpnmErTba3dsBs"}]`), 0o600)
	sig := fixture(t, "signatory")
	cfg := filepath.Join(sig, "signatory.yaml")
	b, _ := os.ReadFile(cfg)
	aws := filepath.Join(sig, "aws.yaml")
	os.WriteFile(aws, []byte(strings.Replace(string(b), "driver: file", "driver: awskms", 1)), 0o600)

	for _, tc := range []struct {
		name string
		o    TezosOptions
		want error
	}{
		{"no watermarks", TezosOptions{Source: Octez, From: noMarks, Chains: []tezos.ChainID{mainnetChain(t)}}, ErrWouldLoseProtection},
		{"watermarks for another chain", TezosOptions{Source: Octez, From: fixture(t, "octez"), Chains: []tezos.ChainID{ghostnet}}, ErrWouldLoseProtection},
		{"remote key", TezosOptions{Source: Octez, From: remote, Chains: []tezos.ChainID{mainnetChain(t)}}, ErrUnsupported},
		{"signatory cloud vault", TezosOptions{Source: Signatory, From: aws, Chains: []tezos.ChainID{mainnetChain(t)}}, ErrUnsupported},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := PrepareTezos(tc.o, [32]byte{1})
			if !errors.Is(err, tc.want) {
				t.Fatalf("PrepareTezos: %v, want %v", err, tc.want)
			}
		})
	}
	// Accepted explicitly, a key without watermarks migrates.
	p, err := PrepareTezos(TezosOptions{Source: Octez, From: noMarks, Chains: []tezos.ChainID{mainnetChain(t)}, AcceptMissingHistory: true}, [32]byte{1})
	if err != nil || len(p.Keys) != 1 || p.Keys[0].Marks != 0 {
		t.Fatalf("accepted: %+v %v", p, err)
	}
}
