// Package deploy holds no Go code: its tests check the systemd units and the install
// scripts in this directory.
package deploy

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// unitFiles lists every unit and the layout it belongs to.
var unitFiles = []string{"keyward-core.socket", "keyward-core.service", "keyward-gateway.service", "keyward.service"}

// hardening lists the directives every service unit must set, with the value when it is
// fixed ("" only requires the directive to be present).
var hardening = map[string]string{
	"NoNewPrivileges":         "yes",
	"CapabilityBoundingSet":   "",
	"ProtectSystem":           "strict",
	"ProtectHome":             "yes",
	"PrivateTmp":              "yes",
	"PrivateDevices":          "yes",
	"ProtectKernelTunables":   "yes",
	"ProtectKernelModules":    "yes",
	"ProtectKernelLogs":       "yes",
	"ProtectControlGroups":    "yes",
	"ProtectClock":            "yes",
	"ProtectHostname":         "yes",
	"ProtectProc":             "invisible",
	"ProcSubset":              "pid",
	"MemoryDenyWriteExecute":  "yes",
	"LockPersonality":         "yes",
	"RestrictNamespaces":      "yes",
	"RestrictRealtime":        "yes",
	"RestrictSUIDSGID":        "yes",
	"SystemCallArchitectures": "native",
	"UMask":                   "0077",
	"StateDirectoryMode":      "0700",
	"LimitCORE":               "0",
	"RestrictAddressFamilies": "",
	"SystemCallFilter":        "@system-service",
	"IPAddressDeny":           "any",
	"User":                    "",
	"StateDirectory":          "",
}

// perUnit lists what differs between the services.
var perUnit = map[string]map[string]string{
	"keyward-core.service": {
		"ExecReload":              "/bin/kill -HUP $MAINPID",
		"RestrictAddressFamilies": "AF_UNIX",
		"PrivateNetwork":          "yes",
		"User":                    "keyward-core",
		"LoadCredential":          "master.key:/etc/keyward/core/master.key",
		"LimitMEMLOCK":            "64M",
	},
	"keyward-gateway.service": {
		"ExecReload":              "/bin/kill -HUP $MAINPID",
		"RestrictAddressFamilies": "AF_UNIX AF_INET AF_INET6",
		"User":                    "keyward-gateway",
		"SupplementaryGroups":     "keyward-link",
	},
	"keyward.service": {
		"ExecReload":              "/bin/kill -HUP $MAINPID",
		"RestrictAddressFamilies": "AF_UNIX AF_INET AF_INET6",
		"User":                    "keyward",
		"LoadCredential":          "master.key:/etc/keyward/master.key",
		"LimitMEMLOCK":            "64M",
	},
}

// parseUnit returns every value of every directive (systemd allows repeats).
func parseUnit(t *testing.T, name string) map[string][]string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("systemd", name))
	if err != nil {
		t.Fatal(err)
	}
	out := map[string][]string{}
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || line[0] == '#' || line[0] == ';' || line[0] == '[' {
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		if !ok {
			t.Fatalf("%s: line %q is not key=value", name, line)
		}
		out[k] = append(out[k], v)
	}
	return out
}

// TestUnits_Hardening: every service unit sets every hardening directive with the value
// the two-compartment design needs.
func TestUnits_Hardening(t *testing.T) {
	for unit, specific := range perUnit {
		t.Run(unit, func(t *testing.T) {
			d := parseUnit(t, unit)
			want := map[string]string{}
			for k, v := range hardening {
				want[k] = v
			}
			for k, v := range specific {
				want[k] = v
			}
			for k, v := range want {
				vals, ok := d[k]
				if !ok {
					t.Errorf("%s= missing", k)
					continue
				}
				if v == "" {
					if k == "CapabilityBoundingSet" && (len(vals) != 1 || vals[0] != "") {
						t.Errorf("CapabilityBoundingSet=%q, want empty", vals)
					}
					continue
				}
				if vals[0] != v {
					t.Errorf("%s=%q, want %q", k, vals[0], v)
				}
			}
		})
	}
	core := parseUnit(t, "keyward-core.service")
	if strings.Join(core["IPAddressAllow"], " ") != "" {
		t.Errorf("core: IPAddressAllow=%q: the core has no network", core["IPAddressAllow"])
	}
	if !strings.Contains(strings.Join(core["ExecStart"], " "), "--gateway-user keyward-gateway") {
		t.Errorf("core: ExecStart=%q does not check the gateway's uid", core["ExecStart"])
	}
	for _, unit := range []string{"keyward-core.service", "keyward.service"} {
		// The core confines itself: @system-service lacks these, without them it refuses to start.
		f := strings.Join(parseUnit(t, unit)["SystemCallFilter"], " ")
		for _, sc := range []string{"seccomp", "landlock_create_ruleset", "landlock_add_rule", "landlock_restrict_self"} {
			if !strings.Contains(f, sc) {
				t.Errorf("%s: SystemCallFilter does not allow %s", unit, sc)
			}
		}
	}
	sock := parseUnit(t, "keyward-core.socket")
	for k, v := range map[string]string{"ListenStream": "/run/keyward/core.sock", "SocketMode": "0660",
		"SocketUser": "keyward-core", "SocketGroup": "keyward-link", "Accept": "no"} {
		if got := sock[k]; len(got) != 1 || got[0] != v {
			t.Errorf("socket: %s=%q, want %q", k, got, v)
		}
	}
}

// stagedUnits copies the units to a temporary directory with ExecStart pointing at an
// executable that exists here (systemd-analyze checks it).
func stagedUnits(t *testing.T) string {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	for _, u := range unitFiles {
		b, err := os.ReadFile(filepath.Join("systemd", u))
		if err != nil {
			t.Fatal(err)
		}
		b = bytes.ReplaceAll(b, []byte("/usr/local/bin/keyward"), []byte(exe))
		if err := os.WriteFile(filepath.Join(dir, u), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func systemdAnalyze(t *testing.T) string {
	t.Helper()
	p, err := exec.LookPath("systemd-analyze")
	if err != nil {
		t.Skip("SKIPPED: systemd-analyze is not installed (apt-get install systemd); the units were not verified")
	}
	return p
}

// TestUnits_Verify: systemd-analyze verify accepts every unit without a warning.
func TestUnits_Verify(t *testing.T) {
	sa := systemdAnalyze(t)
	dir := stagedUnits(t)
	args := []string{"verify", "--man=no"}
	for _, u := range unitFiles {
		args = append(args, filepath.Join(dir, u))
	}
	cmd := exec.Command(sa, args...)
	cmd.Env = append(os.Environ(), "SYSTEMD_LOG_LEVEL=notice")
	out, err := cmd.CombinedOutput()
	if err != nil || len(bytes.TrimSpace(out)) != 0 {
		t.Fatalf("systemd-analyze verify: %v\n%s", err, out)
	}
	// The harness sees a bad unit: an unknown directive is reported.
	bad := filepath.Join(dir, "keyward-bad.service")
	if err := os.WriteFile(bad, []byte("[Service]\nExecStart=/bin/true\nProtectSytem=strict\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd = exec.Command(sa, "verify", "--man=no", bad)
	cmd.Env = append(os.Environ(), "SYSTEMD_LOG_LEVEL=notice")
	if out, _ := cmd.CombinedOutput(); !bytes.Contains(out, []byte("ProtectSytem")) {
		t.Errorf("systemd-analyze verify did not report a misspelt directive: %s", out)
	}
}

// maxExposure is the highest `systemd-analyze security` exposure each unit may score
// (0 best, 10 worst). docs/operations.md records the scores measured.
var maxExposure = map[string]float64{
	"keyward-core.service":    0.5,
	"keyward-gateway.service": 1.2,
	"keyward.service":         1.2,
}

var exposureRe = regexp.MustCompile(`Overall exposure level for \S+: ([0-9.]+) `)

// TestUnits_SecurityScore runs `systemd-analyze security --offline=true` on each service
// and fails when its exposure rises above maxExposure.
func TestUnits_SecurityScore(t *testing.T) {
	sa := systemdAnalyze(t)
	dir := stagedUnits(t)
	for unit, limit := range maxExposure {
		out, err := exec.Command(sa, "security", "--offline=true", "--no-pager", filepath.Join(dir, unit)).CombinedOutput()
		m := exposureRe.FindSubmatch(out)
		if m == nil {
			if bytes.Contains(out, []byte("offline")) {
				t.Skipf("SKIPPED: this systemd-analyze cannot score offline (%v): %s", err, out)
			}
			t.Fatalf("%s: no score in output (%v):\n%s", unit, err, out)
		}
		var score float64
		if _, err := fmt.Sscan(string(m[1]), &score); err != nil {
			t.Fatal(err)
		}
		t.Logf("%s: exposure %.1f", unit, score)
		if score > limit {
			t.Errorf("%s: exposure %.1f, want at most %.1f:\n%s", unit, score, limit, out)
		}
	}
}
