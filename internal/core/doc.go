// Package core is keyward's trusted compartment: it holds the keys, decides, and signs.
//
// The core talks to the gateway over one stream it inherited (a socketpair end, or a
// socket-activated unix socket), and treats every frame from it as untrusted (Inv 7). Its
// only socket of its own is the local admin socket (adminsock.go), made before it confines
// itself and answering operators' approval commands only, never the gateway's user (Inv
// 4). Before it reads a key it confines itself (package sandbox; Inv 1). For each Ethereum
// signing request it:
//
//  1. decodes the typed request strictly (package wire),
//  2. finds the key (unknown key → refused),
//  3. recomputes the signing root from the SSZ body and its own pinned network (package
//     eth; Inv 2, Inv 3), comparing a client-supplied signingRoot,
//  4. applies the key's policy from policy.toml (package policy; Inv 4): exits, deposits,
//     registrations; refused → "refused by policy"; an approve rule → the request waits,
//     off the signing workers, for an operator on the admin socket, and only an approval
//     of its exact signing root runs the decision again from step 2 (approval.go),
//  5. applies slashing protection, which returns only once the record is durable (package
//     protect; Inv 5),
//  6. signs, and verifies the signature against the public key (Inv 6),
//  7. answers with the signature or a typed failure (Inv 8),
//
// and records the decision, whatever it was, in the hash-chained audit trail (package
// audit; chained at once, synced in batches off the signing path). That sequence is
// Service.SignEth, readable top to bottom.
//
// For each Tezos signing request (Service.SignTezos, tezos.go) it finds the key, verifies
// the client's authentication signature when authorized keys are configured (Inv 4),
// checks the magic byte, decodes the payload itself (package tezos; Inv 2), applies the
// key's policy (operation kinds, chain ids; Inv 3), the transaction policy of policy.toml
// (destinations; the daily limit charged durably before signing; Inv 4), and for blocks and consensus
// operations, under the key's own lock: checks the high watermark, records the new mark
// durably, signs, verifies (Inv 6), records the signature durably, and answers. Identical
// bytes get the stored signature back, never a new one.
package core
