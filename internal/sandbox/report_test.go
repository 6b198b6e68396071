package sandbox

import (
	"encoding/json"
	"reflect"
	"sort"
	"testing"
)

// TestReport_Level: the level is full only when every step and every probe that ran succeeded;
// a zero Report (nothing known) is none.
func TestReport_Level(t *testing.T) {
	all := Report{NoNewPrivs: true, CoreLimitZero: true, LandlockABI: 7, LandlockFS: true,
		LandlockNet: true, LandlockScoped: true, Seccomp: true, SeccompTSync: true}
	blocked := ProbeResult{Blocked: true, Errno: "EPERM"}
	withProbes := func(r Report, p Probes) Report { r.Probes = &p; return r }
	for _, tc := range []struct {
		name string
		r    Report
		want string
	}{
		{"zero report is none", Report{}, LevelNone},
		{"dumpable only is none", Report{Dumpable: true}, LevelNone},
		{"everything", all, LevelFull},
		{"everything and probes blocked", withProbes(all, Probes{blocked, blocked, blocked}), LevelFull},
		{"a probe got through", withProbes(all, Probes{blocked, ProbeResult{Errno: ""}, blocked}), LevelPartial},
		{"still dumpable", func() Report { r := all; r.Dumpable = true; return r }(), LevelPartial},
		{"no landlock net (ABI 3)", func() Report { r := all; r.LandlockNet, r.LandlockScoped = false, false; return r }(), LevelPartial},
		{"seccomp without tsync", func() Report { r := all; r.SeccompTSync = false; return r }(), LevelPartial},
		{"only no_new_privs", Report{NoNewPrivs: true}, LevelPartial},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.r.Level(); got != tc.want {
				t.Errorf("Level() = %q, want %q for %+v", got, tc.want, tc.r)
			}
		})
	}
}

// TestReport_JSONNames pins the field names doctor, health and the metric rely on.
func TestReport_JSONNames(t *testing.T) {
	r := Report{Probes: &Probes{Socket: ProbeResult{Blocked: true, Errno: "EPERM"}}, Missing: []string{"x"}}
	b, err := json.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	var keys []string
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	want := []string{"core_limit_zero", "dumpable", "landlock_abi", "landlock_fs", "landlock_net",
		"landlock_scoped", "missing", "no_new_privs", "probes", "seccomp", "seccomp_tsync"}
	if !reflect.DeepEqual(keys, want) {
		t.Errorf("report keys = %q, want %q", keys, want)
	}
	var p map[string]map[string]any
	if err := json.Unmarshal(m["probes"], &p); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"socket", "open_outside", "exec"} {
		if _, ok := p[k]; !ok {
			t.Errorf("probes lack %q: %s", k, m["probes"])
		}
	}
	if p["socket"]["blocked"] != true || p["socket"]["errno"] != "EPERM" {
		t.Errorf("probe fields = %v, want blocked and errno", p["socket"])
	}
}
