package gateway

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"strings"
)

// TLSFiles are the paths of the TLS configuration ([tls] of keyward.toml, resolved).
type TLSFiles struct {
	Cert, Key              string // required
	ClientCA, KnownClients string // either or both: client certificates are required
}

// TLSMaterial is a loaded, immutable TLS configuration: the server certificate and what
// makes a client certificate acceptable. SetTLS swaps it whole (SIGHUP).
type TLSMaterial struct {
	cert  tls.Certificate
	pool  *x509.CertPool               // client CAs; nil: none
	known map[[sha256.Size]byte]string // known_clients_file: fingerprint → client name
	// clientAuth: every TLS client must present an accepted certificate.
	clientAuth bool
}

// LoadTLS reads the files of f. The key file must be 0600 (not readable by group or
// others), as every secret of keyward.
func LoadTLS(f TLSFiles) (*TLSMaterial, error) {
	if f.Cert == "" || f.Key == "" {
		return nil, errors.New("tls: cert_file and key_file are required")
	}
	fi, err := os.Stat(f.Key)
	if err != nil {
		return nil, fmt.Errorf("tls: key_file: %w", err)
	}
	if fi.Mode().Perm()&0o077 != 0 {
		return nil, fmt.Errorf("tls: key_file %s has mode %#o; it must not be accessible to others (chmod 600)", f.Key, fi.Mode().Perm())
	}
	cert, err := tls.LoadX509KeyPair(f.Cert, f.Key)
	if err != nil {
		return nil, fmt.Errorf("tls: %w", err)
	}
	m := &TLSMaterial{cert: cert, known: map[[sha256.Size]byte]string{}}
	if f.ClientCA != "" {
		b, err := os.ReadFile(f.ClientCA)
		if err != nil {
			return nil, fmt.Errorf("tls: client_ca_file: %w", err)
		}
		m.pool = x509.NewCertPool()
		if !m.pool.AppendCertsFromPEM(b) {
			return nil, fmt.Errorf("tls: client_ca_file %s: no PEM certificate", f.ClientCA)
		}
		m.clientAuth = true
	}
	if f.KnownClients != "" {
		b, err := os.ReadFile(f.KnownClients)
		if err != nil {
			return nil, fmt.Errorf("tls: known_clients_file: %w", err)
		}
		if m.known, err = ParseKnownClients(b); err != nil {
			return nil, fmt.Errorf("tls: known_clients_file %s: %w", f.KnownClients, err)
		}
		m.clientAuth = true
	}
	return m, nil
}

// ParseKnownClients parses Web3Signer's known-clients format: one client a line,
// "<name> <SHA-256 fingerprint>"; blank lines and lines starting with # are skipped.
func ParseKnownClients(b []byte) (map[[sha256.Size]byte]string, error) {
	out := map[[sha256.Size]byte]string{}
	sc := bufio.NewScanner(bytes.NewReader(b))
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		f := strings.Fields(line)
		if len(f) != 2 {
			return nil, fmt.Errorf("line %d: want \"<name> <fingerprint>\"", n)
		}
		fp, err := ParseFingerprint(f[1])
		if err != nil {
			return nil, fmt.Errorf("line %d: %v", n, err)
		}
		if _, dup := out[fp]; dup {
			return nil, fmt.Errorf("line %d: fingerprint listed twice", n)
		}
		out[fp] = f[0]
	}
	return out, sc.Err()
}

// ParseFingerprint decodes a SHA-256 fingerprint written as 64 hex digits, with or
// without colons between bytes, in either case.
func ParseFingerprint(s string) ([sha256.Size]byte, error) {
	var fp [sha256.Size]byte
	h := strings.ReplaceAll(s, ":", "")
	if len(h) != 2*sha256.Size {
		return fp, fmt.Errorf("fingerprint %q: want a SHA-256 (32 bytes)", s)
	}
	if _, err := hex.Decode(fp[:], []byte(h)); err != nil {
		return fp, fmt.Errorf("fingerprint %q: %v", s, err)
	}
	return fp, nil
}

// Fingerprint is the SHA-256 of a certificate's DER in the AA:BB:… form.
func Fingerprint(der []byte) string {
	sum := sha256.Sum256(der)
	parts := make([]string, len(sum))
	for i, b := range sum {
		parts[i] = fmt.Sprintf("%02X", b)
	}
	return strings.Join(parts, ":")
}

// SetTLS replaces the TLS material for the handshakes that start after it (a reload). It
// cannot turn TLS on or off: a listener serving plain HTTP stays plain.
func (s *Server) SetTLS(m *TLSMaterial) error {
	if m == nil || s.tlsm.Load() == nil {
		return errors.New("gateway: TLS can be reloaded, not turned on or off, without restart")
	}
	s.tlsm.Store(m)
	return nil
}

// tlsConfig is the listeners' configuration: each handshake takes the material in force.
func (s *Server) tlsConfig() *tls.Config {
	return &tls.Config{
		MinVersion: tls.VersionTLS13,
		GetConfigForClient: func(*tls.ClientHelloInfo) (*tls.Config, error) {
			m := s.tlsm.Load()
			c := &tls.Config{
				MinVersion:   tls.VersionTLS13,
				Certificates: []tls.Certificate{m.cert},
				NextProtos:   []string{"http/1.1"},
				// No resumption: every connection presents its certificate to the material
				// in force (a reload that drops a client is not bypassed by a ticket).
				SessionTicketsDisabled: true,
			}
			if m.clientAuth {
				// Verified below, by CA or fingerprint: Go's own verification knows no
				// fingerprints. A client without an accepted certificate fails the handshake.
				c.ClientAuth = tls.RequireAnyClientCert
				auth := s.auth.Load()
				c.VerifyPeerCertificate = func(raw [][]byte, _ [][]*x509.Certificate) error {
					certs := make([]*x509.Certificate, 0, len(raw))
					for _, r := range raw {
						x, err := x509.ParseCertificate(r)
						if err != nil {
							return fmt.Errorf("client certificate: %w", err)
						}
						certs = append(certs, x)
					}
					if len(certs) == 0 || !m.accepts(certs, auth) {
						return errors.New("client certificate not accepted")
					}
					return nil
				}
			}
			return c, nil
		},
	}
}

// accepts reports whether a client chain (leaf first) is accepted: its leaf's fingerprint
// is in known_clients_file or in a clients.toml cert_sha256, or it verifies to a client CA.
func (m *TLSMaterial) accepts(chain []*x509.Certificate, a *authenticator) bool {
	fp := sha256.Sum256(chain[0].Raw)
	if _, ok := m.known[fp]; ok {
		return true
	}
	if _, ok := a.certs[fp]; ok {
		return true
	}
	return m.caVerified(chain)
}

// caVerified reports whether chain's leaf verifies to a client CA for client auth.
func (m *TLSMaterial) caVerified(chain []*x509.Certificate) bool {
	if m.pool == nil {
		return false
	}
	inter := x509.NewCertPool()
	for _, c := range chain[1:] {
		inter.AddCert(c)
	}
	_, err := chain[0].Verify(x509.VerifyOptions{Roots: m.pool, Intermediates: inter, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}})
	return err == nil
}

// certClient names the client of a certificate chain: the clients.toml entry with its
// fingerprint, else the entry named by its known_clients_file line, else (for a chain
// that verifies to a client CA) the entry named by its Common Name. nil: no client.
// The material in force is checked again, so a reload that drops a client applies to
// connections already open.
func (a *authenticator) certClient(chain []*x509.Certificate, m *TLSMaterial) *client {
	fp := sha256.Sum256(chain[0].Raw)
	if c, ok := a.certs[fp]; ok {
		return c
	}
	if m == nil {
		return nil
	}
	if name, ok := m.known[fp]; ok {
		return a.byName[name]
	}
	if cn := chain[0].Subject.CommonName; cn != "" && m.caVerified(chain) {
		return a.byName[cn]
	}
	return nil
}
