// Package core is keyward's trusted compartment: it holds the keys, decides, and signs.
//
// The core has no listening socket. It talks only to the gateway, over one stream it
// inherited (a socketpair end, or later an authenticated transport), and treats every
// frame from it as untrusted (Inv 7). Before it reads a key it confines itself (package
// sandbox; Inv 1). For each Ethereum signing request it:
//
//  1. decodes the typed request strictly (package wire),
//  2. finds the key (unknown key → refused),
//  3. recomputes the signing root from the SSZ body and its own pinned network (package
//     eth; Inv 2, Inv 3), comparing a client-supplied signingRoot,
//  4. applies slashing protection, which returns only once the record is durable (package
//     protect; Inv 5),
//  5. signs, and verifies the signature against the public key (Inv 6),
//  6. answers with the signature or a typed failure (Inv 8).
//
// That sequence is Service.SignEth, readable top to bottom.
package core
