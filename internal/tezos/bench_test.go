package tezos

import "testing"

func benchClassify(b *testing.B, id string) {
	p := vectorHex(b, id)
	b.ReportAllocs()
	b.SetBytes(int64(len(p)))
	for b.Loop() {
		if _, err := Classify(p); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkClassifyAttestation(b *testing.B)    { benchClassify(b, "signatory-01") }
func BenchmarkClassifyBLSAttestation(b *testing.B) { benchClassify(b, "octez-u025-16") }
func BenchmarkClassifyBlock(b *testing.B)          { benchClassify(b, "signatory-02") }
func BenchmarkClassifyTransaction(b *testing.B)    { benchClassify(b, "signatory-12") }
