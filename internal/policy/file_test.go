package policy

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/keyward/keyward/internal/tezos"
)

// TestParse_Invalid: each bad file is refused with ErrInvalid and names what is wrong, so
// that a reload can keep the old policy and say why.
func TestParse_Invalid(t *testing.T) {
	pub := "0x" + strings.Repeat("ab", 48)
	tests := []struct{ name, file, want string }{
		{"unknown top-level key", "[ethereum]\n", "unknown key"},
		{"unknown key in a table", "[eth.default]\nexits = \"allow\"\n", "exits"},
		{"bad action", "[eth.default]\nexit = \"yes\"\n", `exit: "yes" is not refuse, allow or approve`},
		{"wrong type", "[eth.default]\ngas_limit_min = \"1\"\n", "policy.toml:2"},
		{"negative gas limit", "[eth.default]\ngas_limit_min = -1\n", "policy.toml"},
		{"min above max", "[eth.default]\ngas_limit_min = 2\ngas_limit_max = 1\n", "gas_limit_min: 2 is above gas_limit_max 1"},
		{"bad pubkey", "[eth.keys.\"0x1234\"]\n", `[eth.keys."0x1234"]`},
		{"same pubkey twice", "[eth.keys.\"" + pub + "\"]\n[eth.keys.\"0x" + strings.ToUpper(pub[2:4]) + pub[4:] + "\"]\n", "key given twice"},
		{"bad fee recipient", "[eth.default]\nfee_recipients = [\"0x12\"]\n", "fee_recipients"},
		{"bad tezos key", "[tezos.keys.\"tz9abc\"]\n", `[tezos.keys."tz9abc"]`},
		{"bad destination", "[tezos.default]\ntransaction = \"allow\"\ndestinations = [\"tz1nope\"]\n", "destinations"},
		{"bad KT1 checksum", "[tezos.default]\ntransaction = \"allow\"\ndestinations = [\"KT1" + strings.Repeat("1", 33) + "\"]\n", "KT1"},
		{"transactions without destinations", "[tezos.default]\ntransaction = \"allow\"\n", "destinations: required"},
		{"not toml", "[eth.default\n", "policy.toml"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := Parse([]byte(tt.file))
			if err == nil {
				t.Fatalf("accepted: %+v", p)
			}
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("error %v does not wrap ErrInvalid", err)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error %q does not say %q", err, tt.want)
			}
		})
	}
}

// TestParse_Inherit: key tables take what they do not set from the section's default.
func TestParse_Inherit(t *testing.T) {
	p := mustParse(t, `
[eth.default]
deposit = "allow"
fee_recipients = ["0xfa`+strings.Repeat("00", 19)+`"]
gas_limit_max = 50000000

[eth.keys."0x0a`+strings.Repeat("00", 47)+`"]
exit = "approve"

[tezos.default]
daily_limit_mutez = 7

[tezos.keys."`+pkhA.String()+`"]
transaction = "allow"
destinations = ["`+kt1.String()+`"]
`)
	k := p.EthKeyPolicy(pubA)
	if k.Exit != ActionApprove || k.Deposit != ActionAllow || len(k.FeeRecipients) != 1 || k.FeeRecipients[0] != feeA ||
		k.GasLimitMin != DefaultGasLimitMin || k.GasLimitMax != 50_000_000 {
		t.Fatalf("eth key: %+v", k)
	}
	if d := p.EthKeyPolicy(pubB); d.Exit != ActionRefuse || d.Deposit != ActionAllow {
		t.Fatalf("eth default: %+v", d)
	}
	tk := p.TezosKeyPolicy(pkhA)
	if tk.Transaction != ActionAllow || tk.DailyLimitMutez != 7 || len(tk.Destinations) != 1 || tk.Destinations[0] != kt1.String() {
		t.Fatalf("tezos key: %+v", tk)
	}
	if td := p.TezosKeyPolicy(pkhB); td.Transaction != ActionRefuse || td.DailyLimitMutez != 7 {
		t.Fatalf("tezos default: %+v", td)
	}
}

// TestLoad: a missing file is the default policy; a bad one an error; a big one refused.
func TestLoad(t *testing.T) {
	dir := t.TempDir()
	p, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	if k := p.EthKeyPolicy(pubA); k.Exit != ActionRefuse || k.Deposit != ActionRefuse || k.GasLimitMin != DefaultGasLimitMin {
		t.Fatalf("default: %+v", k)
	}
	path := filepath.Join(dir, FileName)
	if err := os.WriteFile(path, []byte("[eth.default]\nexit = \"allow\"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if p, err = Load(dir); err != nil || p.EthKeyPolicy(pubA).Exit != ActionAllow {
		t.Fatalf("Load: %v", err)
	}
	if err := os.WriteFile(path, []byte("[eth.default]\nexit = 1\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err = Load(dir); !errors.Is(err, ErrInvalid) {
		t.Fatalf("bad file: %v", err)
	}
	if err := os.WriteFile(path, make([]byte, maxFileSize+1), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err = Load(dir); !errors.Is(err, ErrInvalid) {
		t.Fatalf("big file: %v", err)
	}
}

// TestCheckKT1: canonical KT1 strings pass, altered ones do not.
func TestCheckKT1(t *testing.T) {
	for _, c := range []tezos.Contract{kt1, {Kind: tezos.ContractOriginated}, {Kind: tezos.ContractOriginated, Originated: [20]byte{0xff, 0xff}}} {
		s := c.String()
		if err := checkKT1(s); err != nil {
			t.Fatalf("%s: %v", s, err)
		}
		c := byte('a')
		if s[10] == 'a' {
			c = 'b'
		}
		if bad := s[:10] + string(c) + s[11:]; checkKT1(bad) == nil {
			t.Fatalf("%s accepted", bad)
		}
	}
	if err := checkKT1("tz1" + strings.Repeat("1", 33)); err == nil {
		t.Fatal("tz1 accepted as KT1")
	}
}
