package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/keyward/keyward/internal/config"
	"github.com/keyward/keyward/internal/gateway"
	"github.com/keyward/keyward/internal/wire"
)

// The core child finds its end of the socketpair at this descriptor, announced in this
// environment variable (as wireguard-go does): no path to find or connect to.
const (
	coreFDEnv = "KEYWARD_CORE_FD"
	coreFD    = 3
)

// coreProcess is the gateway's connection to its core: a child (startCore) or a core
// running as its own service (dialCore, cmd is nil).
type coreProcess struct {
	cmd    *exec.Cmd // nil for a core that is not our child
	client *wire.Client
	exited chan error
}

// pid is the core's process id, or 0 when it is not our child.
func (p *coreProcess) pid() int {
	if p.cmd == nil {
		return 0
	}
	return p.cmd.Process.Pid
}

// startCore re-executes this binary as `keyward core` with one end of a socketpair at
// descriptor 3 and a minimal environment.
func startCore(dir, confinement string) (*coreProcess, error) {
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("socketpair: %w", err)
	}
	gwFile := os.NewFile(uintptr(fds[0]), "core")
	coreFile := os.NewFile(uintptr(fds[1]), "gateway")
	defer coreFile.Close()

	exe, err := os.Executable()
	if err != nil {
		gwFile.Close()
		return nil, fmt.Errorf("find own executable: %w", err)
	}
	args := []string{"core", "--dir", dir}
	if confinement != "" {
		args = append(args, "--confinement", confinement)
	}
	cmd := exec.Command(exe, args...)
	cmd.ExtraFiles = []*os.File{coreFile} // descriptor 3
	cmd.Env = []string{fmt.Sprintf("%s=%d", coreFDEnv, coreFD)}
	if cd := os.Getenv("CREDENTIALS_DIRECTORY"); cd != "" { // systemd LoadCredential=
		cmd.Env = append(cmd.Env, "CREDENTIALS_DIRECTORY="+cd)
	}
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL} // no orphaned core
	if err := cmd.Start(); err != nil {
		gwFile.Close()
		return nil, fmt.Errorf("start core: %w", err)
	}
	conn, err := net.FileConn(gwFile)
	gwFile.Close()
	if err != nil {
		_ = cmd.Process.Kill()
		return nil, fmt.Errorf("core connection: %w", err)
	}
	p := &coreProcess{cmd: cmd, client: wire.NewClient(conn), exited: make(chan error, 1)}
	go func() { p.exited <- cmd.Wait() }()
	return p, nil
}

// waitReady polls the core's status until it reports ready, the core exits, or timeout.
func (p *coreProcess) waitReady(timeout time.Duration) (*wire.Status, error) {
	deadline := time.Now().Add(timeout)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		st, err := p.client.Status(ctx)
		cancel()
		if err == nil && st.Ready {
			return st, nil
		}
		select {
		case err := <-p.exited:
			p.exited <- err
			return nil, fmt.Errorf("core exited during start-up: %v", err)
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("core not ready after %v: %v", timeout, err)
		}
	}
}

// stop closes the connection (a child core exits on end of stream; a service core waits
// for the next gateway) and waits for a child, then kills it.
func (p *coreProcess) stop() {
	_ = p.client.Close()
	if p.cmd == nil {
		return
	}
	select {
	case err := <-p.exited:
		p.exited <- err
	case <-time.After(5 * time.Second):
		_ = p.cmd.Process.Kill()
	}
}

// serveOptions are what run and demo pass to serve.
type serveOptions struct {
	dir         string
	cfg         config.Config
	confinement string // overrides cfg.Core.Confinement when set
	// coreSocket, when set, is the unix socket of a core running as its own service
	// (keyward gateway): serve connects to it instead of starting a child.
	coreSocket string
	// onReady is called once the APIs listen; tezosAddr is "" when the Tezos API is off.
	onReady func(addr, tezosAddr string, st *wire.Status)
	// reloadOnHangup: SIGHUP reloads clients.toml and is passed on to a child core, which
	// reloads policy.toml (run, gateway; not the demo, which a closed terminal must end).
	reloadOnHangup bool
}

// newLogger builds the gateway's logger from the configuration.
func newLogger(c config.Log) *slog.Logger {
	var level slog.Level
	_ = level.UnmarshalText([]byte(c.Level))
	ho := &slog.HandlerOptions{Level: level}
	if c.Format == "json" {
		return slog.New(slog.NewJSONHandler(os.Stderr, ho))
	}
	return slog.New(slog.NewTextHandler(os.Stderr, ho))
}

// serve starts the core, waits until it is ready, and serves the API until SIGINT or
// SIGTERM, or until the core exits (then serve fails: a gateway without its core is down).
func serve(o serveOptions) error {
	log := newLogger(o.cfg.Log)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	start := time.Now()
	var core *coreProcess
	var err error
	if o.coreSocket != "" {
		core, err = dialCore(o.coreSocket)
	} else {
		core, err = startCore(o.dir, o.confinement)
	}
	if err != nil {
		return err
	}
	defer core.stop()
	st, err := core.waitReady(2 * time.Minute)
	if err != nil {
		return err
	}
	log.Info("core ready", "pid", core.pid(), "bls_keys", st.BLSKeys, "tezos_keys", st.TezosKeys, "confinement", st.ConfinementLevel, "startup", time.Since(start).Round(time.Millisecond))

	token, err := readToken(filepath.Join(o.dir, config.KeymanagerTokenFile))
	if err != nil {
		return err
	}
	clients, err := gateway.LoadClients(o.dir)
	if err != nil {
		return err
	}
	tlsFiles := tlsFilesOf(o.dir, o.cfg.TLS)
	var tlsm *gateway.TLSMaterial
	if tlsFiles != nil {
		if tlsm, err = gateway.LoadTLS(*tlsFiles); err != nil {
			return err
		}
	}
	gw, err := gateway.New(gateway.Options{
		TLS:             tlsm,
		Clients:         clients,
		KeymanagerToken: token,
		Core:            core.client,
		Log:             log,
		MaxBodyBytes:    o.cfg.Eth.MaxBodyBytes,
		MaxInFlight:     o.cfg.Eth.MaxInFlight,
		Timeout:         time.Duration(o.cfg.Eth.TimeoutSeconds) * time.Second,
		ApprovalTimeout: time.Duration(st.ApprovalTimeoutMillis) * time.Millisecond, // the core's own setting
		Version:         buildVersion(),
		CorePID:         core.pid(),
	})
	if err != nil {
		return err
	}
	if o.reloadOnHangup {
		defer reloadOnHangup(gw, o.dir, tlsFiles, core.pid(), log)()
	}
	ln, err := net.Listen("tcp", o.cfg.Eth.Listen)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", o.cfg.Eth.Listen, err)
	}
	log.Info("eth2 API listening", "addr", ln.Addr().String(), "tls", tlsm != nil, "client_certificates", o.cfg.TLS.ClientAuth())
	// The Octez remote-signer API has its own listener, started when it is configured and
	// the core holds Tezos keys: an Ethereum-only signer opens no Tezos port.
	var tezLn net.Listener
	tezosAddr := ""
	switch {
	case o.cfg.Tezos.Listen == "":
	case st.TezosKeys == 0:
		log.Info("no Tezos keys: Tezos API not started", "tezos.listen", o.cfg.Tezos.Listen)
	default:
		if tezLn, err = net.Listen("tcp", o.cfg.Tezos.Listen); err != nil {
			ln.Close()
			return fmt.Errorf("listen on %s: %w", o.cfg.Tezos.Listen, err)
		}
		tezosAddr = tezLn.Addr().String()
		log.Info("Tezos API listening", "addr", tezosAddr, "tezos_keys", st.TezosKeys, "tls", tlsm != nil)
	}
	if o.onReady != nil {
		o.onReady(ln.Addr().String(), tezosAddr, st)
	}

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var coreErr error
	go func() {
		select {
		case <-core.client.Done():
			coreErr = errors.New("connection to core lost")
			select {
			case err := <-core.exited:
				core.exited <- err
				coreErr = fmt.Errorf("core exited: %v", err)
			case <-time.After(time.Second):
			}
			cancel()
		case <-ctx.Done():
		}
	}()
	tezErr := make(chan error, 1)
	if tezLn != nil {
		go func() {
			err := gw.ServeTezos(ctx, tezLn)
			if err != nil {
				cancel() // one API down stops the other: a supervisor restarts both
			}
			tezErr <- err
		}()
	} else {
		tezErr <- nil
	}
	err = gw.Serve(ctx, ln)
	cancel()
	if terr := <-tezErr; err == nil && terr != nil {
		err = terr
	}
	if err != nil {
		return err
	}
	if coreErr != nil {
		return coreErr
	}
	log.Info("stopped")
	return nil
}

// tlsFilesOf resolves the [tls] paths against dir; nil when TLS is off.
func tlsFilesOf(dir string, t config.TLS) *gateway.TLSFiles {
	if !t.Enabled() {
		return nil
	}
	f := &gateway.TLSFiles{Cert: config.Path(dir, t.CertFile), Key: config.Path(dir, t.KeyFile)}
	if t.ClientCAFile != "" {
		f.ClientCA = config.Path(dir, t.ClientCAFile)
	}
	if t.KnownClientsFile != "" {
		f.KnownClients = config.Path(dir, t.KnownClientsFile)
	}
	return f
}
