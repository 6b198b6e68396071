package gateway

import (
	"os/exec"
	"strings"
	"testing"
)

// TestGatewayHoldsNoKeys_Inv1 fails the build if the gateway (or anything it imports)
// imports a package that holds keys or signs. A compromised gateway must not be able to
// reach key material or a signing function in its own address space.
func TestGatewayHoldsNoKeys_Inv1(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", "github.com/keyward/keyward/internal/gateway/...").CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	forbidden := []string{
		"github.com/keyward/keyward/internal/keys",
		"github.com/keyward/keyward/internal/core",
		"github.com/keyward/keyward/internal/secmem",
		"github.com/keyward/keyward/internal/protect",
		"github.com/keyward/keyward/internal/sandbox",
		"github.com/supranational/blst",
		"github.com/decred/dcrd/dcrec/secp256k1",
		"filippo.io/edwards25519",
		"github.com/wealdtech/go-eth2-wallet-encryptor-keystorev4",
		"go.etcd.io/bbolt",
		// crypto/ecdsa and crypto/ed25519 are not listed: net/http needs them for TLS.
	}
	deps := strings.Fields(string(out))
	for _, d := range deps {
		for _, f := range forbidden {
			if d == f || strings.HasPrefix(d, f+"/") {
				t.Errorf("gateway depends on %s", d)
			}
		}
	}
	if len(deps) < 10 {
		t.Fatalf("implausibly few dependencies listed: %v", deps)
	}
}
