// Package policy is the per-key signing policy of the core (Inv 4): which Ethereum
// voluntary exits, deposits and validator registrations a key may sign, and which Tezos
// transactions (destinations, an amount per rolling 24 hours). It does no I/O and reads no
// clock: the core hands it decoded requests (eth.Signable, *tezos.Request), the time and
// the amount already spent, and gets back a Decision.
//
// Decisions fail closed: the zero Decision refuses, a nil *Policy refuses everything, and
// every switch ends in a refusing default. A rule may say "approve": the verdict is then
// NeedsApproval, which the core must treat as "not signed" until an operator approves.
//
// The policy is read from policy.toml in the state directory (Parse, Load): unknown keys
// are refused and every value is validated, so a reload that fails keeps the policy in
// force. What is trusted: the policy file (written by the operator, read by the core
// before confinement or from its state directory). What is refused: everything the file
// does not allow.
//
// The Tezos daily limit needs state that survives restarts: the Ledger interface, which
// the core backs with its store; MemLedger is an in-memory implementation for tests, and
// WindowSum the pure rule both use.
package policy
