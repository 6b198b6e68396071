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
	"net/http"
	"os"
	"path/filepath"
	"strings"
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
	// Also are other keyward state directories or validator-client directories whose keys
	// must not overlap with this one's (--also).
	Also []string
	// SecretPaths are more files or directories holding key material, keystores,
	// passwords or tokens (--check-path): checked for work trees and modes.
	SecretPaths []string
	// ProcRoot is where running processes are looked up; "" means /proc.
	ProcRoot string
	// Now is the clock for certificate expiry; nil means time.Now.
	Now func() time.Time
	// testOnlyClock replaces the kernel's clock state in tests.
	testOnlyClock func() clockState
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
	mkPath := config.Path(o.Dir, cfg.Core.MasterKey)
	if _, err := os.Stat(mkPath); errors.Is(err, fs.ErrNotExist) && strings.HasPrefix(mkPath, "/run/credentials/") {
		add(Finding{"permissions: master key", Warn, mkPath + " is a systemd credential, visible only to the running service",
			"check the credential's source (LoadCredential=) instead: root-owned, 0600, in a 0700 directory"})
	} else {
		add(checkMode(mkPath, "master key", 0o600, false, o.Euid))
	}
	for _, f := range []string{config.KeysFile, config.ProtectionFile, config.NetworkFile, config.FileName, config.KeymanagerTokenFile} {
		p := filepath.Join(o.Dir, f)
		if _, err := os.Stat(p); errors.Is(err, fs.ErrNotExist) && (f == config.ProtectionFile || f == config.KeymanagerTokenFile) {
			continue // created at first start / by init on newer versions
		}
		add(checkMode(p, f, 0o600, false, o.Euid))
	}
	add(checkStateFiles(o.Dir, o.Euid))
	add(checkAdminSocket(config.Path(o.Dir, cfg.Core.AdminSocket), cfg.Core.AdminSocketGroup, o.Euid))
	if b, err := os.ReadFile(filepath.Join(o.Dir, config.NetworkFile)); err != nil {
		add(Finding{"network", Fail, err.Error(), "run keyward init"})
	} else if n, err := eth.ParseNetworkConfig(b); err != nil {
		add(Finding{"network", Fail, err.Error(), "restore network.yaml from a backup or re-init"})
	} else {
		add(Finding{"network", Pass, fmt.Sprintf("pinned to %s, genesis validators root %#x", n.Name, n.GenesisValidatorsRoot), ""})
	}
	add(checkWorkTree(o.Dir))
	secretPaths := append([]string{}, o.SecretPaths...)
	if !within(o.Dir, mkPath) {
		secretPaths = append(secretPaths, mkPath) // a master key kept outside the state directory
	}
	out = append(out, checkSecretPlaces(secretPaths)...)
	if cfg.TLS.ClientAuth() {
		add(checkListenMutualTLS("eth", cfg.Eth.Listen))
		add(checkListenMutualTLS("tezos", cfg.Tezos.Listen))
	} else {
		add(checkListen(cfg.Eth.Listen))
		add(checkTezosListen(cfg.Tezos.Listen, len(cfg.Tezos.AuthorizedKeys), cfg.Tezos.AllowKnownKeys, cfg.Tezos.AllowProvePossession))
	}
	var certs []string
	if cfg.TLS.Enabled() {
		add(checkMode(config.Path(o.Dir, cfg.TLS.KeyFile), "TLS key", 0o600, false, o.Euid))
		certs = append(certs, config.Path(o.Dir, cfg.TLS.CertFile))
		if cfg.TLS.ClientCAFile != "" {
			certs = append(certs, config.Path(o.Dir, cfg.TLS.ClientCAFile))
		}
	}
	now := time.Now
	if o.Now != nil {
		now = o.Now
	}
	out = append(out, checkCertificates(certs, now())...) // [tls] cert_file and client_ca_file
	add(checkConfinementConfig(cfg.Core.Confinement))
	add(checkKernel())
	add(checkDisk(o.Dir))
	add(checkProtectionStore(filepath.Join(o.Dir, config.ProtectionFile)))
	add(checkProtectionJournal(filepath.Join(o.Dir, config.ProtectionFile+".journal")))
	out = append(out, checkPolicyFiles(o.Dir)...)
	clock := readClock
	if o.testOnlyClock != nil {
		clock = o.testOnlyClock
	}
	add(judgeClock(clock()))
	add(checkDuplicateKeys(ctx, o.Dir, o.Also, o.HTTPClient))
	procRoot := o.ProcRoot
	if procRoot == "" {
		procRoot = "/proc"
	}
	add(checkSeparateUsers(procRoot, o.Dir))
	switch {
	case o.HTTPClient == nil:
	case cfg.TLS.Enabled():
		// The listener speaks TLS (and may require a client certificate doctor does not hold).
		add(Finding{"running signer", Warn, "not queried: " + cfg.Eth.Listen + " serves TLS; doctor checks a running signer over plain HTTP only",
			"check /healthcheck with a client certificate: curl --cacert tls/ca.pem --cert tls/clients/NAME.pem --key tls/clients/NAME.key https://ADDR/healthcheck"})
	default:
		out = append(out, checkRunning(ctx, o.HTTPClient, cfg.Eth.Listen)...)
	}
	return out
}

// within reports whether p is dir or inside it.
func within(dir, p string) bool {
	rel, err := filepath.Rel(dir, p)
	return err == nil && rel != ".." && !filepath.IsAbs(rel) && !strings.HasPrefix(rel, "../")
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
