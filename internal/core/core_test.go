package core

import (
	"bufio"
	"encoding/binary"
	"io"
	"log/slog"
	"net"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/keyward/keyward/internal/eth"
	"github.com/keyward/keyward/internal/keys"
	"github.com/keyward/keyward/internal/protect"
	"github.com/keyward/keyward/internal/secmem"
	"github.com/keyward/keyward/internal/wire"
)

// testStore creates a master key and an empty sealed key store in a temporary directory.
// The caller closes the store.
func testStore(tb testing.TB) *keys.Store {
	tb.Helper()
	dir := tb.TempDir()
	mkPath := filepath.Join(dir, "master.key")
	if err := keys.CreateMasterKey(mkPath); err != nil {
		tb.Fatal(err)
	}
	mk, err := keys.LoadMasterKey(mkPath)
	if err != nil {
		tb.Fatal(err)
	}
	defer mk.Zero()
	st, err := keys.OpenStore(filepath.Join(dir, "keys.db"), mk, keys.StoreOptions{})
	if err != nil {
		tb.Fatal(err)
	}
	return st
}

// realKeys generates n sealed keys and loads them the way the core does.
func realKeys(tb testing.TB, n int) []*keys.BLSKey {
	tb.Helper()
	st := testStore(tb)
	defer st.Close()
	if _, err := keys.GenerateBLS(st, n, keys.Meta{Source: keys.SourceGenerated}); err != nil {
		tb.Fatal(err)
	}
	arena, err := secmem.New(n, keys.BLSSlotSize, false)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { arena.Destroy() })
	ks, err := st.LoadBLS(arena)
	if err != nil {
		tb.Fatal(err)
	}
	return ks
}

func newService(tb testing.TB, ks []BLSKey) *Service {
	tb.Helper()
	n, err := eth.BuiltinNetwork("mainnet")
	if err != nil {
		tb.Fatal(err)
	}
	prot, err := protect.Open(filepath.Join(tb.TempDir(), "p.db"), protect.Options{GenesisValidatorsRoot: n.GenesisValidatorsRoot})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { prot.Close() })
	s, err := New(n, ks, prot)
	if err != nil {
		tb.Fatal(err)
	}
	return s
}

const fuluEpoch = 411392

// attestationReq is a mainnet Fulu attestation request for epochs fuluEpoch+source/+target.
func attestationReq(pub [48]byte, source, target uint64, blockRoot byte) *wire.EthSignRequest {
	body := make([]byte, 128) // phase0.AttestationData: slot, index, root, source{epoch,root}, target{epoch,root}
	binary.LittleEndian.PutUint64(body[0:], (fuluEpoch+target)*32)
	body[16] = blockRoot
	binary.LittleEndian.PutUint64(body[48:], fuluEpoch+source)
	binary.LittleEndian.PutUint64(body[88:], fuluEpoch+target)
	gvr := [32]byte{0x4b, 0x36, 0x3d, 0xb9, 0x4e, 0x28, 0x61, 0x20, 0xd7, 0x6e, 0xb9, 0x05, 0x34, 0x0f, 0xdd, 0x4e, 0x54, 0xbf, 0xe9, 0xf0, 0x6b, 0xf3, 0x3f, 0xf6, 0xcf, 0x5a, 0xd2, 0x7f, 0x51, 0x1b, 0xfe, 0x95}
	return &wire.EthSignRequest{Pubkey: pub, Req: eth.Request{
		Type:     eth.TypeAttestation,
		ForkInfo: &eth.ForkInfo{PreviousVersion: [4]byte{5}, CurrentVersion: [4]byte{6}, Epoch: fuluEpoch, GenesisValidatorsRoot: gvr},
		Body:     body,
	}}
}

func asBLS(ks []*keys.BLSKey) []BLSKey {
	out := make([]BLSKey, len(ks))
	for i, k := range ks {
		out[i] = k
	}
	return out
}

func wantKind(t *testing.T, r *wire.SignResult, k wire.Kind) {
	t.Helper()
	switch {
	case k == wire.KindOK && r.Err != nil:
		t.Fatalf("want signature, got %v", r.Err)
	case k != wire.KindOK && (r.Err == nil || r.Err.Kind != k):
		t.Fatalf("want %v, got %+v", k, r.Err)
	}
}

func TestSignEthKinds_Inv8(t *testing.T) {
	ks := realKeys(t, 2)
	s := newService(t, asBLS(ks))
	pub := ks[0].PublicKey()

	r := s.SignEth(attestationReq(pub, 1, 2, 1))
	wantKind(t, r, wire.KindOK)
	sg, err := s.network.Signable(&attestationReq(pub, 1, 2, 1).Req)
	if err != nil {
		t.Fatal(err)
	}
	if !ks[0].Verify(sg.SigningRoot[:], r.Signature) {
		t.Fatal("returned signature does not verify over the recomputed root")
	}
	wantKind(t, s.SignEth(attestationReq(pub, 1, 2, 2)), wire.KindProtection)
	wantKind(t, s.SignEth(attestationReq([48]byte{1}, 1, 2, 1)), wire.KindUnknownKey)
	bad := attestationReq(pub, 3, 4, 1)
	bad.Req.Body = bad.Req.Body[:127]
	wantKind(t, s.SignEth(bad), wire.KindBadRequest)
	wrongNet := attestationReq(pub, 3, 4, 1)
	wrongNet.Req.ForkInfo.GenesisValidatorsRoot[0] ^= 1
	wantKind(t, s.SignEth(wrongNet), wire.KindBadRequest)
	root := [32]byte{7}
	handed := attestationReq(pub, 3, 4, 1)
	handed.Req.SigningRoot = &root // Inv 2: a root handed in is compared, never signed
	wantKind(t, s.SignEth(handed), wire.KindBadRequest)
}

// corruptKey signs wrongly: the core must not let its signature out (Inv 6).
type corruptKey struct{ *keys.BLSKey }

func (k corruptKey) SignPoint(msg []byte) keys.BLSSignature {
	return k.BLSKey.SignPoint(append([]byte{1}, msg...))
}

func (k corruptKey) SignHashed(*keys.BLSMessageHash) keys.BLSSignature {
	return k.BLSKey.SignPoint([]byte("not the message"))
}

func TestUnverifiedSignatureNeverLeaves_Inv6(t *testing.T) {
	ks := realKeys(t, 1)
	s := newService(t, []BLSKey{corruptKey{ks[0]}})
	r := s.SignEth(attestationReq(ks[0].PublicKey(), 1, 2, 1))
	wantKind(t, r, wire.KindUnavailable)
	if r.Signature != ([96]byte{}) {
		t.Fatal("signature bytes returned with a refusal")
	}
}

// failingProtection cannot write its record: nothing may be signed (Inv 5).
type failingProtection struct{}

func (failingProtection) CheckBlock([48]byte, uint64, [32]byte) error { return io.ErrShortWrite }
func (failingProtection) CheckAttestation([48]byte, uint64, uint64, [32]byte) error {
	return io.ErrShortWrite
}

func TestNoSignatureWithoutRecord_Inv5(t *testing.T) {
	ks := realKeys(t, 1)
	n, _ := eth.BuiltinNetwork("mainnet")
	s, err := New(n, asBLS(ks), failingProtection{})
	if err != nil {
		t.Fatal(err)
	}
	wantKind(t, s.SignEth(attestationReq(ks[0].PublicKey(), 1, 2, 1)), wire.KindUnavailable)
}

// serve runs Serve on one end of a pipe and returns a client on the other.
func serve(t *testing.T, s *Service, lim Limits) (*wire.Client, chan error) {
	a, b := net.Pipe()
	done := make(chan error, 1)
	go func() {
		done <- s.Serve(b, lim, func() *wire.Status { return &wire.Status{Ready: true} }, slog.New(slog.DiscardHandler))
	}()
	c := NewTestClient(a)
	t.Cleanup(func() { c.Close() })
	return c, done
}

// NewTestClient wraps wire.NewClient for readability.
func NewTestClient(c net.Conn) *wire.Client { return wire.NewClient(c) }

// TestServeMalformedFrame_Inv7: a gateway that breaks the protocol is disconnected.
func TestServeMalformedFrame_Inv7(t *testing.T) {
	s := newService(t, asBLS(realKeys(t, 1)))
	a, b := net.Pipe()
	done := make(chan error, 1)
	go func() {
		done <- s.Serve(b, Limits{MaxConcurrent: 2, QueueDepth: 2}, func() *wire.Status { return &wire.Status{} }, slog.New(slog.DiscardHandler))
	}()
	go a.Write(wire.AppendFrame(nil, 99, 1, nil)) // unknown message type
	select {
	case err := <-done:
		if err == nil {
			t.Fatal("Serve accepted an unknown message type")
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Serve did not end on a malformed frame")
	}
	a.Close()
}

// TestServeBadBody_Inv8: an undecodable request body is answered as a bad request, and the
// connection stays up for the next request.
func TestServeBadBody_Inv8(t *testing.T) {
	ks := realKeys(t, 1)
	s := newService(t, asBLS(ks))
	a, b := net.Pipe()
	go s.Serve(b, Limits{MaxConcurrent: 2, QueueDepth: 2}, func() *wire.Status { return &wire.Status{Ready: true} }, slog.New(slog.DiscardHandler))
	defer a.Close()
	go a.Write(wire.AppendFrame(nil, wire.MsgEthSign, 5, []byte{1, 2, 3}))
	f, err := wire.ReadFrame(bufio.NewReader(a))
	if err != nil {
		t.Fatal(err)
	}
	res, err := wire.DecodeSignResult(f.Body)
	if err != nil || f.ID != 5 || res.Err == nil || res.Err.Kind != wire.KindBadRequest {
		t.Fatalf("answer %+v %+v %v", f, res, err)
	}
	c := wire.NewClient(a)
	l, err := c.ListKeys(t.Context())
	if err != nil || len(l.BLS) != 1 {
		t.Fatalf("connection unusable after a bad body: %v", err)
	}
}

// slowProtection holds every record until released, to fill the core's queue.
type slowProtection struct{ release chan struct{} }

func (p slowProtection) CheckBlock([48]byte, uint64, [32]byte) error { <-p.release; return nil }
func (p slowProtection) CheckAttestation([48]byte, uint64, uint64, [32]byte) error {
	<-p.release
	return nil
}

// TestServeBoundedQueue: beyond MaxConcurrent + QueueDepth the core answers unavailable at
// once instead of piling requests up.
func TestServeBoundedQueue(t *testing.T) {
	ks := realKeys(t, 1)
	n, _ := eth.BuiltinNetwork("mainnet")
	p := slowProtection{release: make(chan struct{})}
	s, err := New(n, asBLS(ks), p)
	if err != nil {
		t.Fatal(err)
	}
	c, _ := serve(t, s, Limits{MaxConcurrent: 2, QueueDepth: 2})
	const total = 12
	var wg sync.WaitGroup
	var mu sync.Mutex
	kinds := map[wire.Kind]int{}
	for i := 0; i < total; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			r, err := c.EthSign(t.Context(), attestationReq(ks[0].PublicKey(), uint64(i), uint64(i), 1))
			if err != nil {
				t.Error(err)
				return
			}
			k := wire.KindOK
			if r.Err != nil {
				k = r.Err.Kind
			}
			mu.Lock()
			kinds[k]++
			mu.Unlock()
		}(i)
	}
	time.Sleep(300 * time.Millisecond) // let the queue fill; then release the held records
	close(p.release)
	wg.Wait()
	if kinds[wire.KindUnavailable] < total-4 || kinds[wire.KindUnavailable]+kinds[wire.KindOK]+kinds[wire.KindProtection] != total {
		t.Fatalf("want at least %d refused as unavailable, got %v", total-4, kinds)
	}
}

func BenchmarkSignEthAttestation(b *testing.B) {
	ks := realKeys(b, 64)
	s := newService(b, asBLS(ks))
	var next sync.Mutex
	i := 0
	b.RunParallel(func(pb *testing.PB) {
		next.Lock()
		k := ks[i%len(ks)]
		i++
		next.Unlock()
		for e := uint64(1); pb.Next(); e++ {
			if r := s.SignEth(attestationReq(k.PublicKey(), e-1, e, 1)); r.Err != nil {
				b.Error(r.Err)
				return
			}
		}
	})
}

func BenchmarkRawBLSSign(b *testing.B) {
	ks := realKeys(b, 1)
	msg := [32]byte{1}
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			ks[0].Sign(msg[:])
		}
	})
}

// randaoReq is a RANDAO_REVEAL request: signed without a protection record.
func randaoReq(pub [48]byte, epoch uint64) *wire.EthSignRequest {
	r := attestationReq(pub, 0, 0, 0)
	r.Req.Type = eth.TypeRandaoReveal
	body := make([]byte, 8)
	binary.LittleEndian.PutUint64(body, fuluEpoch+epoch)
	r.Req.Body = body
	return r
}

// BenchmarkSignEthProtection compares, in one run, a signature that needs a durable
// protection record (ATTESTATION) with one that needs none (RANDAO_REVEAL), on 64 keys in
// parallel: the difference is the cost of protection with group commit.
func BenchmarkSignEthProtection(b *testing.B) {
	ks := realKeys(b, 64)
	for _, tc := range []struct {
		name string
		req  func(pub [48]byte, e uint64) *wire.EthSignRequest
	}{
		{"with-protection", func(pub [48]byte, e uint64) *wire.EthSignRequest { return attestationReq(pub, e-1, e, 1) }},
		{"without-protection", randaoReq},
	} {
		b.Run(tc.name, func(b *testing.B) {
			s := newService(b, asBLS(ks))
			var mu sync.Mutex
			i := 0
			b.SetParallelism(32)
			b.RunParallel(func(pb *testing.PB) {
				mu.Lock()
				k := ks[i%len(ks)]
				i++
				mu.Unlock()
				for e := uint64(1); pb.Next(); e++ {
					if r := s.SignEth(tc.req(k.PublicKey(), e)); r.Err != nil && r.Err.Kind != wire.KindProtection {
						b.Error(r.Err)
						return
					}
				}
			})
		})
	}
}

// Batch verification (Inv 6): among concurrent requests, the one corrupt key's signature
// is refused and every good one is served, verified.
func TestBatchVerifyRefusesOnlyTheBadSignature_Inv6(t *testing.T) {
	ks := realKeys(t, 8)
	signers := asBLS(ks)
	signers[3] = corruptKey{ks[3]}
	s := newService(t, signers)
	for round := uint64(1); round <= 3; round++ {
		var wg sync.WaitGroup
		res := make([]*wire.SignResult, len(ks))
		for i, k := range ks {
			wg.Go(func() { res[i] = s.SignEth(attestationReq(k.PublicKey(), round-1, round, 1)) })
		}
		wg.Wait()
		for i, r := range res {
			if i == 3 {
				wantKind(t, r, wire.KindUnavailable)
				if r.Signature != ([96]byte{}) {
					t.Fatal("signature bytes returned with a refusal")
				}
				continue
			}
			if r.Err != nil {
				t.Fatalf("key %d: %v", i, r.Err)
			}
			_, sg := s.signEth(attestationReq(ks[i].PublicKey(), round-1, round, 1), nil) // same root
			if !ks[i].Verify(sg.SigningRoot[:], r.Signature) {
				t.Fatalf("key %d: returned signature does not verify", i)
			}
		}
	}
}

// TestInlinePanicDoesNotStopCore_Inv8: a panic while answering a cheap request (here the
// status) becomes an "unavailable" answer, and the core goes on serving the connection.
func TestInlinePanicDoesNotStopCore_Inv8(t *testing.T) {
	s := newService(t, asBLS(realKeys(t, 1)))
	a, b := net.Pipe()
	go s.Serve(b, Limits{MaxConcurrent: 2, QueueDepth: 2}, func() *wire.Status { panic("status broke") }, slog.New(slog.DiscardHandler))
	c := wire.NewClient(a)
	defer c.Close()
	_, err := c.Status(t.Context())
	if we, ok := wire.IsRefusal(err); !ok || we.Kind != wire.KindUnavailable {
		t.Fatalf("status after a panic: %v, want an unavailable refusal", err)
	}
	if l, err := c.ListKeys(t.Context()); err != nil || len(l.BLS) != 1 {
		t.Fatalf("core stopped serving after a panic: %v", err)
	}
}
