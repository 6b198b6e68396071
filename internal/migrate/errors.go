package migrate

import "errors"

// ErrWouldLoseProtection is wrapped by Prepare when the migration could lose slashing
// protection: no history given, a key without history, or a history for another network.
var ErrWouldLoseProtection = errors.New("migration would lose slashing protection")

// ErrUnsupported is wrapped when the source holds something this package cannot move
// (a Web3Signer key type other than file-keystore or file-raw, a non-BLS key).
var ErrUnsupported = errors.New("unsupported in migration")

// ErrNoKeys is wrapped when the source holds no key to migrate.
var ErrNoKeys = errors.New("no keys found in the source")

// ErrSource is wrapped when a source file is malformed or unreadable.
var ErrSource = errors.New("invalid migration source")
