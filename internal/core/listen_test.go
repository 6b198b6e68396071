package core

import (
	"errors"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// listenFD makes a blocking listening unix socket and returns its descriptor and path.
func listenFD(t *testing.T) (int, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "core.sock")
	fd, err := unix.Socket(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := unix.Bind(fd, &unix.SockaddrUnix{Name: path}); err != nil {
		t.Fatal(err)
	}
	if err := unix.Listen(fd, 4); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { unix.Close(fd) })
	return fd, path
}

// TestAcceptGateways: a peer of another uid is closed unserved, a peer of the gateway's
// uid is served, the next one after it too, and an error from serving ends the loop.
func TestAcceptGateways(t *testing.T) {
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	fd, path := listenFD(t)
	served := make(chan net.Conn, 4)
	errProtocol := errors.New("protocol violation")
	done := make(chan error, 1)
	go func() {
		done <- acceptGateways(fd, os.Geteuid(), func(c net.Conn) error {
			served <- c
			buf := make([]byte, 1)
			if _, err := c.Read(buf); err == nil && buf[0] == 'x' {
				return errProtocol
			}
			return nil // peer closed: next gateway
		}, log)
	}()
	dial := func() net.Conn {
		c, err := net.Dial("unix", path)
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	for i := 0; i < 2; i++ {
		c := dial()
		select {
		case <-served:
		case <-time.After(5 * time.Second):
			t.Fatalf("gateway %d not served", i)
		}
		c.Close()
	}
	c := dial()
	<-served
	c.Write([]byte("x"))
	select {
	case err := <-done:
		if !errors.Is(err, errProtocol) {
			t.Fatalf("acceptGateways: %v, want the serve error", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("a serve error did not end the loop")
	}
	c.Close()

	// Another uid: the loop closes the connection unserved and waits for the next.
	fd2, path2 := listenFD(t)
	done2 := make(chan error, 1)
	go func() {
		done2 <- acceptGateways(fd2, os.Geteuid()+4242, func(c net.Conn) error {
			t.Error("a peer of another uid was served")
			return nil
		}, log)
	}()
	c2, err := net.Dial("unix", path2)
	if err != nil {
		t.Fatal(err)
	}
	defer c2.Close()
	c2.SetReadDeadline(time.Now().Add(5 * time.Second))
	if n, err := c2.Read(make([]byte, 1)); err != io.EOF {
		t.Fatalf("read %d, %v; want EOF", n, err)
	}
	unix.Shutdown(fd2, unix.SHUT_RDWR) // ends the blocked accept4
	select {
	case err := <-done2:
		if err == nil {
			t.Fatal("acceptGateways returned nil after its socket was shut down")
		}
	case <-time.After(5 * time.Second):
		t.Log("accept4 still blocked after shutdown; leaving the goroutine")
	}
}
