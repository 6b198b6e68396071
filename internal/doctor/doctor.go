// Package doctor checks a keyward state directory, the host and a running signer for
// unsafe settings, each finding with a status and the fix. It only reads; it changes
// nothing. `keyward doctor` prints its findings; monitoring reads them as JSON.
package doctor

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/keyward/keyward/internal/config"
	"github.com/keyward/keyward/internal/eth"
	"github.com/keyward/keyward/internal/sandbox"
)

// Status of a finding. Anything but Pass or Warn, including the zero value, counts as a
// failure: a check that forgot to set it fails closed.
type Status string

// Finding statuses.
const (
	Fail Status = "fail"
	Warn Status = "warn"
	Pass Status = "pass"
)

// Finding is the result of one check.
type Finding struct {
	Check  string `json:"check"`
	Status Status `json:"status"`
	Detail string `json:"detail"`
	Fix    string `json:"fix,omitempty"`
}

// Options say what to check.
type Options struct {
	// Dir is the state directory.
	Dir string
	// HTTPClient queries a running signer's /healthcheck; nil skips that check.
	HTTPClient *http.Client
	// Euid is the effective user id to judge ownership against.
	Euid int
}

// Failed reports whether any finding failed (any status other than Pass or Warn).
func Failed(fs []Finding) bool {
	for _, f := range fs {
		if f.Status != Pass && f.Status != Warn {
			return true
		}
	}
	return false
}

// Run performs every check and returns the findings in a stable order.
func Run(ctx context.Context, o Options) []Finding {
	var out []Finding
	add := func(f Finding) { out = append(out, f) }

	if o.Euid == 0 {
		add(Finding{"user", Warn, "running as root", "run keyward as its own unprivileged user (root can read the core's memory)"})
	} else {
		add(Finding{"user", Pass, fmt.Sprintf("running as uid %d", o.Euid), ""})
	}

	add(checkMode(o.Dir, "state directory", 0o700, true, o.Euid))
	cfg, err := config.Load(o.Dir)
	if err != nil {
		add(Finding{"configuration", Fail, err.Error(), "run 'keyward init --dir " + o.Dir + "' or fix keyward.toml"})
		return out
	}
	add(Finding{"configuration", Pass, "keyward.toml is valid", ""})
	add(checkMode(config.Path(o.Dir, cfg.Core.MasterKey), "master key", 0o600, false, o.Euid))
	for _, f := range []string{config.KeysFile, config.ProtectionFile, config.NetworkFile, config.FileName} {
		p := filepath.Join(o.Dir, f)
		if _, err := os.Stat(p); errors.Is(err, fs.ErrNotExist) && f == config.ProtectionFile {
			continue // created at first start
		}
		add(checkMode(p, f, 0o600, false, o.Euid))
	}
	if b, err := os.ReadFile(filepath.Join(o.Dir, config.NetworkFile)); err != nil {
		add(Finding{"network", Fail, err.Error(), "run keyward init"})
	} else if n, err := eth.ParseNetworkConfig(b); err != nil {
		add(Finding{"network", Fail, err.Error(), "restore network.yaml from a backup or re-init"})
	} else {
		add(Finding{"network", Pass, fmt.Sprintf("pinned to %s, genesis validators root %#x", n.Name, n.GenesisValidatorsRoot), ""})
	}
	add(checkWorkTree(o.Dir))
	add(checkListen(cfg.Eth.Listen))
	add(checkConfinementConfig(cfg.Core.Confinement))
	add(checkKernel())
	add(checkDisk(o.Dir))
	if o.HTTPClient != nil {
		out = append(out, checkRunning(ctx, o.HTTPClient, cfg.Eth.Listen)...)
	}
	return out
}

// checkMode checks that path exists, is owned by euid and has no bits beyond max.
func checkMode(path, what string, maxPerm os.FileMode, dir bool, euid int) Finding {
	name := "permissions: " + what
	fi, err := os.Stat(path)
	if err != nil {
		return Finding{name, Fail, err.Error(), "run keyward init"}
	}
	if fi.IsDir() != dir {
		return Finding{name, Fail, path + " has the wrong file type", ""}
	}
	if st, ok := fi.Sys().(*syscall.Stat_t); ok && int(st.Uid) != euid {
		return Finding{name, Fail, fmt.Sprintf("%s is owned by uid %d, not %d", path, st.Uid, euid), fmt.Sprintf("chown %d %s", euid, path)}
	}
	if fi.Mode().Perm()&^maxPerm != 0 {
		return Finding{name, Fail, fmt.Sprintf("%s has mode %#o; it must be at most %#o", path, fi.Mode().Perm(), maxPerm), fmt.Sprintf("chmod %o %s", maxPerm, path)}
	}
	return Finding{name, Pass, fmt.Sprintf("%s: %#o", path, fi.Mode().Perm()), ""}
}

// checkWorkTree fails when the state directory lies inside a version-control work tree,
// where a commit could publish sealed keys or the master key.
func checkWorkTree(dir string) Finding {
	for d := dir; ; {
		for _, vcs := range []string{".git", ".hg", ".svn", ".jj"} {
			if _, err := os.Stat(filepath.Join(d, vcs)); err == nil {
				return Finding{"version control", Fail, fmt.Sprintf("%s is inside the work tree %s (%s)", dir, d, vcs), "move the state directory out of the repository"}
			}
		}
		parent := filepath.Dir(d)
		if parent == d {
			return Finding{"version control", Pass, "state directory is not in a work tree", ""}
		}
		d = parent
	}
}

// checkListen fails a non-loopback listener: without TLS and client authentication,
// anyone who reaches the port could ask for signatures.
func checkListen(addr string) Finding {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return Finding{"listen address", Fail, err.Error(), ""}
	}
	ip := net.ParseIP(host)
	if host == "localhost" || (ip != nil && ip.IsLoopback()) {
		return Finding{"listen address", Pass, addr + " is loopback only", ""}
	}
	return Finding{"listen address", Fail, addr + " is reachable from other hosts without TLS and client authentication", "set eth.listen to 127.0.0.1:9000, or put the signer behind an authenticated tunnel"}
}

func checkConfinementConfig(c string) Finding {
	if c == config.ConfinementFull {
		return Finding{"confinement required", Pass, "core.confinement = full: the core refuses to start unconfined", ""}
	}
	return Finding{"confinement required", Warn, "core.confinement = " + c + ": the core may start with less confinement", "set core.confinement = \"full\""}
}

// checkKernel reports whether this kernel can confine the core fully.
func checkKernel() Finding {
	k := sandbox.KernelSupport()
	switch {
	case k.LandlockABI >= sandbox.MinLandlockABI && k.Seccomp:
		return Finding{"kernel", Pass, fmt.Sprintf("Landlock ABI %d and seccomp available", k.LandlockABI), ""}
	default:
		return Finding{"kernel", Fail, fmt.Sprintf("Landlock ABI %d (need %d) seccomp %v: full confinement impossible", k.LandlockABI, sandbox.MinLandlockABI, k.Seccomp), "use Linux ≥ 6.7 with Landlock enabled (lsm=…,landlock)"}
	}
}

func checkDisk(dir string) Finding {
	var st unix.Statfs_t
	if err := unix.Statfs(dir, &st); err != nil {
		return Finding{"disk", Warn, err.Error(), ""}
	}
	free := st.Bavail * uint64(st.Bsize)
	if free < 256<<20 {
		return Finding{"disk", Fail, fmt.Sprintf("%d MiB free: protection records may fail to commit and signing will stop", free>>20), "free disk space"}
	}
	return Finding{"disk", Pass, fmt.Sprintf("%d MiB free", free>>20), ""}
}

// checkRunning asks a running signer for its health and reports the confinement its
// core achieved and proved.
func checkRunning(ctx context.Context, c *http.Client, addr string) []Finding {
	ctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+addr+"/healthcheck", nil)
	if err != nil {
		return []Finding{{"running signer", Warn, err.Error(), ""}}
	}
	resp, err := c.Do(req)
	if err != nil {
		return []Finding{{"running signer", Warn, "no signer answers at " + addr + ": " + err.Error(), "start it with keyward run to check its confinement"}}
	}
	defer resp.Body.Close()
	var h struct {
		Status string `json:"status"`
		Core   *struct {
			BLSKeys             int    `json:"bls_keys"`
			ConfinementLevel    string `json:"confinement_level"`
			ConfinementRequired string `json:"confinement_required"`
			KeyMemoryLocked     bool   `json:"key_memory_locked"`
		} `json:"core"`
		Confinement *sandbox.Report `json:"confinement"`
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(&h); err != nil || h.Core == nil {
		return []Finding{{"running signer", Fail, fmt.Sprintf("unreadable health answer (HTTP %d): %v", resp.StatusCode, err), ""}}
	}
	out := []Finding{}
	st := Pass
	if h.Status != "UP" {
		st = Fail
	}
	out = append(out, Finding{"running signer", st, fmt.Sprintf("health %s, %d keys", h.Status, h.Core.BLSKeys), ""})
	st = Pass
	detail := "core confinement " + h.Core.ConfinementLevel
	if h.Confinement != nil && h.Confinement.Probes != nil {
		p := h.Confinement.Probes
		detail += fmt.Sprintf(" (probes: TCP socket blocked %v, open outside state blocked %v, exec blocked %v)", p.Socket.Blocked, p.OpenOutside.Blocked, p.Exec.Blocked)
	}
	if h.Core.ConfinementLevel != sandbox.LevelFull {
		st = Warn
		if h.Core.ConfinementRequired == config.ConfinementFull {
			st = Fail
		}
	}
	out = append(out, Finding{"core confinement", st, detail, ""})
	if !h.Core.KeyMemoryLocked {
		out = append(out, Finding{"key memory", Warn, "key memory is not locked (may be swapped)", "raise LimitMEMLOCK / ulimit -l"})
	} else {
		out = append(out, Finding{"key memory", Pass, "keys in locked, non-dumpable memory", ""})
	}
	return out
}
