package main

import (
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/user"
	"strconv"

	"golang.org/x/sys/unix"

	"github.com/keyward/keyward/internal/core"
)

const coreHelp = `The key-holding compartment. 'keyward run' starts it as a child on a socketpair
(descriptor $KEYWARD_CORE_FD, 3); operators do not start it by hand in that layout.

As a service of its own (the two-user layout, deploy/systemd/keyward-core.socket and
keyward-core.service), it receives a listening unix socket from systemd
(--socket-activated: $LISTEN_FDS, $LISTEN_PID) or at --listen-fd, accepts one gateway at
a time, and serves it only if the peer runs as --gateway-user (SO_PEERCRED). Its seccomp
filter then allows accept4 on that one descriptor and on no other.

In both layouts it confines itself, unseals the keys from --dir, and serves.

Examples:
  keyward core --dir /var/lib/keyward-core --socket-activated --gateway-user keyward-gateway`

// sdListenFDsStart is the first descriptor systemd passes (sd_listen_fds(3)).
const sdListenFDsStart = 3

func cmdCore(args []string) int {
	fs := newFlags("core", "core --dir DIR [--socket-activated | --listen-fd N] [--gateway-user USER]", coreHelp)
	dirFlag := fs.String("dir", "", "state directory (required)")
	confinement := fs.String("confinement", "", "override core.confinement: full or best-effort")
	activated := fs.Bool("socket-activated", false, "take the listening socket from systemd ($LISTEN_FDS, $LISTEN_PID)")
	listenFD := fs.Int("listen-fd", 0, "an inherited listening unix socket to accept gateways on")
	gwUser := fs.String("gateway-user", "", "user name or uid the gateway must run as (required with a listening socket)")
	if st := parse(fs, args); st >= 0 {
		return st
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, nil)).With("compartment", "core")
	dir, err := stateDir(*dirFlag)
	if err != nil {
		return fail("core: %v", err)
	}
	opts := core.RunOptions{Dir: dir, Log: log, Confinement: *confinement, Version: buildVersion()}
	if *activated {
		if *listenFD != 0 {
			return fail("core: --socket-activated and --listen-fd exclude each other")
		}
		if *listenFD, err = systemdListenFD(); err != nil {
			return fail("core: %v", err)
		}
	}
	if *listenFD != 0 {
		if *gwUser == "" {
			return fail("core: --gateway-user is required with a listening socket")
		}
		if opts.GatewayUID, err = lookupUID(*gwUser); err != nil {
			return fail("core: %v", err)
		}
		// Blocking: the core waits in accept4, and its seccomp filter has no poll call.
		if err := unix.SetNonblock(*listenFD, false); err != nil {
			return fail("core: descriptor %d: %v", *listenFD, err)
		}
		opts.ListenFD = *listenFD
	} else {
		if opts.Conn, err = inheritedConn(); err != nil {
			return fail("core: %v", err)
		}
	}
	if err := core.Run(opts); err != nil {
		return fail("core: %v", err)
	}
	return 0
}

// systemdListenFD returns the one socket systemd passed ($LISTEN_PID must be this process,
// $LISTEN_FDS must be 1) and clears the variables, as sd_listen_fds(3) does.
func systemdListenFD() (int, error) {
	pid, n := os.Getenv("LISTEN_PID"), os.Getenv("LISTEN_FDS")
	os.Unsetenv("LISTEN_PID")
	os.Unsetenv("LISTEN_FDS")
	os.Unsetenv("LISTEN_FDNAMES")
	if pid != strconv.Itoa(os.Getpid()) {
		return 0, fmt.Errorf("$LISTEN_PID=%q is not this process: not started by socket activation", pid)
	}
	if n != "1" {
		return 0, fmt.Errorf("$LISTEN_FDS=%q: want exactly one socket (keyward-core.socket)", n)
	}
	return sdListenFDsStart, nil
}

// lookupUID resolves a user name or a numeric uid.
func lookupUID(s string) (int, error) {
	if uid, err := strconv.Atoi(s); err == nil && uid >= 0 {
		return uid, nil
	}
	u, err := user.Lookup(s)
	if err != nil {
		return 0, fmt.Errorf("gateway user: %w", err)
	}
	return strconv.Atoi(u.Uid)
}

// inheritedConn wraps the socketpair end announced in $KEYWARD_CORE_FD.
func inheritedConn() (net.Conn, error) {
	v := os.Getenv(coreFDEnv)
	fd, err := strconv.Atoi(v)
	if err != nil || fd != coreFD {
		return nil, fmt.Errorf("$%s=%q: the core is started by 'keyward run', or as a service with --socket-activated", coreFDEnv, v)
	}
	f := os.NewFile(uintptr(fd), "gateway")
	defer f.Close()
	conn, err := net.FileConn(f)
	if err != nil {
		return nil, fmt.Errorf("descriptor %d is not a socket: %w", fd, err)
	}
	return conn, nil
}
