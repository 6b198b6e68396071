package config

import (
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestRoundTrip(t *testing.T) {
	b, err := Marshal(Default())
	if err != nil {
		t.Fatal(err)
	}
	c, err := Parse(b)
	if err != nil {
		t.Fatalf("parse default: %v\n%s", err, b)
	}
	if !reflect.DeepEqual(c, Default()) {
		t.Fatalf("round trip changed the configuration: %+v", c)
	}
}

func TestRefused(t *testing.T) {
	cases := map[string]string{
		"[core]\nconfinment = \"full\"\n":        "unknown key",
		"[core]\nconfinement = \"some\"\n":       "core.confinement",
		"[eth]\nlisten = \"nonsense\"\n":         "eth.listen",
		"[eth]\nmax_body_bytes = 1\n":            "eth.max_body_bytes",
		"[log]\nformat = \"xml\"\n":              "log.format",
		"[[core]]\n":                             "parse",
		"[core]\nadmin_socket = \"\"\n":          "core.admin_socket",
		"[core]\napproval_timeout = \"0s\"\n":    "core.approval_timeout",
		"[core]\napproval_timeout = \"2h\"\n":    "core.approval_timeout",
		"[core]\napproval_timeout = \"soon\"\n":  "invalid duration",
		"[core]\nmax_pending_approvals = 0\n":    "core.max_pending_approvals",
		"[core]\napprovers = [\"a b\"]\n":        "core.approvers",
		"[core]\napprovers = [\"-x\"]\n":         "core.approvers",
		"[core]\nadmin_socket_group = \"a;b\"\n": "core.admin_socket_group",
	}
	for in, want := range cases {
		if _, err := Parse([]byte(in)); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: want error containing %q, got %v", in, want, err)
		}
	}
}

// TestApprovalSettings: the defaults, and values as an operator writes them.
func TestApprovalSettings(t *testing.T) {
	d := Default().Core
	if d.AdminSocket != AdminSocketFile || time.Duration(d.ApprovalTimeout) != 2*time.Minute || d.MaxPendingApprovals != 16 || len(d.Approvers) != 0 {
		t.Fatalf("defaults: %+v", d)
	}
	c, err := Parse([]byte("[core]\nadmin_socket = \"/run/keyward/admin.sock\"\nadmin_socket_group = \"keyward-admin\"\napprovers = [\"alice\", \"1001\"]\napproval_timeout = \"90s\"\nmax_pending_approvals = 4\n"))
	if err != nil {
		t.Fatal(err)
	}
	if c.Core.AdminSocket != "/run/keyward/admin.sock" || c.Core.AdminSocketGroup != "keyward-admin" || len(c.Core.Approvers) != 2 ||
		time.Duration(c.Core.ApprovalTimeout) != 90*time.Second || c.Core.MaxPendingApprovals != 4 {
		t.Fatalf("parsed: %+v", c.Core)
	}
}

// TestTezosPolicy_Inv3_Inv4: per-key tables need chain_ids; 0x03 needs operations and the
// reverse; the defaults are consensus-only for the configured chain.
func TestTezosPolicy_Inv3_Inv4(t *testing.T) {
	c, err := Parse([]byte(`[tezos]
chain_id = "NetXdQprcVkpaWU"
authorized_keys = ["edpkuhmrbunxumoiVdQuxBZUPMmwkPt7yLtY5Qnua3VJVTLWr3vXXa"]
[tezos.keys."tz1b9kV41KV9N3sp69ycLdSoZ2Ak8jXwtNPv"]
magic_bytes = ["0x11", "0x03"]
operations = ["transaction", "delegation"]
chain_ids = ["NetXdQprcVkpaWU"]
`))
	if err != nil {
		t.Fatal(err)
	}
	p, err := c.Tezos.Policy()
	if err != nil || len(p.Authorized) != 1 || len(p.Keys) != 1 || len(p.Default.MagicBytes) != 3 {
		t.Fatalf("%v %+v", err, p)
	}
	for in, want := range map[string]string{
		"[tezos.keys.\"tz1b9kV41KV9N3sp69ycLdSoZ2Ak8jXwtNPv\"]\n":                                                                "chain_ids: required",
		"[tezos.keys.\"tz1b9kV41KV9N3sp69ycLdSoZ2Ak8jXwtNPv\"]\nchain_ids=[\"NetXdQprcVkpaWU\"]\nmagic_bytes=[\"0x03\"]\n":       "allows nothing",
		"[tezos.keys.\"tz1b9kV41KV9N3sp69ycLdSoZ2Ak8jXwtNPv\"]\nchain_ids=[\"NetXdQprcVkpaWU\"]\noperations=[\"transaction\"]\n": "does not include",
		"[tezos.keys.\"tz1b9kV41KV9N3sp69ycLdSoZ2Ak8jXwtNPv\"]\nchain_ids=[\"NetXdQprcVkpaWU\"]\nmagic_bytes=[\"0x05\"]\n":       "magic_bytes",
		"[tezos.keys.\"tz1nope\"]\nchain_ids=[\"NetXdQprcVkpaWU\"]\n":                                                            "tezos.keys",
		"[tezos]\nchain_id = \"mainnet\"\n":                                       "tezos.chain_id",
		"[tezos]\nauthorized_keys = [\"tz1b9kV41KV9N3sp69ycLdSoZ2Ak8jXwtNPv\"]\n": "authorized_keys",
		"[tezos]\nallow_everything = true\n":                                      "unknown key",
	} {
		if _, err := Parse([]byte(in)); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: %v, want %q", in, err, want)
		}
	}
}

// TestTLSSection: [tls] decodes; a certificate without its key, and client settings
// without a server certificate, are refused.
func TestTLSSection(t *testing.T) {
	c, err := Parse([]byte("[tls]\ncert_file = \"tls/server.pem\"\nkey_file = \"tls/server.key\"\nknown_clients_file = \"known\"\n"))
	if err != nil || !c.TLS.Enabled() || !c.TLS.ClientAuth() {
		t.Fatalf("%+v %v", c.TLS, err)
	}
	for _, bad := range []string{
		"[tls]\ncert_file = \"a\"\n",
		"[tls]\nclient_ca_file = \"ca.pem\"\n",
		"[tls]\ncert_file = \"a\"\nkey_file = \"b\"\nclient_cert = \"x\"\n",
	} {
		if _, err := Parse([]byte(bad)); err == nil {
			t.Errorf("accepted %q", bad)
		}
	}
	if d := Default(); d.TLS.Enabled() {
		t.Fatal("TLS on by default")
	}
}
