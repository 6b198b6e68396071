// Package audit is the core's tamper-evident audit trail: every signing decision becomes
// an Event, created in the core and hash-chained there, written as one JSON line to
// audit.jsonl in the state directory.
//
// Each line is a Record: a sequence number (from 1), the event, the hash of the previous
// record (64 zeros for the first) and its own hash, the SHA-256 of "keyward-audit-v1\n"
// followed by the canonical encoding of {seq, event, prev} (encoding/json of the typed
// record without the hash: fixed field order, no maps, no HTML escaping). Verify
// recomputes every hash and checks the sequence, the links and that each line is exactly
// its canonical encoding, so it detects a line removed, reordered, inserted, or edited
// (even with its own hash recomputed: the next line's prev no longer matches).
//
// What it does not detect alone: the removal of the last lines (truncation) or the
// replacement of the whole file by a consistent new chain. Verify reports the count and
// the last hash; an operator who records them elsewhere (or ships the lines to another
// host) detects both.
//
// Durability: the audit trail is not what keeps keys safe (slashing protection is, and it
// is durable before signing, Inv 5), so it is written off the signing critical path.
// Append chains the event at once, in memory, in the order of the calls; a background
// flush writes and fdatasyncs the pending lines in batches (every FlushInterval, or when
// MaxPending lines wait). A crash can lose at most the last interval's lines, never
// reorder or corrupt the chain: a partial last line is detected by Verify and cut by Open
// (the lines before it still verify). Close and Sync flush at once.
//
// Rotation (rotate.go): with Options.MaxFileSize the full file is renamed
// audit-<seq of its last record, 20 digits>.jsonl after a flush, and a new audit.jsonl
// continues the same chain (its first record's prev is the last hash of the rotated
// file). Options.Keep removes the oldest rotated files. Open checks that audit.jsonl
// continues the newest rotated file beside it; VerifyDir checks the whole chain across
// the files present, and accepts an oldest file that starts mid-chain (older files
// archived), saying where it starts.
package audit
