package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const migratePub = "0x9612d7a727c9d0a22e185a1c768478dfe919cada9266988cb32359c11f2b7b27f4ae4040902382ae2910c15e2b420d07"

// migrateFixture copies internal/migrate/testdata/<name>, with @DIR@ replaced and
// private modes.
func migrateFixture(t *testing.T, name string) string {
	t.Helper()
	src := filepath.Join("..", "..", "internal", "migrate", "testdata", name)
	dst := filepath.Join(t.TempDir(), name)
	err := filepath.Walk(src, func(p string, fi os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		out := filepath.Join(dst, rel)
		if fi.IsDir() {
			return os.MkdirAll(out, 0o700)
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(out, bytes.ReplaceAll(b, []byte("@DIR@"), []byte(dst)), 0o600)
	})
	if err != nil {
		t.Fatal(err)
	}
	return dst
}

// TestMigrateLighthouse: the dry run changes nothing, a migration without history is
// refused, the migration imports history and key, and doctor then finds the key
// configured twice (still enabled in Lighthouse).
func TestMigrateLighthouse(t *testing.T) {
	lh := migrateFixture(t, "lighthouse")
	dir := filepath.Join(t.TempDir(), "state")
	run(t, "init", "--dir", dir, "--network", "mainnet")
	from := filepath.Join(lh, "validators")
	ich := filepath.Join(lh, "slashing_protection.json")

	out, errOut, code := keyward(t, "migrate", "lighthouse", "--dir", dir, "--from", from, "--interchange", ich, "--dry-run")
	if code != 0 || !strings.Contains(out, migratePub) || !strings.Contains(out, "dry run") {
		t.Fatalf("dry run: exit %d\n%s%s", code, out, errOut)
	}
	if _, err := os.Stat(filepath.Join(dir, "protection.db")); err == nil {
		t.Fatal("the dry run created protection.db")
	}
	_, errOut, code = keyward(t, "migrate", "lighthouse", "--dir", dir, "--from", from)
	if code != 1 || !strings.Contains(errOut, "would lose slashing protection") {
		t.Fatalf("without history: exit %d\n%s", code, errOut)
	}
	out, errOut, code = keyward(t, "migrate", "lighthouse", "--dir", dir, "--from", from, "--interchange", ich)
	if code != 0 || !strings.Contains(out, "imported") {
		t.Fatalf("migrate: exit %d\n%s%s", code, out, errOut)
	}
	if out := run(t, "keys", "list", "--dir", dir); !strings.Contains(out, migratePub) {
		t.Fatalf("migrated key not listed:\n%s", out)
	}
	if out := run(t, "slashing", "export", "--dir", dir); !strings.Contains(out, `"81952"`) {
		t.Fatalf("migrated history not exported:\n%s", out)
	}
	out, _, code = keyward(t, "doctor", "--dir", dir, "--offline", "--also", from)
	if code != 1 || !strings.Contains(out, "configured twice") {
		t.Fatalf("doctor --also: exit %d\n%s", code, out)
	}
}

// TestMigrateOctez: an octez-signer base directory migrates with its watermarks; without
// them it is refused.
func TestMigrateOctez(t *testing.T) {
	src := migrateFixture(t, "octez")
	dir := filepath.Join(t.TempDir(), "state")
	run(t, "init", "--dir", dir, "--network", "mainnet")
	out, errOut, code := keyward(t, "migrate", "octez", "--dir", dir, "--from", src, "--dry-run")
	if code != 0 || !strings.Contains(out, "tz1RvhdZ5pcjD19vCCK9PgZpnmErTba3dsBs") || !strings.Contains(out, "3 watermarks") {
		t.Fatalf("dry run: exit %d\n%s%s", code, out, errOut)
	}
	out, errOut, code = keyward(t, "migrate", "octez", "--dir", dir, "--from", src)
	if code != 0 || !strings.Contains(out, "3 raised") {
		t.Fatalf("migrate: exit %d\n%s%s", code, out, errOut)
	}
	empty := migrateFixture(t, "octez")
	for _, f := range []string{"block_high_watermarks", "preattestation_high_watermarks", "attestation_high_watermarks"} {
		os.Remove(filepath.Join(empty, f))
	}
	dir2 := filepath.Join(t.TempDir(), "state")
	run(t, "init", "--dir", dir2, "--network", "mainnet")
	if _, errOut, code := keyward(t, "migrate", "octez", "--dir", dir2, "--from", empty); code != 1 || !strings.Contains(errOut, "would lose slashing protection") {
		t.Fatalf("without watermarks: exit %d\n%s", code, errOut)
	}
}
