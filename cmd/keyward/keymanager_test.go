package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const vectorPub = "0x9612d7a727c9d0a22e185a1c768478dfe919cada9266988cb32359c11f2b7b27f4ae4040902382ae2910c15e2b420d07"

// km sends a Keymanager request with the given token ("" = none) and decodes the answer.
func (s *signer) km(method, token, body string) (int, map[string]any) {
	req, _ := http.NewRequest(method, s.url+"/eth/v1/keystores", strings.NewReader(body))
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		s.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		s.t.Fatalf("%s: answer %d is not JSON: %q", method, resp.StatusCode, b)
	}
	return resp.StatusCode, m
}

func statuses(m map[string]any) []string {
	var out []string
	data, _ := m["data"].([]any)
	for _, d := range data {
		st, _ := d.(map[string]any)["status"].(string)
		out = append(out, st)
	}
	return out
}

// blockV2 is a mainnet Fulu BLOCK_V2 header request at slot fulu*32+offset.
func blockV2(offset uint64, bodyRoot byte) string {
	return fmt.Sprintf(`{"type":"BLOCK_V2","fork_info":{"fork":{"previous_version":"0x05000000","current_version":"0x06000000","epoch":"411392"},"genesis_validators_root":"%s"},`+
		`"beacon_block":{"version":"FULU","block_header":{"slot":"%d","proposer_index":"5","parent_root":"0x%064x","state_root":"0x%064x","body_root":"0x%064x"}}}`,
		mainnetGVR, fulu*32+offset, 0, 0, bodyRoot)
}

// TestKeymanagerAPI drives import with slashing protection, signing, delete with export,
// and authentication, against a running keyward (issue 3, Inv 5).
func TestKeymanagerAPI(t *testing.T) {
	s := startSigner(t, 1, nil)
	tokenB, err := os.ReadFile(filepath.Join(s.dir, "keymanager.token"))
	if err != nil {
		t.Fatal(err)
	}
	token := strings.TrimSpace(string(tokenB))

	if code, _ := s.km("GET", "", ""); code != 401 {
		t.Fatalf("no token: %d, want 401", code)
	}
	if code, m := s.km("GET", "api-token-0xwrong", ""); code != 403 || m["message"] == nil {
		t.Fatalf("wrong token: %d %v, want 403 with a message", code, m)
	}
	code, m := s.km("GET", token, "")
	if code != 200 || len(m["data"].([]any)) != 1 {
		t.Fatalf("list: %d %v", code, m)
	}

	ks, err := os.ReadFile("../../internal/keys/testdata/eip2335/pbkdf2.json")
	if err != nil {
		t.Fatal(err)
	}
	// History says this key proposed at slot fulu*32+10 and attested (fulu+1, fulu+2).
	interchange := fmt.Sprintf(`{"metadata":{"interchange_format_version":"5","genesis_validators_root":"%s"},"data":[{"pubkey":"%s",`+
		`"signed_blocks":[{"slot":"%d","signing_root":"0x%064x"}],"signed_attestations":[{"source_epoch":"%d","target_epoch":"%d","signing_root":"0x%064x"}]}]}`,
		mainnetGVR, vectorPub, fulu*32+10, 1, fulu+1, fulu+2, 2)
	body, _ := json.Marshal(map[string]any{
		"keystores":           []string{string(ks)},
		"passwords":           []string{"𝔱𝔢𝔰𝔱𝔭𝔞𝔰𝔰𝔴𝔬𝔯𝔡🔑"},
		"slashing_protection": interchange,
	})
	code, m = s.km("POST", token, string(body))
	if code != 200 || fmt.Sprint(statuses(m)) != "[imported]" {
		t.Fatalf("import: %d %v", code, m)
	}
	code, m = s.km("POST", token, string(body))
	if code != 200 || fmt.Sprint(statuses(m)) != "[duplicate]" {
		t.Fatalf("second import: %d %v", code, m)
	}
	bad, _ := json.Marshal(map[string]any{"keystores": []string{string(ks)}, "passwords": []string{"wrong"}})
	if code, m = s.km("POST", token, string(bad)); code != 200 || fmt.Sprint(statuses(m)) != "[duplicate]" {
		t.Fatalf("import of a present key with a wrong password: %d %v", code, m)
	}

	// The imported history protects the new key at once.
	if code, m := s.sign(vectorPub, blockV2(10, 9)); code != 412 {
		t.Fatalf("block conflicting with imported history: %d %v", code, m)
	}
	if code, m := s.sign(vectorPub, attestation(0, 3, 1, "")); code != 412 {
		t.Fatalf("surround of imported history: %d %v", code, m)
	}
	if code, m := s.sign(vectorPub, attestation(2, 3, 1, "")); code != 200 {
		t.Fatalf("attestation after imported history: %d %v", code, m)
	}
	if code, m := s.sign(vectorPub, blockV2(11, 1)); code != 200 {
		t.Fatalf("block after imported history: %d %v", code, m)
	}

	// Delete: the key stops signing, and its full history comes back.
	del := fmt.Sprintf(`{"pubkeys":["%s"]}`, vectorPub)
	code, m = s.km("DELETE", token, del)
	if code != 200 || fmt.Sprint(statuses(m)) != "[deleted]" {
		t.Fatalf("delete: %d %v", code, m)
	}
	sp, _ := m["slashing_protection"].(string)
	for _, want := range []string{vectorPub, fmt.Sprint(fulu*32 + 11), fmt.Sprint(fulu + 3)} {
		if !strings.Contains(sp, want) {
			t.Fatalf("exported history lacks %s:\n%s", want, sp)
		}
	}
	if code, _ := s.sign(vectorPub, attestation(3, 4, 1, "")); code != 404 {
		t.Fatalf("signing with a deleted key: %d, want 404", code)
	}
	code, m = s.km("DELETE", token, del)
	if code != 200 || fmt.Sprint(statuses(m)) != "[not_active]" {
		t.Fatalf("second delete: %d %v", code, m)
	}
	code, m = s.km("DELETE", token, `{"pubkeys":["0x`+strings.Repeat("b", 96)+`"]}`)
	if code != 200 || fmt.Sprint(statuses(m)) != "[not_found]" {
		t.Fatalf("delete of an unknown key: %d %v", code, m)
	}
	if code, _ := s.km("DELETE", token, `{"pubkeys":["0x12"]}`); code != 400 {
		t.Fatalf("malformed pubkey: %d, want 400", code)
	}
	if code, _ := s.km("POST", token, `{"keystores":["x"],"passwords":[]}`); code != 400 {
		t.Fatalf("mismatched lengths: %d, want 400", code)
	}

	var hw map[string]any
	if code := s.getJSON("/api/v1/eth2/highWatermark", &hw); code != 200 || len(hw) != 0 {
		t.Fatalf("highWatermark without a brake: %d %v", code, hw)
	}
}
