package wire

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"net"
	"reflect"
	"testing"

	"github.com/keyward/keyward/internal/eth"
)

func sampleRequest() *EthSignRequest {
	root := [32]byte{9, 9}
	return &EthSignRequest{
		Client: "lighthouse-1",
		Pubkey: [48]byte{1, 2, 3},
		Req: eth.Request{
			Type:        eth.TypeBlockV2,
			Version:     eth.ForkDeneb,
			ForkInfo:    &eth.ForkInfo{PreviousVersion: [4]byte{3}, CurrentVersion: [4]byte{4}, Epoch: 269568, GenesisValidatorsRoot: [32]byte{0x4b}},
			SigningRoot: &root,
			Body:        bytes.Repeat([]byte{7}, 112),
		},
	}
}

func TestEthSignRoundTrip(t *testing.T) {
	for _, r := range []*EthSignRequest{
		sampleRequest(),
		{Pubkey: [48]byte{5}, Req: eth.Request{Type: eth.TypeDeposit, Body: []byte{}}},
	} {
		b, err := AppendEthSign(nil, r)
		if err != nil {
			t.Fatal(err)
		}
		got, err := DecodeEthSign(b)
		if err != nil {
			t.Fatal(err)
		}
		if got.Req.Body == nil {
			got.Req.Body = []byte{}
		}
		if r.Req.Body == nil {
			r.Req.Body = []byte{}
		}
		if !reflect.DeepEqual(got, r) {
			t.Fatalf("round trip:\n got %+v\nwant %+v", got, r)
		}
	}
}

// TestEthSignStrict_Inv7: every truncation, trailing byte and unknown value is refused.
func TestEthSignStrict_Inv7(t *testing.T) {
	b, err := AppendEthSign(nil, sampleRequest())
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < len(b); i++ {
		if _, err := DecodeEthSign(b[:i]); !errors.Is(err, ErrMalformed) {
			t.Fatalf("truncated to %d bytes: want ErrMalformed, got %v", i, err)
		}
	}
	if _, err := DecodeEthSign(append(append([]byte(nil), b...), 0)); !errors.Is(err, ErrMalformed) {
		t.Fatalf("trailing byte accepted: %v", err)
	}
	nameLen := 1 + len("lighthouse-1")
	mutate := map[string]func([]byte){
		"unknown type":  func(b []byte) { b[nameLen+48] = 200 },
		"zero type":     func(b []byte) { b[nameLen+48] = 0 },
		"unknown fork":  func(b []byte) { b[nameLen+49] = 99 },
		"unknown flags": func(b []byte) { b[nameLen+50] |= 0x80 },
		"bad utf-8":     func(b []byte) { b[1] = 0xff },
	}
	for name, m := range mutate {
		c := append([]byte(nil), b...)
		m(c)
		if _, err := DecodeEthSign(c); !errors.Is(err, ErrMalformed) {
			t.Errorf("%s: want ErrMalformed, got %v", name, err)
		}
	}
}

func TestSignResultAndErrors(t *testing.T) {
	ok := &SignResult{Signature: [96]byte{1, 2}}
	got, err := DecodeSignResult(AppendSignResult(nil, ok))
	if err != nil || got.Signature != ok.Signature || got.Err != nil {
		t.Fatalf("ok result: %+v %v", got, err)
	}
	ref := &SignResult{Err: Errorf(KindProtection, "double vote")}
	got, err = DecodeSignResult(AppendSignResult(nil, ref))
	if err != nil || got.Err == nil || *got.Err != *ref.Err {
		t.Fatalf("refusal: %+v %v", got, err)
	}
	bad := [][]byte{{}, {0}, {0, 1}, {byte(kindEnd), 0, 0}, {3, 0, 5, 'a'}, {3, 0, 1, 'a', 'b'}}
	for _, b := range bad {
		if _, err := DecodeSignResult(b); err == nil {
			t.Errorf("%x accepted", b)
		}
	}
	long := &Error{Kind: KindBadRequest, Msg: string(bytes.Repeat([]byte("é"), 2000))}
	e, err := DecodeError(AppendError(nil, long))
	if err != nil || len(e.Msg) > maxErrorMsg {
		t.Fatalf("long message: %v, %d bytes", err, len(e.Msg))
	}
}

// TestEveryKindRoundTrips_Inv8: each failure kind crosses the boundary unchanged.
func TestEveryKindRoundTrips_Inv8(t *testing.T) {
	for k := KindBadRequest; k <= KindUnavailable; k++ {
		got, err := DecodeSignResult(AppendSignResult(nil, &SignResult{Err: Errorf(k, "m")}))
		if err != nil || got.Err == nil || got.Err.Kind != k || got.Err.Msg != "m" {
			t.Errorf("kind %v: %+v %v", k, got, err)
		}
	}
	if _, err := DecodeError([]byte{byte(KindUnavailable + 1), 0, 0}); err == nil {
		t.Error("kind past the last accepted")
	}
}

func TestKeyList(t *testing.T) {
	l := &KeyList{BLS: [][48]byte{{1}, {2}, {3}}}
	got, err := DecodeKeyList(AppendKeyList(nil, l))
	if err != nil || !reflect.DeepEqual(got, l) {
		t.Fatalf("%+v %v", got, err)
	}
	b := AppendKeyList(nil, l)
	if _, err := DecodeKeyList(b[:len(b)-1]); err == nil {
		t.Fatal("short key list accepted")
	}
	huge := []byte{0xff, 0xff, 0xff, 0xff}
	if _, err := DecodeKeyList(huge); err == nil {
		t.Fatal("4G-key count with no keys accepted")
	}
}

// TestFrameLimits_Inv7: oversized and undersized frames are refused before allocation.
func TestFrameLimits_Inv7(t *testing.T) {
	cases := map[string][]byte{
		"too large": {0x7f, 0xff, 0xff, 0xff},
		"too small": {0, 0, 0, 3, 1, 1, 0},
		"version":   AppendFrame(nil, MsgStatus, 1, nil),
	}
	cases["version"][4] = 2
	for name, b := range cases {
		_, err := ReadFrame(bufio.NewReader(bytes.NewReader(b)))
		if err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	f, err := ReadFrame(bufio.NewReader(bytes.NewReader(AppendFrame(nil, MsgListKeys, 42, []byte{1, 2}))))
	if err != nil || f.Type != MsgListKeys || f.ID != 42 || !bytes.Equal(f.Body, []byte{1, 2}) {
		t.Fatalf("%+v %v", f, err)
	}
	b := FinishFrame(append(StartFrame(MsgKeyList, 7), 5, 6))
	f, err = ReadFrame(bufio.NewReader(bytes.NewReader(b)))
	if err != nil || f.Type != MsgKeyList || f.ID != 7 || !bytes.Equal(f.Body, []byte{5, 6}) {
		t.Fatalf("StartFrame/FinishFrame: %+v %v", f, err)
	}
}

// TestClientMultiplex: answers arriving out of order reach their callers; a closed
// connection fails pending calls.
func TestClientMultiplex(t *testing.T) {
	a, b := net.Pipe()
	c := NewClient(a)
	defer c.Close()
	go func() {
		r := bufio.NewReader(b)
		var frames []Frame
		for i := 0; i < 2; i++ {
			f, err := ReadFrame(r)
			if err != nil {
				return
			}
			frames = append(frames, f)
		}
		for i := len(frames) - 1; i >= 0; i-- { // answer in reverse order
			f := frames[i]
			sig := [96]byte{byte(f.ID)}
			b.Write(FinishFrame(AppendSignResult(StartFrame(MsgEthSignResult, f.ID), &SignResult{Signature: sig})))
		}
		b.Close()
	}()
	type res struct {
		id  byte
		sig [96]byte
		err error
	}
	ch := make(chan res, 2)
	for i := 0; i < 2; i++ {
		go func() {
			r, err := c.EthSign(context.Background(), sampleRequest())
			if err != nil {
				ch <- res{err: err}
				return
			}
			ch <- res{sig: r.Signature}
		}()
	}
	seen := map[byte]bool{}
	for i := 0; i < 2; i++ {
		r := <-ch
		if r.err != nil {
			t.Fatal(r.err)
		}
		seen[r.sig[0]] = true
	}
	if !seen[1] || !seen[2] {
		t.Fatalf("answers not matched to ids: %v", seen)
	}
	<-c.Done()
	if _, err := c.ListKeys(context.Background()); !errors.Is(err, ErrClosed) {
		t.Fatalf("call after close: %v", err)
	}
}

func FuzzDecodeEthSign(f *testing.F) {
	b, _ := AppendEthSign(nil, sampleRequest())
	f.Add(b)
	f.Add([]byte{0})
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := DecodeEthSign(b)
		if err != nil {
			return
		}
		// Whatever decodes must re-encode to the same bytes (no malleability).
		again, err := AppendEthSign(nil, r)
		if err != nil || !bytes.Equal(again, b) {
			t.Fatalf("re-encoding differs: %x vs %x (%v)", again, b, err)
		}
	})
}

func FuzzReadFrame(f *testing.F) {
	f.Add(AppendFrame(nil, MsgEthSign, 1, []byte{1, 2, 3}))
	f.Fuzz(func(t *testing.T, b []byte) {
		_, _ = ReadFrame(bufio.NewReader(bytes.NewReader(b)))
	})
}

func FuzzDecodeResults(f *testing.F) {
	f.Add(AppendSignResult(nil, &SignResult{Err: Errorf(KindPolicy, "x")}))
	f.Fuzz(func(t *testing.T, b []byte) {
		_, _ = DecodeSignResult(b)
		_, _ = DecodeKeyList(b)
		_, _ = DecodeStatus(b)
	})
}

func TestKeystoreMessagesRoundTrip(t *testing.T) {
	imp := &KeystoreImport{Keystores: [][]byte{[]byte(`{"a":1}`), {}}, Passwords: [][]byte{[]byte("pw"), []byte("")}, Interchange: []byte(`{}`)}
	b, err := AppendKeystoreImport(nil, imp)
	if err != nil {
		t.Fatal(err)
	}
	got, err := DecodeKeystoreImport(b)
	if err != nil || len(got.Keystores) != 2 || string(got.Keystores[0]) != `{"a":1}` || string(got.Passwords[0]) != "pw" || string(got.Interchange) != "{}" {
		t.Fatalf("%+v %v", got, err)
	}
	for i := 0; i < len(b); i++ {
		if _, err := DecodeKeystoreImport(b[:i]); err == nil {
			t.Fatalf("truncated import of %d bytes accepted", i)
		}
	}
	if _, err := AppendKeystoreImport(nil, &KeystoreImport{Keystores: [][]byte{{}}}); err == nil {
		t.Fatal("keystores without passwords accepted")
	}
	del := &KeystoreDelete{Pubkeys: [][48]byte{{1}, {2}}}
	b, _ = AppendKeystoreDelete(nil, del)
	gd, err := DecodeKeystoreDelete(b)
	if err != nil || !reflect.DeepEqual(gd, del) {
		t.Fatalf("%+v %v", gd, err)
	}
	if _, err := DecodeKeystoreDelete(append(b, 0)); err == nil {
		t.Fatal("trailing byte accepted")
	}
}

func FuzzDecodeKeymanager(f *testing.F) {
	b, _ := AppendKeystoreImport(nil, &KeystoreImport{Keystores: [][]byte{[]byte("{}")}, Passwords: [][]byte{[]byte("x")}})
	f.Add(b)
	d, _ := AppendKeystoreDelete(nil, &KeystoreDelete{Pubkeys: [][48]byte{{1}}})
	f.Add(d)
	f.Fuzz(func(t *testing.T, b []byte) {
		if r, err := DecodeKeystoreImport(b); err == nil {
			again, err := AppendKeystoreImport(nil, r)
			if err != nil || !bytes.Equal(again, b) {
				t.Fatalf("import re-encodes differently")
			}
		}
		if r, err := DecodeKeystoreDelete(b); err == nil {
			again, _ := AppendKeystoreDelete(nil, r)
			if !bytes.Equal(again, b) {
				t.Fatalf("delete re-encodes differently")
			}
		}
	})
}
