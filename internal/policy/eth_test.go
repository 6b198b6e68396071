package policy

import (
	"strings"
	"testing"

	"github.com/keyward/keyward/internal/eth"
)

var (
	pubA = [48]byte{0xa}
	pubB = [48]byte{0xb}
	feeA = [20]byte{0xfa}
	feeX = [20]byte{0xee}
)

func registration(fee [20]byte, gas uint64) *eth.Signable {
	return &eth.Signable{Type: eth.TypeValidatorRegistration, Class: eth.ClassOther,
		Registration: eth.RegistrationInfo{FeeRecipient: fee, GasLimit: gas}}
}

func mustParse(t *testing.T, s string) *Policy {
	t.Helper()
	p, err := Parse([]byte(s))
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	return p
}

// TestEthPolicy_Inv4 is the per-key Ethereum policy, one row per rule.
func TestEthPolicy_Inv4(t *testing.T) {
	p := mustParse(t, `
[eth.default]
exit = "refuse"

[eth.keys."0x0a`+strings.Repeat("00", 47)+`"]
exit = "allow"
deposit = "allow"
fee_recipients = ["0xfa`+strings.Repeat("00", 19)+`"]
gas_limit_min = 36000000
gas_limit_max = 60000000

[eth.keys."0x0B`+strings.Repeat("00", 47)+`"]
exit = "approve"
deposit = "approve"
`)
	exit := &eth.Signable{Type: eth.TypeVoluntaryExit, Class: eth.ClassOther, Exit: eth.ExitInfo{Epoch: 5, ValidatorIndex: 7}}
	deposit := &eth.Signable{Type: eth.TypeDeposit, Class: eth.ClassOther, Deposit: eth.DepositInfo{Amount: 32e9}}
	other := [48]byte{0xc}
	tests := []struct {
		name string
		pub  [48]byte
		s    *eth.Signable
		want Verdict
	}{
		{"exit refused by default", other, exit, Refuse},
		{"exit allowed by the key's table", pubA, exit, Allow},
		{"exit needs approval", pubB, exit, NeedsApproval},
		{"deposit refused by default", other, deposit, Refuse},
		{"deposit allowed by the key's table", pubA, deposit, Allow},
		{"deposit needs approval", pubB, deposit, NeedsApproval},
		{"registration: any fee recipient without a list", other, registration(feeX, 36_000_000), Allow},
		{"registration: default gas range, low end", other, registration(feeX, DefaultGasLimitMin), Allow},
		{"registration: default gas range, high end", other, registration(feeX, DefaultGasLimitMax), Allow},
		{"registration: gas limit 0", other, registration(feeX, 0), Refuse},
		{"registration: gas limit over the default max", other, registration(feeX, DefaultGasLimitMax+1), Refuse},
		{"registration: listed fee recipient", pubA, registration(feeA, 36_000_000), Allow},
		{"registration: foreign fee recipient", pubA, registration(feeX, 36_000_000), Refuse},
		{"registration: below the key's min", pubA, registration(feeA, 35_999_999), Refuse},
		{"registration: at the key's max", pubA, registration(feeA, 60_000_000), Allow},
		{"registration: above the key's max", pubA, registration(feeA, 60_000_001), Refuse},
		{"registration: table without a list inherits the default (none)", pubB, registration(feeX, 36_000_000), Allow},
		{"attestation: protection decides", other, &eth.Signable{Type: eth.TypeAttestation, Class: eth.ClassAttestation}, Allow},
		{"block: protection decides", other, &eth.Signable{Type: eth.TypeBlockV2, Class: eth.ClassBlock}, Allow},
		{"invalid type refused", other, &eth.Signable{Type: eth.TypeInvalid}, Refuse},
		{"unknown type refused", other, &eth.Signable{Type: eth.SignType(200)}, Refuse},
		{"nil signable refused", other, nil, Refuse},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := p.Eth(tt.pub, tt.s)
			if d.Verdict != tt.want {
				t.Fatalf("verdict %s (%q), want %s", d.Verdict, d.Reason, tt.want)
			}
			if d.Verdict != Allow && d.Reason == "" {
				t.Fatalf("%s without a reason", d.Verdict)
			}
		})
	}
}

// TestFailClosed_Inv4: the zero values and a nil policy refuse.
func TestFailClosed_Inv4(t *testing.T) {
	if (Decision{}).Verdict != Refuse || Verdict(0) != Refuse || Action(0) != ActionRefuse {
		t.Fatal("zero values must refuse")
	}
	var p *Policy
	if d := p.Eth(pubA, registration(feeA, 36_000_000)); d.Verdict != Refuse {
		t.Fatalf("nil policy: %s", d.Verdict)
	}
	if d := p.Tezos(pkhA, generic()); d.Verdict != Refuse {
		t.Fatalf("nil policy: %s", d.Verdict)
	}
	if d := Default().Eth(pubA, &eth.Signable{Type: eth.TypeVoluntaryExit}); d.Verdict != Refuse {
		t.Fatalf("default policy, exit: %s", d.Verdict)
	}
	if d := Default().Eth(pubA, &eth.Signable{Type: eth.TypeDeposit}); d.Verdict != Refuse {
		t.Fatalf("default policy, deposit: %s", d.Verdict)
	}
}
