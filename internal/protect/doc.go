// Package protect is the core's slashing protection: the rules that refuse a slashable
// Ethereum signature and the durable store that remembers what was signed.
//
// It upholds Inv 5: for each key, the check and the record happen under one lock, and
// Check* returns nil only after the record is durable on disk (bbolt commit: data pages,
// fdatasync, meta page, fdatasync). The caller signs only after that. A refusal is final and
// typed (*Refusal). Concurrent records for different keys share one commit (group commit),
// so throughput does not fall to one fsync per signature, and requests for different keys
// never wait on each other's checks.
//
// Rules (minimal set, per key; the complete EIP-3076 rules replace rules.go later and keep
// this plumbing):
//   - block: the slot must be above every slot signed before; the identical signing root at
//     the last signed slot may be signed again.
//   - attestation: source ≤ target; the target must be above every target signed before and
//     the source at least every source signed before (so no double vote and no surround);
//     the identical signing root for the last target may be signed again.
//
// The store is keyed by the genesis validators root pinned at init: a database for another
// network is refused at open (Inv 3).
package protect
