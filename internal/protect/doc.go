// Package protect is the core's slashing protection: the rules that refuse a slashable
// Ethereum signature and the durable store that remembers everything signed (complete
// history, EIP-3076). It also keeps the Tezos high watermarks (tezos.go: one mark per
// chain, key and class, through TezosGuard: check, then record the mark, durable before
// it returns and so before signing (Inv 5); then the signature, for identical-bytes
// reissue: durable before it returns for keys that may sign non-deterministically
// (RecordSignature; and always for tz4, which can sign the same bytes under two schemes),
// folded into the next group commit without waiting for deterministic local keys
// (NoteSignature: a lost record only means identical bytes are signed again, to the same
// signature). It imports the marks of octez-signer and Signatory (tezos_import.go). The
// Tezos rule itself is tezos.CheckWatermark.
//
// It upholds Inv 5: for each key, the check and the record happen under one lock, and
// CheckBlock/CheckAttestation (and TezosGuard.Record) return nil only after the record is
// durable on disk: written to the protection journal, a write-ahead log beside the bbolt
// file, and fdatasync'ed (journal.go). The caller signs only after that. A refusal is
// final and typed (*Refusal); any other error means "not durable, do not sign".
// Concurrent records for different keys share one journal write and one fdatasync (group
// commit), so throughput does not fall to one fsync per signature, and requests for
// different keys never wait on each other's checks. The records reach bbolt later, in
// large transactions off the signing path; Open replays the journal after a crash. The
// in-memory summary of a key changes only after its record is durable, and never lets
// through what the disk would refuse.
//
// It upholds Inv 3: the store is pinned to the genesis validators root given at first
// open; a database or an interchange of another network is refused.
//
// Rules, per key (see CheckBlock, CheckAttestation and docs/slashing-protection.md):
//   - block: refused at a slot already signed unless the same known signing root (then
//     signed again without a new record); refused below the low watermark, and at it
//     unless repeating the record there;
//   - attestation: refused when source > target; a double vote (same target, another or
//     unknown root); a surround or surrounded vote against any recorded vote; a source
//     below the low source watermark, a target below the low target watermark (or at it
//     unless repeating); the identical vote may be signed again;
//   - the emergency brake (SetBrake) refuses everything at or above its epoch.
//
// Low watermarks are set by the first block/vote of a key (signed or imported) and only
// ever raised: by an import whose data lies below them, and by Prune, which raises them
// over what it deletes before deleting it. Interchange (EIP-3076 version 5):
// ImportInterchange, ExportInterchange.
package protect
