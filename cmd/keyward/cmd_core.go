package main

import (
	"fmt"
	"log/slog"
	"net"
	"os"
	"strconv"

	"github.com/keyward/keyward/internal/core"
)

const coreHelp = `The key-holding compartment. 'keyward run' starts it; operators do not run it by hand.
It reads its connection to the gateway from descriptor $KEYWARD_CORE_FD (3), confines
itself, unseals the keys from --dir, and serves the gateway until the connection ends.`

func cmdCore(args []string) int {
	fs := newFlags("core", "core --dir DIR", coreHelp)
	dirFlag := fs.String("dir", "", "state directory (required)")
	confinement := fs.String("confinement", "", "override core.confinement: full or best-effort")
	if st := parse(fs, args); st >= 0 {
		return st
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, nil)).With("compartment", "core")
	dir, err := stateDir(*dirFlag)
	if err != nil {
		return fail("core: %v", err)
	}
	conn, err := inheritedConn()
	if err != nil {
		return fail("core: %v", err)
	}
	if err := core.Run(core.RunOptions{Dir: dir, Conn: conn, Log: log, Confinement: *confinement, Version: buildVersion()}); err != nil {
		return fail("core: %v", err)
	}
	return 0
}

// inheritedConn wraps the socketpair end announced in $KEYWARD_CORE_FD.
func inheritedConn() (net.Conn, error) {
	v := os.Getenv(coreFDEnv)
	fd, err := strconv.Atoi(v)
	if err != nil || fd != coreFD {
		return nil, fmt.Errorf("$%s=%q: the core is started by 'keyward run', not by hand", coreFDEnv, v)
	}
	f := os.NewFile(uintptr(fd), "gateway")
	defer f.Close()
	conn, err := net.FileConn(f)
	if err != nil {
		return nil, fmt.Errorf("descriptor %d is not a socket: %w", fd, err)
	}
	return conn, nil
}
