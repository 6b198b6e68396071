package core

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/keyward/keyward/internal/audit"
	"github.com/keyward/keyward/internal/eth"
	"github.com/keyward/keyward/internal/policy"
	"github.com/keyward/keyward/internal/wire"
)

// envAdminPeer, set to a socket path, makes the test binary an admin client: it connects,
// asks for the pending approvals and prints what it got (TestAdminSocket_PeerCred_Inv4
// runs it under other uids).
const envAdminPeer = "KEYWARD_CORE_TEST_ADMIN_PEER"

func TestMain(m *testing.M) {
	if path := os.Getenv(envAdminPeer); path != "" {
		os.Exit(adminPeerMain(path))
	}
	os.Exit(m.Run())
}

func adminPeerMain(path string) int {
	c, err := net.Dial("unix", path)
	if err != nil {
		fmt.Println("dial:", err)
		return 1
	}
	a := wire.NewAdmin(c)
	defer a.Close()
	l, err := a.ListApprovals()
	if err != nil {
		fmt.Println("refused:", err)
		return 0
	}
	fmt.Printf("listed %d\n", len(l.Pending))
	return 0
}

// TestAdminAuthorize_Inv4: root and listed approvers may decide; the gateway's user may
// not, even when listed; anyone else may not.
func TestAdminAuthorize_Inv4(t *testing.T) {
	o := AdminOptions{Approvers: map[uint32]string{1001: "alice", 2000: "gw"}, GatewayUID: 2000}
	for _, tc := range []struct {
		uid  uint32
		want string
	}{{0, ""}, {1001, ""}, {2000, "uid 2000 runs the gateway"}, {1002, "uid 1002 is not an approver"}, {65534, "not an approver"}} {
		err := o.authorize(peer{uid: tc.uid})
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("uid %d refused: %v", tc.uid, err)
		case tc.want != "" && (err == nil || err.Kind != wire.KindPolicy || !strings.Contains(err.Msg, tc.want) || !strings.HasPrefix(err.Msg, "permission denied: ")):
			t.Errorf("uid %d: %v, want %q", tc.uid, err, tc.want)
		}
	}
	// A core run by root (gateway uid 0): root is root, never refused as the gateway.
	if err := (&AdminOptions{GatewayUID: 0}).authorize(peer{uid: 0}); err != nil {
		t.Errorf("root with a root gateway: %v", err)
	}
}

// TestListenAdmin: the socket is 0600 (0660 of a group when asked); a stale socket is
// replaced; a file, a symlink, a socket someone answers on, and a path too long for a
// socket are refused, and nothing is removed.
func TestListenAdmin(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "admin.sock")
	l, err := ListenAdmin(path, -1)
	if err != nil {
		t.Fatal(err)
	}
	fi, err := os.Lstat(path)
	if err != nil || fi.Mode().Type() != os.ModeSocket || fi.Mode().Perm() != 0o600 {
		t.Fatalf("admin socket %v: %v", fi.Mode(), err)
	}
	if _, err := ListenAdmin(path, -1); err == nil || !strings.Contains(err.Error(), "answers on it") {
		t.Fatalf("a live socket: %v", err)
	}
	unix.Close(l.fd) // a core that died: the file stays
	l2, err := ListenAdmin(path, -1)
	if err != nil {
		t.Fatalf("a stale socket: %v", err)
	}
	if err := l2.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Lstat(path); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("Close left the socket: %v", err)
	}
	gpath := filepath.Join(dir, "group.sock")
	lg, err := ListenAdmin(gpath, os.Getgid())
	if err != nil {
		t.Fatal(err)
	}
	defer lg.Close()
	if fi, err := os.Lstat(gpath); err != nil || fi.Mode().Perm() != 0o660 || int(fi.Sys().(*syscall.Stat_t).Gid) != os.Getgid() {
		t.Fatalf("group socket: %v", err)
	}

	target := filepath.Join(dir, "precious")
	if err := os.WriteFile(target, []byte("keep"), 0o600); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(dir, "link.sock")
	if err := os.Symlink(target, link); err != nil {
		t.Fatal(err)
	}
	for name, p := range map[string]string{"regular file": target, "symlink": link} {
		if _, err := ListenAdmin(p, -1); err == nil || !strings.Contains(err.Error(), "not a socket") {
			t.Errorf("%s: %v", name, err)
		}
	}
	if b, err := os.ReadFile(target); err != nil || string(b) != "keep" {
		t.Fatalf("the file behind the refused paths: %q, %v", b, err)
	}
	if _, err := os.Lstat(link); err != nil {
		t.Fatalf("the symlink was removed: %v", err)
	}
	if _, err := ListenAdmin(filepath.Join(dir, strings.Repeat("x", 120)), -1); err == nil || !strings.Contains(err.Error(), "longer than") {
		t.Fatalf("a long path: %v", err)
	}
}

// TestAdminSocket_ApproveOverSocket_Inv4: over a real admin socket, an approver lists a
// waiting exit and approves it, and is told it was signed; a request that is not an admin
// message is answered with an error and the connection is closed; stopping the channel
// ends a blocked accept.
func TestAdminSocket_ApproveOverSocket_Inv4(t *testing.T) {
	s, key, a, clock := approvalService(t, "[eth.default]\nexit = \"approve\"\n", 16)
	me := uint32(os.Getuid())
	path, stop := serveAdminAt(t, s, "")
	n, _ := eth.BuiltinNetwork("mainnet")
	res := signAsync(s, &wire.EthSignRequest{Pubkey: key.PublicKey(), Req: exitRequest(t, n)})
	clock.waitArmed(t, 1)

	c, err := net.Dial("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	adm := wire.NewAdmin(c)
	lst, err := adm.ListApprovals()
	if err != nil || len(lst.Pending) != 1 || lst.Pending[0].Kind != "VOLUNTARY_EXIT" {
		t.Fatalf("list: %+v, %v", lst, err)
	}
	id := lst.Pending[0].ID
	out, err := adm.Decide(&wire.ApprovalDecision{ID: id, Verdict: wire.VerdictApprove})
	if err != nil || out.Result != nil || out.Approval.ID != id {
		t.Fatalf("approve: %+v, %v", out, err)
	}
	if r := <-res; r.Err != nil {
		t.Fatalf("approved exit: %v", r.Err)
	}
	_, err = adm.Decide(&wire.ApprovalDecision{ID: id, Verdict: wire.VerdictApprove})
	var we *wire.Error
	if !errors.As(err, &we) || !strings.Contains(we.Msg, "no pending request "+id.String()) {
		t.Fatalf("approved again over the socket: %v", err)
	}
	for _, ev := range a.snapshot() {
		if ev.Decision == audit.Approved && ev.Operator != fmt.Sprintf("uid %d (me)", me) && me != 0 {
			t.Fatalf("approved by %q", ev.Operator)
		}
	}
	// A signing request on the admin socket: answered with an error, then closed.
	body, err := wire.AppendEthSign(nil, attestationReq(key.PublicKey(), 1, 2, 1))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Write(wire.AppendFrame(nil, wire.MsgEthSign, 7, body)); err != nil {
		t.Fatal(err)
	}
	r := bufio.NewReader(c)
	f, err := wire.ReadFrame(r)
	if err != nil || f.Type != wire.MsgAdminError {
		t.Fatalf("answer to a signing request: %+v, %v", f, err)
	}
	if _, err := wire.ReadFrame(r); !errors.Is(err, io.EOF) {
		t.Fatalf("connection after a signing request: %v, want EOF", err)
	}
	c.Close()
	done := make(chan struct{})
	go func() { stop(); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("stopping the admin channel did not end the accept loop")
	}
}

// TestAdminSocket_PeerCred_Inv4 runs admin clients under other uids, through the real
// SO_PEERCRED path: the gateway's user and a user that is not an approver are refused
// with the reason, and an audit event each; a listed approver is served.
func TestAdminSocket_PeerCred_Inv4(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root: clients run under other uids (syscall.Credential)")
	}
	s, _, a, _ := approvalService(t, "", 16)
	// A directory and binary other users can reach: the test's own are private.
	dir, err := os.MkdirTemp("", "keyward-admin-test-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	bin := filepath.Join(dir, "core.test")
	self, err := os.ReadFile(os.Args[0])
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(bin, self, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "admin.sock")
	l, err := ListenAdmin(path, -1)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	if err := os.Chmod(path, 0o666); err != nil { // as a widened socket would be
		t.Fatal(err)
	}
	stop := s.ServeAdmin(l, AdminOptions{Approvers: map[uint32]string{65532: "approver", 65534: "listed"}, GatewayUID: 65534, Log: discardLog()})
	defer stop()
	for _, tc := range []struct {
		uid  uint32
		want string
	}{
		{65534, "refused: refused by policy: permission denied: uid 65534 runs the gateway"},
		{65533, "refused: refused by policy: permission denied: uid 65533 is not an approver"},
		{65532, "listed 0"},
		{0, "listed 0"},
	} {
		cmd := exec.Command(bin, "-test.run=^$")
		cmd.Env = []string{envAdminPeer + "=" + path}
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: tc.uid, Gid: tc.uid, NoSetGroups: true}}
		out, err := cmd.CombinedOutput()
		if err != nil || !strings.HasPrefix(string(out), tc.want) {
			t.Errorf("uid %d: %q (%v), want %q", tc.uid, out, err, tc.want)
		}
	}
	var refused []string
	for _, ev := range a.snapshot() {
		if ev.Decision == audit.AdminRefused {
			refused = append(refused, ev.Operator+": "+ev.Reason)
		}
	}
	if len(refused) != 2 || !strings.HasPrefix(refused[0], "uid 65534 (listed): permission denied") || !strings.HasPrefix(refused[1], "uid 65533: permission denied") {
		t.Fatalf("audit of refused admin connections: %q", refused)
	}
}

// TestAdminSocket_PolicyReload: `keyward policy reload` over the admin socket puts a valid
// policy.toml in force and answers its summary; a file that does not validate is refused
// with the reason, the policy in force stays, and both are audit events naming the peer.
func TestAdminSocket_PolicyReload(t *testing.T) {
	s, pub, a := ethService(t, "")
	dir := t.TempDir()
	me := uint32(os.Getuid())
	path, stop := serveAdminAt(t, s, dir)
	defer stop()
	c, err := net.Dial("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	adm := wire.NewAdmin(c)
	defer adm.Close()
	n, _ := eth.BuiltinNetwork("mainnet")
	exit := &wire.EthSignRequest{Pubkey: pub, Req: exitRequest(t, n)}

	os.WriteFile(filepath.Join(dir, policy.FileName), []byte("[eth.default]\nexit = \"allow\"\n"), 0o600)
	summary, err := adm.ReloadPolicy()
	if err != nil || !strings.Contains(summary, "policy.toml sha256 ") {
		t.Fatalf("reload: %q, %v", summary, err)
	}
	if res := s.SignEth(exit); res.Err != nil {
		t.Fatalf("exit after the reload: %v", res.Err)
	}
	os.WriteFile(filepath.Join(dir, policy.FileName), []byte("[eth.default]\nexit = \"refuse\"\nexits = 1\n"), 0o600)
	_, err = adm.ReloadPolicy()
	var we *wire.Error
	if !errors.As(err, &we) || we.Kind != wire.KindPolicy || !strings.Contains(we.Msg, "exits") {
		t.Fatalf("reload of a bad file: %v", err)
	}
	if res := s.SignEth(exit); res.Err != nil {
		t.Fatalf("a bad file changed the policy: %v", res.Err)
	}
	var reloaded, failed bool
	for _, ev := range a.events {
		reloaded = reloaded || ev.Decision == audit.PolicyReloaded && strings.HasPrefix(ev.Operator, fmt.Sprintf("uid %d", me))
		failed = failed || ev.Decision == audit.PolicyReloadFailed && strings.Contains(ev.Reason, "exits")
	}
	if !reloaded || !failed {
		t.Fatalf("audit: %+v", a.events)
	}
}

// serveAdminAt serves s's admin channel on a new socket, with this test's user as an
// approver named "me" and a gateway of another uid; dir is AdminOptions.Dir.
func serveAdminAt(t *testing.T, s *Service, dir string) (path string, stop func()) {
	t.Helper()
	path = filepath.Join(t.TempDir(), "admin.sock")
	l, err := ListenAdmin(path, -1)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	me := uint32(os.Getuid())
	return path, s.ServeAdmin(l, AdminOptions{Approvers: map[uint32]string{me: "me"}, GatewayUID: 4242, Log: discardLog(), Dir: dir})
}
