package main

import (
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	pkcs12 "software.sslmate.com/src/go-pkcs12"

	"github.com/keyward/keyward/internal/config"
	"github.com/keyward/keyward/internal/gateway"
	"github.com/keyward/keyward/internal/tlsgen"
)

const tlsHelp = `Create TLS material for operators who have none, in DIR/tls (0700):

  ca.pem, ca.key                    a CA (ECDSA P-256, 10 years) that signs the rest
  ca-truststore.p12 (+ .password)   the CA as a PKCS#12 trust store, for Teku
  server.pem, server.key            the server certificate (825 days) for 127.0.0.1, ::1,
                                    localhost and every --host
  clients/NAME.pem, NAME.key        a client certificate per --client (825 days, CN=NAME)
  clients/NAME.p12 (+ .password)    the same as a PKCS#12 bundle for Lighthouse and Teku

Every private key, bundle and password file is 0600; passwords are never printed. An
existing file is never overwritten: run it again to add clients (the CA is reused) or
delete a file to have it made again. It then sets [tls] in keyward.toml (cert_file,
key_file, client_ca_file) unless [tls] is already set, and adds each new client to
clients.toml with its certificate's fingerprint and the scope of --keys and --operations
(a client of that name that exists is left as it is). Restart keyward run or gateway to
turn TLS on; afterwards SIGHUP reloads certificates and clients.

Examples:
  keyward tls init --dir /var/lib/keyward --host signer.lan --client lighthouse --client teku
  keyward tls init --dir /var/lib/keyward --client prysm-backup --operations ATTESTATION,BLOCK_V2`

func cmdTLS(args []string) int {
	if len(args) == 0 || args[0] != "init" {
		if len(args) > 0 && (args[0] == "-h" || args[0] == "--help" || args[0] == "help") {
			fmt.Printf("Usage: keyward tls init [flags]\n\n%s\n", tlsHelp)
			return 0
		}
		fmt.Fprintf(os.Stderr, "Usage: keyward tls init [flags]\n\n%s\n", tlsHelp)
		return 2
	}
	fs := newFlags("tls init", "tls init --dir DIR [--host H]… [--client NAME]… [flags]", tlsHelp)
	dirFlag := fs.String("dir", "", "the state directory (the gateway's directory for keyward gateway) (required)")
	var hosts, clients listFlag
	fs.Var(&hosts, "host", "a DNS name or IP address of the server certificate, besides loopback (repeatable)")
	fs.Var(&clients, "client", "a client certificate to issue, by client name (repeatable)")
	keys := fs.String("keys", "*", "key patterns of the new clients in clients.toml")
	ops := fs.String("operations", "*", "operations of the new clients in clients.toml")
	if st := parse(fs, args[1:]); st >= 0 {
		return st
	}
	dir, err := stateDir(*dirFlag)
	if err != nil {
		return fail("tls init: %v", err)
	}
	res, err := tlsInit(tlsInitOptions{dir: dir, hosts: hosts, clients: clients, keys: splitList(*keys), ops: splitList(*ops), now: time.Now()})
	if err != nil {
		return fail("tls init: %v", err)
	}
	for _, l := range res.created {
		fmt.Println("created " + l)
	}
	for _, l := range res.notes {
		fmt.Fprintln(os.Stderr, "keyward: "+l)
	}
	fmt.Print(clientHowTo(dir, clients))
	return 0
}

type tlsInitOptions struct {
	dir            string
	hosts, clients []string
	keys, ops      []string
	now            time.Time
}

type tlsInitResult struct {
	created, notes []string
}

// tlsInit creates what is missing of DIR/tls, never overwriting a file.
func tlsInit(o tlsInitOptions) (*tlsInitResult, error) {
	for _, c := range o.clients {
		if !validClientName(c) {
			return nil, fmt.Errorf("client name %q: 1 to 63 of a-z 0-9 . _ -, not \"loopback\"", c)
		}
	}
	if err := ensurePrivateDir(o.dir); err != nil {
		return nil, err
	}
	cfg, err := config.Load(o.dir)
	if err != nil {
		return nil, err
	}
	clientsCfg, err := gateway.LoadClients(o.dir)
	if err != nil {
		return nil, err
	}
	td := filepath.Join(o.dir, "tls")
	if err := ensurePrivateDir(td); err != nil {
		return nil, err
	}
	if err := ensurePrivateDir(filepath.Join(td, "clients")); err != nil {
		return nil, err
	}
	res := &tlsInitResult{}
	put := func(path string, b []byte, mode os.FileMode) error {
		if err := writeNewMode(path, b, mode); err != nil {
			return err
		}
		res.created = append(res.created, path)
		return nil
	}

	caCert, caKey := filepath.Join(td, "ca.pem"), filepath.Join(td, "ca.key")
	var ca *tlsgen.Issued
	switch ce, ke := exists(caCert), exists(caKey); {
	case ce && ke:
		if ca, err = loadIssued(caCert, caKey); err != nil {
			return nil, fmt.Errorf("existing CA: %w", err)
		}
		res.notes = append(res.notes, "using the existing CA "+caCert)
	case ce || ke:
		return nil, fmt.Errorf("%s and %s: one exists without the other; move it away first", caCert, caKey)
	default:
		if ca, err = tlsgen.NewCA("keyward client CA", o.now); err != nil {
			return nil, err
		}
		if err := putIssued(put, ca, caCert, caKey); err != nil {
			return nil, err
		}
	}
	if ts := filepath.Join(td, "ca-truststore.p12"); !exists(ts) {
		pw, err := newPassword()
		if err != nil {
			return nil, err
		}
		b, err := pkcs12.Modern2023.EncodeTrustStore([]*x509.Certificate{ca.Cert}, pw)
		if err != nil {
			return nil, fmt.Errorf("encode trust store: %w", err)
		}
		if err := put(ts+".password", []byte(pw+"\n"), 0o600); err != nil {
			return nil, err
		}
		if err := put(ts, b, 0o600); err != nil {
			return nil, err
		}
	}

	srvCert, srvKey := filepath.Join(td, "server.pem"), filepath.Join(td, "server.key")
	if exists(srvCert) || exists(srvKey) {
		res.notes = append(res.notes, "server certificate exists: not reissued (delete server.pem and server.key to issue one for other hosts)")
	} else {
		srv, err := tlsgen.NewServer(ca, o.hosts, o.now)
		if err != nil {
			return nil, err
		}
		if err := putIssued(put, srv, srvCert, srvKey); err != nil {
			return nil, err
		}
	}

	changedClients := false
	for _, name := range o.clients {
		base := filepath.Join(td, "clients", name)
		if exists(base+".pem") || exists(base+".key") || exists(base+".p12") {
			res.notes = append(res.notes, fmt.Sprintf("client %s: certificate files exist, not reissued", name))
			continue
		}
		cl, err := tlsgen.NewClient(ca, name, o.now)
		if err != nil {
			return nil, err
		}
		pw, err := newPassword()
		if err != nil {
			return nil, err
		}
		p12, err := pkcs12.Modern2023.Encode(cl.Key, cl.Cert, []*x509.Certificate{ca.Cert}, pw)
		if err != nil {
			return nil, fmt.Errorf("encode PKCS#12: %w", err)
		}
		if err := putIssued(put, cl, base+".pem", base+".key"); err != nil {
			return nil, err
		}
		if err := put(base+".p12.password", []byte(pw+"\n"), 0o600); err != nil {
			return nil, err
		}
		if err := put(base+".p12", p12, 0o600); err != nil {
			return nil, err
		}
		if _, ok := clientsCfg.Clients[name]; ok {
			res.notes = append(res.notes, fmt.Sprintf("client %s exists in %s: left as it is (add cert_sha256 = %q to pin this certificate)", name, gateway.ClientsFile, gateway.Fingerprint(cl.Cert.Raw)))
			continue
		}
		clientsCfg.Clients[name] = gateway.ClientEntry{CertSHA256: gateway.Fingerprint(cl.Cert.Raw), Keys: o.keys, Operations: o.ops}
		changedClients = true
	}
	if changedClients {
		if err := saveClients(o.dir, clientsCfg); err != nil {
			return nil, err
		}
		res.created = append(res.created, filepath.Join(o.dir, gateway.ClientsFile)+" (clients added)")
	}

	if cfg.TLS.Enabled() {
		res.notes = append(res.notes, "keyward.toml already has [tls]: left as it is")
	} else {
		cfg.TLS = config.TLS{CertFile: "tls/server.pem", KeyFile: "tls/server.key", ClientCAFile: "tls/ca.pem"}
		if err := cfg.Validate(); err != nil {
			return nil, err
		}
		b, err := config.Marshal(cfg)
		if err != nil {
			return nil, err
		}
		if err := writeFileAtomic(filepath.Join(o.dir, config.FileName), b, 0o600); err != nil {
			return nil, err
		}
		res.created = append(res.created, filepath.Join(o.dir, config.FileName)+" ([tls] set)")
	}
	return res, nil
}

func validClientName(n string) bool {
	c := &gateway.Clients{Clients: map[string]gateway.ClientEntry{n: {Keys: []string{"*"}, Operations: []string{"*"}}}}
	return c.Validate() == nil
}

func exists(p string) bool {
	_, err := os.Lstat(p)
	return !errors.Is(err, fs.ErrNotExist)
}

// writeNewMode writes a file that must not exist yet (O_EXCL: never overwrite).
func writeNewMode(path string, b []byte, mode os.FileMode) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, mode)
	if err != nil {
		return fmt.Errorf("create %s: %w", path, err)
	}
	if err := f.Chmod(mode); err != nil { // the umask may have narrowed it; be exact
		f.Close()
		return err
	}
	if _, err := f.Write(b); err != nil {
		f.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

func putIssued(put func(string, []byte, os.FileMode) error, i *tlsgen.Issued, certPath, keyPath string) error {
	k, err := i.KeyPEM()
	if err != nil {
		return err
	}
	if err := put(keyPath, k, 0o600); err != nil {
		return err
	}
	return put(certPath, i.CertPEM(), 0o644)
}

// loadIssued reads a PEM certificate and its PKCS#8 ECDSA key.
func loadIssued(certPath, keyPath string) (*tlsgen.Issued, error) {
	cb, err := os.ReadFile(certPath)
	if err != nil {
		return nil, err
	}
	kb, err := os.ReadFile(keyPath)
	if err != nil {
		return nil, err
	}
	cblk, _ := pem.Decode(cb)
	kblk, _ := pem.Decode(kb)
	if cblk == nil || kblk == nil {
		return nil, errors.New("not PEM")
	}
	cert, err := x509.ParseCertificate(cblk.Bytes)
	if err != nil {
		return nil, err
	}
	k, err := x509.ParsePKCS8PrivateKey(kblk.Bytes)
	if err != nil {
		return nil, err
	}
	ek, ok := k.(*ecdsa.PrivateKey)
	if !ok || !ek.PublicKey.Equal(cert.PublicKey) {
		return nil, errors.New("the key is not the certificate's ECDSA key")
	}
	return &tlsgen.Issued{Cert: cert, Key: ek}, nil
}

func newPassword() (string, error) {
	var b [24]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", err
	}
	return base64.RawURLEncoding.EncodeToString(b[:]), nil
}

// clientHowTo tells how to point validator clients at the signer (flags and fields from
// the clients' own documentation; see docs/operations.md for the references).
func clientHowTo(dir string, clients []string) string {
	name := "NAME"
	if len(clients) > 0 {
		name = clients[0]
	}
	td := filepath.Join(dir, "tls")
	p12 := filepath.Join(td, "clients", name+".p12")
	return fmt.Sprintf(`
Copy client %[4]s's files to the validator client's host (keep them 0600), then:

Lighthouse (validator_definitions.yml, per validator; the book's "Remote Signing with Web3Signer"):
  type: web3signer
  url: "https://SIGNER:9000"
  root_certificate_path: %[1]s
  client_identity_path: %[2]s
  client_identity_password: "<contents of %[2]s.password>"

Teku:
  --validators-external-signer-url=https://SIGNER:9000
  --validators-external-signer-keystore=%[2]s
  --validators-external-signer-keystore-password-file=%[2]s.password
  --validators-external-signer-truststore=%[3]s
  --validators-external-signer-truststore-password-file=%[3]s.password

Prysm documents only --validators-external-signer-url, no client certificate: run it on
the signer's host as the loopback client (see docs/operations.md).
`, filepath.Join(td, "ca.pem"), p12, filepath.Join(td, "ca-truststore.p12"), name)
}
