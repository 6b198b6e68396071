package main

import (
	"encoding/json"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// proc is a keyward process whose output is kept for failures.
type proc struct {
	cmd  *exec.Cmd
	out  *lockedBuffer
	done chan error
}

func startProc(t *testing.T, extra []*os.File, args ...string) *proc {
	t.Helper()
	return startProcCmd(t, exec.Command(binary, args...), extra)
}

func startProcCmd(t *testing.T, cmd *exec.Cmd, extra []*os.File) *proc {
	t.Helper()
	args := cmd.Args
	p := &proc{cmd: cmd, out: &lockedBuffer{}, done: make(chan error, 1)}
	p.cmd.Stdout, p.cmd.Stderr = p.out, p.out
	p.cmd.ExtraFiles = extra
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { p.done <- p.cmd.Wait() }()
	t.Cleanup(func() {
		_ = p.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-p.done:
		case <-time.After(10 * time.Second):
			_ = p.cmd.Process.Kill()
		}
		if t.Failed() {
			t.Logf("keyward %s:\n%s", strings.Join(args, " "), p.out.String())
		}
	})
	return p
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// unixListenerFile listens on path and returns the listening socket as a file to pass on.
func unixListenerFile(t *testing.T, path string) *os.File {
	t.Helper()
	ln, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	f, err := ln.(*net.UnixListener).File()
	if err != nil {
		t.Fatal(err)
	}
	ln.(*net.UnixListener).SetUnlinkOnClose(false)
	ln.Close()
	t.Cleanup(func() { f.Close() })
	return f
}

// gatewayDir makes a gateway directory from a core's: keyward.toml and keymanager.token.
func gatewayDir(t *testing.T, coreDir string) string {
	t.Helper()
	gw := filepath.Join(t.TempDir(), "gateway")
	if err := os.Mkdir(gw, 0o700); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"keyward.toml", "keymanager.token"} {
		b, err := os.ReadFile(filepath.Join(coreDir, f))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(gw, f), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return gw
}

func waitHealthy(t *testing.T, url string, p *proc) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		if resp, err := http.Get(url + "/healthcheck"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return
			}
		}
		select {
		case err := <-p.done:
			p.done <- err
			t.Fatalf("gateway exited: %v\n%s", err, p.out.String())
		case <-time.After(50 * time.Millisecond):
		}
	}
	t.Fatalf("gateway not healthy in 30 s\n%s", p.out.String())
}

// TestTwoServices runs the core as its own process on a listening unix socket
// (--listen-fd, as socket activation gives it) and the gateway as another
// (keyward gateway --core): the gateway serves the core's keys; a second gateway is served
// after the first one left; a peer of another uid is refused.
func TestTwoServices(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "state")
	run(t, "init", "--dir", dir, "--network", "mainnet")
	run(t, "keys", "generate", "--dir", dir, "--count", "2")
	sock := filepath.Join(t.TempDir(), "core.sock")
	lnFile := unixListenerFile(t, sock)
	uid := strconv.Itoa(os.Geteuid())
	// As systemd starts it: LISTEN_PID is the process that execs keyward, LISTEN_FDS=1.
	core := startProcCmd(t, exec.Command("/bin/sh", "-c", `LISTEN_PID=$$ LISTEN_FDS=1 exec "$0" "$@"`,
		binary, "core", "--dir", dir, "--socket-activated", "--gateway-user", uid), []*os.File{lnFile})

	gw := gatewayDir(t, dir)
	for i := 0; i < 2; i++ { // the second gateway is accepted after the first left
		addr := freeAddr(t)
		g := startProc(t, nil, "gateway", "--dir", gw, "--core", sock, "--eth-listen", addr)
		waitHealthy(t, "http://"+addr, g)
		resp, err := http.Get("http://" + addr + "/api/v1/eth2/publicKeys")
		if err != nil {
			t.Fatal(err)
		}
		var keys []string
		json.NewDecoder(resp.Body).Decode(&keys)
		resp.Body.Close()
		if len(keys) != 2 {
			t.Fatalf("gateway %d: keys %v", i, keys)
		}
		_ = g.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-g.done:
		case <-time.After(10 * time.Second):
			t.Fatal("gateway did not stop")
		}
		g.done <- nil
	}
	select {
	case err := <-core.done:
		t.Fatalf("core exited after a gateway left: %v\n%s", err, core.out.String())
	default:
	}
	// doctor finds the running core of the directory (here as root: a warning).
	out, _, _ := keyward(t, "doctor", "--dir", dir, "--offline")
	if !strings.Contains(out, "separate users") || strings.Contains(out, "no running core") {
		t.Errorf("doctor did not see the running core:\n%s", out)
	}

	// A core that waits for another user's gateway closes our connection unserved.
	dir2 := filepath.Join(t.TempDir(), "state2")
	run(t, "init", "--dir", dir2, "--network", "mainnet")
	sock2 := filepath.Join(t.TempDir(), "core2.sock")
	c2 := startProc(t, []*os.File{unixListenerFile(t, sock2)}, "core", "--dir", dir2, "--listen-fd", "3", "--gateway-user", "4242")
	conn, err := net.Dial("unix", sock2)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetReadDeadline(time.Now().Add(30 * time.Second))
	if n, err := conn.Read(make([]byte, 16)); err != io.EOF {
		t.Fatalf("a peer of another uid: read %d bytes, %v; want EOF", n, err)
	}
	for deadline := time.Now().Add(5 * time.Second); !strings.Contains(c2.out.String(), "wrong user"); {
		if time.Now().After(deadline) {
			t.Fatalf("core did not log the refusal:\n%s", c2.out.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
}
