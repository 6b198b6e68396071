package eth

import (
	"testing"
)

// FuzzSignable_Inv7_Inv8: any type, version, fork info and body: Signable returns a value or
// a *FieldError, never panics (the recover in Signable is reported as a failure here).
func FuzzSignable_Inv7_Inv8(f *testing.F) {
	for _, v := range loadVectors(f) {
		_, r, _ := vectorRequest(f, v)
		var prev, cur, gvr []byte
		var epoch uint64
		if r.ForkInfo != nil {
			prev, cur, gvr, epoch = r.ForkInfo.PreviousVersion[:], r.ForkInfo.CurrentVersion[:], r.ForkInfo.GenesisValidatorsRoot[:], r.ForkInfo.Epoch
		}
		f.Add(uint8(r.Type), uint8(r.Version), r.ForkInfo != nil, prev, cur, epoch, gvr, r.Body, false)
	}
	mn, _ := BuiltinNetwork("mainnet")
	f.Fuzz(func(t *testing.T, typ, ver uint8, hasFI bool, prev, cur []byte, epoch uint64, gvr, body []byte, onMainnet bool) {
		n := exampleNetwork([32]byte(padTo(gvr, 32)), ForkPhase0)
		if onMainnet {
			n = mn
		}
		r := &Request{Type: SignType(typ), Version: Fork(ver), Body: body}
		if hasFI {
			r.ForkInfo = &ForkInfo{Epoch: epoch}
			copy(r.ForkInfo.PreviousVersion[:], prev)
			copy(r.ForkInfo.CurrentVersion[:], cur)
			copy(r.ForkInfo.GenesisValidatorsRoot[:], gvr)
		}
		s, err := n.Signable(r)
		if err != nil {
			fe, ok := err.(*FieldError)
			if !ok {
				t.Fatalf("untyped error %T %v", err, err)
			}
			if fe.Err == ErrInternal {
				t.Fatalf("decoder panic recovered: %v", err)
			}
			return
		}
		if s.Class == ClassInvalid || s.SigningRoot != ComputeSigningRoot(s.ObjectRoot, s.Domain) {
			t.Fatal("accepted an inconsistent signable")
		}
	})
}

func padTo(b []byte, n int) []byte {
	out := make([]byte, n)
	copy(out, b)
	return out
}
