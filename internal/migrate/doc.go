// Package migrate moves validator keys and their slashing-protection history from another
// signer or validator client into a keyward state directory: Web3Signer (key
// configuration files of type file-keystore and file-raw, plus its EIP-3076 export),
// Lighthouse, Teku, Prysm and Nimbus (EIP-2335 keystores in each client's layout, plus
// its EIP-3076 export); and Tezos keys with their high watermarks from octez-signer (its
// base directory) and Signatory (its configuration, file vaults and file watermarks),
// through [PrepareTezos] and [TezosPlan.Apply].
//
// A migration is two steps. [Prepare] reads the source and builds a [Plan] without
// changing anything: which keys, from which files, and which history. It refuses (the
// error wraps [ErrWouldLoseProtection]) when the move could lose protection: no EIP-3076
// history was given, a key to migrate has no history in it, or the history is for
// another network than the one pinned in the state directory. A dry run stops there and
// prints the plan; [Plan.Check] also imports the history into a scratch store to prove
// it parses strictly. [Plan.Apply] then imports the history first, all or nothing (so no
// key can ever sign here without it), and only then the keys (re-sealed under the
// master key, Inv 9).
//
// What is trusted: nothing in the source. Keystores are parsed strictly and checked
// against their pubkey by internal/keys, the history by internal/protect. Secrets read
// here (passwords, raw keys) are zeroed after use and never logged.
//
// For Tezos, PrepareTezos learns each key's hash by importing the keys into scratch
// stores under a throwaway master key, and refuses a key without a watermark on a chain
// the state directory signs for.
//
// The source signer must be stopped, and stay stopped, before the history is exported:
// a signature it makes after the export is not in the history.
package migrate
