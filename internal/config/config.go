// Package config is keyward's configuration file, `keyward.toml` in the state directory:
// a typed struct per section, decoded once with unknown keys refused, validated in code.
// It holds no secret, only paths to 0600 files (Inv 9).
package config

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"time"

	toml "github.com/pelletier/go-toml/v2"
)

// File names inside a state directory.
const (
	FileName       = "keyward.toml"
	NetworkFile    = "network.yaml"
	MasterKeyFile  = "master.key"
	KeysFile       = "keys.db"
	ProtectionFile = "protection.db"
	// KeymanagerTokenFile holds the Keymanager API's bearer token (0600). Clients of the
	// Keymanager API read it, as they read Lighthouse's api-token.txt.
	KeymanagerTokenFile = "keymanager.token"
	// AdminSocketFile is the default core.admin_socket: the core's local admin channel.
	AdminSocketFile = "admin.sock"
)

// Defaults and bounds of operator approvals ([core] approval_timeout, max_pending_approvals).
const (
	DefaultApprovalTimeout     = 2 * time.Minute
	MinApprovalTimeout         = time.Second
	MaxApprovalTimeout         = time.Hour
	DefaultMaxPendingApprovals = 16
	MaxPendingApprovals        = 1024
)

// Confinement levels the core can be asked for.
const (
	ConfinementFull       = "full"
	ConfinementBestEffort = "best-effort"
)

// Config is the whole file.
type Config struct {
	Core  Core  `toml:"core"`
	Eth   Eth   `toml:"eth"`
	Tezos Tezos `toml:"tezos"`
	TLS   TLS   `toml:"tls"`
	Log   Log   `toml:"log"`
	Audit Audit `toml:"audit"`
}

// TLS configures TLS 1.3 (and optionally client certificates) on the eth2 and Octez
// listeners. All paths are relative to the state directory unless absolute. Without
// cert_file both listeners serve plain HTTP (the same-host default of init).
type TLS struct {
	// CertFile is the server's PEM certificate chain; KeyFile its PEM private key, which
	// must be 0600 (refused otherwise).
	CertFile string `toml:"cert_file"`
	KeyFile  string `toml:"key_file"`
	// ClientCAFile is a PEM bundle of CAs whose client certificates are accepted.
	ClientCAFile string `toml:"client_ca_file"`
	// KnownClientsFile lists accepted client certificates, Web3Signer's format: lines
	// "<name> <SHA-256 fingerprint AA:BB:…>". With either of the two client settings every
	// TLS client must present an accepted certificate or the handshake fails.
	KnownClientsFile string `toml:"known_clients_file"`
}

// Enabled reports whether the listeners serve TLS.
func (t TLS) Enabled() bool { return t.CertFile != "" }

// ClientAuth reports whether client certificates are required.
func (t TLS) ClientAuth() bool { return t.ClientCAFile != "" || t.KnownClientsFile != "" }

// Core configures the trusted core.
type Core struct {
	// Confinement is "full" (default: refuse to start without every confinement) or
	// "best-effort" (start with what the kernel gives, and report it).
	Confinement string `toml:"confinement"`
	// MasterKey is the path of the master key file, relative to the state directory.
	// Default master.key. For a systemd credential use an absolute path under
	// $CREDENTIALS_DIRECTORY.
	MasterKey string `toml:"master_key"`
	// MaxConcurrent bounds requests the core works on at once; further requests wait in a
	// queue of QueueDepth and beyond that are refused as unavailable. Defaults 64 and 1024.
	MaxConcurrent int `toml:"max_concurrent"`
	QueueDepth    int `toml:"queue_depth"`
	// ProtectionKeepEpochs, when not 0, prunes slashing-protection history older than
	// this many epochs every hour, raising low watermarks first (never lowering
	// protection). 0 (default) keeps everything.
	ProtectionKeepEpochs uint64 `toml:"protection_keep_epochs"`
	// AdminSocket is the unix socket of the core's local admin channel (keyward approvals,
	// approve, deny), relative to the state directory unless absolute. Default admin.sock.
	// The core creates it, mode 0600, before it confines itself; it never passes through
	// the gateway.
	AdminSocket string `toml:"admin_socket"`
	// AdminSocketGroup, when set, makes the admin socket 0660 and of this group (the core's
	// user must be a member), so that approvers who are not root can reach it. The socket's
	// directory must let them through too (the state directory is 0700: put the socket
	// elsewhere, e.g. /run/keyward/admin.sock).
	AdminSocketGroup string `toml:"admin_socket_group"`
	// Approvers are the users (names or numeric uids) who may approve or deny requests on
	// the admin socket, besides root. The user the gateway runs as is refused, even if
	// listed: a compromised gateway must not approve its own requests.
	Approvers []string `toml:"approvers"`
	// ApprovalTimeout is how long a request under an "approve" rule waits for an operator
	// before it is refused. Default 2m; 1s to 1h.
	ApprovalTimeout Duration `toml:"approval_timeout"`
	// MaxPendingApprovals bounds the requests waiting for an operator at once; beyond it
	// a request that needs approval is refused at once. Default 16; 1 to 1024.
	MaxPendingApprovals int `toml:"max_pending_approvals"`
}

// Duration is a time.Duration written as text in keyward.toml ("2m", "90s").
type Duration time.Duration

// MarshalText writes the Go form ("2m0s").
func (d Duration) MarshalText() ([]byte, error) { return []byte(time.Duration(d).String()), nil }

// UnmarshalText reads a Go duration ("2m", "1h30m").
func (d *Duration) UnmarshalText(b []byte) error {
	v, err := time.ParseDuration(string(b))
	if err != nil {
		return fmt.Errorf("parse duration: %w", err)
	}
	*d = Duration(v)
	return nil
}

// Eth configures the Ethereum (Web3Signer eth2) API of the gateway.
type Eth struct {
	// Listen is the address of the HTTP listener. Default 127.0.0.1:9000.
	Listen string `toml:"listen"`
	// MaxBodyBytes limits a request body. Default 1 MiB.
	MaxBodyBytes int64 `toml:"max_body_bytes"`
	// MaxInFlight limits signing requests in progress; beyond it the gateway answers 503
	// at once. Default 1024.
	MaxInFlight int `toml:"max_in_flight"`
	// TimeoutSeconds bounds one signing request end to end. Default 10.
	TimeoutSeconds int `toml:"timeout_seconds"`
}

// Log configures the gateway's logs.
type Log struct {
	Format string `toml:"format"` // "text" (default) or "json"
	Level  string `toml:"level"`  // "debug", "info" (default), "warn", "error"
}

// MinProtectionKeepEpochs is the least history pruning may keep (225 epochs ≈ one day).
// It must not be below protect.MinPruneKeepEpochs.
const MinProtectionKeepEpochs = 225

// Default returns the configuration `keyward init` writes.
func Default() Config {
	return Config{
		Core: Core{Confinement: ConfinementFull, MasterKey: MasterKeyFile, MaxConcurrent: 64, QueueDepth: 1024,
			AdminSocket: AdminSocketFile, Approvers: []string{}, ApprovalTimeout: Duration(DefaultApprovalTimeout), MaxPendingApprovals: DefaultMaxPendingApprovals},
		Eth:   Eth{Listen: "127.0.0.1:9000", MaxBodyBytes: 1 << 20, MaxInFlight: 1024, TimeoutSeconds: 10},
		Tezos: DefaultTezos(),
		Log:   Log{Format: "text", Level: "info"},
		Audit: DefaultAudit(),
	}
}

// Load reads and validates dir/keyward.toml. Missing fields take their defaults.
func Load(dir string) (Config, error) {
	b, err := os.ReadFile(filepath.Join(dir, FileName))
	if err != nil {
		return Config{}, fmt.Errorf("read configuration: %w", err)
	}
	return Parse(b)
}

// Parse decodes and validates a configuration, refusing unknown keys.
func Parse(b []byte) (Config, error) {
	c := Default()
	dec := toml.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&c); err != nil {
		var sm *toml.StrictMissingError
		if errors.As(err, &sm) {
			return Config{}, fmt.Errorf("parse %s: unknown key:\n%s", FileName, sm.String())
		}
		return Config{}, fmt.Errorf("parse %s: %w", FileName, err)
	}
	if err := c.Validate(); err != nil {
		return Config{}, err
	}
	return c, nil
}

// Validate checks values that the type system cannot.
func (c *Config) Validate() error {
	switch c.Core.Confinement {
	case ConfinementFull, ConfinementBestEffort:
	default:
		return fmt.Errorf("core.confinement: %q is neither %q nor %q", c.Core.Confinement, ConfinementFull, ConfinementBestEffort)
	}
	if c.Core.MasterKey == "" {
		return errors.New("core.master_key: empty")
	}
	if c.Core.MaxConcurrent < 1 || c.Core.MaxConcurrent > 4096 {
		return fmt.Errorf("core.max_concurrent: %d not in 1..4096", c.Core.MaxConcurrent)
	}
	if c.Core.QueueDepth < 0 || c.Core.QueueDepth > 1<<20 {
		return fmt.Errorf("core.queue_depth: %d not in 0..%d", c.Core.QueueDepth, 1<<20)
	}
	if k := c.Core.ProtectionKeepEpochs; k != 0 && k < MinProtectionKeepEpochs {
		return fmt.Errorf("core.protection_keep_epochs: %d is below %d (about a day); 0 keeps everything", k, MinProtectionKeepEpochs)
	}
	if err := c.Core.validateApprovals(); err != nil {
		return err
	}
	if _, _, err := net.SplitHostPort(c.Eth.Listen); err != nil {
		return fmt.Errorf("eth.listen: %w", err)
	}
	if c.Eth.MaxBodyBytes < 1024 || c.Eth.MaxBodyBytes > 4<<20 {
		return fmt.Errorf("eth.max_body_bytes: %d not in 1024..%d", c.Eth.MaxBodyBytes, 4<<20)
	}
	if c.Eth.MaxInFlight < 1 {
		return fmt.Errorf("eth.max_in_flight: %d < 1", c.Eth.MaxInFlight)
	}
	if c.Eth.TimeoutSeconds < 1 || c.Eth.TimeoutSeconds > 300 {
		return fmt.Errorf("eth.timeout_seconds: %d not in 1..300", c.Eth.TimeoutSeconds)
	}
	if _, err := c.Tezos.Policy(); err != nil {
		return err
	}
	if (c.TLS.CertFile == "") != (c.TLS.KeyFile == "") {
		return errors.New("tls: cert_file and key_file go together")
	}
	if !c.TLS.Enabled() && c.TLS.ClientAuth() {
		return errors.New("tls: client_ca_file and known_clients_file need cert_file and key_file")
	}
	switch c.Log.Format {
	case "text", "json":
	default:
		return fmt.Errorf("log.format: %q is neither text nor json", c.Log.Format)
	}
	switch c.Log.Level {
	case "debug", "info", "warn", "error":
	default:
		return fmt.Errorf("log.level: %q unknown", c.Log.Level)
	}
	return c.Audit.validate()
}

// Marshal encodes c as TOML with a header comment.
func Marshal(c Config) ([]byte, error) {
	b, err := toml.Marshal(c)
	if err != nil {
		return nil, fmt.Errorf("encode configuration: %w", err)
	}
	head := "# keyward configuration. Unknown keys are refused. Secrets are never stored here.\n"
	return append([]byte(head), b...), nil
}

// Path resolves p against the state directory dir when it is relative.
func Path(dir, p string) string {
	if filepath.IsAbs(p) {
		return p
	}
	return filepath.Join(dir, p)
}

// validateApprovals checks the admin channel and approval settings.
func (c *Core) validateApprovals() error {
	if c.AdminSocket == "" {
		return errors.New("core.admin_socket: empty")
	}
	if t := time.Duration(c.ApprovalTimeout); t < MinApprovalTimeout || t > MaxApprovalTimeout {
		return fmt.Errorf("core.approval_timeout: %v not in %v..%v", t, MinApprovalTimeout, MaxApprovalTimeout)
	}
	if n := c.MaxPendingApprovals; n < 1 || n > MaxPendingApprovals {
		return fmt.Errorf("core.max_pending_approvals: %d not in 1..%d", n, MaxPendingApprovals)
	}
	for _, a := range c.Approvers {
		if !validUserName(a) {
			return fmt.Errorf("core.approvers: %q is neither a user name nor a uid", a)
		}
	}
	if g := c.AdminSocketGroup; g != "" && !validUserName(g) {
		return fmt.Errorf("core.admin_socket_group: %q is neither a group name nor a gid", g)
	}
	return nil
}

// validUserName accepts a numeric id or a portable user or group name (letters, digits,
// '.', '_', '-', not starting with '-'; at most 32 bytes).
func validUserName(s string) bool {
	if _, err := strconv.ParseUint(s, 10, 32); err == nil {
		return true
	}
	if s == "" || len(s) > 32 || s[0] == '-' {
		return false
	}
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '.' || r == '_' || r == '-') {
			return false
		}
	}
	return true
}
