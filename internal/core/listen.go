package core

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"

	"golang.org/x/sys/unix"
)

// acceptGateways serves gateways that connect to the listening unix socket fd, one at a
// time (systemd socket activation, `keyward core --socket-activated`). A connection whose
// peer (SO_PEERCRED, taken by the kernel at connect time) is not gatewayUID is closed
// unserved: the socket's mode and group already limit who can connect, this is the second
// check. A gateway that ends its connection cleanly is followed by the next; one that
// breaks the protocol ends the core (its supervisor restarts it; start-up runs no KDF).
//
// fd must be blocking: the accept waits in the kernel, and the seccomp filter admits
// accept4 on the listed descriptors only (sandbox.Config.AcceptFDs), and no poll call.
func acceptGateways(fd, gatewayUID int, serve func(net.Conn) error, log *slog.Logger) error {
	for {
		nfd, _, err := unix.Accept4(fd, unix.SOCK_CLOEXEC)
		if errors.Is(err, unix.EINTR) || errors.Is(err, unix.ECONNABORTED) {
			continue
		}
		if err != nil {
			return fmt.Errorf("accept gateway: %w", err)
		}
		cred, err := unix.GetsockoptUcred(nfd, unix.SOL_SOCKET, unix.SO_PEERCRED)
		if err != nil {
			unix.Close(nfd)
			log.Warn("gateway connection refused: no peer credentials", "err", err)
			continue
		}
		if int(cred.Uid) != gatewayUID {
			unix.Close(nfd)
			log.Warn("gateway connection refused: wrong user", "peer_uid", cred.Uid, "peer_pid", cred.Pid, "want_uid", gatewayUID)
			continue
		}
		f := os.NewFile(uintptr(nfd), "gateway")
		conn, err := net.FileConn(f)
		f.Close()
		if err != nil {
			return fmt.Errorf("gateway connection: %w", err)
		}
		log.Info("gateway connected", "peer_pid", cred.Pid, "peer_uid", cred.Uid)
		if err := serve(conn); err != nil {
			return err
		}
		log.Info("gateway disconnected; waiting for the next")
	}
}
