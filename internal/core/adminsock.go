package core

import (
	"bufio"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"os"
	"os/user"
	"runtime/debug"
	"strconv"
	"sync"
	"time"

	"golang.org/x/sys/unix"

	"github.com/keyward/keyward/internal/audit"
	"github.com/keyward/keyward/internal/config"
	"github.com/keyward/keyward/internal/wire"
)

// The admin channel: a unix socket the core creates itself, before it confines itself
// (the confined core can neither bind nor listen), and on which it accepts operators'
// commands (keyward approvals list, approve, deny) with the protocol of wire/admin.go. It
// does not pass through the gateway. Each connection's peer is named by the kernel
// (SO_PEERCRED) and served only when it is root or a listed approver, and never when it
// is the gateway's user (unless that is root): a compromised gateway cannot approve its
// own requests (Inv 4). Root is out of scope (DESIGN.md): a core running as root, or an
// attacker with root, voids this.

// Bounds of the admin channel.
const (
	adminBacklog     = 16
	maxAdminConns    = 4                // connections served at once; more are refused "busy"
	adminIdleTimeout = time.Minute      // a connection silent this long is closed
	adminWriteLimit  = 10 * time.Second // to write one answer
	maxSunPath       = 107              // bytes of a socket path (sun_path less its NUL)
)

// peer is the process at the other end of an admin connection, as the kernel named it
// when it connected (SO_PEERCRED).
type peer struct {
	uid  uint32
	pid  int32
	name string // the user's name when the core knows it (root, the approvers)
}

// String names the peer for the audit trail and the logs: "uid 0 (root)".
func (p peer) String() string {
	if p.name != "" {
		return fmt.Sprintf("uid %d (%s)", p.uid, p.name)
	}
	return fmt.Sprintf("uid %d", p.uid)
}

// AdminOptions say who may use the admin channel.
type AdminOptions struct {
	// Approvers are the uids, besides root, who may list and decide approvals, with their
	// names (resolved before confinement).
	Approvers map[uint32]string
	// GatewayUID is the user the gateway runs as: refused on the admin socket unless it is
	// root (keyward run: the core's own user; the two-service layout: --gateway-user).
	GatewayUID uint32
	// Log receives the channel's diagnostics; nil: slog.Default.
	Log *slog.Logger
	// Dir is the state directory, whose policy.toml `keyward policy reload` reloads;
	// empty: the admin channel refuses reloads.
	Dir string
}

// authorize returns nil when p may use the admin channel, or the refusal it gets.
func (o *AdminOptions) authorize(p peer) *wire.Error {
	switch _, listed := o.Approvers[p.uid]; {
	case p.uid == 0: // root can read the core's memory anyway: out of scope (DESIGN.md)
		return nil
	case p.uid == o.GatewayUID: // Inv 4: a compromised gateway must not approve its own request
		return wire.Errorf(wire.KindPolicy, "permission denied: uid %d runs the gateway, which may not approve its own requests", p.uid)
	case listed:
		return nil
	}
	return wire.Errorf(wire.KindPolicy, "permission denied: uid %d is not an approver (core.approvers in keyward.toml)", p.uid)
}

// AdminListener is the core's listening admin socket.
type AdminListener struct {
	fd   int
	path string
}

// ListenAdmin creates the admin socket at path, mode 0600, or 0660 and of group gid when
// gid is not negative, and listens on it (blocking: the confined core accepts with plain
// accept4, sandbox.Config.AcceptFDs). A socket left at path by a core that is gone is
// replaced; anything else there (a file, a symlink, a socket someone answers on) is
// refused. Call it before confinement.
func ListenAdmin(path string, gid int) (*AdminListener, error) {
	if len(path) > maxSunPath {
		return nil, fmt.Errorf("admin socket %s: longer than %d bytes; set a shorter core.admin_socket", path, maxSunPath)
	}
	if err := removeStaleSocket(path); err != nil {
		return nil, err
	}
	fd, err := unix.Socket(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("admin socket: %w", err)
	}
	l := &AdminListener{fd: fd, path: path}
	mode := uint32(0o600)
	if gid >= 0 {
		mode = 0o660
	}
	// bind creates the file with the umask's mode; the state directory (0700) and the peer
	// check cover the moment before chmod.
	if err := unix.Bind(fd, &unix.SockaddrUnix{Name: path}); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("admin socket: bind %s: %w", path, err)
	}
	err = unix.Chmod(path, mode)
	if err == nil && gid >= 0 {
		err = unix.Lchown(path, -1, gid)
	}
	if err == nil {
		err = unix.Listen(fd, adminBacklog)
	}
	if err != nil {
		l.Close()
		return nil, fmt.Errorf("admin socket %s: %w", path, err)
	}
	return l, nil
}

// removeStaleSocket removes a socket left at path by a core that is gone. Lstat: a
// symlink is not followed, and refused like any other file that is not a socket.
func removeStaleSocket(path string) error {
	fi, err := os.Lstat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("admin socket: %w", err)
	}
	if fi.Mode().Type() != fs.ModeSocket {
		return fmt.Errorf("admin socket %s: exists and is not a socket (%v): refusing to replace it", path, fi.Mode().Type())
	}
	if c, err := net.DialTimeout("unix", path, time.Second); err == nil {
		c.Close()
		return fmt.Errorf("admin socket %s: a process answers on it (another core on this state directory?)", path)
	}
	if err := os.Remove(path); err != nil {
		return fmt.Errorf("admin socket: remove stale %w", err)
	}
	return nil
}

// FD is the listening descriptor, for sandbox.Config.AcceptFDs.
func (l *AdminListener) FD() int { return l.fd }

// Path is the socket's path.
func (l *AdminListener) Path() string { return l.path }

// Close closes the socket and removes its file (a confined core can do so only inside its
// state directory; elsewhere the next start removes it).
func (l *AdminListener) Close() error {
	err := unix.Close(l.fd)
	if rerr := os.Remove(l.path); rerr != nil && !errors.Is(rerr, fs.ErrNotExist) && err == nil {
		err = rerr
	}
	return err
}

// adminServer serves the admin socket: one accept loop, at most maxAdminConns connections.
type adminServer struct {
	svc  *Service
	fd   int
	opts AdminOptions
	log  *slog.Logger

	stop     chan struct{} // closed by the function ServeAdmin returns
	slots    chan struct{} // one per connection served
	refusals refusalLimiter

	mu    sync.Mutex // guards conns
	conns map[net.Conn]struct{}
	wg    sync.WaitGroup // the accept loop and the connections
}

// ServeAdmin accepts operators on l until the returned function is called; that function
// also closes the connections being served and waits for them. Signing does not depend on
// it: if the admin channel fails, requests that need approval expire.
func (s *Service) ServeAdmin(l *AdminListener, o AdminOptions) (stop func()) {
	if o.Log == nil {
		o.Log = slog.Default()
	}
	a := &adminServer{svc: s, fd: l.fd, opts: o, log: o.Log, stop: make(chan struct{}),
		slots: make(chan struct{}, maxAdminConns), conns: make(map[net.Conn]struct{})}
	a.wg.Go(a.acceptLoop)
	var once sync.Once
	return func() {
		once.Do(func() {
			close(a.stop)
			_ = unix.Shutdown(a.fd, unix.SHUT_RDWR) // wakes the blocked accept4
			a.mu.Lock()
			for c := range a.conns {
				c.Close()
			}
			a.mu.Unlock()
			a.wg.Wait()
		})
	}
}

// acceptLoop takes connections with a blocking accept4 (the seccomp filter has no poll
// call for this descriptor; sandbox.Config.AcceptFDs) and checks each peer.
func (a *adminServer) acceptLoop() {
	for {
		nfd, _, err := unix.Accept4(a.fd, unix.SOCK_CLOEXEC)
		select {
		case <-a.stop:
			if err == nil {
				unix.Close(nfd)
			}
			return
		default:
		}
		if errors.Is(err, unix.EINTR) || errors.Is(err, unix.ECONNABORTED) {
			continue
		}
		if err != nil {
			a.log.Error("admin socket: accept failed; approvals can no longer be decided", "err", err)
			return
		}
		cred, err := unix.GetsockoptUcred(nfd, unix.SOL_SOCKET, unix.SO_PEERCRED)
		if err != nil {
			unix.Close(nfd)
			a.log.Warn("admin connection refused: no peer credentials", "err", err)
			continue
		}
		f := os.NewFile(uintptr(nfd), "admin")
		conn, err := net.FileConn(f)
		f.Close()
		if err != nil {
			a.log.Warn("admin connection refused", "err", err)
			continue
		}
		a.serve(conn, peer{uid: cred.Uid, pid: cred.Pid, name: a.nameOf(cred.Uid)})
	}
}

func (a *adminServer) nameOf(uid uint32) string {
	if uid == 0 {
		return "root"
	}
	return a.opts.Approvers[uid]
}

// serve checks p and serves conn on a goroutine of its own, or refuses it with a reason
// (and, for a peer that may not use the channel, an audit event).
func (a *adminServer) serve(conn net.Conn, p peer) {
	if werr := a.opts.authorize(p); werr != nil {
		a.log.Warn("admin connection refused", "peer", p.String(), "peer_pid", p.pid, "reason", werr.Msg)
		a.auditRefusal(p, werr.Msg)
		refuse(conn, werr)
		return
	}
	select {
	case a.slots <- struct{}{}:
	default:
		refuse(conn, wire.Errorf(wire.KindUnavailable, "busy: %d admin connections are open", maxAdminConns))
		return
	}
	a.mu.Lock()
	a.conns[conn] = struct{}{}
	a.mu.Unlock()
	a.wg.Go(func() {
		defer func() {
			a.mu.Lock()
			delete(a.conns, conn)
			a.mu.Unlock()
			conn.Close()
			<-a.slots
		}()
		a.serveConn(conn, p)
	})
}

// refuse sends e unasked and closes conn.
func refuse(conn net.Conn, e *wire.Error) {
	_ = conn.SetWriteDeadline(time.Now().Add(time.Second))
	_, _ = conn.Write(wire.FinishFrame(wire.AppendError(wire.StartFrame(wire.MsgAdminError, 0), e)))
	conn.Close()
}

// auditRefusal records a refused admin connection, at a bounded rate: a process that
// hammers the socket (a compromised gateway, say) cannot fill the trail.
func (a *adminServer) auditRefusal(p peer, reason string) {
	if a.svc.rec.audit == nil {
		return
	}
	ok, suppressed := a.refusals.take(a.svc.rec.now(), 0)
	if !ok {
		return
	}
	ev := audit.Event{Decision: audit.AdminRefused, Reason: reason, Kind: "admin connection", Operator: p.String()}
	if suppressed > 0 {
		ev.Suppressed = &suppressed
	}
	a.svc.appendEvent(ev)
}

// serveConn answers one operator's requests, one at a time, until it hangs up, stays
// silent for adminIdleTimeout, or breaks the protocol (answered, then disconnected).
func (a *adminServer) serveConn(conn net.Conn, p peer) {
	r := bufio.NewReaderSize(conn, 4<<10)
	for {
		if err := conn.SetReadDeadline(time.Now().Add(adminIdleTimeout)); err != nil {
			return
		}
		f, err := wire.ReadFrame(r)
		if err != nil {
			return
		}
		answer, ok := a.handle(f, p)
		if err := conn.SetWriteDeadline(time.Now().Add(adminWriteLimit)); err != nil {
			return
		}
		if _, err := conn.Write(answer); err != nil || !ok {
			return
		}
	}
}

// handle answers one admin request; ok is false when the peer broke the protocol (it is
// answered, then disconnected). No panic escapes (Inv 8).
func (a *adminServer) handle(f wire.Frame, p peer) (answer []byte, ok bool) {
	defer func() {
		if r := recover(); r != nil {
			a.log.Error("panic in an admin request", "type", f.Type, "panic", fmt.Sprint(r), "stack", string(debug.Stack()))
			answer, ok = adminError(f.ID, wire.Errorf(wire.KindUnavailable, "internal error")), false
		}
	}()
	switch f.Type {
	case wire.MsgApprovalList:
		if len(f.Body) != 0 {
			return adminError(f.ID, wire.Errorf(wire.KindBadRequest, "approval list with a body")), false
		}
		l := &wire.ApprovalList{Pending: a.svc.appr.list()}
		return wire.FinishFrame(wire.AppendApprovalList(wire.StartFrame(wire.MsgApprovalListResult, f.ID), l)), true
	case wire.MsgApprovalDecide:
		d, err := wire.DecodeApprovalDecision(f.Body)
		if err != nil {
			return adminError(f.ID, wire.Errorf(wire.KindBadRequest, "%v", err)), false
		}
		out, werr := a.svc.decideApproval(d, p, a.stop)
		if werr != nil {
			return adminError(f.ID, werr), true
		}
		a.log.Info("approval decided", "id", d.ID.String(), "verdict", d.Verdict.String(), "peer", p.String(), "peer_pid", p.pid, "key", out.Approval.Key, "kind", out.Approval.Kind)
		return wire.FinishFrame(wire.AppendApprovalOutcome(wire.StartFrame(wire.MsgApprovalDecided, f.ID), out)), true
	case wire.MsgPolicyReload:
		if len(f.Body) != 0 {
			return adminError(f.ID, wire.Errorf(wire.KindBadRequest, "policy reload with a body")), false
		}
		if a.opts.Dir == "" {
			return adminError(f.ID, wire.Errorf(wire.KindUnavailable, "policy reload is not available on this admin channel")), true
		}
		summary, err := a.svc.ReloadPolicy(a.opts.Dir, p.String())
		if err != nil {
			a.log.Error("policy reload failed: keeping the policy in force", "peer", p.String(), "err", err)
			return adminError(f.ID, wire.Errorf(wire.KindPolicy, "%v", err)), true
		}
		a.log.Info("policy reloaded", "peer", p.String(), "policy", summary)
		return wire.AppendFrame(nil, wire.MsgPolicyReloaded, f.ID, []byte(summary)), true
	}
	// The admin socket answers admin messages only: a signing request, a gateway message
	// or an unknown type breaks the protocol.
	return adminError(f.ID, wire.Errorf(wire.KindBadRequest, "message type %d is not an admin request", f.Type)), false
}

func adminError(id uint64, e *wire.Error) []byte {
	return wire.FinishFrame(wire.AppendError(wire.StartFrame(wire.MsgAdminError, id), e))
}

// openAdminChannel resolves who may use the admin channel (names need /etc/passwd, out of
// reach once confined) and creates the socket. gatewayUID is the gateway's user.
func openAdminChannel(dir string, c config.Core, gatewayUID int) (*AdminListener, AdminOptions, error) {
	o := AdminOptions{Approvers: make(map[uint32]string, len(c.Approvers)), GatewayUID: uint32(gatewayUID), Dir: dir}
	for _, a := range c.Approvers {
		uid, name, err := lookupUser(a)
		if err != nil {
			return nil, o, fmt.Errorf("core.approvers: %w", err)
		}
		if gatewayUID != 0 && uid == uint32(gatewayUID) {
			return nil, o, fmt.Errorf("core.approvers: %q is uid %d, the gateway's user: a compromised gateway could approve its own requests; list another user", a, uid)
		}
		o.Approvers[uid] = name
	}
	gid := -1
	if g := c.AdminSocketGroup; g != "" {
		if n, err := strconv.Atoi(g); err == nil {
			gid = n
		} else if gr, err := user.LookupGroup(g); err != nil {
			return nil, o, fmt.Errorf("core.admin_socket_group: %w", err)
		} else if gid, err = strconv.Atoi(gr.Gid); err != nil {
			return nil, o, fmt.Errorf("core.admin_socket_group %q: gid %q", g, gr.Gid)
		}
	}
	l, err := ListenAdmin(config.Path(dir, c.AdminSocket), gid)
	return l, o, err
}

// lookupUser resolves a user name or a numeric uid, with the name when there is one.
func lookupUser(s string) (uint32, string, error) {
	if n, err := strconv.ParseUint(s, 10, 32); err == nil {
		if u, err := user.LookupId(s); err == nil {
			return uint32(n), u.Username, nil
		}
		return uint32(n), "", nil
	}
	u, err := user.Lookup(s)
	if err != nil {
		return 0, "", fmt.Errorf("user %q: %w", s, err)
	}
	n, err := strconv.ParseUint(u.Uid, 10, 32)
	if err != nil {
		return 0, "", fmt.Errorf("user %q: uid %q", s, u.Uid)
	}
	return uint32(n), u.Username, nil
}
