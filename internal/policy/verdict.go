package policy

import "fmt"

// Verdict is what the policy says of a request. The zero value refuses.
type Verdict uint8

// Verdicts.
const (
	Refuse        Verdict = iota // not allowed (the zero value: fail closed)
	Allow                        // allowed by the key's policy
	NeedsApproval                // allowed only once an operator approves it
)

// String returns "refuse", "allow" or "needs approval".
func (v Verdict) String() string {
	switch v {
	case Allow:
		return "allow"
	case NeedsApproval:
		return "needs approval"
	}
	return "refuse"
}

// Decision is a verdict and why. The zero value refuses (with no reason: callers say
// "refused by policy").
type Decision struct {
	Verdict Verdict
	// Reason says which rule decided, for the client's error and the audit trail. It
	// contains no secret.
	Reason string
}

func refuse(format string, args ...any) Decision {
	return Decision{Verdict: Refuse, Reason: fmt.Sprintf(format, args...)}
}

func approve(format string, args ...any) Decision {
	return Decision{Verdict: NeedsApproval, Reason: fmt.Sprintf(format, args...)}
}

// allow is the verdict of a request no rule restricts.
var allow = Decision{Verdict: Allow}

// Action is what a rule does with the requests it governs. The zero value refuses.
type Action uint8

// Actions, written "refuse", "allow" and "approve" in policy.toml.
const (
	ActionRefuse  Action = iota // refuse (the zero value)
	ActionAllow                 // sign
	ActionApprove               // ask the operator (NeedsApproval)
)

// String returns the policy.toml spelling.
func (a Action) String() string {
	switch a {
	case ActionAllow:
		return "allow"
	case ActionApprove:
		return "approve"
	}
	return "refuse"
}

// parseAction reads the policy.toml spelling of an action.
func parseAction(s string) (Action, bool) {
	switch s {
	case "refuse":
		return ActionRefuse, true
	case "allow":
		return ActionAllow, true
	case "approve":
		return ActionApprove, true
	}
	return ActionRefuse, false
}
