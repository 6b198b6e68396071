package main

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/keyward/keyward/internal/boundedio"
	"github.com/keyward/keyward/internal/protect"
	"github.com/keyward/keyward/internal/tezos"
)

const tezosHelp = `Tezos-specific maintenance, with the signer stopped.

  tezos import-watermarks  raise the high watermarks from octez-signer or Signatory files,
                           so that a baker can switch signers without a gap

Examples:
  keyward tezos import-watermarks --dir /var/lib/keyward --from octez ~/.octez-signer
  keyward tezos import-watermarks --dir /var/lib/keyward --from signatory /var/lib/signatory`

func cmdTezos(args []string) int {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		fmt.Printf("Usage: keyward tezos import-watermarks [flags]\n\n%s\n", tezosHelp)
		if len(args) == 0 {
			return 2
		}
		return 0
	}
	switch args[0] {
	case "import-watermarks":
		return cmdTezosImportWatermarks(args[1:])
	default:
		return fail("tezos: unknown subcommand %q (import-watermarks)", args[0])
	}
}

func cmdTezosImportWatermarks(args []string) int {
	fs := newFlags("tezos import-watermarks", "tezos import-watermarks --dir DIR --from octez|signatory PATH",
		`Import the high watermarks of another Tezos signer into protection.db, with both signers
stopped. Marks are only raised, never lowered, in one durable transaction (all or nothing).

--from octez: PATH is octez-signer's base directory (-d, default ~/.octez-signer or
~/.tezos-signer) holding block_high_watermarks, preattestation_high_watermarks and
attestation_high_watermarks (and the pre-23.0 preendorsement_/endorsement_ names).
Stored signatures are kept, so an identical request gets the same signature back.

--from signatory: PATH is Signatory's base_dir (holding watermark_v2/), its watermark_v2
directory, or one <chain id>.json file of it. attestation_with_dal marks merge into the
attestation class (the higher wins). Signatory stores no signatures: an identical request
at the imported level and round is signed again.

A mark without a round (written before Tenderbake) refuses its whole level.`)
	dirFlag := fs.String("dir", "", "state directory (required)")
	from := fs.String("from", "", "octez or signatory (required)")
	var path string
	if st := parseWithFile(fs, args, &path); st >= 0 {
		return st
	}
	if path == "" {
		return fail("tezos import-watermarks: name the directory or file to import")
	}
	var marks []protect.TezosMark
	var err error
	switch *from {
	case "octez":
		marks, err = readOctezWatermarks(path)
	case "signatory":
		marks, err = readSignatoryWatermarks(path)
	default:
		return fail("tezos import-watermarks: --from %q: want octez or signatory", *from)
	}
	if err != nil {
		return fail("tezos import-watermarks: %v", err)
	}
	st, _, err := openProtection(*dirFlag)
	if err != nil {
		return fail("tezos import-watermarks: %v", err)
	}
	defer st.Close()
	n, err := st.ImportTezosMarks(marks)
	if err != nil {
		return fail("tezos import-watermarks: %v", err)
	}
	fmt.Printf("read %d marks, raised %d (the others were already at or above)\n", len(marks), n)
	return 0
}

func readOctezWatermarks(dir string) ([]protect.TezosMark, error) {
	var out []protect.TezosMark
	found := 0
	for _, f := range protect.OctezWatermarkFiles {
		b, err := boundedio.ReadFile(filepath.Join(dir, f.Name), protect.MaxTezosWatermarkFile)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, err
		}
		found++
		m, err := protect.ParseOctezWatermarks(f.Class, b)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", f.Name, err)
		}
		out = append(out, m...)
	}
	if found == 0 {
		return nil, fmt.Errorf("%s holds no *_high_watermarks file", dir)
	}
	return out, nil
}

func readSignatoryWatermarks(path string) ([]protect.TezosMark, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	files := []string{path}
	if fi.IsDir() {
		dir := path
		if sub := filepath.Join(path, "watermark_v2"); isDir(sub) {
			dir = sub
		}
		if files, err = filepath.Glob(filepath.Join(dir, "*.json")); err != nil {
			return nil, err
		}
		if len(files) == 0 {
			return nil, fmt.Errorf("%s holds no <chain id>.json watermark file", dir)
		}
	}
	var out []protect.TezosMark
	for _, f := range files {
		chain, err := tezos.ParseChainID(strings.TrimSuffix(filepath.Base(f), ".json"))
		if err != nil {
			return nil, fmt.Errorf("%s: file name is not a chain id: %w", f, err)
		}
		b, err := boundedio.ReadFile(f, protect.MaxTezosWatermarkFile)
		if err != nil {
			return nil, err
		}
		m, err := protect.ParseSignatoryWatermarks(chain, b)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", f, err)
		}
		out = append(out, m...)
	}
	return out, nil
}

func isDir(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && fi.IsDir()
}
