package protect

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// MaxInterchangeSize bounds the EIP-3076 document ImportInterchange reads (Inv 7). A
// complete history of 1,000 validators over a year is about 100 MiB.
const MaxInterchangeSize = 512 << 20

// interchangeVersion is the only EIP-3076 interchange_format_version accepted.
const interchangeVersion = "5"

// interchange is a parsed EIP-3076 document.
type interchange struct {
	version string
	gvr     [32]byte
	data    []ichKey
}

type ichKey struct {
	pub    [48]byte
	blocks []ichBlock
	atts   []ichAtt
}

type ichBlock struct {
	slot    uint64
	root    [32]byte
	hasRoot bool
}

type ichAtt struct {
	source, target uint64
	root           [32]byte
	hasRoot        bool
}

// parseInterchange decodes an EIP-3076 document strictly (Inv 7): exact field names, no
// unknown or duplicated field, every required field present, decimal uint64 strings,
// 0x-prefixed hex of exact length, nothing after the document. It checks neither the
// version nor the network; the caller does.
func parseInterchange(data []byte) (*interchange, error) {
	if len(data) > MaxInterchangeSize {
		return nil, fmt.Errorf("%w: %d bytes, at most %d", ErrInterchangeTooLarge, len(data), MaxInterchangeSize)
	}
	p := &ichParser{d: json.NewDecoder(bytes.NewReader(data))}
	var ic interchange
	err := p.object("", []string{"metadata", "data"}, func(key string) error {
		switch key {
		case "metadata":
			return p.object("metadata", []string{"interchange_format_version", "genesis_validators_root"}, func(key string) error {
				var err error
				if key == "interchange_format_version" {
					ic.version, err = p.str("metadata.interchange_format_version")
					return err
				}
				return p.hex("metadata.genesis_validators_root", ic.gvr[:])
			})
		default: // "data"
			return p.array("data", func(i int) error {
				k, err := p.key(fmt.Sprintf("data[%d]", i))
				ic.data = append(ic.data, k)
				return err
			})
		}
	})
	if err != nil {
		return nil, err
	}
	if _, err := p.d.Token(); err != io.EOF {
		return nil, fmt.Errorf("%w: data after the document", ErrInvalidInterchange)
	}
	return &ic, nil
}

// ichParser walks the JSON tokens of an interchange.
type ichParser struct{ d *json.Decoder }

func (p *ichParser) fail(path, format string, args ...any) error {
	return fmt.Errorf("%w: %s: %s", ErrInvalidInterchange, path, fmt.Sprintf(format, args...))
}

func (p *ichParser) token(path string) (json.Token, error) {
	t, err := p.d.Token()
	if err != nil {
		if errors.Is(err, io.EOF) {
			return nil, p.fail(path, "unexpected end of document")
		}
		return nil, p.fail(path, "%v", err)
	}
	return t, nil
}

func (p *ichParser) delim(path string, want json.Delim) error {
	t, err := p.token(path)
	if err != nil {
		return err
	}
	if d, ok := t.(json.Delim); !ok || d != want {
		return p.fail(path, "want %q, got %v", want, t)
	}
	return nil
}

// object reads an object whose fields are exactly those listed (all required), calling
// field for each value.
func (p *ichParser) object(path string, fields []string, field func(key string) error) error {
	if err := p.delim(path, '{'); err != nil {
		return err
	}
	seen := make(map[string]bool, len(fields))
	for p.d.More() {
		t, err := p.token(path)
		if err != nil {
			return err
		}
		key, _ := t.(string)
		switch {
		case !contains(fields, key):
			return p.fail(path, "unknown field %q", key)
		case seen[key]:
			return p.fail(path, "duplicate field %q", key)
		}
		seen[key] = true
		if err := field(key); err != nil {
			return err
		}
	}
	if err := p.delim(path, '}'); err != nil {
		return err
	}
	for _, f := range fields {
		if !seen[f] && !strings.HasSuffix(f, "?") {
			return p.fail(path, "missing field %q", f)
		}
	}
	return nil
}

func contains(fields []string, key string) bool {
	for _, f := range fields {
		if f == key || f == key+"?" {
			return true
		}
	}
	return false
}

func (p *ichParser) array(path string, elem func(i int) error) error {
	if err := p.delim(path, '['); err != nil {
		return err
	}
	for i := 0; p.d.More(); i++ {
		if err := elem(i); err != nil {
			return err
		}
	}
	return p.delim(path, ']')
}

func (p *ichParser) str(path string) (string, error) {
	t, err := p.token(path)
	if err != nil {
		return "", err
	}
	s, ok := t.(string)
	if !ok {
		return "", p.fail(path, "want a string, got %v", t)
	}
	return s, nil
}

// uint reads a decimal string holding a uint64.
func (p *ichParser) uint(path string) (uint64, error) {
	s, err := p.str(path)
	if err != nil {
		return 0, err
	}
	if s == "" || len(s) > 20 || strings.Trim(s, "0123456789") != "" {
		return 0, p.fail(path, "%q is not a decimal integer", s)
	}
	v, err := strconv.ParseUint(s, 10, 64)
	if err != nil {
		return 0, p.fail(path, "%q is not a uint64", s)
	}
	return v, nil
}

// hex reads a 0x-prefixed hex string of exactly len(dst) bytes into dst.
func (p *ichParser) hex(path string, dst []byte) error {
	s, err := p.str(path)
	if err != nil {
		return err
	}
	h, ok := strings.CutPrefix(s, "0x")
	if !ok || len(h) != 2*len(dst) {
		return p.fail(path, "want 0x and %d hex digits", 2*len(dst))
	}
	if _, err := hex.Decode(dst, []byte(h)); err != nil {
		return p.fail(path, "%v", err)
	}
	return nil
}

// key reads one element of data.
func (p *ichParser) key(path string) (ichKey, error) {
	var k ichKey
	err := p.object(path, []string{"pubkey", "signed_blocks", "signed_attestations"}, func(key string) error {
		switch key {
		case "pubkey":
			return p.hex(path+".pubkey", k.pub[:])
		case "signed_blocks":
			return p.array(path+".signed_blocks", func(i int) error {
				at := fmt.Sprintf("%s.signed_blocks[%d]", path, i)
				var b ichBlock
				err := p.object(at, []string{"slot", "signing_root?"}, func(key string) error {
					var err error
					if key == "slot" {
						b.slot, err = p.uint(at + ".slot")
						return err
					}
					b.hasRoot = true
					return p.hex(at+".signing_root", b.root[:])
				})
				k.blocks = append(k.blocks, b)
				return err
			})
		default: // "signed_attestations"
			return p.array(path+".signed_attestations", func(i int) error {
				at := fmt.Sprintf("%s.signed_attestations[%d]", path, i)
				var a ichAtt
				err := p.object(at, []string{"source_epoch", "target_epoch", "signing_root?"}, func(key string) error {
					var err error
					switch key {
					case "source_epoch":
						a.source, err = p.uint(at + ".source_epoch")
					case "target_epoch":
						a.target, err = p.uint(at + ".target_epoch")
					default:
						a.hasRoot = true
						err = p.hex(at+".signing_root", a.root[:])
					}
					return err
				})
				k.atts = append(k.atts, a)
				return err
			})
		}
	})
	return k, err
}
