package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"math/rand/v2"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/keyward/keyward/internal/eth"
	"github.com/keyward/keyward/internal/protect"
)

var crashKills = flag.Int("crash-kills", 200, "kill -9 cycles of TestCrashNeverSlashable (thousands for the long mode)")

// signed is one signature keyward returned.
type signed struct {
	key    string
	block  bool
	slot   uint64 // blocks
	source uint64 // attestations
	target uint64
	root   [32]byte
}

// TestCrashNeverSlashable_Inv5 starts keyward as a real process, sends signing requests
// from concurrent clients (many of them deliberately conflicting: double votes, surrounds,
// two blocks at a slot), kills the core or the gateway with SIGKILL at a random moment,
// restarts, and repeats. At the end no two returned signatures form a slashable pair, and
// every returned signature has its record in the protection database.
func TestCrashNeverSlashable_Inv5(t *testing.T) {
	if testing.Short() {
		t.Skip("crash test: -short")
	}
	dir := filepath.Join(t.TempDir(), "state")
	run(t, "init", "--dir", dir, "--network", "mainnet", "--confinement", "full")
	keysOut := run(t, "keys", "generate", "--dir", dir, "--count", "3")
	keys := strings.Fields(keysOut)
	net, err := eth.BuiltinNetwork("mainnet")
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(1, uint64(time.Now().UnixNano())))
	var mu sync.Mutex
	var got []signed
	client := &http.Client{Timeout: 5 * time.Second}

	args := func(eth, tez string) []string { return []string{"run", "--dir", dir, "--eth-listen", eth} }
	killCycles(t, client, *crashKills, rng, args, func(cycle int, r *rand.Rand, url, _ string) bool {
		// Requests in a small window of slots and epochs, so conflicts are frequent.
		base := uint64(cycle) * 4
		key := keys[r.IntN(len(keys))]
		var s signed
		var body string
		if r.IntN(3) == 0 {
			s = signed{key: key, block: true, slot: base + uint64(r.IntN(6))}
			body = blockV2(s.slot, byte(r.IntN(3)))
		} else {
			t0 := base + uint64(r.IntN(6))
			src := t0 - min(t0, uint64(r.IntN(4)))
			s = signed{key: key, source: src, target: t0}
			body = attestation(src, t0, byte(r.IntN(3)), "")
		}
		req, _ := http.NewRequest(http.MethodPost, url+"/api/v1/eth2/sign/"+key, strings.NewReader(body))
		req.Header.Set("Accept", "application/json")
		resp, err := client.Do(req)
		if err != nil {
			return false // killed
		}
		var m map[string]string
		json.NewDecoder(resp.Body).Decode(&m)
		resp.Body.Close()
		if resp.StatusCode != 200 || m["signature"] == "" {
			return true
		}
		parsed, err := parseForTest(body)
		if err != nil {
			t.Error(err)
			return false
		}
		sg, err := net.Signable(parsed)
		if err != nil {
			t.Error(err)
			return false
		}
		s.root = sg.SigningRoot
		if s.block {
			s.slot = sg.Slot
		} else {
			s.source, s.target = sg.SourceEpoch, sg.TargetEpoch
		}
		mu.Lock()
		got = append(got, s)
		mu.Unlock()
		return true
	})
	t.Logf("%d kills, %d signatures returned", *crashKills, len(got))
	checkNotSlashable(t, got)
	checkRecorded(t, dir, net, got)
}

// killCycles runs the crash cycles of both crash tests: start keyward with args on fresh
// ports, eight concurrent clients calling request (one request each call; false stops that
// client, e.g. when the signer was killed), a random delay, SIGKILL of the gateway (whose
// Pdeathsig takes the core with it) or of the core itself, mid-write, then reap both.
func killCycles(t *testing.T, client *http.Client, cycles int, rng *rand.Rand, args func(eth, tez string) []string,
	request func(cycle int, r *rand.Rand, url, tezAddr string) bool) {
	t.Helper()
	for cycle := 0; cycle < cycles; cycle++ {
		proc, url, tezAddr := startCycle(t, client, args)
		var h struct {
			CorePID int `json:"core_pid"`
		}
		if resp, err := client.Get(url + "/healthcheck"); err == nil {
			json.NewDecoder(resp.Body).Decode(&h)
			resp.Body.Close()
		}
		var wg sync.WaitGroup
		stop := make(chan struct{})
		for c := 0; c < 8; c++ {
			r := rand.New(rand.NewPCG(rng.Uint64(), uint64(c)))
			wg.Go(func() {
				for {
					select {
					case <-stop:
						return
					default:
					}
					if !request(cycle, r, url, tezAddr) {
						return
					}
				}
			})
		}
		time.Sleep(time.Duration(rng.IntN(60)) * time.Millisecond)
		victim := proc.pid
		if h.CorePID != 0 && rng.IntN(2) == 0 {
			victim = h.CorePID
		}
		syscall.Kill(victim, syscall.SIGKILL)
		proc.killAll()
		close(stop)
		wg.Wait()
		waitCoreGone(h.CorePID)
	}
}

// startCycle starts `keyward run` for one crash cycle on fresh loopback ports and waits
// until it answers. A start that fails at once (another test process took a probed port
// between probe and bind) is retried on new ports; a signer that stays down is a failure.
func startCycle(t *testing.T, client *http.Client, args func(eth, tez string) []string) (*cycleProc, string, string) {
	t.Helper()
	for attempt := 0; attempt < 5; attempt++ {
		addr, tezAddr := freeAddr(t), freeAddr(t)
		cmd := exec.Command(binary, args(addr, tezAddr)...)
		cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
		var stderr strings.Builder
		cmd.Stderr = &stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		exited := make(chan struct{})
		go func() { cmd.Wait(); close(exited) }()
		deadline := time.Now().Add(20 * time.Second)
		for time.Now().Before(deadline) {
			if resp, err := client.Get("http://" + addr + "/upcheck"); err == nil {
				resp.Body.Close()
				if resp.StatusCode == 200 {
					return &cycleProc{pid: cmd.Process.Pid, exited: exited}, "http://" + addr, tezAddr
				}
			}
			select {
			case <-exited:
				if strings.Contains(stderr.String(), "address already in use") {
					deadline = time.Time{} // retry on other ports
					continue
				}
				t.Fatalf("keyward exited during start-up:\n%s", stderr.String())
			case <-time.After(10 * time.Millisecond):
			}
		}
		select {
		case <-exited:
		default:
			syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
			<-exited
			t.Fatalf("keyward did not come up in 20 s:\n%s", stderr.String())
		}
	}
	t.Fatal("no free ports after 5 attempts")
	return nil, "", ""
}

// cycleProc is a keyward started by startCycle, in a process group of its own.
type cycleProc struct {
	pid    int
	exited chan struct{}
}

// killAll kills the whole process group (gateway and core) and waits for the gateway.
func (p *cycleProc) killAll() {
	syscall.Kill(-p.pid, syscall.SIGKILL)
	<-p.exited
}

func waitUp(c *http.Client, url string, d time.Duration) bool {
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) {
		if resp, err := c.Get(url + "/upcheck"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return true
			}
		}
		time.Sleep(10 * time.Millisecond)
	}
	return false
}

// waitCoreGone waits until a killed core has released its database lock: it no longer
// exists, or is a zombie (its files, and so its flock, are closed; its reaper is init).
func waitCoreGone(pid int) {
	if pid == 0 {
		return
	}
	for i := 0; i < 500; i++ {
		st, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
		if err != nil {
			return
		}
		if f := strings.Fields(string(st)); len(f) > 2 && (f[2] == "Z" || f[2] == "X") {
			return
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// checkNotSlashable checks every pair of returned signatures per key.
func checkNotSlashable(t *testing.T, got []signed) {
	t.Helper()
	byKey := map[string][]signed{}
	for _, s := range got {
		byKey[s.key] = append(byKey[s.key], s)
	}
	for key, ss := range byKey {
		for i := range ss {
			for j := i + 1; j < len(ss); j++ {
				a, b := ss[i], ss[j]
				if a.root == b.root || a.block != b.block {
					continue // the same message signed twice is not slashable
				}
				switch {
				case a.block && a.slot == b.slot:
					t.Errorf("%s: two blocks at slot %d", key, a.slot)
				case !a.block && a.target == b.target:
					t.Errorf("%s: double vote at target %d", key, a.target)
				case !a.block && (a.source < b.source && b.target < a.target || b.source < a.source && a.target < b.target):
					t.Errorf("%s: surround vote (%d,%d) / (%d,%d)", key, a.source, a.target, b.source, b.target)
				}
			}
		}
	}
}

// checkRecorded checks that the database holds a record of every returned signature.
func checkRecorded(t *testing.T, dir string, n *eth.Network, got []signed) {
	t.Helper()
	st, err := protect.Open(filepath.Join(dir, "protection.db"), protect.Options{GenesisValidatorsRoot: n.GenesisValidatorsRoot})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	doc, err := st.ExportInterchange(nil)
	if err != nil {
		t.Fatal(err)
	}
	var ic struct {
		Data []struct {
			Pubkey       string `json:"pubkey"`
			SignedBlocks []struct {
				Slot        string `json:"slot"`
				SigningRoot string `json:"signing_root"`
			} `json:"signed_blocks"`
			SignedAttestations []struct {
				Source      string `json:"source_epoch"`
				Target      string `json:"target_epoch"`
				SigningRoot string `json:"signing_root"`
			} `json:"signed_attestations"`
		} `json:"data"`
	}
	if err := json.Unmarshal(doc, &ic); err != nil {
		t.Fatal(err)
	}
	have := map[string]bool{}
	for _, d := range ic.Data {
		for _, b := range d.SignedBlocks {
			have[fmt.Sprintf("%s b %s %s", d.Pubkey, b.Slot, b.SigningRoot)] = true
		}
		for _, a := range d.SignedAttestations {
			have[fmt.Sprintf("%s a %s %s %s", d.Pubkey, a.Source, a.Target, a.SigningRoot)] = true
		}
	}
	missing := 0
	for _, s := range got {
		var k string
		if s.block {
			k = fmt.Sprintf("%s b %d 0x%x", s.key, s.slot, s.root)
		} else {
			k = fmt.Sprintf("%s a %d %d 0x%x", s.key, s.source, s.target, s.root)
		}
		if !have[k] {
			missing++
			if missing < 5 {
				t.Errorf("returned signature without a record: %s", k)
			}
		}
	}
	if missing > 0 {
		t.Fatalf("%d of %d returned signatures have no record", missing, len(got))
	}
	if len(got) == 0 {
		t.Fatal("no signature was returned at all: the test proved nothing")
	}
}
