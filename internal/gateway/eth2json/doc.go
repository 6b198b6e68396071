// Package eth2json parses Web3Signer eth2 signing requests (POST /api/v1/eth2/sign/{pubkey})
// from untrusted JSON into typed eth.Request values whose Body is the SSZ container of the
// wire contract documented in package internal/eth.
//
// It runs in the network-facing gateway and holds no key: it imports internal/eth only for
// its request types and go-eth2-client only for SSZ encoding, never blst or anything that
// signs. The core re-decodes and re-checks everything it receives (Inv 2, Inv 7), so this
// parser is a first, strict filter, not the last word.
//
// What is accepted:
//   - `type` (one of the Web3Signer names), `fork_info`, `signingRoot` (or its alias
//     `signing_root`; if both are given they must be equal) and the one payload field of that
//     type. A payload field of another type is refused. Other top-level fields are ignored:
//     clients add extras (Nimbus sends `proofs`), and nothing in them is used.
//   - Inside fork_info and the payload, unknown fields are refused. uint64 values are
//     canonical decimal strings (no sign, no leading zeros, no JSON numbers); byte strings
//     are 0x-prefixed hex of exactly the SSZ length (bitlists: at most the list limit, with
//     the length bit set).
//   - BLOCK_V2: `beacon_block: {version, block | block_header}` (block for PHASE0 and ALTAIR,
//     block_header from BELLATRIX). AGGREGATE_AND_PROOF: the aggregate inline; Electra when
//     `aggregate.committee_bits` is present. AGGREGATE_AND_PROOF_V2: `{version, data}`, or
//     the legacy unwrapped shape as Web3Signer accepts it.
//
// encoding/json matches object keys case-insensitively and keeps the last of duplicate
// keys; the core's checks do not depend on either. Every refusal is a *ParseError naming the
// JSON field; the gateway answers it as "bad request" (Inv 8). ParseSignRequest never
// panics.
package eth2json
