package gateway

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"

	"github.com/pelletier/go-toml/v2"
)

// ClientsFile holds the gateway's clients, in the gateway's state directory, 0600.
const ClientsFile = "clients.toml"

// tokenPrefix starts every bearer token keyward makes, so that a leaked one is recognisable.
const tokenPrefix = "kw1_"

// Clients is the decoded clients.toml: who may call the signing APIs, and for what.
//
// On a TLS connection with a client certificate (tls.go) and no Authorization header, the
// certificate names the client: the entry whose cert_sha256 is its fingerprint, else the
// entry named by the TLS configuration (known_clients_file, or a client CA's Common Name).
//
// A request with `Authorization: Bearer <token>` is the client whose token hash matches
// (SHA-256, compared in constant time against every client); a wrong or malformed token
// is refused (401) even from loopback. A request without the header is the Loopback
// client when Loopback is set and the connection's source address (never a header) is a
// loopback address; otherwise 401.
//
// Without clients.toml the gateway behaves as `keyward init` sets it up on one host: a
// loopback client with every key and operation, and no token client.
type Clients struct {
	Loopback *LoopbackClient        `toml:"loopback"`
	Clients  map[string]ClientEntry `toml:"clients"`
}

// LoopbackClient is the anonymous client of the same host.
type LoopbackClient struct {
	Keys       []string `toml:"keys"`
	Operations []string `toml:"operations"`
}

// ClientEntry is a named client: with a bearer token, a TLS client certificate, or both.
// An entry with neither is reached only through a certificate that the TLS configuration
// accepts and names: a known_clients_file line with this name, or a certificate issued by
// the client CA whose Common Name is this name.
type ClientEntry struct {
	// TokenSHA256 is the hex SHA-256 of the token; the token itself is never stored.
	TokenSHA256 string `toml:"token_sha256,omitempty"`
	// CertSHA256 is the SHA-256 fingerprint of the client's certificate (DER), as 64 hex
	// digits or as AA:BB:… (the form of Web3Signer's known clients and openssl).
	CertSHA256 string `toml:"cert_sha256,omitempty"`
	// Keys are the keys the client may use: "*", an exact 0x-hex BLS public key or a pkh,
	// or a prefix ending in "*" ("0xa1b2*", "tz1*").
	Keys []string `toml:"keys"`
	// Operations are the signing kinds the client may ask for: "*", Web3Signer types
	// ("ATTESTATION", "BLOCK_V2", …), Tezos payload kinds ("tezos:block",
	// "tezos:preattestation", "tezos:attestation", "tezos:generic").
	Operations []string `toml:"operations"`
}

// DefaultClients is the configuration without clients.toml: loopback may do everything.
func DefaultClients() *Clients {
	return &Clients{Loopback: &LoopbackClient{Keys: []string{"*"}, Operations: []string{"*"}}, Clients: map[string]ClientEntry{}}
}

var clientNameRE = regexp.MustCompile(`^[a-z0-9][a-z0-9._-]{0,62}$`)

// operationNames are the scope names a client may be given.
var operationNames = []string{
	"*", "BLOCK", "BLOCK_V2", "ATTESTATION", "AGGREGATION_SLOT", "AGGREGATE_AND_PROOF",
	"AGGREGATE_AND_PROOF_V2", "RANDAO_REVEAL", "VOLUNTARY_EXIT", "DEPOSIT",
	"SYNC_COMMITTEE_MESSAGE", "SYNC_COMMITTEE_SELECTION_PROOF",
	"SYNC_COMMITTEE_CONTRIBUTION_AND_PROOF", "VALIDATOR_REGISTRATION",
	"tezos:block", "tezos:preattestation", "tezos:attestation", "tezos:generic",
}

// Validate checks names, hashes, key patterns and operation names.
func (c *Clients) Validate() error {
	check := func(who string, keys, ops []string) error {
		if len(keys) == 0 || len(ops) == 0 {
			return fmt.Errorf("%s %s: keys and operations are required (use [\"*\"] for all)", ClientsFile, who)
		}
		for _, k := range keys {
			if k == "" || strings.Contains(strings.TrimSuffix(k, "*"), "*") {
				return fmt.Errorf("%s %s: key pattern %q: \"*\" only at the end", ClientsFile, who, k)
			}
		}
		for _, o := range ops {
			if !slices.Contains(operationNames, o) {
				return fmt.Errorf("%s %s: unknown operation %q", ClientsFile, who, o)
			}
		}
		return nil
	}
	if c.Loopback != nil {
		if err := check("[loopback]", c.Loopback.Keys, c.Loopback.Operations); err != nil {
			return err
		}
	}
	certs := map[[sha256.Size]byte]string{}
	for _, name := range c.Names() {
		e := c.Clients[name]
		who := fmt.Sprintf("[clients.%s]", name)
		if !clientNameRE.MatchString(name) || name == "loopback" {
			return fmt.Errorf("%s %s: names are 1 to 63 of a-z 0-9 . _ -, not \"loopback\"", ClientsFile, who)
		}
		if b, err := hex.DecodeString(e.TokenSHA256); e.TokenSHA256 != "" && (err != nil || len(b) != sha256.Size || e.TokenSHA256 != strings.ToLower(e.TokenSHA256)) {
			return fmt.Errorf("%s %s: token_sha256 must be 64 lower-case hex digits", ClientsFile, who)
		}
		if e.CertSHA256 != "" {
			fp, err := ParseFingerprint(e.CertSHA256)
			if err != nil {
				return fmt.Errorf("%s %s: cert_sha256: %v", ClientsFile, who, err)
			}
			if other, dup := certs[fp]; dup {
				return fmt.Errorf("%s %s: cert_sha256 is also [clients.%s]'s: one certificate, one client", ClientsFile, who, other)
			}
			certs[fp] = name
		}
		if err := check(who, e.Keys, e.Operations); err != nil {
			return err
		}
	}
	return nil
}

// ParseClients decodes clients.toml strictly (unknown keys refused) and validates it.
func ParseClients(b []byte) (*Clients, error) {
	c := &Clients{}
	dec := toml.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(c); err != nil {
		var sm *toml.StrictMissingError
		if errors.As(err, &sm) {
			return nil, fmt.Errorf("parse %s: unknown key:\n%s", ClientsFile, sm.String())
		}
		return nil, fmt.Errorf("parse %s: %w", ClientsFile, err)
	}
	if c.Clients == nil {
		c.Clients = map[string]ClientEntry{}
	}
	if err := c.Validate(); err != nil {
		return nil, err
	}
	return c, nil
}

// LoadClients reads dir/clients.toml; without the file, DefaultClients. The file must
// not be readable or writable by others (Inv 9: it decides who may sign).
func LoadClients(dir string) (*Clients, error) {
	p := filepath.Join(dir, ClientsFile)
	fi, err := os.Stat(p)
	if errors.Is(err, fs.ErrNotExist) {
		return DefaultClients(), nil
	}
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", ClientsFile, err)
	}
	if fi.Mode().Perm()&0o077 != 0 {
		return nil, fmt.Errorf("%s has mode %v: it must not be accessible to others (chmod 600)", p, fi.Mode().Perm())
	}
	b, err := os.ReadFile(p)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", ClientsFile, err)
	}
	return ParseClients(b)
}

// Marshal encodes c as clients.toml, clients sorted by name.
func (c *Clients) Marshal() ([]byte, error) {
	b, err := toml.Marshal(c)
	if err != nil {
		return nil, err
	}
	return append([]byte("# keyward gateway clients: bearer-token hashes, certificate fingerprints and scopes. Edit with `keyward clients`.\n"), b...), nil
}

// Names returns the token clients' names, sorted.
func (c *Clients) Names() []string {
	names := make([]string, 0, len(c.Clients))
	for n := range c.Clients {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// NewToken returns a fresh bearer token and the hex SHA-256 to store.
func NewToken() (token, hash string, err error) {
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", "", err
	}
	token = tokenPrefix + base64.RawURLEncoding.EncodeToString(b[:])
	h := sha256.Sum256([]byte(token))
	return token, hex.EncodeToString(h[:]), nil
}

// client is an authenticated caller and its scope.
type client struct {
	name string
	keys []string
	ops  []string
}

// authenticator decides who a request is (authenticate) and what it may do (allows).
// It is immutable.
type authenticator struct {
	loopback *client
	tokens   []tokenClient
	certs    map[[sha256.Size]byte]*client // by cert_sha256
	byName   map[string]*client            // every named client
}

type tokenClient struct {
	hash [sha256.Size]byte
	client
}

func newAuthenticator(c *Clients) (*authenticator, error) {
	if c == nil {
		return nil, errors.New("gateway: no clients configuration")
	}
	if err := c.Validate(); err != nil {
		return nil, err
	}
	a := &authenticator{certs: map[[sha256.Size]byte]*client{}, byName: map[string]*client{}}
	if c.Loopback != nil {
		a.loopback = &client{name: "loopback", keys: c.Loopback.Keys, ops: c.Loopback.Operations}
	}
	for _, name := range c.Names() {
		e := c.Clients[name]
		cl := &client{name: name, keys: e.Keys, ops: e.Operations}
		a.byName[name] = cl
		if e.CertSHA256 != "" {
			fp, _ := ParseFingerprint(e.CertSHA256) // validated above
			a.certs[fp] = cl
		}
		if e.TokenSHA256 == "" {
			continue
		}
		var t tokenClient
		_, _ = hex.Decode(t.hash[:], []byte(e.TokenSHA256)) // validated above
		t.client = *cl
		a.tokens = append(a.tokens, t)
	}
	return a, nil
}

// errUnauthenticated is the one 401 answer: it does not say which check failed.
var errUnauthenticated = &httpError{Code: http.StatusUnauthorized, Msg: "authentication required: a valid bearer token, a client certificate of a known client, or a loopback connection where allowed", refused: &refusal{}}

// authenticate returns the client of r, or a 401. The source address is the connection's
// (r.RemoteAddr); Host, Forwarded and X-Forwarded-For are never read.
//
// On a TLS connection with a client certificate and no Authorization header, the
// certificate names the client (certClient); a certificate that names no client in
// clients.toml is a 401 even from loopback.
func (a *authenticator) authenticate(r *http.Request, m *TLSMaterial) (*client, error) {
	h, present := r.Header["Authorization"]
	if !present && r.TLS != nil && len(r.TLS.PeerCertificates) > 0 {
		if c := a.certClient(r.TLS.PeerCertificates, m); c != nil {
			return c, nil
		}
		return nil, errUnauthenticated
	}
	if !present {
		if a.loopback != nil && fromLoopback(r.RemoteAddr) {
			return a.loopback, nil
		}
		return nil, errUnauthenticated
	}
	if len(h) != 1 {
		return nil, errUnauthenticated
	}
	tok, ok := strings.CutPrefix(h[0], "Bearer ")
	if !ok || tok == "" {
		return nil, errUnauthenticated
	}
	sum := sha256.Sum256([]byte(tok))
	var found *client
	for i := range a.tokens { // every hash compared, in constant time
		if subtle.ConstantTimeCompare(sum[:], a.tokens[i].hash[:]) == 1 {
			found = &a.tokens[i].client
		}
	}
	if found == nil {
		return nil, errUnauthenticated
	}
	return found, nil
}

// fromLoopback reports whether a connection's remote address is a loopback IP. Anything
// else, including a unix socket peer or an unparsable address, is not (fail closed).
func fromLoopback(remote string) bool {
	host, _, err := net.SplitHostPort(remote)
	if err != nil {
		return false
	}
	ip, err := netip.ParseAddr(host)
	return err == nil && ip.Unmap().IsLoopback()
}

// allowsKey returns nil when c may use key, or a 403 that says why.
func (c *client) allowsKey(key string) error {
	if !slices.ContainsFunc(c.keys, func(p string) bool { return matchKey(p, key) }) {
		return &httpError{Code: http.StatusForbidden, Msg: fmt.Sprintf("client %s may not use key %s", c.name, key), refused: &refusal{client: c.name, key: key}}
	}
	return nil
}

// allows returns nil when c may ask op for key, or a 403 that says why.
func (c *client) allows(key, op string) error {
	if err := c.allowsKey(key); err != nil {
		return err
	}
	if !slices.Contains(c.ops, "*") && !slices.Contains(c.ops, op) {
		return &httpError{Code: http.StatusForbidden, Msg: fmt.Sprintf("client %s may not ask for %s", c.name, op), refused: &refusal{client: c.name, key: key, op: op}}
	}
	return nil
}

// matchKey matches a key (lower-case 0x hex, or a pkh) against a pattern: "*", an exact
// key, or a prefix ending in "*". Ethereum patterns compare without regard to case.
func matchKey(pattern, key string) bool {
	if strings.HasPrefix(pattern, "0x") || strings.HasPrefix(pattern, "0X") {
		pattern = strings.ToLower(pattern)
	}
	if p, ok := strings.CutSuffix(pattern, "*"); ok {
		return strings.HasPrefix(key, p)
	}
	return pattern == key
}
