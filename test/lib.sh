# shellcheck shell=bash
# Shared set-up of the independent-client tests (test/*/run.sh), sourced, not run.
#
# client_test_setup PATH/TO/keyward DIR: checks the argument, makes BIN absolute, checks
# node and npm, and runs `npm ci` in DIR when node_modules is missing or older than the
# committed lock file. Sets BIN and HERE.
client_test_setup() {
  if [[ $# -ne 2 ]]; then
    echo "usage: run.sh PATH/TO/keyward" >&2
    exit 2
  fi
  BIN=$1
  HERE=$2
  if [[ ! -x "$BIN" ]]; then
    echo "run.sh: $BIN is not an executable file" >&2
    exit 2
  fi
  BIN=$(cd "$(dirname "$BIN")" && pwd)/$(basename "$BIN")

  command -v node >/dev/null || { echo "run.sh: node not found" >&2; exit 2; }
  command -v npm >/dev/null || { echo "run.sh: npm not found" >&2; exit 2; }

  # npm ci writes node_modules/.package-lock.json; compare it with the committed lock.
  local stale=0
  if [[ ! -d "$HERE/node_modules" || ! -f "$HERE/node_modules/.package-lock.json" ]]; then
    stale=1
  elif [[ "$HERE/package-lock.json" -nt "$HERE/node_modules/.package-lock.json" ||
          "$HERE/package.json" -nt "$HERE/node_modules/.package-lock.json" ]]; then
    stale=1
  fi
  if [[ $stale -eq 1 ]]; then
    echo "run.sh: installing test dependencies (npm ci)" >&2
    (cd "$HERE" && npm ci --no-audit --no-fund) >&2
  fi
}

# demo_cleanup_on_exit NAME: sets LOG to a fresh log file for the demo signer and DEMO_PID
# to "" (the caller sets it once the demo runs), and installs traps that on exit stop the
# demo (TERM, KILL after 5 s), remove the log after success and keep it otherwise.
demo_cleanup_on_exit() {
  LOG=$(mktemp "${TMPDIR:-/tmp}/keyward-$1-demo.XXXXXX.log")
  DEMO_PID=""
  trap demo_cleanup EXIT
  trap 'exit 130' INT
  trap 'exit 143' TERM
}

demo_cleanup() {
  local rc=$?
  if [[ -n "$DEMO_PID" ]] && kill -0 "$DEMO_PID" 2>/dev/null; then
    kill "$DEMO_PID" 2>/dev/null || true
    for _ in $(seq 1 50); do
      kill -0 "$DEMO_PID" 2>/dev/null || break
      sleep 0.1
    done
    kill -9 "$DEMO_PID" 2>/dev/null || true
    wait "$DEMO_PID" 2>/dev/null || true
  fi
  if [[ $rc -eq 0 ]]; then rm -f "$LOG"; else echo "run.sh: keyward demo log kept at $LOG" >&2; fi
  exit "$rc"
}
