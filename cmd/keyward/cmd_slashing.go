package main

import (
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/keyward/keyward/internal/boundedio"
	"github.com/keyward/keyward/internal/config"
	"github.com/keyward/keyward/internal/eth"
	"github.com/keyward/keyward/internal/protect"
)

const slashingHelp = `Manage the slashing-protection database (protection.db) of a state directory: EIP-3076
interchange import and export, the emergency brake, status. These commands open the
database directly, so keyward must not be running on the directory (while it runs, the
Keymanager API offers import and export).

  slashing import   merge an EIP-3076 (version 5) interchange: all or nothing, never lowering protection
  slashing export   write the complete history (and the low watermarks) as an EIP-3076 interchange
  slashing brake    refuse every block and attestation at or after an epoch, or lift the brake
  slashing status   network, brake, keys and record counts

Examples:
  keyward slashing import --dir /var/lib/keyward ./slashing_protection.json
  keyward slashing export --dir /var/lib/keyward --out ./keyward-protection.json
  keyward slashing export --dir /var/lib/keyward --pubkeys 0x93247f…,0xa572cb… > out.json
  keyward slashing brake --dir /var/lib/keyward --epoch 380000
  keyward slashing brake --dir /var/lib/keyward --lift
  keyward slashing status --dir /var/lib/keyward`

func cmdSlashing(args []string) int {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		fmt.Printf("Usage: keyward slashing import|export|brake|status [flags]\n\n%s\n", slashingHelp)
		if len(args) == 0 {
			return 2
		}
		return 0
	}
	switch args[0] {
	case "import":
		return cmdSlashingImport(args[1:])
	case "export":
		return cmdSlashingExport(args[1:])
	case "brake":
		return cmdSlashingBrake(args[1:])
	case "status":
		return cmdSlashingStatus(args[1:])
	default:
		return fail("slashing: unknown subcommand %q (import, export, brake, status)", args[0])
	}
}

// openProtection opens protection.db of the state directory, pinned to its network.
func openProtection(dirFlag string) (*protect.Store, *eth.Network, error) {
	dir, err := stateDir(dirFlag)
	if err != nil {
		return nil, nil, err
	}
	if _, err := config.Load(dir); err != nil {
		return nil, nil, err
	}
	b, err := os.ReadFile(filepath.Join(dir, config.NetworkFile))
	if err != nil {
		return nil, nil, fmt.Errorf("read pinned network: %w", err)
	}
	n, err := eth.ParseNetworkConfig(b)
	if err != nil {
		return nil, nil, fmt.Errorf("pinned network %s: %w", config.NetworkFile, err)
	}
	st, err := protect.Open(filepath.Join(dir, config.ProtectionFile), protect.Options{
		GenesisValidatorsRoot: n.GenesisValidatorsRoot, // Inv 3
		SlotsPerEpoch:         n.SlotsPerEpoch,
		LockTimeout:           time.Second,
	})
	if errors.Is(err, protect.ErrLocked) {
		return nil, nil, fmt.Errorf("%w\nstop keyward first (while it runs, the Keymanager API offers import and export)", err)
	}
	if err != nil {
		return nil, nil, err
	}
	return st, n, nil
}

// parseWithFile parses flags and at most one positional argument, before or after the
// flags. It returns the exit status when parsing ended the command, or -1.
func parseWithFile(fs *flag.FlagSet, args []string, file *string) int {
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return 0
			}
			return 2
		}
		if fs.NArg() == 0 {
			return -1
		}
		if *file != "" {
			fmt.Fprintf(os.Stderr, "keyward %s: unexpected argument %q\n", fs.Name(), fs.Arg(0))
			return 2
		}
		*file, args = fs.Arg(0), fs.Args()[1:]
	}
}

func cmdSlashingImport(args []string) int {
	fs := newFlags("slashing import", "slashing import --dir DIR FILE",
		`Import an EIP-3076 interchange (format version 5) from FILE ("-": standard input), as
exported by another signer or validator client. The file must be for the network pinned
in the state directory. It is parsed strictly and merged in one transaction: either all
of it is imported or nothing. Protection is never lowered: existing records stay,
watermarks only rise, and slashable data in the file is kept in a form that refuses
everything it would refuse. Prints what happened per key.`)
	dirFlag := fs.String("dir", "", "state directory (required)")
	var file string
	if st := parseWithFile(fs, args, &file); st >= 0 {
		return st
	}
	if file == "" {
		return fail("slashing import: name the interchange file (or - for standard input)")
	}
	data, err := readLimited(file, protect.MaxInterchangeSize)
	if err != nil {
		return fail("slashing import: %v", err)
	}
	st, _, err := openProtection(*dirFlag)
	if err != nil {
		return fail("slashing import: %v", err)
	}
	defer st.Close()
	rep, err := st.ImportInterchange(data)
	if err != nil {
		return fail("slashing import: nothing imported: %v", err)
	}
	for _, k := range rep.Keys {
		fmt.Printf("0x%s  blocks: %d added, %d merged, %d known, %d below watermark  attestations: %d added, %d merged, %d known, %d below watermark, %d absorbed",
			hex.EncodeToString(k.Pubkey[:]), k.BlocksAdded, k.BlocksMerged, k.BlocksKnown, k.BlocksCovered,
			k.AttestationsAdded, k.AttestationsMerged, k.AttestationsKnown, k.AttestationsCovered, k.AttestationsAbsorbed)
		if k.Raised() {
			fmt.Printf("  watermarks: %s -> %s", watermarks(k.Before), watermarks(k.After))
		}
		fmt.Println()
	}
	fmt.Fprintf(os.Stderr, "imported %d keys\n", len(rep.Keys))
	return 0
}

// watermarks formats low watermarks for the import report.
func watermarks(w protect.Watermarks) string {
	var parts []string
	if w.HasSlot {
		parts = append(parts, fmt.Sprintf("slot %d", w.Slot))
	}
	if w.HasAtt {
		parts = append(parts, fmt.Sprintf("source %d target %d", w.Source, w.Target))
	}
	if len(parts) == 0 {
		return "none"
	}
	return "(" + strings.Join(parts, ", ") + ")"
}

// readLimited reads a file ("-": standard input) of at most limit bytes.
func readLimited(name string, limit int64) ([]byte, error) {
	var r io.Reader = os.Stdin
	if name != "-" {
		f, err := os.Open(name)
		if err != nil {
			return nil, fmt.Errorf("open interchange: %w", err)
		}
		defer f.Close()
		r = f
	}
	b, err := boundedio.ReadAll(r, limit)
	if errors.Is(err, boundedio.ErrTooLarge) {
		return nil, fmt.Errorf("read interchange: %w: more than %d bytes", protect.ErrInterchangeTooLarge, limit)
	}
	if err != nil {
		return nil, fmt.Errorf("read interchange: %w", err)
	}
	return b, nil
}

func cmdSlashingExport(args []string) int {
	fs := newFlags("slashing export", "slashing export --dir DIR [--pubkeys 0x…,0x…] [--out FILE]",
		`Export the complete signing history as an EIP-3076 interchange (format version 5), for
every key or the keys named. The low watermarks are included as records without signing
root, so the file protects at least as much as this database. A key this database never
saw is left out. --out creates a new file (mode 0600) and refuses to overwrite one.`)
	dirFlag := fs.String("dir", "", "state directory (required)")
	pubkeys := fs.String("pubkeys", "", "comma-separated 0x-prefixed public keys (default: all)")
	out := fs.String("out", "", "file to create (default: standard output)")
	if st := parse(fs, args); st >= 0 {
		return st
	}
	var pubs [][48]byte
	if *pubkeys != "" {
		for _, p := range strings.Split(*pubkeys, ",") {
			h, ok := strings.CutPrefix(strings.TrimSpace(p), "0x")
			b, err := hex.DecodeString(h)
			if !ok || err != nil || len(b) != 48 {
				return fail("slashing export: %q is not a 0x-prefixed 48-byte public key", p)
			}
			pubs = append(pubs, [48]byte(b))
		}
	}
	st, _, err := openProtection(*dirFlag)
	if err != nil {
		return fail("slashing export: %v", err)
	}
	defer st.Close()
	doc, err := st.ExportInterchange(pubs)
	if err != nil {
		return fail("slashing export: %v", err)
	}
	if *out == "" {
		if _, err := os.Stdout.Write(doc); err != nil {
			return fail("slashing export: %v", err)
		}
		return 0
	}
	if err := writeNew(*out, doc); err != nil {
		return fail("slashing export: %v", err)
	}
	fmt.Fprintf(os.Stderr, "wrote %s (%d bytes)\n", *out, len(doc))
	return 0
}

// writeNew creates name (0600, never overwriting) with b, synced to disk.
func writeNew(name string, b []byte) error {
	f, err := os.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return fmt.Errorf("create %s: %w", name, err)
	}
	if _, err := f.Write(b); err != nil {
		f.Close()
		return fmt.Errorf("write %s: %w", name, err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return fmt.Errorf("sync %s: %w", name, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("close %s: %w", name, err)
	}
	return nil
}

func cmdSlashingBrake(args []string) int {
	fs := newFlags("slashing brake", "slashing brake --dir DIR (--epoch E | --lift)",
		`Set or lift the emergency brake (Web3Signer's high watermark). With the brake at epoch
E, every block at a slot ≥ E × SLOTS_PER_EPOCH and every attestation with a source or
target epoch ≥ E is refused, even one repeating a recorded signature, until the brake
is lifted. It is stored in protection.db and holds across restarts. Use it when moving
keys away: set it at the current epoch, export, and keyward signs nothing newer.`)
	dirFlag := fs.String("dir", "", "state directory (required)")
	epoch := fs.Uint64("epoch", 0, "refuse blocks and attestations at or after this epoch")
	lift := fs.Bool("lift", false, "lift the brake")
	if st := parse(fs, args); st >= 0 {
		return st
	}
	epochSet := false
	fs.Visit(func(f *flag.Flag) { epochSet = epochSet || f.Name == "epoch" })
	if epochSet == *lift {
		return fail("slashing brake: need exactly one of --epoch, --lift")
	}
	st, n, err := openProtection(*dirFlag)
	if err != nil {
		return fail("slashing brake: %v", err)
	}
	defer st.Close()
	if *lift {
		if err := st.ClearBrake(); err != nil {
			return fail("slashing brake: %v", err)
		}
		fmt.Println("brake lifted")
		return 0
	}
	if err := st.SetBrake(*epoch); err != nil {
		return fail("slashing brake: %v", err)
	}
	fmt.Printf("brake set at epoch %d (slot %d): nothing at or after it is signed\n", *epoch, *epoch*n.SlotsPerEpoch)
	return 0
}

func cmdSlashingStatus(args []string) int {
	fs := newFlags("slashing status", "slashing status --dir DIR", "Print the pinned network, the emergency brake, and the keys and records of protection.db.")
	dirFlag := fs.String("dir", "", "state directory (required)")
	if st := parse(fs, args); st >= 0 {
		return st
	}
	st, n, err := openProtection(*dirFlag)
	if err != nil {
		return fail("slashing status: %v", err)
	}
	defer st.Close()
	s := st.Stats()
	brake := "off"
	if s.BrakeSet {
		brake = fmt.Sprintf("epoch %d (slot %d)", s.Brake, s.Brake*n.SlotsPerEpoch)
	}
	fmt.Printf("network                  %s\ngenesis_validators_root  0x%s\nbrake                    %s\nkeys                     %d\nblocks                   %d\nattestations             %d\n",
		n.Name, hex.EncodeToString(n.GenesisValidatorsRoot[:]), brake, s.Keys, s.Blocks, s.Attestations)
	return 0
}
