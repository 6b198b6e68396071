package doctor

import (
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// TestCheckAdminSocket: absent passes; a 0600 socket of the service user passes; a wider
// mode, another owner, a file or a symlink fail; a group socket may be 0660.
func TestCheckAdminSocket(t *testing.T) {
	dir := t.TempDir()
	sock := filepath.Join(dir, "admin.sock")
	euid := os.Geteuid()
	if f := checkAdminSocket(sock, "", euid); f.Status != Pass || !strings.Contains(f.Detail, "absent") {
		t.Fatalf("absent: %+v", f)
	}
	ln, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	gid := strconv.Itoa(os.Getgid())
	for _, tc := range []struct {
		mode  os.FileMode
		group string
		euid  int
		want  Status
	}{
		{0o600, "", euid, Pass},
		{0o660, "", euid, Fail},
		{0o666, "", euid, Fail},
		{0o660, gid, euid, Pass},
		{0o666, gid, euid, Fail},
		{0o600, "", euid + 1, Fail},
	} {
		if err := os.Chmod(sock, tc.mode); err != nil {
			t.Fatal(err)
		}
		if f := checkAdminSocket(sock, tc.group, tc.euid); f.Status != tc.want {
			t.Errorf("mode %#o, group %q, euid %d: %+v, want %s", tc.mode, tc.group, tc.euid, f, tc.want)
		}
	}
	file := filepath.Join(dir, "file")
	if err := os.WriteFile(file, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(dir, "link")
	if err := os.Symlink(sock, link); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{file, link} {
		if f := checkAdminSocket(p, "", euid); f.Status != Fail || !strings.Contains(f.Detail, "not a socket") {
			t.Errorf("%s: %+v", p, f)
		}
	}
}
