package main

import (
	"errors"
	"fmt"
	"net"
	"time"

	"github.com/keyward/keyward/internal/config"
	"github.com/keyward/keyward/internal/wire"
)

const gatewayHelp = `Serve the HTTP APIs (Web3Signer eth2, Keymanager, Octez remote signer, health, metrics)
as a service of its own, connected to a core that runs as another service under another
user ('keyward core --socket-activated', deploy/systemd/keyward-core.socket). The gateway
holds no key; it reads keyward.toml ([eth], [tezos], [tls], [log]) and keymanager.token from
its own directory, connects to the core's unix socket, waits until the core is ready,
then listens. If the connection to the core ends, the gateway exits non-zero so its
supervisor restarts it.

The state directory of the gateway is not the core's: it holds no master key, no key
store and no protection database. Create it by copying keyward.toml from the core's
directory and moving keymanager.token there (0600, owned by the gateway's user).

Examples:
  keyward gateway --dir /var/lib/keyward-gateway --core /run/keyward/core.sock`

func cmdGateway(args []string) int {
	fs := newFlags("gateway", "gateway --dir DIR --core SOCKET [flags]", gatewayHelp)
	dirFlag := fs.String("dir", "", "the gateway's directory: keyward.toml, keymanager.token (required)")
	sock := fs.String("core", "/run/keyward/core.sock", "the core's unix socket")
	listen := fs.String("eth-listen", "", "address of the eth2 API, overriding eth.listen")
	tezListen := fs.String("tezos-listen", "", "address of the Octez remote-signer API, overriding tezos.listen")
	if st := parse(fs, args); st >= 0 {
		return st
	}
	dir, err := stateDir(*dirFlag)
	if err != nil {
		return fail("gateway: %v", err)
	}
	if err := ensurePrivateDir(dir); err != nil {
		return fail("gateway: %v", err)
	}
	cfg, err := config.Load(dir)
	if err != nil {
		return fail("gateway: %v", err)
	}
	if *listen != "" {
		cfg.Eth.Listen = *listen
	}
	if *tezListen != "" {
		cfg.Tezos.Listen = *tezListen
	}
	if err := cfg.Validate(); err != nil {
		return fail("gateway: %v", err)
	}
	if err := serve(serveOptions{dir: dir, cfg: cfg, coreSocket: *sock, reloadOnHangup: true}); err != nil {
		return fail("gateway: %v", err)
	}
	return 0
}

// dialCore connects to a core that runs as its own service. The core checks this
// process's uid (SO_PEERCRED) and serves one gateway at a time: a second gateway waits
// until the first disconnects. The returned coreProcess has no child: its exited channel
// receives when the connection ends.
func dialCore(path string) (*coreProcess, error) {
	var d net.Dialer
	d.Timeout = 10 * time.Second
	conn, err := d.Dial("unix", path)
	if err != nil {
		return nil, fmt.Errorf("connect to core: %w", err)
	}
	p := &coreProcess{client: wire.NewClient(conn), exited: make(chan error, 1)}
	go func() {
		<-p.client.Done()
		p.exited <- errors.New("connection to core closed")
	}()
	return p, nil
}
