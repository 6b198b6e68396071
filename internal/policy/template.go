package policy

// Template is the policy.toml `keyward init` writes: the defaults spelled out (the policy
// is exactly Default()), with the other choices in comments, so that an operator finds
// what can be said where it is said. Parse(Template) equals Default(); a test holds it.
const Template = `# keyward per-key policy, enforced by the core (Inv 4). Strict: unknown keys are
# refused; a reload (SIGHUP) that does not validate keeps the policy in force.
# Actions: "refuse", "allow", or "approve" (the request waits for
# "keyward approve ID" on the core's admin socket).
# See docs/policy.md.

[eth.default]                 # every Ethereum key without a table of its own
exit = "refuse"               # VOLUNTARY_EXIT
deposit = "refuse"            # DEPOSIT
fee_recipients = []           # VALIDATOR_REGISTRATION: when not empty, the only fee recipients
gas_limit_min = 30000000      # VALIDATOR_REGISTRATION: gas limit range, inclusive
gas_limit_max = 100000000

# One key; unset values come from [eth.default]:
# [eth.keys."0x93247f2209abcacf57b75a51dafae777f9dd38bc7053d1af526f220a7489a6d3a2753e5f3e8b1cfe39b56f43611df74a"]
# exit = "approve"
# fee_recipients = ["0x0000000000000000000000000000000000000000"]

[tezos.default]               # every Tezos key without a table of its own
transaction = "refuse"        # generic operations that hold transactions
destinations = []             # tz1…tz4, KT1…: the only destinations (required unless refuse)
daily_limit_mutez = 0         # sum of amounts over any rolling 24 hours

# One key (transfers also need "0x03" and "transaction" in keyward.toml's [tezos]):
# [tezos.keys."tz1…"]
# transaction = "allow"
# destinations = ["tz1…"]
# daily_limit_mutez = 100000000   # 100 tez
`
