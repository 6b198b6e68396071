package doctor

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/user"
	"strconv"
	"syscall"
)

// checkAdminSocket checks the core's admin socket (core.admin_socket), where operators
// approve requests: a socket owned by the service user, 0600, or 0660 of
// core.admin_socket_group when one is set. Absent is fine: the core makes it at start.
func checkAdminSocket(path, group string, euid int) Finding {
	const name = "permissions: admin socket"
	fi, err := os.Lstat(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return Finding{name, Pass, path + " absent (the core creates it when it starts)", ""}
	case err != nil:
		return Finding{name, Fail, err.Error(), ""}
	case fi.Mode().Type() != fs.ModeSocket:
		return Finding{name, Fail, fmt.Sprintf("%s is not a socket (%v): the core refuses to start", path, fi.Mode().Type()),
			"remove it, or set core.admin_socket to another path"}
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	if ok && int(st.Uid) != euid {
		return Finding{name, Fail, fmt.Sprintf("%s is owned by uid %d, not %d: another user's process answers there", path, st.Uid, euid),
			"stop whatever made it; the core recreates it at start"}
	}
	maxPerm := os.FileMode(0o600)
	if group != "" {
		maxPerm = 0o660
	}
	if fi.Mode().Perm()&^maxPerm != 0 {
		return Finding{name, Fail, fmt.Sprintf("%s has mode %#o; it must be at most %#o (who can connect can try to approve)", path, fi.Mode().Perm(), maxPerm),
			fmt.Sprintf("chmod %o %s, or restart keyward (it makes the socket %#o)", maxPerm, path, maxPerm)}
	}
	if group != "" && ok {
		if gid, err := groupID(group); err == nil && int(st.Gid) != gid {
			return Finding{name, Warn, fmt.Sprintf("%s is of gid %d, not core.admin_socket_group %s", path, st.Gid, group), "restart keyward"}
		}
	}
	return Finding{name, Pass, fmt.Sprintf("%s: %#o", path, fi.Mode().Perm()), ""}
}

// groupID resolves a group name or a numeric gid.
func groupID(g string) (int, error) {
	if n, err := strconv.Atoi(g); err == nil {
		return n, nil
	}
	gr, err := user.LookupGroup(g)
	if err != nil {
		return 0, err
	}
	return strconv.Atoi(gr.Gid)
}
