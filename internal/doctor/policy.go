package doctor

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/keyward/keyward/internal/audit"
	"github.com/keyward/keyward/internal/gateway"
	"github.com/keyward/keyward/internal/policy"
)

// checkPolicyFiles judges policy.toml (the core refuses to start with a bad one; a reload
// keeps the old policy), clients.toml (the gateway refuses to start with a bad one) and
// the audit trail (the core refuses to append to a trail that does not verify).
func checkPolicyFiles(dir string) []Finding {
	var out []Finding
	if _, err := os.Stat(filepath.Join(dir, policy.FileName)); errors.Is(err, fs.ErrNotExist) {
		out = append(out, Finding{"policy", Pass, "no policy.toml: exits, deposits and transfers are refused (the default)", ""})
	} else if _, err := policy.Load(dir); err != nil {
		out = append(out, Finding{"policy", Fail, err.Error(), "fix policy.toml (docs/policy.md); the core does not start with it, a reload keeps the old policy"})
	} else {
		out = append(out, Finding{"policy", Pass, "policy.toml is valid", ""})
	}

	if c, err := gateway.LoadClients(dir); err != nil {
		out = append(out, Finding{"clients", Fail, err.Error(), "fix clients.toml with keyward clients, or chmod 600"})
	} else if c.Loopback == nil && len(c.Clients) == 0 {
		out = append(out, Finding{"clients", Warn, "no client can sign: no token client and the loopback client is off", "keyward clients add, or keyward clients loopback"})
	} else {
		out = append(out, Finding{"clients", Pass, fmt.Sprintf("%d token client(s), loopback client %s", len(c.Clients), onOff(c.Loopback != nil)), ""})
	}

	p := filepath.Join(dir, audit.FileName)
	if _, err := os.Stat(p); errors.Is(err, fs.ErrNotExist) {
		out = append(out, Finding{"audit trail", Pass, "no audit.jsonl yet (created at the core's first start)", ""})
	} else if s, err := audit.VerifyCurrent(dir); err != nil {
		out = append(out, Finding{"audit trail", Fail, err.Error(), "keep the file as evidence and move it aside: the core does not start with a trail that does not verify"})
	} else {
		out = append(out, Finding{"audit trail", Pass, fmt.Sprintf("records up to %d verify in %s (keyward audit verify checks the rotated files too); last hash %s", s.Records, audit.FileName, s.Last), ""})
	}
	return out
}

func onOff(b bool) string {
	if b {
		return "on"
	}
	return "off"
}
