package tezos

import (
	"bytes"
	"encoding/hex"
	"errors"
	"testing"
)

func vectorHex(t testing.TB, id string) []byte {
	t.Helper()
	for _, v := range loadPayloads(t) {
		if v.ID == id {
			b, err := hex.DecodeString(v.Hex)
			if err != nil {
				t.Fatal(err)
			}
			return b
		}
	}
	t.Fatalf("no vector %s", id)
	return nil
}

// TestClassifyRefusesTruncationsAndTrailing_Inv7: every proper prefix of every
// valid payload is refused, and so is every valid payload with a byte appended.
func TestClassifyRefusesTruncationsAndTrailing_Inv7(t *testing.T) {
	for _, v := range loadPayloads(t) {
		if v.Kind == "error" {
			continue
		}
		t.Run(v.ID, func(t *testing.T) {
			t.Parallel()
			p := unhex(t, v.Hex)
			full, err := Classify(p)
			if err != nil {
				t.Fatal(err)
			}
			boundaries := 0
			for n := range len(p) {
				req, err := Classify(p[:n])
				if err == nil && req.Kind == RequestGeneric && len(req.Operations) < len(full.Operations) &&
					req.Operations[len(req.Operations)-1].Counter == full.Operations[len(req.Operations)-1].Counter {
					// A batch cut exactly between two contents is a shorter,
					// valid batch: the format has no count (Variable.list).
					boundaries++
					continue
				}
				if !errors.Is(err, ErrPayload) {
					t.Fatalf("prefix of %d/%d bytes: %+v, %v", n, len(p), req, err)
				}
			}
			if want := len(full.Operations) - 1; full.Kind == RequestGeneric && boundaries != want {
				t.Fatalf("%d prefixes accepted, want %d content boundaries", boundaries, want)
			} else if full.Kind != RequestGeneric && boundaries != 0 {
				t.Fatal("a prefix was accepted")
			}
			for _, extra := range []byte{0x00, 0x01, 0xff} {
				if _, err := Classify(append(bytes.Clone(p), extra)); !errors.Is(err, ErrPayload) {
					t.Fatalf("trailing 0x%02x accepted: %v", extra, err)
				}
			}
		})
	}
}

func mutate(p []byte, off int, b byte) []byte {
	q := bytes.Clone(p)
	q[off] = b
	return q
}

// TestClassifyMalformed_Inv7 is a table of hand-made malformed payloads.
func TestClassifyMalformed_Inv7(t *testing.T) {
	att := vectorHex(t, "signatory-01")  // 0x13, tag 21, 80 bytes
	pre := vectorHex(t, "signatory-00")  // 0x12, tag 20
	dal := vectorHex(t, "octez-u025-01") // 0x13, tag 23
	bls := vectorHex(t, "octez-u025-16") // 0x13, tag 41, 78 bytes
	blk := vectorHex(t, "signatory-02")  // 0x11, 198 bytes
	tx := vectorHex(t, "signatory-12")   // 0x03 transaction
	ucks := vectorHex(t, "signatory-19") // pre-Rio update_consensus_key
	ballot := vectorHex(t, "octez-u025-03")
	level := func(p []byte, off int) []byte { return mutate(p, off, 0x80) }

	cases := []struct {
		name    string
		payload []byte
		want    error
	}{
		{"empty", nil, ErrTruncated},
		{"magic only 0x13", []byte{0x13}, ErrTruncated},
		{"magic 0x01 Emmy block", mutate(blk, 0, 0x01), ErrUnknownMagic},
		{"magic 0x02 Emmy endorsement", mutate(att, 0, 0x02), ErrUnknownMagic},
		{"magic 0x04 authentication", mutate(tx, 0, 0x04), ErrUnknownMagic},
		{"magic 0x05 Michelson", mutate(tx, 0, 0x05), ErrUnknownMagic},
		{"magic 0x14", mutate(att, 0, 0x14), ErrUnknownMagic},
		{"attestation tag under 0x12", mutate(att, 0, 0x12), ErrUnknownTag},
		{"preattestation tag under 0x13", mutate(pre, 0, 0x13), ErrUnknownTag},
		{"BLS attestation tag under 0x12", mutate(bls, 0, 0x12), ErrUnknownTag},
		{"tag 22", mutate(att, 37, 22), ErrUnknownTag},
		{"aggregate tag 31", mutate(att, 37, 31), ErrUnknownTag},
		{"tag 41 with 80 bytes", mutate(att, 37, 41), ErrTrailingBytes},
		{"tag 21 with 78 bytes", mutate(bls, 37, 21), ErrTruncated},
		{"tag 23 without DAL field", mutate(att, 37, 23), ErrTruncated},
		{"negative attestation level", level(att, 40), ErrMalformed},
		{"negative attestation round", level(att, 44), ErrMalformed},
		{"negative BLS level", level(bls, 38), ErrMalformed},
		{"negative DAL bitset", append(bytes.Clone(dal[:80]), 0x41), ErrMalformed},
		{"DAL bitset trailing zero", append(bytes.Clone(dal[:80]), 0x81, 0x00), ErrMalformed},
		{"negative block level", level(blk, 5), ErrMalformed},
		{"fitness length 32", mutate(blk, 86, 32), ErrMalformed},
		{"fitness version 1", mutate(blk, 91, 0x01), ErrMalformed},
		{"fitness level differs", mutate(blk, 99, blk[99]^1), ErrMalformed},
		{"negative fitness round", level(blk, 116), ErrMalformed},
		{"seed nonce tag 0x01", mutate(blk, 196, 0x01), ErrMalformed},
		{"per block votes 3", mutate(blk, 197, 0x03), ErrMalformed},
		{"per block votes 0x10", mutate(blk, 197, 0x10), ErrMalformed},
		{"generic without contents", tx[:33], ErrUnexpectedOperation},
		{"unknown operation tag 0x6a", mutate(tx, 33, 0x6a), ErrUnknownTag},
		{"consensus content under 0x03", append(mutate(tx[:33], 0, 0x03), att[37:]...), ErrUnexpectedOperation},
		{"source tag 5 (tz5 and beyond)", mutate(tx, 34, 0x05), ErrUnknownTag},
		{"ballot value 3", mutate(ballot, len(ballot)-1, 0x03), ErrMalformed},
		{"two ballots", append(bytes.Clone(ballot), ballot[33:]...), ErrUnexpectedOperation},
		{"pre-Rio update_consensus_key", ucks, ErrTruncated},
		{"oversized", make([]byte, MaxPayloadSize+1), ErrPayloadTooLarge},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			req, err := Classify(c.payload)
			if !errors.Is(err, c.want) || !errors.Is(err, ErrPayload) || req != nil {
				t.Fatalf("Classify = %+v, %v; want %v", req, err, c.want)
			}
		})
	}
	// The pre-Rio payload differs from the current layout only by the missing
	// proof option byte.
	req, err := Classify(append(bytes.Clone(ucks), 0x00))
	if err != nil || req.Operations[0].Kind != OpUpdateConsensusKey || req.Operations[0].HasProof {
		t.Fatalf("update_consensus_key with option byte: %+v, %v", req, err)
	}
}

// TestClassifyStakingPseudoOperations: a transaction to oneself with a
// staking entrypoint is named after it; to another account it stays a
// transaction.
func TestClassifyStakingPseudoOperations(t *testing.T) {
	tx := vectorHex(t, "signatory-12") // tz1SVw… → tz1WTe…, no parameters
	src := tx[35:55]
	// Rebuild: header up to the destination, destination = source, parameters.
	base := bytes.Clone(tx[:len(tx)-23]) // drop destination (22) and the absent-parameters byte
	for _, c := range []struct {
		self bool
		ep   []byte
		want OperationKind
		name string
	}{
		{true, []byte{6}, OpStake, "stake"},
		{true, []byte{7}, OpUnstake, "unstake"},
		{true, []byte{8}, OpFinalizeUnstake, "finalize_unstake"},
		{true, []byte{9}, OpSetDelegateParameters, "set_delegate_parameters"},
		{true, append([]byte{0xff, 5}, "stake"...), OpStake, "stake"},
		{false, []byte{6}, OpTransaction, "stake"},
		{true, []byte{0xff, 0}, OpTransaction, "default"},
		{true, append([]byte{0xff, 7}, "default"...), OpTransaction, "default"},
	} {
		p := bytes.Clone(base)
		p = append(p, 0x00, 0x00) // implicit contract, tz1
		if c.self {
			p = append(p, src...)
		} else {
			p = append(p, bytes.Repeat([]byte{0x42}, 20)...)
		}
		p = append(p, 0xff)
		p = append(p, c.ep...)
		p = append(p, 0, 0, 0, 2, 0x03, 0x0b) // Unit
		req, err := Classify(p)
		if err != nil {
			t.Fatalf("%x: %v", p, err)
		}
		op := req.Operations[0]
		if op.Kind != c.want || op.Entrypoint != c.name || !bytes.Equal(op.Parameters, []byte{3, 0x0b}) {
			t.Errorf("self=%v ep=%x: kind %s entrypoint %q", c.self, c.ep, op.Kind, op.Entrypoint)
		}
	}
	bad := append(bytes.Clone(base), 0x00, 0x00)
	bad = append(bad, src...)
	bad = append(bad, 0xff, 0xff, 3, 'a', 0x0a, 'b', 0, 0, 0, 0)
	if _, err := Classify(bad); !errors.Is(err, ErrMalformed) {
		t.Errorf("control byte in entrypoint: %v", err)
	}
}

// TestCheckKeyKindInvalid: the zero kind is refused.
func TestCheckKeyKindInvalid(t *testing.T) {
	req, err := Classify(vectorHex(t, "signatory-01"))
	if err != nil {
		t.Fatal(err)
	}
	if err := req.CheckKeyKind(0); !errors.Is(err, ErrKeyKind) {
		t.Fatalf("CheckKeyKind(0) = %v", err)
	}
}
