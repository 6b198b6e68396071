package doctor

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// proc is one keyward process found in /proc.
type proc struct {
	pid, ppid, uid int
	role           string // "core", "run" or "gateway"
	dir            string // its --dir
}

// keywardProcs lists the keyward processes under procRoot (normally /proc) by their
// command line: argv[0] named keyward, argv[1] core, run or gateway. Processes this user
// cannot see (ProtectProc=invisible, hidepid) are not listed.
func keywardProcs(procRoot string) []proc {
	entries, err := os.ReadDir(procRoot)
	if err != nil {
		return nil
	}
	var out []proc
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid <= 0 {
			continue
		}
		cmdline, err := os.ReadFile(filepath.Join(procRoot, e.Name(), "cmdline"))
		if err != nil {
			continue
		}
		args := strings.Split(strings.TrimRight(string(cmdline), "\x00"), "\x00")
		if len(args) < 2 || filepath.Base(args[0]) != "keyward" {
			continue
		}
		p := proc{pid: pid, role: args[1]}
		if p.role != "core" && p.role != "run" && p.role != "gateway" {
			continue
		}
		for i, a := range args[2:] {
			if v, ok := strings.CutPrefix(a, "--dir="); ok {
				p.dir = v
			} else if a == "--dir" && i+3 < len(args) {
				p.dir = args[i+3]
			}
		}
		status, err := os.ReadFile(filepath.Join(procRoot, e.Name(), "status"))
		if err != nil {
			continue
		}
		p.uid, p.ppid = statusField(status, "Uid:"), statusField(status, "PPid:")
		if p.uid < 0 {
			continue
		}
		out = append(out, p)
	}
	return out
}

// statusField returns the first number after a field of /proc/<pid>/status (for Uid:, the
// real uid), or -1.
func statusField(status []byte, field string) int {
	for _, line := range bytes.Split(status, []byte("\n")) {
		if rest, ok := bytes.CutPrefix(line, []byte(field)); ok {
			f := strings.Fields(string(rest))
			if len(f) == 0 {
				return -1
			}
			n, err := strconv.Atoi(f[0])
			if err != nil {
				return -1
			}
			return n
		}
	}
	return -1
}

// checkSeparateUsers compares the uid of the running core of dir with its gateway's: the
// parent `keyward run` (single-service layout) or any `keyward gateway` (two-user
// layout). The same uid warns: a gateway compromise then runs as the user that owns the
// keys (the core is still not dumpable, but its files are that user's).
func checkSeparateUsers(procRoot, dir string) Finding {
	const name = "separate users"
	procs := keywardProcs(procRoot)
	var core *proc
	for i := range procs {
		if procs[i].role == "core" && filepath.Clean(procs[i].dir) == filepath.Clean(dir) {
			core = &procs[i]
			break
		}
	}
	if core == nil {
		return Finding{name, Pass, "no running core for " + dir + " is visible here; skipped (run doctor as root or as the core's user to see it)", ""}
	}
	var gateways []proc
	for _, p := range procs {
		if p.role == "gateway" || (p.role == "run" && p.pid == core.ppid) {
			gateways = append(gateways, p)
		}
	}
	if core.uid == 0 {
		return Finding{name, Warn, fmt.Sprintf("the core (pid %d) runs as root", core.pid), "run the core as its own user (deploy/systemd/keyward-core.service)"}
	}
	if len(gateways) == 0 {
		return Finding{name, Pass, fmt.Sprintf("core (pid %d) runs as uid %d; no gateway visible", core.pid, core.uid), ""}
	}
	for _, g := range gateways {
		if g.uid == core.uid {
			return Finding{name, Warn, fmt.Sprintf("core (pid %d) and gateway (pid %d, keyward %s) run as the same uid %d", core.pid, g.pid, g.role, core.uid),
				"use the two-user layout: keyward-core.service and keyward-gateway.service under separate users (docs/operations.md)"}
		}
	}
	return Finding{name, Pass, fmt.Sprintf("core (pid %d) runs as uid %d, gateway (pid %d) as uid %d", core.pid, core.uid, gateways[0].pid, gateways[0].uid), ""}
}
