package wire

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
)

// Limits of the Keymanager messages (Inv 7).
const (
	// MaxKeystoresPerRequest bounds the keystores of one import or delete.
	MaxKeystoresPerRequest = 512
	maxKeystoreBytes       = 64 << 10
	maxPasswordBytes       = 4 << 10
	maxInterchangeBytes    = 3 << 20
	maxResultBytes         = MaxFrame
)

// KeystoreImport asks the core to import EIP-2335 keystores, after importing the
// slashing-protection interchange when one is given (Keymanager API POST /eth/v1/keystores).
//
// Layout: count (2) | count × [keystore length (4) + keystore | password length (2) +
// password] | interchange length (4) + interchange (0: none).
type KeystoreImport struct {
	Keystores   [][]byte
	Passwords   [][]byte
	Interchange []byte
}

// AppendKeystoreImport appends the encoding of r to dst.
func AppendKeystoreImport(dst []byte, r *KeystoreImport) ([]byte, error) {
	n := len(r.Keystores)
	if n != len(r.Passwords) || n > MaxKeystoresPerRequest || len(r.Interchange) > maxInterchangeBytes {
		return nil, fmt.Errorf("%w: keystore import of %d keystores, %d passwords", ErrMalformed, n, len(r.Passwords))
	}
	dst = binary.BigEndian.AppendUint16(dst, uint16(n))
	for i := range r.Keystores {
		if len(r.Keystores[i]) > maxKeystoreBytes || len(r.Passwords[i]) > maxPasswordBytes {
			return nil, fmt.Errorf("%w: keystore %d too large", ErrMalformed, i)
		}
		dst = binary.BigEndian.AppendUint32(dst, uint32(len(r.Keystores[i])))
		dst = append(dst, r.Keystores[i]...)
		dst = binary.BigEndian.AppendUint16(dst, uint16(len(r.Passwords[i])))
		dst = append(dst, r.Passwords[i]...)
	}
	dst = binary.BigEndian.AppendUint32(dst, uint32(len(r.Interchange)))
	return append(dst, r.Interchange...), nil
}

// DecodeKeystoreImport decodes a KeystoreImport strictly, copying what it keeps.
func DecodeKeystoreImport(b []byte) (*KeystoreImport, error) {
	d := decoder{b: b}
	n := int(d.uint16())
	if n > MaxKeystoresPerRequest {
		return nil, fmt.Errorf("%w: %d keystores", ErrMalformed, n)
	}
	r := &KeystoreImport{}
	for i := 0; i < n && d.err == nil; i++ {
		kl := d.uint32()
		if kl > maxKeystoreBytes {
			return nil, fmt.Errorf("%w: keystore of %d bytes", ErrMalformed, kl)
		}
		ks := bytes.Clone(d.bytes(int(kl)))
		pl := d.uint16()
		if pl > maxPasswordBytes {
			return nil, fmt.Errorf("%w: password of %d bytes", ErrMalformed, pl)
		}
		pw := bytes.Clone(d.bytes(int(pl)))
		r.Keystores, r.Passwords = append(r.Keystores, ks), append(r.Passwords, pw)
	}
	il := d.uint32()
	if il > maxInterchangeBytes {
		return nil, fmt.Errorf("%w: interchange of %d bytes", ErrMalformed, il)
	}
	if il > 0 {
		r.Interchange = bytes.Clone(d.bytes(int(il)))
	}
	if err := d.finish(); err != nil {
		return nil, err
	}
	return r, nil
}

// KeystoreDelete asks the core to disable and delete keys, returning their slashing
// protection history (Keymanager API DELETE /eth/v1/keystores).
//
// Layout: count (2) | count × pubkey (48).
type KeystoreDelete struct {
	Pubkeys [][BLSPubkeyLen]byte
}

// AppendKeystoreDelete appends the encoding of r to dst.
func AppendKeystoreDelete(dst []byte, r *KeystoreDelete) ([]byte, error) {
	if len(r.Pubkeys) > MaxKeystoresPerRequest {
		return nil, fmt.Errorf("%w: %d keys", ErrMalformed, len(r.Pubkeys))
	}
	dst = binary.BigEndian.AppendUint16(dst, uint16(len(r.Pubkeys)))
	for i := range r.Pubkeys {
		dst = append(dst, r.Pubkeys[i][:]...)
	}
	return dst, nil
}

// DecodeKeystoreDelete decodes a KeystoreDelete strictly.
func DecodeKeystoreDelete(b []byte) (*KeystoreDelete, error) {
	d := decoder{b: b}
	n := int(d.uint16())
	if n > MaxKeystoresPerRequest || (d.err == nil && n*BLSPubkeyLen != len(d.b)) {
		return nil, fmt.Errorf("%w: delete of %d keys in %d bytes", ErrMalformed, n, len(b))
	}
	r := &KeystoreDelete{Pubkeys: make([][BLSPubkeyLen]byte, n)}
	for i := range r.Pubkeys {
		copy(r.Pubkeys[i][:], d.bytes(BLSPubkeyLen))
	}
	if err := d.finish(); err != nil {
		return nil, err
	}
	return r, nil
}

// KeystoreStatus is the outcome for one key, with the Keymanager API's status words:
// imported, duplicate, error (import); deleted, not_active, not_found, error (delete).
type KeystoreStatus struct {
	Status  string `json:"status"`
	Message string `json:"message,omitempty"`
}

// KeystoreDeleteResult answers a KeystoreDelete: one status per key, in order, and the
// EIP-3076 interchange of the deleted and inactive keys.
type KeystoreDeleteResult struct {
	Statuses           []KeystoreStatus `json:"data"`
	SlashingProtection string           `json:"slashing_protection"`
}

// KeystoreInfo describes one key for the Keymanager API's list.
type KeystoreInfo struct {
	Pubkey         string `json:"validating_pubkey"`
	DerivationPath string `json:"derivation_path,omitempty"`
	ReadOnly       bool   `json:"readonly"`
}

// HighWatermark is the emergency brake as Web3Signer's highWatermark endpoint shows it:
// empty when none is set.
type HighWatermark struct {
	Epoch string `json:"epoch,omitempty"`
	Slot  string `json:"slot,omitempty"`
}

// decodeJSON decodes a core → gateway JSON body strictly.
func decodeJSON(b []byte, v any) error {
	if len(b) > maxResultBytes {
		return fmt.Errorf("%w: result of %d bytes", ErrMalformed, len(b))
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	if dec.More() {
		return fmt.Errorf("%w: trailing data", ErrMalformed)
	}
	return nil
}

// callJSON sends a request and decodes the JSON answer of type want into v. A MsgError
// answer is returned as *Error.
func (c *Client) callJSON(ctx context.Context, t, want MsgType, body []byte, v any) error {
	f, err := c.call(ctx, t, body)
	if err != nil {
		return err
	}
	if err := expect(f, want); err != nil {
		return err
	}
	return decodeJSON(f.Body, v)
}

// ImportKeystores asks the core to import keystores; one status per keystore.
func (c *Client) ImportKeystores(ctx context.Context, r *KeystoreImport) ([]KeystoreStatus, error) {
	body, err := AppendKeystoreImport(nil, r)
	if err != nil {
		return nil, err
	}
	var out []KeystoreStatus
	if err := c.callJSON(ctx, MsgKeystoreImport, MsgKeystoreImportResult, body, &out); err != nil {
		return nil, err
	}
	if len(out) != len(r.Keystores) {
		return nil, fmt.Errorf("%w: %d statuses for %d keystores", ErrMalformed, len(out), len(r.Keystores))
	}
	return out, nil
}

// DeleteKeystores asks the core to disable and delete keys.
func (c *Client) DeleteKeystores(ctx context.Context, r *KeystoreDelete) (*KeystoreDeleteResult, error) {
	body, err := AppendKeystoreDelete(nil, r)
	if err != nil {
		return nil, err
	}
	var out KeystoreDeleteResult
	if err := c.callJSON(ctx, MsgKeystoreDelete, MsgKeystoreDeleteResult, body, &out); err != nil {
		return nil, err
	}
	if len(out.Statuses) != len(r.Pubkeys) {
		return nil, fmt.Errorf("%w: %d statuses for %d keys", ErrMalformed, len(out.Statuses), len(r.Pubkeys))
	}
	return &out, nil
}

// ListKeystores asks the core for its keys with their derivation paths.
func (c *Client) ListKeystores(ctx context.Context) ([]KeystoreInfo, error) {
	var out []KeystoreInfo
	return out, c.callJSON(ctx, MsgKeystoreList, MsgKeystoreListResult, nil, &out)
}

// HighWatermark asks the core for its emergency brake.
func (c *Client) HighWatermark(ctx context.Context) (*HighWatermark, error) {
	var out HighWatermark
	if err := c.callJSON(ctx, MsgHighWatermark, MsgHighWatermarkResult, nil, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// IsRefusal reports whether err is a typed refusal from the core (as opposed to a
// transport failure).
func IsRefusal(err error) (*Error, bool) {
	var e *Error
	ok := errors.As(err, &e)
	return e, ok
}
