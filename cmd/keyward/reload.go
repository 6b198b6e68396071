package main

import (
	"log/slog"
	"syscall"

	"github.com/keyward/keyward/internal/gateway"
	"github.com/keyward/keyward/internal/hangup"
)

// reloadOnHangup makes SIGHUP reload the gateway's clients.toml (validated whole first: a
// bad file keeps the clients in force and is logged) and passes the signal on to corePID
// when the core is our child (0: a core service, reloaded with its own SIGHUP), which
// reloads policy.toml. With TLS on, the certificate, key, client CA and known clients
// files are read again too (a bad set keeps the TLS material in force). It returns a function that stops it.
func reloadOnHangup(gw *gateway.Server, dir string, tlsFiles *gateway.TLSFiles, corePID int, log *slog.Logger) (stop func()) {
	return hangup.OnHangup(func() {
		c, err := gateway.LoadClients(dir)
		if err == nil {
			err = gw.SetClients(c)
		}
		if err != nil {
			log.Error("clients reload failed: keeping the clients in force", "err", err)
		} else {
			log.Info("clients reloaded", "file", gateway.ClientsFile, "token_clients", len(c.Clients), "loopback", c.Loopback != nil)
		}
		if tlsFiles != nil {
			m, err := gateway.LoadTLS(*tlsFiles)
			if err == nil {
				err = gw.SetTLS(m)
			}
			if err != nil {
				log.Error("TLS reload failed: keeping the certificates in force", "err", err)
			} else {
				log.Info("TLS certificates and known clients reloaded")
			}
		}
		if corePID != 0 {
			if err := syscall.Kill(corePID, syscall.SIGHUP); err != nil {
				log.Error("cannot pass SIGHUP to the core", "pid", corePID, "err", err)
			}
		}
	})
}
