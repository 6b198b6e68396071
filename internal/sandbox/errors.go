package sandbox

import "errors"

// ErrRequired is wrapped by Apply when the requirement is RequireFull and a step cannot be
// achieved on this kernel or platform; the message names what is missing.
var ErrRequired = errors.New("required confinement not achieved")

// ErrConfig is wrapped by Apply when the Config is unusable (relative or missing paths, a
// state directory of "/"), whatever the requirement.
var ErrConfig = errors.New("invalid sandbox config")

// bestEffortHint ends every ErrRequired message: it names the documented downgrade.
const bestEffortHint = "run with --confinement=best-effort to start anyway"
