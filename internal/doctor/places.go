package doctor

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
)

// vcsMarkers name the metadata directories of version-control work trees: a secret inside
// one is a commit away from being published.
var vcsMarkers = []string{".git", ".hg", ".svn", ".jj", ".bzr", "_darcs", ".fslckout", "CVS"}

// workTreeOf returns the work tree that contains path and the marker found, or "".
func workTreeOf(path string) (root, marker string) {
	for d := path; ; {
		for _, vcs := range vcsMarkers {
			if _, err := os.Lstat(filepath.Join(d, vcs)); err == nil {
				return d, vcs
			}
		}
		parent := filepath.Dir(d)
		if parent == d {
			return "", ""
		}
		d = parent
	}
}

// checkWorkTree fails when the state directory lies inside a version-control work tree,
// where a commit could publish sealed keys or the master key.
func checkWorkTree(dir string) Finding {
	if root, vcs := workTreeOf(dir); root != "" {
		return Finding{"version control", Fail, fmt.Sprintf("%s is inside the work tree %s (%s)", dir, root, vcs), "move the state directory out of the repository"}
	}
	return Finding{"version control", Pass, "state directory is not in a work tree", ""}
}

// isSecretName reports whether a file name looks like key material, a keystore, a
// password or a token: what must never be world-readable or inside a work tree.
func isSecretName(name string) bool {
	n := strings.ToLower(name)
	switch {
	case n == "master.key", n == "keys.db", n == "keymanager.token", n == "secret_keys",
		n == "api-token.txt", n == "validator_definitions.yml":
		return true
	case strings.HasPrefix(n, "keystore") && strings.HasSuffix(n, ".json"):
		return true
	case strings.HasSuffix(n, ".key"), strings.HasSuffix(n, ".token"), strings.HasSuffix(n, ".pem") && strings.Contains(n, "key"):
		return true
	case strings.Contains(n, "password") || strings.Contains(n, "secret"):
		return true
	}
	return false
}

// maxSecretFiles bounds the files a --check-path walk looks at.
const maxSecretFiles = 100000

// checkSecretPlaces checks every secret-looking file under each path (a file, or a
// directory walked to depth 3): not inside a work tree, not readable or writable by group
// or others, and not in a directory that others may write (they could replace it). Each
// path gives one finding that lists what is wrong.
func checkSecretPlaces(paths []string) []Finding {
	var out []Finding
	for _, p := range paths {
		name := "secret files: " + p
		abs, err := filepath.Abs(p)
		if err != nil {
			out = append(out, Finding{name, Fail, err.Error(), ""})
			continue
		}
		var problems []string
		if root, vcs := workTreeOf(abs); root != "" {
			problems = append(problems, fmt.Sprintf("inside the work tree %s (%s)", root, vcs))
		}
		if d := worldWritableAncestor(abs); d != "" {
			problems = append(problems, fmt.Sprintf("below %s, which others can write", d))
		}
		n := 0
		err = filepath.WalkDir(abs, func(path string, e fs.DirEntry, err error) error {
			if err != nil {
				problems = append(problems, err.Error())
				return nil
			}
			if e.IsDir() {
				if path != abs && strings.Count(strings.TrimPrefix(path, abs), string(filepath.Separator)) > 3 {
					return filepath.SkipDir
				}
				if path != abs && workTreeMarker(e.Name()) {
					problems = append(problems, path+" is a version-control directory")
					return filepath.SkipDir
				}
				return nil
			}
			if n++; n > maxSecretFiles {
				return filepath.SkipAll
			}
			if path != abs && !isSecretName(e.Name()) {
				return nil
			}
			fi, err := e.Info()
			if err != nil {
				return nil
			}
			if perm := fi.Mode().Perm(); perm&0o077 != 0 {
				problems = append(problems, fmt.Sprintf("%s has mode %#o (group or others can access it)", path, perm))
			}
			return nil
		})
		if err != nil {
			problems = append(problems, err.Error())
		}
		if len(problems) == 0 {
			out = append(out, Finding{name, Pass, "not in a work tree, not accessible to others", ""})
			continue
		}
		sort.Strings(problems)
		out = append(out, Finding{name, Fail, strings.Join(problems, "; "),
			"move key material out of repositories and shared directories; chmod 600 files, 700 directories"})
	}
	return out
}

func workTreeMarker(name string) bool {
	for _, m := range vcsMarkers {
		if name == m {
			return true
		}
	}
	return false
}

// worldWritableAncestor returns a directory above path that lets others replace what
// leads to path: one others may write without the sticky bit (anything below can be
// renamed away), or a sticky one like /tmp that holds path itself (others can pre-create
// or squat its name, and temporary directories are cleaned). "" when none.
func worldWritableAncestor(path string) string {
	child := path
	for d := filepath.Dir(path); ; d = filepath.Dir(d) {
		if fi, err := os.Stat(d); err == nil && fi.Mode().Perm()&0o002 != 0 {
			if fi.Mode()&os.ModeSticky == 0 || child == path {
				return d
			}
		}
		if filepath.Dir(d) == d {
			return ""
		}
		child = d
	}
}

// checkStateFiles fails any file in the state directory that group or others can access
// or that belongs to another user: keyward creates everything 0600, so such a file was put
// there by hand (a copied keystore, a backup) and may leak.
func checkStateFiles(dir string, euid int) Finding {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return Finding{"permissions: state files", Fail, err.Error(), ""}
	}
	var bad []string
	for _, e := range entries {
		fi, err := e.Info()
		if err != nil {
			continue
		}
		p := filepath.Join(dir, e.Name())
		if fi.Mode().Perm()&0o077 != 0 {
			bad = append(bad, fmt.Sprintf("%s has mode %#o", p, fi.Mode().Perm()))
		}
		if st, ok := fi.Sys().(*syscall.Stat_t); ok && int(st.Uid) != euid {
			bad = append(bad, fmt.Sprintf("%s is owned by uid %d", p, st.Uid))
		}
	}
	if len(bad) > 0 {
		return Finding{"permissions: state files", Fail, strings.Join(bad, "; "), fmt.Sprintf("chmod go= and chown %d the files named, or move them out of %s", euid, dir)}
	}
	return Finding{"permissions: state files", Pass, fmt.Sprintf("%d entries, none accessible to others", len(entries)), ""}
}
