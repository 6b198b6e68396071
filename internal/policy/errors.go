package policy

import "errors"

// ErrOverLimit: a charge would exceed the key's daily limit; nothing was recorded.
var ErrOverLimit = errors.New("over the daily limit")

// ErrInvalid: policy.toml cannot be decoded or holds an invalid value. The error wrapping
// it names the file, the table and the key; the policy in force stays in force.
var ErrInvalid = errors.New("invalid policy")
