package main

import (
	"encoding/hex"
	"encoding/json"
	"math/rand/v2"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/keyward/keyward/internal/eth"
	"github.com/keyward/keyward/internal/protect"
	"github.com/keyward/keyward/internal/tezos"
)

// tzSigned is one Tezos signature keyward returned.
type tzSigned struct {
	pkh          string
	class        tezos.Class
	level, round uint32
	payload      string // hex
	sig          string
}

// TestTezosCrashNeverDoubleSigns_Inv5 runs keyward as a real process, sends conflicting
// Tezos requests (several payloads per level and round, retries of identical bytes) from
// concurrent clients, kills the gateway or the core with SIGKILL at a random moment,
// restarts, and repeats. At the end no key has two different payloads signed at one
// (class, level, round), identical bytes always got the identical signature, and every
// returned signature is at or below the mark recorded in the database.
func TestTezosCrashNeverDoubleSigns_Inv5(t *testing.T) {
	if testing.Short() {
		t.Skip("crash test: -short")
	}
	dir := filepath.Join(t.TempDir(), "state")
	run(t, "init", "--dir", dir, "--network", "mainnet", "--confinement", "full")
	var pkhs []string
	for _, typ := range []string{"tz1", "tz2", "tz3", "tz4"} {
		pkhs = append(pkhs, strings.Fields(run(t, "keys", "generate", "--dir", dir, "--type", typ))[0])
	}
	rng := rand.New(rand.NewPCG(2, uint64(time.Now().UnixNano())))
	var mu sync.Mutex
	var got []tzSigned
	client := &http.Client{Timeout: 5 * time.Second}
	cycles := min(*crashKills, 100)
	args := func(eth, tez string) []string {
		return []string{"run", "--dir", dir, "--eth-listen", eth, "--tezos-listen", tez}
	}
	killCycles(t, client, cycles, rng, args, func(cycle int, r *rand.Rand, _, tezAddr string) bool {
		base := uint32(cycle) * 3
		i := r.IntN(len(pkhs))
		pkh, bls := pkhs[i], i == 3
		s := tzSigned{pkh: pkh, level: base + uint32(r.IntN(4)), round: uint32(r.IntN(2))}
		var p []byte
		switch r.IntN(3) {
		case 0:
			s.class = tezos.ClassBlock
			p = tzBlock(tzMainnet, s.level, s.round)
			p[len(p)-3] = byte(r.IntN(3)) // proof-of-work nonce: a different block at the same level and round
		case 1:
			s.class = tezos.ClassPreattestation
			p = tzConsensus(tezos.MagicPreattestation, bls, tzMainnet, s.level, s.round, byte(r.IntN(3)))
		default:
			s.class = tezos.ClassAttestation
			p = tzConsensus(tezos.MagicAttestation, bls, tzMainnet, s.level, s.round, byte(r.IntN(3)))
		}
		s.payload = hex.EncodeToString(p)
		resp, err := client.Post("http://"+tezAddr+"/keys/"+pkh, "application/json", strings.NewReader(`"`+s.payload+`"`))
		if err != nil {
			return false // killed
		}
		var m map[string]string
		json.NewDecoder(resp.Body).Decode(&m)
		resp.Body.Close()
		if resp.StatusCode == 200 && m["signature"] != "" {
			s.sig = m["signature"]
			mu.Lock()
			got = append(got, s)
			mu.Unlock()
		}
		return true
	})
	t.Logf("%d kills, %d Tezos signatures returned", cycles, len(got))
	if len(got) == 0 {
		t.Fatal("no signature was returned at all: the test proved nothing")
	}
	type pos struct {
		pkh          string
		class        tezos.Class
		level, round uint32
	}
	payloadAt := map[pos]string{}
	sigOf := map[string]string{}
	for _, s := range got {
		p := pos{s.pkh, s.class, s.level, s.round}
		if old, ok := payloadAt[p]; ok && old != s.payload {
			t.Errorf("%s %s: two payloads signed at level %d round %d", s.pkh, s.class, s.level, s.round)
		}
		payloadAt[p] = s.payload
		if old, ok := sigOf[s.pkh+s.payload]; ok && old != s.sig {
			t.Errorf("%s: identical bytes got two signatures", s.pkh)
		}
		sigOf[s.pkh+s.payload] = s.sig
	}
	n, _ := eth.BuiltinNetwork("mainnet")
	st, err := protect.Open(filepath.Join(dir, "protection.db"), protect.Options{GenesisValidatorsRoot: n.GenesisValidatorsRoot})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	marks := map[string]protect.TezosMark{}
	for _, m := range st.TezosMarks() {
		marks[m.Key.String()+m.Class.String()] = m
	}
	for _, s := range got {
		m, ok := marks[s.pkh+s.class.String()]
		if !ok || s.level > m.Level || s.level == m.Level && s.round > m.Round {
			t.Fatalf("%s %s: signature at (%d, %d) above the recorded mark %+v", s.pkh, s.class, s.level, s.round, m)
		}
	}
}
