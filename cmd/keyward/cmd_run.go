package main

import (
	"github.com/keyward/keyward/internal/config"
)

const runHelp = `Serve the Web3Signer eth2 API from a state directory made by 'keyward init'.

run starts the core, the compartment that holds the keys, as a confined child process of
the same binary connected by a socketpair, waits until it has unsealed the keys, then
listens (127.0.0.1:9000 by default; see eth.listen in keyward.toml). If the core cannot
be confined as core.confinement requires, run refuses to start and says what is missing;
--confinement best-effort lowers the requirement explicitly.

Endpoints: POST /api/v1/eth2/sign/{pubkey}, GET /api/v1/eth2/publicKeys, GET /upcheck,
GET /healthcheck, GET /metrics.

When the store holds Tezos keys, run also serves the Octez remote-signer API on its own
listener (tezos.listen, default 127.0.0.1:6732): GET/POST /keys/<pkh>,
GET /authorized_keys, and when enabled GET /known_keys, GET /bls_prove_possession/<tz4>.

Examples:
  keyward run --dir /var/lib/keyward
  keyward run --dir ./state --eth-listen 127.0.0.1:9100
  keyward run --dir ./state --tezos-listen 127.0.0.1:16732`

func cmdRun(args []string) int {
	fs := newFlags("run", "run --dir DIR [flags]", runHelp)
	dirFlag := fs.String("dir", "", "state directory (required)")
	listen := fs.String("eth-listen", "", "address of the eth2 API, overriding eth.listen")
	tezListen := fs.String("tezos-listen", "", "address of the Octez remote-signer API, overriding tezos.listen")
	confinement := fs.String("confinement", "", "override core.confinement: full or best-effort")
	if st := parse(fs, args); st >= 0 {
		return st
	}
	dir, err := stateDir(*dirFlag)
	if err != nil {
		return fail("run: %v", err)
	}
	if err := ensurePrivateDir(dir); err != nil {
		return fail("run: %v", err)
	}
	cfg, err := config.Load(dir)
	if err != nil {
		return fail("run: %v", err)
	}
	if *listen != "" {
		cfg.Eth.Listen = *listen
	}
	if *tezListen != "" {
		cfg.Tezos.Listen = *tezListen
	}
	if *confinement != "" {
		cfg.Core.Confinement = *confinement
	}
	if err := cfg.Validate(); err != nil {
		return fail("run: %v", err)
	}
	if err := serve(serveOptions{dir: dir, cfg: cfg, confinement: *confinement, reloadOnHangup: true}); err != nil {
		return fail("run: %v", err)
	}
	return 0
}
