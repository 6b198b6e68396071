package core

import (
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"time"

	"github.com/keyward/keyward/internal/audit"
	"github.com/keyward/keyward/internal/config"
	"github.com/keyward/keyward/internal/eth"
	"github.com/keyward/keyward/internal/keys"
	"github.com/keyward/keyward/internal/policy"
	"github.com/keyward/keyward/internal/protect"
	"github.com/keyward/keyward/internal/sandbox"
	"github.com/keyward/keyward/internal/secmem"
	"github.com/keyward/keyward/internal/wire"
)

// RunOptions start a core process.
type RunOptions struct {
	// Dir is the state directory (absolute).
	Dir string
	// Conn is the stream to the gateway, already open (an inherited socketpair end).
	// Exactly one of Conn and ListenFD is set.
	Conn net.Conn
	// ListenFD, when not 0, is a listening unix socket inherited from the service manager
	// (socket activation): the core accepts one gateway at a time on it, serves only a
	// peer running as GatewayUID, and its seccomp filter allows accept4 on this descriptor
	// only (sandbox.Config.AcceptFDs). It must be blocking.
	ListenFD int
	// GatewayUID is the uid a gateway must run as (SO_PEERCRED), with ListenFD.
	GatewayUID int
	// Log receives the core's own diagnostics (never key material).
	Log *slog.Logger
	// Confinement overrides the configuration's core.confinement when not empty.
	Confinement string
	// Version is the build version, reported in the status.
	Version string
}

// Run is the life of a core process: read the configuration and the pinned network,
// confine the process, unseal the keys into locked memory, open the protection store, then
// serve the gateway until the connection ends; or, with ListenFD, serve one gateway after
// another (acceptGateways) until one breaks the protocol.
func Run(opts RunOptions) error {
	if (opts.Conn == nil) == (opts.ListenFD == 0) {
		return errors.New("core: exactly one of a gateway connection and a listening socket")
	}
	cfg, err := config.Load(opts.Dir)
	if err != nil {
		return err
	}
	if opts.Confinement != "" {
		cfg.Core.Confinement = opts.Confinement
		if err := cfg.Validate(); err != nil {
			return err
		}
	}
	netYAML, err := os.ReadFile(filepath.Join(opts.Dir, config.NetworkFile))
	if err != nil {
		return fmt.Errorf("read pinned network: %w", err)
	}
	network, err := eth.ParseNetworkConfig(netYAML)
	if err != nil {
		return fmt.Errorf("pinned network %s: %w", config.NetworkFile, err)
	}

	// Confine before any key is read (Inv 1). Only the state directory stays reachable, plus
	// the master key's directory when it lives elsewhere (a systemd credential).
	mkPath := config.Path(opts.Dir, cfg.Core.MasterKey)
	sc := sandbox.Config{StateDir: opts.Dir, Require: sandbox.RequireFull}
	if opts.ListenFD != 0 {
		sc.AcceptFDs = append(sc.AcceptFDs, opts.ListenFD)
	}
	if cfg.Core.Confinement == config.ConfinementBestEffort {
		sc.Require = sandbox.RequireNone
	}
	if d := filepath.Dir(mkPath); !within(opts.Dir, d) {
		sc.ReadOnlyPaths = append(sc.ReadOnlyPaths, d)
	}
	// The admin socket (operator approvals) is made now: once confined, the core can
	// neither bind nor listen, only accept4 on this descriptor (Inv 4: approvals never pass
	// through the gateway, whose user the socket refuses).
	gatewayUID := os.Getuid() // keyward run: the gateway is our parent, of our user
	if opts.ListenFD != 0 {
		gatewayUID = opts.GatewayUID
	}
	adminLn, adminOpts, err := openAdminChannel(opts.Dir, cfg.Core, gatewayUID)
	if err != nil {
		return err
	}
	defer adminLn.Close()
	adminOpts.Log = opts.Log
	sc.AcceptFDs = append(sc.AcceptFDs, adminLn.FD())
	report, err := sandbox.Apply(sc)
	if err != nil {
		return fmt.Errorf("confine core (set core.confinement = %q or pass --confinement=%s to start with less): %w",
			config.ConfinementBestEffort, config.ConfinementBestEffort, err)
	}
	opts.Log.Info("core confined", "level", report.Level(), "landlock_abi", report.LandlockABI, "seccomp", report.Seccomp, "missing", report.Missing)

	tezPolicy, err := cfg.Tezos.Policy()
	if err != nil {
		return err
	}
	requireLock := cfg.Core.Confinement == config.ConfinementFull
	store, blsKeys, tezKeys, arena, err := unseal(opts.Dir, mkPath, requireLock)
	if err != nil {
		return err
	}
	defer store.Close()
	defer arena.Destroy()

	po := protect.Options{GenesisValidatorsRoot: network.GenesisValidatorsRoot, SlotsPerEpoch: network.SlotsPerEpoch, Log: opts.Log}
	if k := cfg.Core.ProtectionKeepEpochs; k != 0 {
		po.PruneEvery, po.PruneKeepEpochs = time.Hour, k
	}
	prot, err := protect.Open(filepath.Join(opts.Dir, config.ProtectionFile), po)
	if err != nil {
		return err
	}
	defer prot.Close()

	signers := make([]BLSKey, len(blsKeys))
	for i, k := range blsKeys {
		signers[i] = k
	}
	svc, err := New(network, signers, prot)
	if err != nil {
		return err
	}
	if err := svc.EnableKeyManagement(store, prot, requireLock); err != nil {
		return err
	}
	tezSigners := make([]TezosKey, len(tezKeys))
	for i, k := range tezKeys {
		tezSigners[i] = k
	}
	if err := svc.EnableTezos(tezPolicy, tezSigners, ProtectTezos(prot)); err != nil {
		return err
	}
	// Inv 4: the per-key policy, and the audit trail of every decision.
	pol, err := policy.Load(opts.Dir)
	if err != nil {
		return err
	}
	trail, err := audit.Open(filepath.Join(opts.Dir, audit.FileName), audit.Options{MaxFileSize: cfg.Audit.MaxFileBytes, Keep: cfg.Audit.KeepFiles})
	if err != nil {
		return fmt.Errorf("%w (move the file aside to start a new trail; keep it as evidence)", err)
	}
	defer trail.Close()
	if err := svc.EnablePolicy(PolicyOptions{Policy: pol, Ledger: prot, Audit: trail, Log: opts.Log}); err != nil {
		return err
	}
	if err := svc.EnableApprovals(ApprovalOptions{Timeout: time.Duration(cfg.Core.ApprovalTimeout), Max: cfg.Core.MaxPendingApprovals}); err != nil {
		return err
	}
	defer svc.ServeAdmin(adminLn, adminOpts)()
	opts.Log.Info("admin socket listening", "path", adminLn.Path(), "approvers", len(adminOpts.Approvers), "approval_timeout", time.Duration(cfg.Core.ApprovalTimeout))
	stopReload := reloadPolicyOnHangup(svc, opts.Dir, opts.Log)
	defer stopReload()
	defer svc.destroyAdmin()
	confJSON, err := json.Marshal(report)
	if err != nil {
		return fmt.Errorf("encode confinement report: %w", err)
	}
	status := &wire.Status{
		Ready:                 true,
		Network:               network.Name,
		GenesisValidatorsRoot: "0x" + hex.EncodeToString(network.GenesisValidatorsRoot[:]),
		BLSKeys:               len(svc.PublicKeys()),
		TezosKeys:             svc.TezosKeyCount(),
		KeyMemoryLocked:       arena.Locked(),
		ConfinementRequired:   cfg.Core.Confinement,
		ConfinementLevel:      report.Level(),
		Confinement:           confJSON,
		Protection:            "bbolt",
		Version:               opts.Version,
		ApprovalTimeoutMillis: time.Duration(cfg.Core.ApprovalTimeout).Milliseconds(),
	}
	opts.Log.Info("core ready", "network", network.Name, "bls_keys", status.BLSKeys, "tezos_keys", status.TezosKeys, "key_memory_locked", status.KeyMemoryLocked)
	lim := Limits{MaxConcurrent: cfg.Core.MaxConcurrent, QueueDepth: cfg.Core.QueueDepth}
	current := func() *wire.Status {
		st := *status
		st.PendingApprovals = svc.PendingApprovals()
		return &st
	}
	serve := func(c net.Conn) error { return svc.Serve(c, lim, current, opts.Log) }
	if opts.ListenFD != 0 {
		return acceptGateways(opts.ListenFD, opts.GatewayUID, serve, opts.Log)
	}
	return serve(opts.Conn)
}

// unseal opens the key store (kept open read-write for key management while the core
// runs) and loads every sealed key, Ethereum and Tezos, into one locked arena. The master
// key is zeroed before return: the store keeps only the key it derived.
func unseal(dir, mkPath string, requireLock bool) (*keys.Store, []*keys.BLSKey, []*keys.TezosKey, *secmem.Arena, error) {
	mk, err := keys.LoadMasterKey(mkPath)
	if err != nil {
		return nil, nil, nil, nil, err
	}
	defer mk.Zero()
	store, err := keys.OpenStore(filepath.Join(dir, config.KeysFile), mk, keys.StoreOptions{})
	if err != nil {
		return nil, nil, nil, nil, err
	}
	entries, err := store.List()
	if err != nil {
		store.Close()
		return nil, nil, nil, nil, err
	}
	tezEntries, err := store.ListTezos()
	if err != nil {
		store.Close()
		return nil, nil, nil, nil, err
	}
	arena, err := secmem.New(max(len(entries)+len(tezEntries), 1), keys.BLSSlotSize, requireLock)
	if err != nil {
		store.Close()
		return nil, nil, nil, nil, err
	}
	ks, err := store.LoadBLS(arena)
	if err == nil {
		var tks []*keys.TezosKey
		if tks, err = store.LoadTezos(arena); err == nil {
			return store, ks, tks, arena, nil
		}
	}
	arena.Destroy()
	store.Close()
	return nil, nil, nil, nil, err
}

func within(dir, p string) bool {
	rel, err := filepath.Rel(dir, p)
	return err == nil && rel != ".." && !filepath.IsAbs(rel) && (len(rel) < 3 || rel[:3] != "../")
}
