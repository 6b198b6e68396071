package doctor

import (
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"net"
	"os"
	"time"
)

// isLoopback reports whether a listen address is reachable from this host only. An empty
// host (":9000") listens on every interface.
func isLoopback(addr string) (bool, error) {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false, err
	}
	ip := net.ParseIP(host)
	return host == "localhost" || (ip != nil && ip.IsLoopback()), nil
}

// checkListen fails a non-loopback eth listener without mutual TLS: bearer tokens would
// travel in clear, and the validator clients that cannot send one would need the port
// open to them (checkListenMutualTLS judges it with client certificates required).
func checkListen(addr string) Finding {
	const name = "listen address: eth"
	lo, err := isLoopback(addr)
	if err != nil {
		return Finding{name, Fail, err.Error(), ""}
	}
	if lo {
		return Finding{name, Pass, addr + " is loopback only", ""}
	}
	return Finding{name, Fail, addr + " is reachable from other hosts without TLS and client authentication (anonymous signing)",
		"set eth.listen to 127.0.0.1:9000, require client certificates ([tls], keyward tls init), or put the signer behind an authenticated tunnel"}
}

// checkTezosListen judges the Octez remote-signer listener. Beyond loopback, sign requests
// must be authenticated (tezos.authorized_keys: every request signed by a known key,
// checked in the core) or it fails; even then the key list (allow_known_keys) and proofs
// of possession would be served to anyone, which warns, and there is no TLS, which warns.
func checkTezosListen(addr string, authorized int, knownKeys, prove bool) Finding {
	const name = "listen address: tezos"
	if addr == "" {
		return Finding{name, Pass, "tezos API off (tezos.listen is empty)", ""}
	}
	lo, err := isLoopback(addr)
	if err != nil {
		return Finding{name, Fail, err.Error(), ""}
	}
	if lo {
		return Finding{name, Pass, addr + " is loopback only", ""}
	}
	if authorized == 0 {
		return Finding{name, Fail, addr + " is reachable from other hosts and tezos.authorized_keys is empty: anyone who reaches it can ask for signatures",
			"list the bakers' authentication keys in tezos.authorized_keys, or set tezos.listen to 127.0.0.1:6732"}
	}
	if knownKeys || prove {
		return Finding{name, Warn, addr + " is reachable from other hosts and serves /known_keys or /bls_prove_possession without authentication",
			"set tezos.allow_known_keys and tezos.allow_prove_possession to false, or listen on loopback"}
	}
	return Finding{name, Warn, fmt.Sprintf("%s is reachable from other hosts; requests are authenticated (%d keys) but not encrypted (no TLS)", addr, authorized),
		"reach it through a tunnel (WireGuard, SSH) or keep it on loopback"}
}

// checkListenMutualTLS judges a listener when [tls] requires client certificates: every
// connection needs an accepted certificate before any request, so any address passes.
func checkListenMutualTLS(api, addr string) Finding {
	name := "listen address: " + api
	if addr == "" {
		return Finding{name, Pass, api + " API off", ""}
	}
	if lo, err := isLoopback(addr); err != nil {
		return Finding{name, Fail, err.Error(), ""}
	} else if lo {
		return Finding{name, Pass, addr + " is loopback only (TLS 1.3, client certificates required)", ""}
	}
	return Finding{name, Pass, addr + " is reachable from other hosts over TLS 1.3 with client certificates required", ""}
}

// certWarnBefore is how long before expiry a certificate warns.
const certWarnBefore = 30 * 24 * time.Hour

// checkCertificate reads a PEM certificate chain and fails when the first certificate has
// expired or is not yet valid, warns when it expires within certWarnBefore.
func checkCertificate(path string, now time.Time) Finding {
	name := "certificate: " + path
	b, err := os.ReadFile(path)
	if err != nil {
		return Finding{name, Fail, err.Error(), ""}
	}
	blk, _ := pem.Decode(b)
	if blk == nil || blk.Type != "CERTIFICATE" {
		return Finding{name, Fail, "no PEM CERTIFICATE block", ""}
	}
	c, err := x509.ParseCertificate(blk.Bytes)
	if err != nil {
		return Finding{name, Fail, err.Error(), ""}
	}
	switch left := c.NotAfter.Sub(now); {
	case now.Before(c.NotBefore):
		return Finding{name, Fail, fmt.Sprintf("not valid before %s", c.NotBefore.UTC().Format(time.RFC3339)), "check the clock, or issue a new certificate"}
	case left <= 0:
		return Finding{name, Fail, fmt.Sprintf("expired %s", c.NotAfter.UTC().Format(time.RFC3339)), "renew the certificate"}
	case left < certWarnBefore:
		return Finding{name, Warn, fmt.Sprintf("expires %s (%d days)", c.NotAfter.UTC().Format(time.RFC3339), int(left.Hours()/24)), "renew the certificate"}
	default:
		return Finding{name, Pass, fmt.Sprintf("valid until %s", c.NotAfter.UTC().Format(time.RFC3339)), ""}
	}
}

// checkCertificates checks each certificate; with none configured it says so.
func checkCertificates(paths []string, now time.Time) []Finding {
	if len(paths) == 0 {
		return []Finding{{"certificates", Pass, "no TLS certificate configured (keyward.toml has no [tls] cert_file); nothing can expire", ""}}
	}
	var out []Finding
	for _, p := range paths {
		out = append(out, checkCertificate(p, now))
	}
	return out
}
